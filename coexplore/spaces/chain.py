"""The default child-network space of the co-exploration paper: a plain chain of conv layers.

Jiang et al.'s released CIFAR-10 logs show chains of ``Conv(K×K, F filters, stride s, same
padding) → ReLU → BatchNorm``, then flatten → dense, with K ∈ {1,3,5,7}, F ∈ {24,36,48,64},
s ∈ {1,2} and 6/10/14 layers (docs/search-spaces.md#chain). Depth and the choice lists are
configurable; a global-average-pool head is an option.

Canonical string: the layers as ``k<K>f<F>s<S>`` joined by ``-``, then ``|`` and the head, e.g.
``k3f24s1-k5f36s2-k3f64s1|flatten``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from coexplore.spaces.base import SPACES, Architecture, SearchSpace, conv_from_layer
from coexplore.workloads.layer import LayerKind, Network, NetworkBuilder, conv_output_size

HEADS = ("flatten", "gap")
_LAYER = re.compile(r"k(\d+)f(\d+)s(\d+)")


@dataclass(frozen=True, order=True)
class ChainLayer:
    kernel: int
    filters: int
    stride: int

    @property
    def token(self) -> str:
        return f"k{self.kernel}f{self.filters}s{self.stride}"


@dataclass(frozen=True)
class ChainArchitecture(Architecture):
    layers: tuple[ChainLayer, ...]
    head: str = "flatten"
    space: str = field(default="chain", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise ValueError("a chain architecture needs at least one layer")
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")
        for ly in self.layers:
            if ly.kernel % 2 == 0 or min(ly.kernel, ly.filters, ly.stride) < 1:
                raise ValueError(f"layer {ly.token}: odd kernel >= 1, filters and stride >= 1")

    @property
    def canonical(self) -> str:
        return "-".join(ly.token for ly in self.layers) + f"|{self.head}"

    def network(self, input_shape: tuple[int, int, int], num_classes: int) -> Network:
        b = NetworkBuilder(self.canonical, input_shape)
        for i, ly in enumerate(self.layers):
            if ly.stride > 1 and b.shape[1] == 1 and b.shape[2] == 1:
                raise ValueError(
                    f"layer {i} ({ly.token}) strides a 1x1 map: an impossible choice "
                    f"(see ChainSpace.allowed_strides)"
                )
            b.conv(ly.filters, ly.kernel, stride=ly.stride, padding="same", name=f"conv{i}")
        if self.head == "gap":
            _, h, w = b.shape
            if h != w:
                raise ValueError(f"the gap head needs a square map, got {h}x{w}")
            b.pool(h, name="gap")
        b.fc(num_classes, name="fc")
        return b.build()

    def module(self, input_shape: tuple[int, int, int], num_classes: int) -> nn.Sequential:
        mods: list[nn.Module] = []
        for layer in self.network(input_shape, num_classes).layers:
            if layer.kind is LayerKind.CONV:
                # Conv → activation → BatchNorm, the order of the paper's released logs
                mods += [conv_from_layer(layer), nn.ReLU(), nn.BatchNorm2d(layer.out_channels)]
            elif layer.kind is LayerKind.POOL:
                mods.append(nn.AvgPool2d(layer.kernel, layer.stride))
            else:
                mods += [nn.Flatten(), nn.Linear(layer.in_channels, layer.out_channels)]
        return nn.Sequential(*mods)


@SPACES.decorator("chain")
@dataclass(frozen=True)
class ChainSpace(SearchSpace):
    """Chains of ``depth`` conv layers, each choosing a kernel, a filter count and a stride."""

    depth: int = 6
    kernels: tuple[int, ...] = (1, 3, 5, 7)
    filters: tuple[int, ...] = (24, 36, 48, 64)
    strides: tuple[int, ...] = (1, 2)
    head: str = "flatten"
    name: str = field(default="chain", init=False)

    def __post_init__(self) -> None:
        for attr in ("kernels", "filters", "strides"):
            values = tuple(getattr(self, attr))
            if not values or any(not isinstance(v, int) or v < 1 for v in values):
                raise ValueError(f"chain space {attr} must be positive integers, got {values}")
            object.__setattr__(self, attr, values)
        if any(k % 2 == 0 for k in self.kernels):
            raise ValueError(f"'same' padding needs odd kernels, got {self.kernels}")
        if self.depth < 1:
            raise ValueError(f"depth must be >= 1, got {self.depth}")
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")

    def allowed_strides(self, map_size: int) -> tuple[int, ...]:
        """Strides that still shrink a ``map_size`` map: none above 1 once it is 1×1."""
        return tuple(s for s in self.strides if s == 1 or map_size > 1)

    def parse(self, text: str) -> ChainArchitecture:
        body, sep, head = text.strip().partition("|")
        tokens = body.split("-") if body else []
        parsed = [_LAYER.fullmatch(t) for t in tokens]
        if not sep or not tokens or not all(parsed):
            raise ValueError(
                f"not a chain architecture: {text!r} (expected e.g. 'k3f24s1-k5f36s2|flatten')"
            )
        layers = tuple(ChainLayer(*(int(g) for g in m.groups())) for m in parsed)
        return ChainArchitecture(layers, head)

    def sample(self, rng: np.random.Generator, input_size: int | None = None) -> ChainArchitecture:
        """Uniform choices per layer; given the input side, only the strides still allowed."""
        layers, size = [], input_size
        for _ in range(self.depth):
            strides = self.strides if size is None else self.allowed_strides(size)
            k = int(rng.choice(self.kernels))
            layer = ChainLayer(k, int(rng.choice(self.filters)), int(rng.choice(strides)))
            layers.append(layer)
            if size is not None:
                size = conv_output_size(size, k, layer.stride, (k - 1) // 2)  # 'same' padding
        return ChainArchitecture(tuple(layers), self.head)

    def contains(self, arch: ChainArchitecture) -> bool:
        return len(arch.layers) == self.depth and all(
            ly.kernel in self.kernels and ly.filters in self.filters and ly.stride in self.strides
            for ly in arch.layers
        )

    def token_choices(self) -> list[int]:
        """Per layer: kernel, filters, stride."""
        return [len(self.kernels), len(self.filters), len(self.strides)] * self.depth

    def width_tokens(self) -> dict[int, tuple[int, ...]]:
        """Every layer's filter count."""
        order = tuple(sorted(range(len(self.filters)), key=self.filters.__getitem__))
        return {3 * i + 1: order for i in range(self.depth)}

    def allowed(self, prefix: list[int], input_size: int) -> list[int]:
        """All choices, except strides that would stride a 1×1 map (impossible choices)."""
        position = len(prefix)
        if position % 3 != 2:
            return list(range(self.token_choices()[position]))
        size = input_size
        for i in range(0, position - 2, 3):
            k, s = self.kernels[prefix[i]], self.strides[prefix[i + 2]]
            size = conv_output_size(size, k, s, (k - 1) // 2)
        ok = self.allowed_strides(size)
        return [i for i, s in enumerate(self.strides) if s in ok]

    def from_tokens(self, tokens: list[int]) -> ChainArchitecture:
        if len(tokens) != 3 * self.depth:
            raise ValueError(f"a depth-{self.depth} chain takes {3 * self.depth} tokens")
        layers = tuple(
            ChainLayer(
                self.kernels[tokens[i]], self.filters[tokens[i + 1]], self.strides[tokens[i + 2]]
            )
            for i in range(0, len(tokens), 3)
        )
        return ChainArchitecture(layers, self.head)

    def to_tokens(self, arch: ChainArchitecture) -> list[int]:
        if not self.contains(arch):
            raise ValueError(f"{arch.canonical} is not in this chain space")
        return [
            i
            for ly in arch.layers
            for i in (
                self.kernels.index(ly.kernel),
                self.filters.index(ly.filters),
                self.strides.index(ly.stride),
            )
        ]

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "depth": self.depth,
            "kernels": list(self.kernels),
            "filters": list(self.filters),
            "strides": list(self.strides),
            "head": self.head,
        }
