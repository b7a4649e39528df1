"""What every search space provides, and the registry of spaces.

An :class:`Architecture` is immutable, hashable and has one canonical string; from it come both
the layer workloads the cost models read (:meth:`Architecture.network`) and the torch module the
slow phase trains (:meth:`Architecture.module`). The module is built *from* the workload layers,
so the shape arithmetic of :mod:`coexplore.workloads.layer` is the only one there is.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from torch import nn

from coexplore.registry import Registry
from coexplore.workloads.layer import Layer, LayerKind, Network


class Architecture(ABC):
    """A child network of a search space, independent of the data it will see."""

    space: str

    @property
    @abstractmethod
    def canonical(self) -> str:
        """The one string that names this architecture in its space (parsed back exactly)."""

    @abstractmethod
    def network(self, input_shape: tuple[int, int, int], num_classes: int) -> Network:
        """The layer workloads for an input of (C, H, W) and ``num_classes`` outputs."""

    @abstractmethod
    def module(self, input_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
        """A fresh, untrained torch module (initialised from torch's global RNG)."""

    def to_json(self) -> str:
        return json.dumps({"space": self.space, "arch": self.canonical})

    def __str__(self) -> str:
        return self.canonical


class SearchSpace(ABC):
    """A family of architectures: parse canonical strings, sample, and list the choices.
    ``electronic``: its networks' workloads count multiply-accumulates (False for an optical
    network, which computes in the light)."""

    name: str
    electronic: ClassVar[bool] = True
    loop_nests: ClassVar[bool] = False
    """Its networks are loop nests (:class:`~coexplore.workloads.suites.NamedWorkload`), not a
    layer chain: only a family with the ``loop-nests`` capability prices them."""

    @abstractmethod
    def parse(self, text: str) -> Architecture:
        """The architecture a canonical string names; a malformed string is a ValueError."""

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Architecture:
        """A uniformly random architecture of the space."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The space's settings, JSON-serialisable (recorded with every search)."""

    @abstractmethod
    def token_choices(self) -> list[int]:
        """How many choices each token of an architecture has, in the order a controller
        emits them (one token per design choice, as in Jiang et al.'s controller)."""

    def allowed(self, prefix: list[int], input_size: int) -> list[int]:
        """The choices of token ``len(prefix)`` that are possible after ``prefix``."""
        return list(range(self.token_choices()[len(prefix)]))

    def width_tokens(self) -> dict[int, tuple[int, ...]]:
        """The tokens that set a width (channels of a layer or stage), each with its choices
        from narrowest to widest; dynamic channel scaling (HSCoNAS) tunes these. None here."""
        return {}

    @abstractmethod
    def from_tokens(self, tokens: list[int]) -> Architecture:
        """The architecture a full list of tokens names."""

    @abstractmethod
    def to_tokens(self, arch: Architecture) -> list[int]:
        """The tokens of an architecture of this space (the inverse of :meth:`from_tokens`)."""


SPACES: Registry[type[SearchSpace]] = Registry("search space")


def make_space(name: str, **options: Any) -> SearchSpace:
    """The space registered as ``name``, configured by ``options``."""
    return SPACES.get(name)(**options)


def parse_architecture(space: str, text: str) -> Architecture:
    """An architecture from ``space`` (name) and its canonical string, default settings."""
    return make_space(space).parse(text)


def conv_from_layer(layer: Layer, bias: bool = False) -> nn.Conv2d:
    """The torch convolution of a conv/dwconv workload layer."""
    if layer.kind not in (LayerKind.CONV, LayerKind.DWCONV):
        raise ValueError(f"layer {layer.name!r} is a {layer.kind.value}, not a convolution")
    return nn.Conv2d(
        layer.in_channels,
        layer.out_channels,
        layer.kernel,
        stride=layer.stride,
        padding=layer.padding,
        groups=layer.groups,
        bias=bias,
    )


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
