"""The NAS-Bench-201 cell space (Dong & Yang, ICLR 2020).

A cell is a 4-node DAG; each of its 6 edges ``i → j`` (i < j) carries one of 5 operations, and
node j sums its incoming edges. The macro skeleton: a 3×3 stem conv with C = 16, three stages of
N = 5 cells at C = 16, 32, 64 separated by residual reduction blocks (stride 2), then BN-ReLU,
global average pooling and a linear classifier. Canonical string, as the benchmark writes it:
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (the edges into nodes 1, 2, 3; ``~i`` is the source).

The cost model sees the cell as its operations' workloads in topological order (the engine runs
layers one after another); additions and zero/identity edges cost no MACs and are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from coexplore.spaces.base import SPACES, Architecture, SearchSpace, conv_from_layer
from coexplore.workloads.layer import Layer, LayerKind, Network, conv_output_size

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))  # canonical order of the string


def _layer(name, kind, c_in, c_out, size, kernel, stride, padding) -> Layer:
    out = conv_output_size(size, kernel, stride, padding)
    groups = c_in if kind is LayerKind.POOL else 1
    return Layer(name, kind, c_in, c_out, size, size, out, out, kernel, stride, padding, groups)


class ReLUConvBN(nn.Sequential):
    def __init__(self, layer: Layer) -> None:
        super().__init__(nn.ReLU(), conv_from_layer(layer), nn.BatchNorm2d(layer.out_channels))


class Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class Cell(nn.Module):
    def __init__(self, ops: tuple[str, ...], layers: dict[int, Layer]) -> None:
        super().__init__()
        edges = []
        for e, op in enumerate(ops):
            if op == "none":
                edges.append(Zero())
            elif op == "skip_connect":
                edges.append(nn.Identity())
            elif op == "avg_pool_3x3":
                edges.append(nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False))
            else:
                edges.append(ReLUConvBN(layers[e]))
        self.edges = nn.ModuleList(edges)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for j in (1, 2, 3):
            nodes.append(sum(self.edges[e](nodes[i]) for e, (i, jj) in enumerate(EDGES) if jj == j))
        return nodes[3]


class ResidualReduction(nn.Module):
    """NAS-Bench-201's reduction block: two 3×3 ReLU-conv-BN (the first strided) plus a
    2×2-average-pool + 1×1-conv shortcut."""

    def __init__(self, conv_a: Layer, conv_b: Layer, pool: Layer, proj: Layer) -> None:
        super().__init__()
        self.conv_a, self.conv_b = ReLUConvBN(conv_a), ReLUConvBN(conv_b)
        self.shortcut = nn.Sequential(nn.AvgPool2d(pool.kernel, pool.stride), conv_from_layer(proj))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.shortcut(x)


@dataclass(frozen=True)
class NB201Architecture(Architecture):
    ops: tuple[str, ...]  # one per edge, in the order of EDGES
    channels: int = 16
    cells_per_stage: int = 5
    space: str = field(default="nb201", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ops", tuple(self.ops))
        if len(self.ops) != len(EDGES) or any(op not in OPS for op in self.ops):
            raise ValueError(f"an NB201 cell has {len(EDGES)} edges with ops from {OPS}")

    @property
    def canonical(self) -> str:
        into = [
            [f"{op}~{i}" for op, (i, jj) in zip(self.ops, EDGES, strict=True) if jj == j]
            for j in (1, 2, 3)
        ]
        return "+".join("|" + "|".join(node) + "|" for node in into)

    def _plan(self, input_shape: tuple[int, int, int], num_classes: int):
        """The skeleton's blocks with their workload layers (the single shape computation)."""
        c_in, size, _ = input_shape
        c = self.channels
        blocks: list[tuple[str, Any]] = []
        stem = _layer("stem", LayerKind.CONV, c_in, c, size, 3, 1, 1)
        blocks.append(("stem", stem))
        for stage in range(3):
            if stage:
                name = f"reduce{stage}"
                a = _layer(f"{name}.conv_a", LayerKind.CONV, c, 2 * c, size, 3, 2, 1)
                b = _layer(f"{name}.conv_b", LayerKind.CONV, 2 * c, 2 * c, a.out_h, 3, 1, 1)
                pool = _layer(f"{name}.pool", LayerKind.POOL, c, c, size, 2, 2, 0)
                proj = _layer(f"{name}.proj", LayerKind.CONV, c, 2 * c, pool.out_h, 1, 1, 0)
                blocks.append(("reduce", (a, b, pool, proj)))
                c, size = 2 * c, a.out_h
            for n in range(self.cells_per_stage):
                layers = {}
                for e, (op, (i, j)) in enumerate(zip(self.ops, EDGES, strict=True)):
                    name = f"s{stage}c{n}.e{i}{j}"
                    if op in ("nor_conv_1x1", "nor_conv_3x3"):
                        k = 1 if op == "nor_conv_1x1" else 3
                        layers[e] = _layer(name, LayerKind.CONV, c, c, size, k, 1, k // 2)
                    elif op == "avg_pool_3x3":
                        layers[e] = _layer(name, LayerKind.POOL, c, c, size, 3, 1, 1)
                blocks.append(("cell", layers))
        gap = _layer("gap", LayerKind.POOL, c, c, size, size, size, 0)
        fc = Layer("fc", LayerKind.FC, c, num_classes, 1, 1, 1, 1)
        blocks.append(("head", (gap, fc)))
        return blocks

    def network(self, input_shape: tuple[int, int, int], num_classes: int) -> Network:
        layers: list[Layer] = []
        for kind, content in self._plan(input_shape, num_classes):
            if kind == "stem":
                layers.append(content)
            elif kind == "cell":
                layers += [content[e] for e in sorted(content)]
            else:
                layers += list(content)
        return Network(self.canonical, input_shape, tuple(layers))

    def module(self, input_shape: tuple[int, int, int], num_classes: int) -> nn.Sequential:
        mods: list[nn.Module] = []
        for kind, content in self._plan(input_shape, num_classes):
            if kind == "stem":
                mods += [conv_from_layer(content), nn.BatchNorm2d(content.out_channels)]
            elif kind == "reduce":
                mods.append(ResidualReduction(*content))
            elif kind == "cell":
                mods.append(Cell(self.ops, content))
            else:
                gap, fc = content
                mods += [
                    nn.BatchNorm2d(gap.in_channels),
                    nn.ReLU(),
                    nn.AdaptiveAvgPool2d(1),
                    nn.Flatten(),
                    nn.Linear(fc.in_channels, fc.out_channels),
                ]
        return nn.Sequential(*mods)


@SPACES.decorator("nb201")
@dataclass(frozen=True)
class NB201Space(SearchSpace):
    """5 operations on the 6 edges of the cell: 15,625 architectures."""

    channels: int = 16
    cells_per_stage: int = 5
    name: str = field(default="nb201", init=False)

    def parse(self, text: str) -> NB201Architecture:
        text = text.strip()
        nodes = text.split("+")
        ops: dict[tuple[int, int], str] = {}
        ok = len(nodes) == 3
        for j, node in enumerate(nodes, start=1):
            if not ok or not (node.startswith("|") and node.endswith("|")):
                ok = False
                break
            entries = node[1:-1].split("|")
            for entry in entries:
                op, _, src = entry.partition("~")
                if op not in OPS or not src.isdigit() or int(src) >= j or (int(src), j) in ops:
                    ok = False
                    break
                ops[(int(src), j)] = op
            ok = ok and len(entries) == j
        if not ok or len(ops) != len(EDGES):
            raise ValueError(
                f"not an NB201 architecture string: {text!r} (expected "
                f"'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' with ops from {OPS})"
            )
        return NB201Architecture(tuple(ops[e] for e in EDGES), self.channels, self.cells_per_stage)

    def sample(self, rng: np.random.Generator) -> NB201Architecture:
        return NB201Architecture(
            tuple(str(op) for op in rng.choice(OPS, size=len(EDGES))),
            self.channels,
            self.cells_per_stage,
        )

    def token_choices(self) -> list[int]:
        """One operation per edge."""
        return [len(OPS)] * len(EDGES)

    def from_tokens(self, tokens: list[int]) -> NB201Architecture:
        if len(tokens) != len(EDGES):
            raise ValueError(f"an NB201 cell takes {len(EDGES)} tokens")
        return NB201Architecture(tuple(OPS[t] for t in tokens), self.channels, self.cells_per_stage)

    def to_tokens(self, arch: NB201Architecture) -> list[int]:
        return [OPS.index(op) for op in arch.ops]

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "channels": self.channels,
            "cells_per_stage": self.cells_per_stage,
        }
