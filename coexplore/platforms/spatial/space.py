"""The hardware design space of a template, under a silicon budget equal to the template's own.

A template file's ``space:`` section (or a scenario's ``hardware.space``) names parameters, each a
level's field with its choices::

    space:
      pe_x: {level: shared_glb, field: fanout_x, choices: [7, 14, 28]}
      glb:  {level: shared_glb, field: size_words, choices: [65536, 131072, 262144]}
      glb_bw: {level: shared_glb, field: [read_bw, write_bw], choices: [8, 16, 32]}

Changing a size rescales the level: area per instance and leakage in proportion to the words,
energy per access by the capacity ratio to the power ``energy_exponent`` (default 0.5,
the square-root trend of CACTI's SRAM access energy with capacity; our assumption, the template
gives one point; 0 keeps the template's energies). Instances follow the fan-outs, so
a larger PE array pays for its scratchpads and MACs. The **budget** is the baseline template's
area (when the template has areas) or else its PE count and on-chip words: a design is
feasible when it does not exceed them, so a lower EDP is never bought with more silicon. Area
grows with every parameter, so :meth:`HardwareDesignSpace.allowed` can mask, token by token,
exactly the choices after which no completion fits.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from coexplore.config import ConfigError, require_keys
from coexplore.platforms.spatial.arch import Template

FIELDS = ("fanout_x", "fanout_y", "size_words", "read_bw", "write_bw")


@dataclass(frozen=True)
class Parameter:
    name: str
    level: str
    fields: tuple[str, ...]
    choices: tuple[float, ...]
    energy_exponent: float = 0.5  # energy per access ∝ (size ratio) ** this, for sizes

    def baseline(self, template: Template) -> float:
        level = template.levels[template.level_index(self.level)]
        return getattr(level, self.fields[0])


def parse_space(data: Any, template: Template, source: str) -> tuple[Parameter, ...]:
    if not isinstance(data, dict) or not data:
        raise ConfigError(source, "space", "a mapping of parameter name to {level, field, choices}")
    params = []
    for name, spec in data.items():
        where = f"space.{name}"
        if not isinstance(spec, dict):
            raise ConfigError(source, where, "a mapping {level, field, choices}")
        require_keys(spec, source, {"level", "field", "choices"}, {"energy_exponent"}, prefix=where)
        exponent = spec.get("energy_exponent", 0.5)
        if isinstance(exponent, bool) or not isinstance(exponent, int | float) or exponent < 0:
            raise ConfigError(source, f"{where}.energy_exponent", "a number >= 0", exponent)
        names = [lv.name for lv in template.levels]
        if spec["level"] not in names:
            raise ConfigError(source, f"{where}.level", f"a level of {names}", spec["level"])
        fields = spec["field"] if isinstance(spec["field"], list) else [spec["field"]]
        for f in fields:
            if f not in FIELDS:
                raise ConfigError(source, f"{where}.field", f"one of {list(FIELDS)}", f)
        choices = spec["choices"]
        if (
            not isinstance(choices, list)
            or not choices
            or any(isinstance(c, bool) or not isinstance(c, int | float) or c <= 0 for c in choices)
        ):
            raise ConfigError(source, f"{where}.choices", "a non-empty list of positive numbers")
        if any(f in ("fanout_x", "fanout_y", "size_words") for f in fields) and any(
            not float(c).is_integer() for c in choices
        ):
            raise ConfigError(source, f"{where}.choices", "integers for fan-outs and sizes")
        params.append(Parameter(str(name), spec["level"], tuple(fields), tuple(sorted(choices)),
                                float(exponent)))  # fmt: skip
    return tuple(params)


def apply(template: Template, params: tuple[Parameter, ...], values: dict[str, float]) -> Template:
    """The template with parameter values set (sizes rescale area and access energy)."""
    out = template
    for p in params:
        level = out.levels[out.level_index(p.level)]
        value = values[p.name]
        changes: dict[str, Any] = {}
        for f in p.fields:
            changes[f] = int(value) if f in ("fanout_x", "fanout_y", "size_words") else float(value)
        if "size_words" in p.fields and level.size_words:
            ratio = value / level.size_words
            changes["area_um2"] = level.area_um2 * ratio
            scale = ratio**p.energy_exponent
            changes["read_pj"] = level.read_pj * scale
            changes["write_pj"] = level.write_pj * scale
            changes["leak_pj"] = level.leak_pj * ratio
        out = out.replace_level(p.level, **changes)
    values_text = ",".join(f"{p.name}={_fmt(values[p.name])}" for p in params)
    return dataclasses.replace(out, name=f"{template.name}[{values_text}]")


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


@dataclass(frozen=True)
class Budget:
    """The silicon a design may use: area, or PEs and on-chip words (templates without areas)."""

    area_mm2: float | None
    pes: int | None
    sram_words: int | None

    @classmethod
    def of(cls, template: Template) -> Budget:
        if template.area_mm2 is not None:
            return cls(template.area_mm2 * (1 + 1e-9), None, None)
        return cls(None, template.pes, template.sram_words)

    def fits(self, template: Template) -> bool:
        return not self.broken(template)

    def broken(self, template: Template) -> list[str]:
        out = []
        if self.area_mm2 is not None and (template.area_mm2 or 0) > self.area_mm2:
            out.append(f"area {template.area_mm2:.4f} mm² > budget {self.area_mm2:.4f} mm²")
        if self.pes is not None and template.pes > self.pes:
            out.append(f"{template.pes} PEs > budget {self.pes}")
        if self.sram_words is not None and template.sram_words > self.sram_words:
            out.append(f"{template.sram_words} on-chip words > budget {self.sram_words}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class HardwareDesignSpace:
    """The design points of a template's parameters, and which fit the budget."""

    def __init__(self, template: Template, params: tuple[Parameter, ...],
                 budget: Budget | None = None) -> None:  # fmt: skip
        self.template, self.params = template, params
        self.budget = Budget.of(template) if budget is None else budget

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def values(self, indices: list[int] | tuple[int, ...]) -> dict[str, float]:
        return {p.name: p.choices[i] for p, i in zip(self.params, indices, strict=True)}

    def design(self, indices: list[int] | tuple[int, ...]) -> Template:
        return apply(self.template, self.params, self.values(indices))

    def measures(self, points: np.ndarray) -> dict[str, np.ndarray]:
        """Area (mm², NaN without areas), PEs and on-chip words of many points (n, params),
        as :meth:`design` would give them, vectorised."""
        points = np.atleast_2d(np.asarray(points, dtype=np.int64))
        t, n = self.template, len(points)
        levels = len(t.levels)
        fan = np.array([[lv.fanout_x * 1.0, lv.fanout_y] for lv in t.levels])
        fanout = np.broadcast_to(fan.prod(axis=1), (n, levels)).copy()
        size = np.array([lv.size_words or 0 for lv in t.levels], float)
        sizes = np.broadcast_to(size, (n, levels)).copy()
        fx = np.broadcast_to(fan[:, 0], (n, levels)).copy()
        fy = np.broadcast_to(fan[:, 1], (n, levels)).copy()
        for j, p in enumerate(self.params):
            li = t.level_index(p.level)
            value = np.array(p.choices)[points[:, j]]
            if "fanout_x" in p.fields:
                fx[:, li] = value
            if "fanout_y" in p.fields:
                fy[:, li] = value
            if "size_words" in p.fields:
                sizes[:, li] = value
        fanout = fx * fy
        instances = np.ones((n, levels + 1))
        instances[:, 1:] = np.cumprod(fanout, axis=1)
        per_word = np.array([lv.area_um2 / lv.size_words if lv.size_words else 0.0
                             for lv in t.levels])  # fmt: skip
        area = (instances[:, :levels] * sizes * per_word).sum(axis=1)
        area += instances[:, levels] * t.mac.area_um2
        has_area = t.area_mm2 is not None
        return {
            "area_mm2": area * 1e-6 if has_area else np.full(n, np.nan),
            "pes": instances[:, levels],
            "sram_words": (instances[:, :levels] * sizes).sum(axis=1),
        }

    def fits_many(self, points: np.ndarray) -> np.ndarray:
        m, b = self.measures(points), self.budget
        ok = np.ones(len(m["pes"]), bool)
        if b.area_mm2 is not None:
            ok &= m["area_mm2"] <= b.area_mm2
        if b.pes is not None:
            ok &= m["pes"] <= b.pes
        if b.sram_words is not None:
            ok &= m["sram_words"] <= b.sram_words
        return ok

    def fits(self, indices: list[int] | tuple[int, ...]) -> bool:
        return bool(self.fits_many(np.array([indices]))[0])

    def allowed(self, prefix: list[int]) -> list[int]:
        """Choices of parameter ``len(prefix)`` after which the smallest completion fits."""
        k = len(prefix)
        rest = [0] * (len(self.params) - k - 1)
        points = np.array([[*prefix, c, *rest] for c in range(len(self.params[k].choices))])
        return [int(c) for c in np.flatnonzero(self.fits_many(points))]

    def size(self) -> int:
        return math.prod(len(p.choices) for p in self.params)

    def feasible_points(self, limit: int = 200_000) -> np.ndarray:
        """Every point within budget, as choice indices (n, parameters)."""
        if self.size() > limit:
            raise ValueError(f"the design space has {self.size()} points (> {limit})")
        grids = np.meshgrid(*(np.arange(len(p.choices)) for p in self.params), indexing="ij")
        points = np.stack([g.ravel() for g in grids], axis=1)
        return points[self.fits_many(points)]

    def baseline_indices(self) -> list[int] | None:
        """The template's own point, when every parameter has its value among the choices."""
        out = []
        for p in self.params:
            b = p.baseline(self.template)
            if b not in p.choices:
                return None
            out.append(p.choices.index(b))
        return out


def template_space(template: Template, data: Any = None) -> HardwareDesignSpace:
    """The design space of ``data`` (a ``space:`` mapping) or else of the template's own."""
    data = template.space if data is None else data
    if data is None:
        raise ConfigError(template.path or template.name, "space",
                          "a design space (the template has no space: section)")  # fmt: skip
    return HardwareDesignSpace(
        template, parse_space(data, template, template.path or template.name)
    )


__all__ = ["Budget", "HardwareDesignSpace", "Parameter", "apply", "parse_space", "template_space"]
