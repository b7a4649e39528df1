"""``Metrics``: what a platform reports for one candidate, in SI units, with one table of units.

Every platform family fills the fields it can compute and leaves the others ``None``; specs,
rewards, objectives, reports and W&B read metrics by these names. Conversions for display
(ms, mJ, …) live here and nowhere else (:data:`METRIC_INFO`, :func:`display_value`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

from coexplore.config import ConfigError


class MetricInfo(NamedTuple):
    """How to read and show a metric: its label, SI unit, display unit and scale, direction."""

    label: str
    unit: str  # SI
    display_unit: str
    scale: float  # display value = SI value × scale
    maximize: bool


METRIC_INFO: dict[str, MetricInfo] = {
    "latency_s": MetricInfo("latency", "s", "ms", 1e3, False),
    "throughput_fps": MetricInfo("throughput", "1/s", "frames/s", 1.0, True),
    "energy_j": MetricInfo("energy per input", "J", "mJ", 1e3, False),
    "power_w": MetricInfo("power", "W", "W", 1.0, False),
    "edp_js": MetricInfo("energy-delay product", "J·s", "µJ·s", 1e6, False),
    "area_mm2": MetricInfo("area", "mm²", "mm²", 1.0, False),
    "devices": MetricInfo("devices", "", "devices", 1.0, False),
    "layers": MetricInfo("physical layers", "", "layers", 1.0, False),
    "slms": MetricInfo("SLMs", "", "SLMs", 1.0, False),
    "detectors": MetricInfo("detectors", "", "detectors", 1.0, False),
}


# Column names a per-architecture table may give a metric under, with the factor to SI units:
# the metric's own name (SI), or its quantity with a common unit (``latency_ms``, ``energy_mj``).
METRIC_COLUMNS: dict[str, tuple[str, float]] = {
    "latency_s": ("latency_s", 1.0),
    "latency_ms": ("latency_s", 1e-3),
    "latency_us": ("latency_s", 1e-6),
    "throughput_fps": ("throughput_fps", 1.0),
    "energy_j": ("energy_j", 1.0),
    "energy_mj": ("energy_j", 1e-3),
    "energy_uj": ("energy_j", 1e-6),
    "power_w": ("power_w", 1.0),
    "power_mw": ("power_w", 1e-3),
    "edp_js": ("edp_js", 1.0),
    "area_mm2": ("area_mm2", 1.0),
}


@dataclass(frozen=True)
class Metrics:
    """One candidate's hardware metrics on its tuned design (per input where it applies)."""

    latency_s: float | None = None  # one input, end to end
    throughput_fps: float | None = None  # inputs per second
    energy_j: float | None = None  # per input
    power_w: float | None = None  # average while running at throughput
    edp_js: float | None = None  # energy per input × latency
    area_mm2: float | None = None
    devices: int | None = None  # chips or boards the design uses
    layers: int | None = None  # physical layers of an optical system (diffractive masks)
    slms: int | None = None  # of them, programmable spatial light modulators
    detectors: int | None = None  # detector regions read out

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

    def get(self, name: str) -> float | None:
        if name not in METRIC_INFO:
            raise ConfigError("metrics", name, f"one of {list(METRIC_INFO)}")
        return getattr(self, name)

    def available(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def to_dict(self) -> dict[str, Any]:
        """The metrics that are set (a JSON record leaves the others out)."""
        return {name: getattr(self, name) for name in self.available()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "metrics") -> Metrics:
        for key in data:
            if key not in METRIC_INFO:
                raise ConfigError(source, key, f"one of {list(METRIC_INFO)}")
        return cls(**data)


def check_metric(name: str, source: str, field: str) -> MetricInfo:
    """The info of a metric name, or an error naming the field and the known metrics."""
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
