"""Search agents by name: SB3 ``ppo`` (default), ``a2c``; sb3-contrib ``maskable-ppo``,
``recurrent-ppo``; the paper's ``reinforce`` controller; ``rea`` (regularised evolution);
``random``; ``hsconas`` (HSCoNAS's multi-objective evolution with channel scaling and space
shrinking). Adding one is a class (:class:`Agent`) plus one entry here."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from coexplore.registry import Registry
from coexplore.search.agents.base import Agent
from coexplore.search.agents.evolution import RegularizedEvolutionAgent
from coexplore.search.agents.hsconas import HSCoNASAgent
from coexplore.search.agents.random_search import RandomAgent
from coexplore.search.agents.reinforce import ReinforceAgent
from coexplore.search.agents.sb3 import A2CAgent, MaskablePPOAgent, PPOAgent, RecurrentPPOAgent

AGENTS: Registry[type[Agent]] = Registry("agent")
for _cls in (
    PPOAgent,
    A2CAgent,
    MaskablePPOAgent,
    RecurrentPPOAgent,
    ReinforceAgent,
    RegularizedEvolutionAgent,
    HSCoNASAgent,
    RandomAgent,
):
    AGENTS.register(_cls.name, _cls)

DEFAULT_AGENT = "ppo"


def make_agent(name: str, env: gym.Env, seed: int = 0, **params: Any) -> Agent:
    return AGENTS.get(name)(env, seed, **params)


__all__ = ["AGENTS", "DEFAULT_AGENT", "Agent", "make_agent"]
