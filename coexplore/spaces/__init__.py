"""Search spaces of child networks: registry, the chain space, the NAS-Bench-201 cell space, the
MobileNetV2-style inverted-bottleneck space, the training side of a diffractive network, and one
fixed workload (a hardware-only search)."""

from coexplore.spaces.base import (
    SPACES,
    Architecture,
    SearchSpace,
    make_space,
    parse_architecture,
)
from coexplore.spaces.chain import ChainArchitecture, ChainLayer, ChainSpace
from coexplore.spaces.d2nn import D2NNSpace, D2NNTraining
from coexplore.spaces.ibn import IBNArchitecture, IBNSpace, IBNStage
from coexplore.spaces.nb201 import NB201Architecture, NB201Space
from coexplore.spaces.workload import FixedWorkload, WorkloadSpace

__all__ = [
    "SPACES",
    "Architecture",
    "ChainArchitecture",
    "ChainLayer",
    "ChainSpace",
    "D2NNSpace",
    "D2NNTraining",
    "FixedWorkload",
    "IBNArchitecture",
    "IBNSpace",
    "IBNStage",
    "NB201Architecture",
    "NB201Space",
    "SearchSpace",
    "WorkloadSpace",
    "make_space",
    "parse_architecture",
]
