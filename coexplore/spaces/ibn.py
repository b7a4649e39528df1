"""A MobileNetV2-style space of inverted-bottleneck (IBN) stages, plain or fused.

The network is a 3×3 stem conv (stride 1) → N stages → global average pooling → a linear
classifier. Every stage picks five things: the kernel K of its spatial conv, the expansion e,
a width multiplier w (channels = base × w, made divisible by 8 as MobileNetV2's
``_make_divisible`` does), its depth d (blocks) and its block type:

- ``ibn``, MobileNetV2's inverted residual with linear bottleneck (Sandler et al., CVPR 2018):
  1×1 expand C → e·C (omitted when e = 1) → K×K depthwise (the stage's stride on its first block)
  → 1×1 linear projection to the stage's channels;
- ``fused``, the fused IBN of MobileNetEdgeTPU / EfficientNet-EdgeTPU (Gupta & Akin,
  arXiv:2003.02838, 2020; Gupta & Tan, Google AI blog 2019): expand and depthwise fused into
  one K×K regular conv C → e·C, then the 1×1 projection. More MACs, but dense work that
  accelerators run better than depthwise convs at small channel counts: a trade-off for the
  co-exploration to find. With e = 1 the block is a single K×K conv C → C_out (with ReLU6, as
  EfficientNetV2's FusedMBConv).

BatchNorm follows every conv and ReLU6 every conv but the projection (the linear bottleneck);
a block adds its input when its stride is 1 and its input and output channels agree.

Canonical string: ``ibn:`` then one token per stage joined by ``|``, each
``k<K>e<e>w<w>d<d>`` and ``i`` (ibn) or ``f`` (fused), the width written as the shortest
decimal that reads back as the same float, without a trailing ``.0``, e.g.
``ibn:k3e1w1d1i|k5e6w0.75d2i|k3e3w0.5d3f|k7e6w1d1f``. The stage skeleton (base channels and
strides) and the stem width are settings of the space, not part of the string.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from coexplore.config import ConfigError
from coexplore.spaces.base import SPACES, Architecture, SearchSpace, conv_from_layer
from coexplore.workloads.layer import Layer, Network, NetworkBuilder

BLOCKS = ("ibn", "fused")
_LETTER = {"ibn": "i", "fused": "f"}
_BLOCK_OF = {v: k for k, v in _LETTER.items()}
PREFIX = "ibn:"
DEFAULT_STAGES = ((16, 1), (24, 2), (40, 2), (80, 2))  # (base channels, stride) per stage
DIVISOR = 8
_STAGE = re.compile(r"k(\d+)e(\d+)w(\d+(?:\.\d+)?)d(\d+)([if])")
_SOURCE = "ibn space"


def stage_channels(base: int, width: float, divisor: int = DIVISOR) -> int:
    """``base × width`` rounded to a multiple of ``divisor`` (at least ``divisor``), never more
    than 10% below the exact value: MobileNetV2's ``_make_divisible``."""
    exact = base * width
    channels = max(divisor, int(exact + divisor / 2) // divisor * divisor)
    return channels + divisor if channels < 0.9 * exact else channels


def format_width(width: float) -> str:
    """The width as the canonical string writes it: ``0.75``, ``1`` (not ``1.0``)."""
    text = repr(float(width))
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True, order=True)
class IBNStage:
    """One stage's choices: kernel, expansion, width multiplier, depth (blocks), block type."""

    kernel: int
    expansion: int
    width: float
    depth: int
    block: str = "ibn"

    def __post_init__(self) -> None:
        object.__setattr__(self, "width", float(self.width))
        if self.kernel % 2 == 0 or min(self.kernel, self.expansion, self.depth) < 1:
            raise ValueError(
                f"stage {self.token}: odd kernel >= 1, expansion and depth >= 1 are needed"
            )
        if not (math.isfinite(self.width) and self.width > 0):
            raise ValueError(f"stage {self.token}: the width multiplier must be positive")
        if self.block not in BLOCKS:
            raise ValueError(f"block must be one of {BLOCKS}, got {self.block!r}")

    @property
    def token(self) -> str:
        letter = _LETTER.get(self.block, "?")
        return f"k{self.kernel}e{self.expansion}w{format_width(self.width)}d{self.depth}{letter}"


