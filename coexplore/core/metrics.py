"""Metrics as data: what a platform reports for one candidate, in SI units.

A metric is declared once, as a :class:`Metric` (name, SI unit, display unit and scale,
direction, description, the column names a table may give it under). The quantities most
hardware reports (latency, throughput, energy, power, EDP, area, devices) are declared here, as
a shared vocabulary; a family declares any other metric of its own (the diffractive family's
``layers``, ``slms``, ``detectors``) in its ``metrics``, which registers it in
:data:`METRIC_INFO` when the family's class is defined. Specs, rewards, objectives, Pareto
fronts, reports and W&B read metrics by name through that table; nothing in the core knows a
family's metric. Conversions for display (ms, mJ, …) live here and nowhere else.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from coexplore.config import ConfigError


@dataclass(frozen=True)
class Metric:
    """How to read and show a metric: its label, SI unit, display unit and scale (display
    value = SI value × ``scale``), whether more is better, and ``columns``: other names a
    per-architecture table may give it under, with the factor to SI (``latency_ms``: 1e-3)."""

    name: str
    label: str
    unit: str  # SI
    display_unit: str
    scale: float = 1.0
    maximize: bool = False
    description: str = ""
    columns: Mapping[str, float] = field(default_factory=dict)


MetricInfo = Metric  # the name older code and plugins use

METRIC_INFO: dict[str, Metric] = {}
"""Every declared metric by name, in declaration order (the shared ones first)."""


def register_metrics(metrics: Iterable[Metric | str], owner: str) -> tuple[str, ...]:
    """Declare ``metrics`` (a name refers to one declared before) and return their names; a
    name declared twice with different meanings is an error naming ``owner``."""
    names = []
    for m in metrics:
        if isinstance(m, str):
            if m not in METRIC_INFO:
                raise ConfigError(
                    owner, "metrics", f"declared metrics, one of {list(METRIC_INFO)}", m
                )
            names.append(m)
            continue
        known = METRIC_INFO.setdefault(m.name, m)
        if known != m:
            raise ConfigError(owner, "metrics", f"{m.name} as declared before ({known})", m)
        names.append(m.name)
    return tuple(names)


LATENCY = Metric("latency_s", "latency", "s", "ms", 1e3, False, "one input, end to end",
                 {"latency_ms": 1e-3, "latency_us": 1e-6})  # fmt: skip
THROUGHPUT = Metric("throughput_fps", "throughput", "1/s", "frames/s", 1.0, True,
                    "inputs per second")  # fmt: skip
ENERGY = Metric("energy_j", "energy per input", "J", "mJ", 1e3, False, "per input",
                {"energy_mj": 1e-3, "energy_uj": 1e-6})  # fmt: skip
POWER = Metric("power_w", "power", "W", "W", 1.0, False, "average while running at throughput",
               {"power_mw": 1e-3})  # fmt: skip
EDP = Metric("edp_js", "energy-delay product", "J·s", "µJ·s", 1e6, False,
             "energy per input × latency")  # fmt: skip
AREA = Metric("area_mm2", "area", "mm²", "mm²", 1.0, False, "silicon area")
DEVICES = Metric("devices", "devices", "", "devices", 1.0, False, "chips or boards the design uses")
register_metrics((LATENCY, THROUGHPUT, ENERGY, POWER, EDP, AREA, DEVICES), "coexplore.core")


def metric_columns() -> dict[str, tuple[str, float]]:
    """Column names a per-architecture table may give a metric under, with the factor to SI
    units: every metric's own name (SI), and its declared ``columns``."""
    out: dict[str, tuple[str, float]] = {}
    for m in METRIC_INFO.values():
        out[m.name] = (m.name, 1.0)
        out.update({column: (m.name, factor) for column, factor in m.columns.items()})
    return out


class Metrics(Mapping[str, float]):
    """One candidate's hardware metrics on its tuned design (per input where it applies): a
    read-only mapping from declared metric names to values in SI units. ``metrics.latency_s``
    reads a declared metric too (None when not reported)."""

    __slots__ = ("_values",)

    def __init__(self, **values: Any) -> None:
        for name in values:
            if name not in METRIC_INFO:
                raise ConfigError("metrics", name, f"one of {list(METRIC_INFO)}")
        order = [n for n in METRIC_INFO if values.get(n) is not None]
        object.__setattr__(self, "_values", {n: values[n] for n in order})

    @classmethod
    def derived(cls, **values: Any) -> Metrics:
        """Metrics with power and EDP filled in from energy, throughput and latency when the
        family did not give them (power = energy × throughput, EDP = energy × latency)."""
        m = cls(**values)
        updates: dict[str, float] = {}
        if m.power_w is None and m.energy_j is not None and m.throughput_fps is not None:
            updates["power_w"] = m.energy_j * m.throughput_fps
        if m.edp_js is None and m.energy_j is not None and m.latency_s is not None:
            updates["edp_js"] = m.energy_j * m.latency_s
        return cls(**{**values, **updates})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in METRIC_INFO:
            raise AttributeError(name)
        return self._values.get(name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Metrics are read-only")

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Metrics) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __repr__(self) -> str:
        return f"Metrics({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"

    def __reduce__(self):  # pickles as its values (for executors' workers)
        return _metrics, (self._values,)

    def get(self, name: str, default: Any = None) -> float | None:
        if name not in METRIC_INFO:
            raise ConfigError("metrics", name, f"one of {list(METRIC_INFO)}")
        return self._values.get(name, default)

    def available(self) -> list[str]:
        return list(self._values)

    def to_dict(self) -> dict[str, Any]:
        """The metrics that are set (a JSON record leaves the others out)."""
        return dict(self._values)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "metrics") -> Metrics:
        for key in data:
            if key not in METRIC_INFO:
                raise ConfigError(source, key, f"one of {list(METRIC_INFO)}")
        return cls(**data)


def _metrics(values: dict[str, Any]) -> Metrics:
    return Metrics(**values)


def check_metric(name: str, source: str, field: str) -> Metric:
    """The declaration of a metric name, or an error naming the field and the known metrics."""
    if name not in METRIC_INFO:
        raise ConfigError(source, field, f"a metric, one of {list(METRIC_INFO)}", name)
    return METRIC_INFO[name]


def display_value(name: str, value: float | None) -> float | None:
    """A metric in its display unit (latency in ms, energy in mJ, …)."""
    return None if value is None else value * METRIC_INFO[name].scale


def axis_label(name: str) -> str:
    """``latency (ms)``; a count is its own unit (``devices``)."""
    info = METRIC_INFO[name]
    return info.label if info.display_unit == info.label else f"{info.label} ({info.display_unit})"


def format_metric(name: str, value: float | None) -> str:
    """``4,196 frames/s``, ``0.3949 ms``: a metric for people."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    v = display_value(name, value)
    text = f"{v:,.0f}" if abs(v) >= 1e3 else f"{v:.4g}"
    return f"{text} {METRIC_INFO[name].display_unit}"
