"""The software side of a diffractive network (multi-task D2NN, Li et al., Sci. Rep. 11:11013,
2021): how its masks are trained. The optics themselves, which planes hold a shared or a
task-specific mask, are the hardware tokens of the ``diffractive`` platform family
(:mod:`coexplore.platforms.diffractive`), so a candidate is (training, layout) and the slow
phase trains the layout the hardware tokens name.

One token: the **task regulariser**'s weight w on the first task's loss (1 − w on the second's;
several tasks: ignored, equal weights), chosen from ``task_weights``.

An optical network runs no electronic multiply-accumulates: its :meth:`network` is one
zero-MAC layer, the input plane, so records show 0 MACs and an electronic cost model has
nothing to price.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from coexplore.config import ConfigError
from coexplore.spaces.base import SPACES, Architecture, SearchSpace
from coexplore.workloads.layer import Layer, LayerKind, Network


@dataclass(frozen=True)
class D2NNTraining(Architecture):
    task_weight: float = 0.5
    space = "d2nn"

    @property
    def canonical(self) -> str:
        return f"w={self.task_weight:g}"

    def network(self, input_shape: tuple[int, int, int], num_classes: int) -> Network:
        c, h, w = input_shape
        plane = Layer("input-plane", LayerKind.POOL, c, c, h, w, h, w)
        return Network(self.canonical, input_shape, (plane,))

    def module(self, input_shape: tuple[int, int, int], num_classes: int) -> Any:
        raise TypeError(
            "a d2nn candidate's model depends on its layout (the diffractive family's hardware "
            "tokens): slow_phase.oracle optics builds and trains it"
        )


@SPACES.decorator("d2nn")
@dataclass(frozen=True)
class D2NNSpace(SearchSpace):
    """The task regulariser's weight, one token (``task_weights``: the choices)."""

    task_weights: tuple[float, ...] = (0.5,)
    name = "d2nn"
    electronic = False

    def __post_init__(self) -> None:
        weights = tuple(self.task_weights) if isinstance(self.task_weights, list | tuple) else ()
        if not weights or not all(isinstance(w, int | float) and 0 <= w <= 1 for w in weights):
            raise ConfigError("space", "task_weights", "a list of weights in [0, 1]", weights)
        object.__setattr__(self, "task_weights", tuple(float(w) for w in weights))

    def parse(self, text: str) -> D2NNTraining:
        key, sep, value = text.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = None
        if key != "w" or not sep or weight not in self.task_weights:
            raise ValueError(f"not a d2nn architecture of this space: {text!r} (w=<weight>)")
        return D2NNTraining(weight)

    def sample(self, rng: np.random.Generator) -> D2NNTraining:
        return D2NNTraining(self.task_weights[int(rng.integers(len(self.task_weights)))])

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "task_weights": list(self.task_weights)}

    def token_choices(self) -> list[int]:
        return [len(self.task_weights)]

    def from_tokens(self, tokens: list[int]) -> D2NNTraining:
        return D2NNTraining(self.task_weights[tokens[0]])

    def to_tokens(self, arch: Architecture) -> list[int]:
        return [self.task_weights.index(arch.task_weight)]