@dataclass(frozen=True)
class BlockPlan:
    """A group of workload layers the module builds as one unit (stem, a block, the head)."""

    name: str
    layers: tuple[Layer, ...]
    activations: tuple[bool, ...] = ()  # ReLU6 after each conv (not after the projection)
    residual: bool = False


class ConvBN(nn.Sequential):
    """Conv (no bias) → BatchNorm → optionally ReLU6."""

    def __init__(self, layer: Layer, activation: bool) -> None:
        mods: list[nn.Module] = [conv_from_layer(layer), nn.BatchNorm2d(layer.out_channels)]
        if activation:
            mods.append(nn.ReLU6())
        super().__init__(*mods)


class InvertedBottleneck(nn.Module):
    """A plain or fused IBN block: its convs in sequence, plus the input when ``residual``."""

    def __init__(self, plan: BlockPlan) -> None:
        super().__init__()
        self.residual = plan.residual
        self.body = nn.Sequential(
            *(ConvBN(ly, act) for ly, act in zip(plan.layers, plan.activations, strict=True))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


@dataclass(frozen=True)
class IBNArchitecture(Architecture):
    stages: tuple[IBNStage, ...]
    skeleton: tuple[tuple[int, int], ...] = DEFAULT_STAGES  # (base channels, stride) per stage
    stem_channels: int = 16
    space: str = field(default="ibn", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        object.__setattr__(self, "skeleton", tuple(tuple(s) for s in self.skeleton))
        if not self.stages or len(self.stages) != len(self.skeleton):
            raise ValueError(
                f"an IBN architecture has one stage per skeleton entry ({len(self.skeleton)}), "
                f"got {len(self.stages)}"
            )
        if self.stem_channels < 1:
            raise ValueError(f"stem_channels must be >= 1, got {self.stem_channels}")

    @property
    def canonical(self) -> str:
        return PREFIX + "|".join(st.token for st in self.stages)

    def channels(self) -> tuple[int, ...]:
        """The output channels of every stage."""
        return tuple(
            stage_channels(base, st.width)
            for st, (base, _) in zip(self.stages, self.skeleton, strict=True)
        )

    def plan(self, input_shape: tuple[int, int, int], num_classes: int) -> list[BlockPlan]:
        """The network as stem, blocks and head, each with its workload layers (built through
        :class:`NetworkBuilder`, the one shape computation)."""
        b = NetworkBuilder(self.canonical, input_shape)
        plans: list[BlockPlan] = []

        def close(name: str, start: int, acts: tuple[bool, ...], residual: bool = False) -> None:
            plans.append(BlockPlan(name, tuple(b.layers[start:]), acts, residual))

        b.conv(self.stem_channels, 3, stride=1, padding="same", name="stem")
        close("stem", 0, (True,))
        for s, (st, (_, stride), c_out) in enumerate(
            zip(self.stages, self.skeleton, self.channels(), strict=True), start=1
        ):
            for j in range(1, st.depth + 1):
                name, start = f"s{s}b{j}", len(b.layers)
                c_in, s_block = b.shape[0], stride if j == 1 else 1
                hidden, k = c_in * st.expansion, st.kernel
                if st.block == "ibn":
                    if st.expansion > 1:
                        b.conv(hidden, 1, name=f"{name}.expand")
                    b.dwconv(k, stride=s_block, padding="same", name=f"{name}.dw")
                    b.conv(c_out, 1, name=f"{name}.project")
                elif st.expansion > 1:
                    b.conv(hidden, k, stride=s_block, padding="same", name=f"{name}.fused")
                    b.conv(c_out, 1, name=f"{name}.project")
                else:
                    b.conv(c_out, k, stride=s_block, padding="same", name=f"{name}.fused")
                acts = tuple(not ly.name.endswith(".project") for ly in b.layers[start:])
                close(name, start, acts, residual=s_block == 1 and c_in == c_out)
        _, h, w = b.shape
        if h != w:
            raise ValueError(f"global average pooling needs a square map, got {h}x{w}")
        start = len(b.layers)
        b.pool(h, name="gap").fc(num_classes, name="fc")
        close("head", start, ())
        return plans

    def network(self, input_shape: tuple[int, int, int], num_classes: int) -> Network:
        layers = [ly for p in self.plan(input_shape, num_classes) for ly in p.layers]
        return Network(self.canonical, input_shape, tuple(layers))

    def module(self, input_shape: tuple[int, int, int], num_classes: int) -> nn.Sequential:
        mods: list[nn.Module] = []
        for p in self.plan(input_shape, num_classes):
            if p.name == "stem":
                mods.append(ConvBN(p.layers[0], activation=True))
            elif p.name == "head":
                gap, fc = p.layers
                mods += [
                    nn.AvgPool2d(gap.kernel, gap.stride),
                    nn.Flatten(),
                    nn.Linear(fc.in_channels, fc.out_channels),
                ]
            else:
                mods.append(InvertedBottleneck(p))
        return nn.Sequential(*mods)


def _choices(
    name: str, values: Any, ok, allowed: str, convert=lambda v: v, distinct: bool = True
) -> tuple:
    """``values`` as a tuple after checking it is a non-empty list of (distinct) allowed values."""
    if not isinstance(values, list | tuple) or not values or not all(ok(v) for v in values):
        raise ConfigError(_SOURCE, name, f"a non-empty list of {allowed}", values)
    out = tuple(convert(v) for v in values)
    if distinct and len(set(out)) != len(out):
        raise ConfigError(_SOURCE, name, f"a list of distinct {allowed}", values)
    return out


def _is_int(v: Any, minimum: int = 1) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= minimum


def _is_width(v: Any) -> bool:
    if isinstance(v, bool) or not isinstance(v, int | float | np.number):
        return False
    return math.isfinite(v) and v > 0 and re.fullmatch(r"\d+(\.\d+)?", format_width(v)) is not None


@SPACES.decorator("ibn")
@dataclass(frozen=True)
class IBNSpace(SearchSpace):
    """Per stage: kernel, expansion, width multiplier, depth, block type (five tokens). With the
    defaults, 4 stages × 5 = 20 tokens and (3·3·3·3·2)⁴ = 688,747,536 architectures."""

    stages: tuple[tuple[int, int], ...] = DEFAULT_STAGES  # (base channels, stride) per stage
    stem_channels: int = 16
    kernels: tuple[int, ...] = (3, 5, 7)
    expansions: tuple[int, ...] = (1, 3, 6)
    widths: tuple[float, ...] = (0.5, 0.75, 1.0)
    depths: tuple[int, ...] = (1, 2, 3)
    blocks: tuple[str, ...] = BLOCKS
    name: str = field(default="ibn", init=False)

    def __post_init__(self) -> None:
        pair = "[base channels >= 1, stride >= 1] pairs"
        stages = _choices(
            "stages",
            self.stages,
            lambda s: isinstance(s, list | tuple) and len(s) == 2 and all(map(_is_int, s)),
            pair,
            lambda s: (int(s[0]), int(s[1])),
            distinct=False,
        )
        object.__setattr__(self, "stages", stages)
        if not _is_int(self.stem_channels):
            raise ConfigError(_SOURCE, "stem_channels", "an integer >= 1", self.stem_channels)
        odd = lambda v: _is_int(v) and v % 2 == 1  # noqa: E731
        for attr, ok, allowed, convert in (
            ("kernels", odd, "odd integers >= 1 ('same' padding)", int),
            ("expansions", _is_int, "integers >= 1", int),
            ("widths", _is_width, "positive numbers (no exponent)", float),
            ("depths", _is_int, "integers >= 1", int),
            ("blocks", lambda v: v in BLOCKS, f"block types from {list(BLOCKS)}", str),
        ):
            object.__setattr__(
                self, attr, _choices(attr, getattr(self, attr), ok, allowed, convert)
            )

    def _arch(self, stages: tuple[IBNStage, ...]) -> IBNArchitecture:
        return IBNArchitecture(stages, self.stages, self.stem_channels)

    def parse(self, text: str) -> IBNArchitecture:
        text = text.strip()
        body = text[len(PREFIX) :].split("|") if text.startswith(PREFIX) else []
        parsed = [_STAGE.fullmatch(t) for t in body]
        if len(body) != len(self.stages) or not all(parsed):
            example = "|".join(["k3e6w1d2i"] * len(self.stages))
            raise ValueError(
                f"not an ibn architecture: {text!r} (expected {len(self.stages)} stages like "
                f"'{PREFIX}{example}': k<kernel>e<expansion>w<width>d<depth>, then i (ibn) or "
                f"f (fused))"
            )
        stages = tuple(
            IBNStage(int(k), int(e), float(w), int(d), _BLOCK_OF[b])
            for k, e, w, d, b in (m.groups() for m in parsed)
        )
        arch = self._arch(stages)
        if arch.canonical != text:
            raise ValueError(
                f"not a canonical ibn string: {text!r}; the same architecture is written "
                f"{arch.canonical!r}"
            )
        return arch

    def sample(self, rng: np.random.Generator) -> IBNArchitecture:
        """Every token uniform and independent."""
        return self.from_tokens([int(rng.integers(c)) for c in self.token_choices()])

    def contains(self, arch: IBNArchitecture) -> bool:
        return (
            arch.skeleton == self.stages
            and arch.stem_channels == self.stem_channels
            and all(
                st.kernel in self.kernels
                and st.expansion in self.expansions
                and st.width in self.widths
                and st.depth in self.depths
                and st.block in self.blocks
                for st in arch.stages
            )
        )

    def _lists(self) -> tuple[tuple, ...]:
        return self.kernels, self.expansions, self.widths, self.depths, self.blocks

    def token_choices(self) -> list[int]:
        """Per stage, in stage order: kernel, expansion, width, depth, block type."""
        return [len(c) for c in self._lists()] * len(self.stages)

    def width_tokens(self) -> dict[int, tuple[int, ...]]:
        """Every stage's width multiplier."""
        order = tuple(sorted(range(len(self.widths)), key=self.widths.__getitem__))
        return {5 * s + 2: order for s in range(len(self.stages))}

    def from_tokens(self, tokens: list[int]) -> IBNArchitecture:
        choices = self.token_choices()
        if len(tokens) != len(choices) or any(
            not 0 <= t < c for t, c in zip(tokens, choices, strict=False)
        ):
            raise ValueError(
                f"a {len(self.stages)}-stage ibn space takes {len(choices)} tokens with "
                f"choices {choices}, got {list(tokens)}"
            )
        lists = self._lists()
        stages = tuple(
            IBNStage(*(lists[f][tokens[i + f]] for f in range(5))) for i in range(0, len(tokens), 5)
        )
        return self._arch(stages)

    def to_tokens(self, arch: IBNArchitecture) -> list[int]:
        if not self.contains(arch):
            raise ValueError(f"{arch.canonical} is not in this ibn space")
        lists = self._lists()
        return [
            lists[f].index(value)
            for st in arch.stages
            for f, value in enumerate((st.kernel, st.expansion, st.width, st.depth, st.block))
        ]

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stages": [list(s) for s in self.stages],
            "stem_channels": self.stem_channels,
            "kernels": list(self.kernels),
            "expansions": list(self.expansions),
            "widths": list(self.widths),
            "depths": list(self.depths),
            "blocks": list(self.blocks),
        }
