"""Loop-nest workloads: a layer as the seven (plus groups) nested loops a spatial accelerator maps.

A convolution is ``O[n,g,m,p,q] += W[g,m,c,r,s] · I[n,g,c, p·Hs + r, q·Ws + s]`` over the dims
``R S P Q C M N G`` (filter height/width, output height/width, input/output channels per group,
batch, groups), the notation of Timeloop and Eyeriss (Chen et al., ISCA 2016). A fully connected
layer is the 1×1 case; a matrix multiplication ``(M×K)·(K×N)`` maps rows onto ``P``, the
reduction onto ``C`` and columns onto ``M``; a depthwise convolution has ``C = M = 1`` per group.

A :class:`Workload` is a network as a multiset of such problems (unique layers with counts):
its cost is the sum over layers, each run on its own mapping.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from coexplore.config import ConfigError
from coexplore.workloads.layer import LayerKind, Network

DIMS = ("R", "S", "P", "Q", "C", "M", "N", "G")
TENSORS = ("weights", "inputs", "outputs")
# The dims each tensor's index depends on (inputs through the sliding window: P with R, Q with S).
DEPENDS: dict[str, frozenset[str]] = {
    "weights": frozenset("RSCMG"),
    "inputs": frozenset("RSPQCNG"),
    "outputs": frozenset("PQMNG"),
}


@dataclass(frozen=True)
class Problem:
    """One layer as a loop nest: the extent of every dim, the strides, and how often it runs."""

    name: str
    R: int = 1
    S: int = 1
    P: int = 1
    Q: int = 1
    C: int = 1
    M: int = 1
    N: int = 1
    G: int = 1
    stride_h: int = 1
    stride_w: int = 1
    kind: str = "conv"  # conv, dwconv, fc, gemm: for reports only, the loop nest is the same

    def __post_init__(self) -> None:
        for name in (*DIMS, "stride_h", "stride_w"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"problem {self.name!r}", name, "an integer >= 1", value)

    @property
    def dims(self) -> tuple[int, ...]:
        return tuple(getattr(self, d) for d in DIMS)

    @property
    def macs(self) -> int:
        return math.prod(self.dims)

    @property
    def key(self) -> tuple[int, ...]:
        """What makes two problems the same loop nest (names aside)."""
        return (*self.dims, self.stride_h, self.stride_w)

    @property
    def input_h(self) -> int:
        return (self.P - 1) * self.stride_h + self.R

    @property
    def input_w(self) -> int:
        return (self.Q - 1) * self.stride_w + self.S

    def size(self, tensor: str) -> int:
        """Elements of ``tensor`` the layer touches (inputs: the rows and columns windows read)."""
        if tensor == "weights":
            return self.G * self.M * self.C * self.R * self.S
        if tensor == "inputs":
            return self.N * self.G * self.C * self.input_h * self.input_w
        if tensor == "outputs":
            return self.N * self.G * self.M * self.P * self.Q
        raise ValueError(f"tensor must be one of {TENSORS}, got {tensor!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<problem>") -> Problem:
        allowed = {f for f in cls.__dataclass_fields__}
        for key in data:
            if key not in allowed:
                raise ConfigError(source, key, f"one of {sorted(allowed)}")
        return cls(**{"name": "layer", **data})

    @classmethod
    def gemm(cls, name: str, m: int, k: int, n: int) -> Problem:
        """``(m×k)·(k×n)``: rows on P, the reduction on C, columns on M."""
        return cls(name, P=m, C=k, M=n, kind="gemm")


@dataclass(frozen=True)
class Workload:
    """A network as unique loop-nest problems with their counts, run one after another."""

    name: str
    layers: tuple[tuple[Problem, int], ...] = field(default_factory=tuple)
    skipped: tuple[str, ...] = ()  # layers with no MACs (pooling), left to the host

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple((p, int(c)) for p, c in self.layers))
        if not self.layers:
            raise ConfigError(self.name, "layers", "at least one layer with MACs")
        for problem, count in self.layers:
            if count < 1:
                raise ConfigError(self.name, f"{problem.name}.count", "an integer >= 1", count)

    @property
    def problems(self) -> list[Problem]:
        return [p for p, _ in self.layers]

    @property
    def counts(self) -> list[int]:
        return [c for _, c in self.layers]

    @property
    def macs(self) -> int:
        return sum(p.macs * c for p, c in self.layers)

    @property
    def layer_count(self) -> int:
        return sum(self.counts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layers": [{**p.to_dict(), "count": c} for p, c in self.layers],
            "skipped": list(self.skipped),
        }


def problem_from_layer(layer: Any, batch: int = 1) -> Problem:
    """A :class:`~coexplore.workloads.layer.Layer` (conv, dwconv, fc) as a loop nest."""
    m, c = layer.channels_per_group
    common = {"name": layer.name, "N": batch, "G": layer.groups}
    if layer.kind is LayerKind.FC:
        return Problem(C=layer.in_channels, M=layer.out_channels, kind="fc", **common)
    return Problem(
        R=layer.kernel,
        S=layer.kernel,
        P=layer.out_h,
        Q=layer.out_w,
        C=c,
        M=m,
        stride_h=layer.stride,
        stride_w=layer.stride,
        kind=layer.kind.value,
        **common,
    )


def workload_from_network(network: Network, batch: int = 1) -> Workload:
    """A chain network as a workload: identical layers merged with counts, pooling skipped.

    Padding does not change a loop nest's extents (P, Q are the output's), so a padded layer
    maps like an unpadded one with the same output; its border reads of zeros are counted as
    input elements, which slightly overstates input traffic of padded layers.
    """
    skipped = tuple(ly.name for ly in network.layers if ly.kind is LayerKind.POOL)
    layers = [(problem_from_layer(ly, batch), 1) for ly in network.layers
              if ly.kind is not LayerKind.POOL]  # fmt: skip
    return merged_workload(network.name, layers, skipped)


def merged_workload(
    name: str, layers: list[tuple[Problem, int]], skipped: tuple[str, ...] = ()
) -> Workload:
    """A workload with identical loop nests merged into the first one's entry, counts added."""
    merged: dict[tuple, list] = {}
    for problem, count in layers:
        merged.setdefault(problem.key, [problem, 0])[1] += count
    return Workload(name, tuple((p, c) for p, c in merged.values()), skipped)


__all__ = [
    "DEPENDS",
    "DIMS",
    "TENSORS",
    "Problem",
    "Workload",
    "merged_workload",
    "problem_from_layer",
    "workload_from_network",
]
