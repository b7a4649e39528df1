"""One fixed network as loop nests: the space of a hardware-only search (hardware + mapping
co-design for a given workload, as Shi et al.'s constrained Bayesian optimisation searches).

The space has one architecture and no tokens, so a candidate is its hardware tokens alone. Its
network is a :class:`~coexplore.workloads.suites.NamedWorkload` (ResNet-50 with its residual
branches, BERT's matrix multiplications, any chain preset or network file), which only a family
that prices loop nests reads (``loop_nests``: checked where a scenario is assembled), and
nothing trains it: the slow phase is ``oracle: none``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from coexplore.spaces.base import SPACES, Architecture, SearchSpace
from coexplore.workloads.suites import NamedWorkload, load_workload


@dataclass(frozen=True)
class FixedWorkload(Architecture):
    net: str
    space = "workload"

    @property
    def canonical(self) -> str:
        return self.net

    def network(self, input_shape: tuple[int, int, int], num_classes: int) -> NamedWorkload:
        """The workload itself (its own input shape): the scenario's data does not shape it."""
        return NamedWorkload(self.net)

    def module(self, input_shape: tuple[int, int, int], num_classes: int) -> Any:
        raise TypeError(f"the workload {self.net!r} is priced, not trained: slow_phase.oracle none")


@SPACES.decorator("workload")
@dataclass(frozen=True)
class WorkloadSpace(SearchSpace):
    """``net``: a workload preset (``coexplore accel workloads``), a chain network preset or a
    network file."""

    net: str = "resnet50"
    name = "workload"
    loop_nests: ClassVar[bool] = True

    def __post_init__(self) -> None:
        load_workload(self.net)  # a wrong name or file is an error here, naming the choices

    def parse(self, text: str) -> FixedWorkload:
        if text != self.net:
            raise ValueError(f"not the architecture of this space: {text!r} (it is {self.net!r})")
        return FixedWorkload(self.net)

    def sample(self, rng: np.random.Generator) -> FixedWorkload:
        return FixedWorkload(self.net)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "net": self.net}

    def token_choices(self) -> list[int]:
        return []

    def from_tokens(self, tokens: list[int]) -> FixedWorkload:
        if tokens:
            raise ValueError(f"the workload space has no tokens, got {tokens}")
        return FixedWorkload(self.net)

    def to_tokens(self, arch: Architecture) -> list[int]:
        return []
