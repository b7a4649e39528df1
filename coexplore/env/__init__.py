"""The co-exploration environment (Gymnasium) and its fast phase."""

from coexplore.catalogue import register_envs
from coexplore.env.environment import CoExploreEnv

__all__ = ["CoExploreEnv", "register_envs"]
