"""What to compress per layer: kept fraction and weight bits, from a ratio, a schedule or a file.

A :class:`LayerPlan` per weight layer says the fraction of its weights kept and, with
quantisation, the bits of each kept weight. Plans come from:

- a per-layer file (YAML/JSON mapping layer name → kept fraction, or → ``{keep: f, bits: n}``);
- an overall pruning ratio R and a schedule that spreads it over the layers:

  - ``size`` (default): kept weights of a layer ∝ √(its weights), scaled so the whole network
    keeps 1/R of its weights; larger layers are pruned harder (ADMM-NN's LeNet-5 result keeps
    20% / 5.3% / 0.2% / 7% of conv1 / conv2 / fc1 / fc2, close to what this rule gives);
  - ``uniform``: the same kept fraction everywhere;
  - ``ops``: ADMM-NN's hardware-aware schedule, which targets computation instead of model
    size: R is the reduction of MACs, each layer's pruning ratio is proportional to its MACs,
    and a layer whose ratio stays below its break-even ratio (a sparse engine would run it
    slower than dense) is restored to dense, the others re-scaled to still reach R.

Every schedule solves for its scale by bisection; a kept fraction is capped at 1 (dense).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coexplore.config import ConfigError, check_number, load_mapping
from coexplore.workloads.layer import Layer

SCHEDULES = ("size", "uniform", "ops")


@dataclass(frozen=True)
class LayerPlan:
    """Fraction of a layer's weights kept (1 = dense) and bits per kept weight (None: float)."""

    keep: float = 1.0
    bits: int | None = None

    def __post_init__(self) -> None:
        fraction = "a kept fraction in (0, 1]"
        keep = check_number(self.keep, "layer plan", "keep", 0, 1, above=True, allowed=fraction)
        object.__setattr__(self, "keep", float(keep))
        if self.bits is not None:
            bits = check_number(self.bits, "layer plan", "bits", 1, integer=True)
            object.__setattr__(self, "bits", bits)


Plan = dict[str, LayerPlan]


def check_names(plan: Mapping[str, Any], layers: Sequence[Layer], source: str) -> None:
    """Every name in ``plan`` must be a weight layer of the model."""
    known = [ly.name for ly in layers]
    for name in plan:
        if name not in known:
            raise ConfigError(source, name, f"a weight layer of the model: {', '.join(known)}")


def _ratio(ratio: float, source: str) -> float:
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not ratio > 1:
        raise ConfigError(source, "prune ratio", "a number > 1 (dense / kept weights)", ratio)
    return float(ratio)


def _solve(fractions, target: float) -> float:
    """The scale s > 0 at which Σ fractions(s) = target; ``fractions`` is non-decreasing in s."""
    lo, hi = 0.0, 1.0
    while fractions(hi) < target:
        hi *= 2
        if hi > 1e300:
            raise ValueError("no scale reaches the target")
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if fractions(mid) < target else (lo, mid)
    return hi


def size_schedule(layers: Sequence[Layer], ratio: float, uniform: bool = False) -> Plan:
    """Kept fractions keeping 1/``ratio`` of all weights: kept weights ∝ √weights per layer
    (or the same fraction everywhere with ``uniform``)."""
    ratio = _ratio(ratio, "schedule")
    total = sum(ly.weights for ly in layers)

    def kept(s: float) -> float:
        return sum(
            min(ly.weights, s * (ly.weights if uniform else math.sqrt(ly.weights))) for ly in layers
        )

    s = _solve(kept, total / ratio)
    return {
        ly.name: LayerPlan(keep=min(1.0, s * (1 if uniform else ly.weights**-0.5))) for ly in layers
    }


def ops_schedule(
    layers: Sequence[Layer], ratio: float, break_even: Mapping[str, float] | None = None
) -> Plan:
    """ADMM-NN's hardware-aware schedule: 1/``ratio`` of the MACs kept, each layer's pruning
    ratio ∝ its MACs (so every pruned layer keeps the same MACs); while a layer's ratio is below
    its ``break_even`` ratio, the one furthest below is restored to dense and the rest re-solved.
    Raises when the layers left cannot reach the ratio."""
    ratio = _ratio(ratio, "schedule")
    break_even = dict(break_even or {})
    total = sum(ly.macs for ly in layers)
    pruned = [ly for ly in layers if ly.macs > 0]
    while True:
        dense_macs = sum(ly.macs for ly in layers if ly not in pruned)
        budget = total / ratio - dense_macs
        if not pruned or budget <= 0:
            raise ConfigError(
                "schedule ops",
                "prune ratio",
                f"a MAC reduction the layers above their break-even ratios can reach "
                f"(at most {total / max(dense_macs, 1):.3g}x with these layers dense)",
                ratio,
            )
        top = max(ly.macs for ly in pruned)

        def kept_macs(s: float, pruned=pruned, top=top) -> float:
            # pruning ratio r = max(1, top / (s · macs)): s scales the kept fractions
            return sum(ly.macs * min(1.0, s * top / ly.macs) for ly in pruned)

        s = _solve(kept_macs, budget)
        keep = {ly.name: min(1.0, s * top / ly.macs) for ly in pruned}
        # the layer furthest below its break-even goes dense; the others' ratios then rise
        margin = {ly.name: 1 / keep[ly.name] / break_even.get(ly.name, 1.0) for ly in pruned}
        worst = min(pruned, key=lambda ly: margin[ly.name])
        if margin[worst.name] >= 1:
            break
        pruned = [ly for ly in pruned if ly is not worst]
    return {ly.name: LayerPlan(keep=keep.get(ly.name, 1.0)) for ly in layers}


def read_plan_file(path: str | Path, layers: Sequence[Layer]) -> Plan:
    """A per-layer file: ``{layer: keep}`` or ``{layer: {keep: f, bits: n}}``; layers not
    named stay dense and unquantised."""
    source = str(path)
    data = load_mapping(path)
    check_names(data, layers, source)
    plan: Plan = {ly.name: LayerPlan() for ly in layers}
    for name, value in data.items():
        entry = value if isinstance(value, Mapping) else {"keep": value}
        unknown = set(entry) - {"keep", "bits"}
        if unknown:
            raise ConfigError(source, f"{name}.{sorted(unknown, key=str)[0]}", "keep or bits")
        try:
            plan[name] = LayerPlan(**entry)
        except ConfigError as exc:
            raise ConfigError(source, f"{name}.{exc.field}", exc.allowed, exc.got) from None
    return plan


def read_bits(spec: str | int, layers: Sequence[Layer]) -> dict[str, int]:
    """Bits per layer from an integer (every layer) or a file ``{layer: bits}``."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        bits = int(spec)
        LayerPlan(bits=bits)
        return {ly.name: bits for ly in layers}
    data = load_mapping(spec)
    check_names(data, layers, str(spec))
    out = {}
    for name, bits in data.items():
        try:
            out[name] = LayerPlan(bits=bits).bits
        except ConfigError as exc:
            raise ConfigError(str(spec), name, exc.allowed, exc.got) from None
    missing = [ly.name for ly in layers if ly.name not in out]
    if missing:
        raise ConfigError(str(spec), missing[0], "bits for every weight layer")
    return out


def with_bits(plan: Plan, bits: Mapping[str, int]) -> Plan:
    return {name: LayerPlan(p.keep, bits.get(name, p.bits)) for name, p in plan.items()}


def plan_to_dict(plan: Plan) -> dict[str, dict[str, Any]]:
    return {name: {"keep": p.keep, "bits": p.bits} for name, p in plan.items()}
