"""Specs: a bound (``min`` or ``max``) on any metric, checked the same way for every family.

Scenario form::

    specs: {throughput_fps: {min: 3500}, latency_s: {max: 0.002}}

The FPGA-era keys ``min_throughput_fps``, ``max_latency_ms``, ``max_energy_mj`` and
``max_fpgas`` still read (converted to SI), so every existing scenario and run keeps working.
A failed check is a :class:`SpecFailure`, the one shape of every ``failed_specs`` entry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from coexplore.config import ConfigError
from coexplore.core.metrics import METRIC_INFO, Metrics, check_metric

BOUNDS = ("min", "max")
FAILURE_KINDS = ("spec", "infeasible", "budget")

# Legacy key → (metric, bound, factor to SI); listed in the order the old code checked them.
LEGACY_SPECS: dict[str, tuple[str, str, float]] = {
    "min_throughput_fps": ("throughput_fps", "min", 1.0),
    "max_latency_ms": ("latency_s", "max", 1e-3),
    "max_energy_mj": ("energy_j", "max", 1e-3),
    "max_fpgas": ("devices", "max", 1.0),
}


@dataclass(frozen=True)
class SpecFailure:
    """Why a candidate misses its specs: a metric beyond its bound (``spec``), no design at all
    (``infeasible``) or a design over a resource budget (``budget``)."""

    kind: str
    reason: str  # one line for people
    metric: str | None = None
    bound: str | None = None  # "min" or "max"
    limit: float | None = None
    value: float | None = None
    miss_ratio: float | None = None  # relative miss, > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpecFailure:
        return cls(**data)


@dataclass(frozen=True)
class Bound:
    metric: str
    bound: str  # "min" or "max"
    limit: float

    def check(self, value: float, reason: str = "") -> SpecFailure | None:
        """The failure of ``value`` against this bound, or ``None`` when it holds."""
        miss = (self.limit - value) if self.bound == "min" else (value - self.limit)
        if miss <= 0:
            return None
        word = "below" if self.bound == "min" else "above"
        return SpecFailure(
            kind="spec",
            reason=reason or f"{self.metric} {value:.6g} {word} its {self.bound} {self.limit:g}",
            metric=self.metric,
            bound=self.bound,
            limit=self.limit,
            value=value,
            miss_ratio=miss / self.limit,
        )


@dataclass(frozen=True)
class Specs:
    """The bounds a candidate's metrics must meet; no bounds, no constraint."""

    bounds: tuple[Bound, ...] = ()

    def bound(self, metric: str) -> Bound | None:
        return next((b for b in self.bounds if b.metric == metric), None)

    def limit(self, metric: str) -> float | None:
        b = self.bound(metric)
        return None if b is None else b.limit

    @property
    def metrics(self) -> list[str]:
        return [b.metric for b in self.bounds]

    def check(self, metrics: Metrics) -> list[SpecFailure]:
        """The failed specs, each with its limit, the value reached and the relative miss."""
        failed = []
        for b in self.bounds:
            value = metrics.get(b.metric)
            if value is None:
                failed.append(
                    SpecFailure("spec", f"{b.metric} was not reported", b.metric, b.bound, b.limit)
                )
            elif (f := b.check(value)) is not None:
                failed.append(f)
        return failed

    def to_dict(self) -> dict[str, Any]:
        return {b.metric: {b.bound: b.limit} for b in self.bounds}

    @classmethod
    def from_config(cls, data: Any, source: str = "specs") -> Specs:
        """Read ``specs:`` in the metric form or the legacy FPGA form (both may mix)."""
        if not isinstance(data, dict):
            raise ConfigError(source, "specs", "a mapping of metric to {min|max: limit}", data)
        bounds: list[Bound] = []
        for key, (metric, bound, factor) in LEGACY_SPECS.items():
            if data.get(key) is not None:
                bounds.append(Bound(metric, bound, _limit(data[key], source, key) * factor))
        for key, value in data.items():
            if key in LEGACY_SPECS:
                continue
            if key not in METRIC_INFO:
                known = [*METRIC_INFO, *LEGACY_SPECS]
                raise ConfigError(source, f"specs.{key}", f"a metric, one of {known}")
            if value is None:
                continue
            if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in BOUNDS:
                raise ConfigError(source, f"specs.{key}", "{min: LIMIT} or {max: LIMIT}", value)
            ((bound, limit),) = value.items()
            bounds.append(Bound(key, bound, _limit(limit, source, f"{key}.{bound}")))
        seen = [b.metric for b in bounds]
        for metric in seen:
            if seen.count(metric) > 1:
                raise ConfigError(source, f"specs.{metric}", "given once", seen)
        return cls(tuple(bounds))


def _limit(value: Any, source: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(
            source, f"specs.{field}", "a positive number, or null for no limit", value
        )
    return value


def check_metric_names(names: list[str], produced: list[str], source: str, what: str) -> None:
    """Every metric ``what`` reads must be one the platform reports."""
    for name in names:
        check_metric(name, source, what)
        if name not in produced:
            raise ConfigError(source, what, f"a metric this platform reports ({produced})", name)


def upgrade_failure(old: dict[str, Any]) -> SpecFailure:
    """A ``failed_specs`` entry of a version-0 record (FPGA-only keys) in today's shape."""
    spec = old.get("spec")
    if spec in LEGACY_SPECS:
        metric, bound, factor = LEGACY_SPECS[spec]
        limit, value = old["limit"] * factor, old["value"] * factor
        reason = old.get("reason") or Bound(metric, bound, limit).check(value).reason
        return SpecFailure("spec", reason, metric, bound, limit, value, old.get("miss_ratio"))
    if spec == "budget" and "stage" in old:  # the FPGA pipeline's budgets, the only v0 family
        reason = f"stage {old['stage']} {old['budget']}: {old['used']} of {old['available']}"
        return SpecFailure(kind="budget", reason=reason)
    return SpecFailure(kind="infeasible", reason=str(old.get("reason", spec)))
