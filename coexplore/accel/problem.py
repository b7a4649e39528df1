"""The co-design problem: a workload, a template's design space, and the price of a design point.

One **evaluation** prices one hardware design point: every layer of the workload is mapped by
the mapper (:func:`~coexplore.platforms.spatial.mapper.search_mappings`, nested: the mapping
space of each layer is searched for each hardware point) and the network's EDP is the result.
The constraints come in two kinds:

- **known** before evaluating: the silicon budget of the design space (area, or PEs and on-chip
  words), and per layer the mapping rules (divisibility, capacity, fan-out), which the mapper
  checks analytically before pricing a mapping. A point that breaks the budget is an
  **invalid evaluation** when a searcher asks for it (it is not priced).
- **known only after** evaluating: a latency limit (``max_cycles``), and whether every layer
  got a valid mapping. A point that misses them is **infeasible**.

Evaluations are cached per point: each is seeded from its own key, so a point's price does not
depend on which searcher asked for it or when.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coexplore.platforms.spatial.arch import Template
from coexplore.platforms.spatial.network import DEFAULT_MAPPER_BUDGET, WorkloadResult, map_workload
from coexplore.platforms.spatial.space import HardwareDesignSpace
from coexplore.workloads.problem import Workload


@dataclass
class PointResult:
    """One evaluated design point."""

    indices: tuple[int, ...]
    values: dict[str, float]
    fits: bool  # within the silicon budget (known constraint)
    feasible: bool  # every layer mapped and within the latency limit (known after)
    edp: float  # J·cycle; inf unless fits and every layer mapped
    energy_j: float = math.inf
    cycles: float = math.inf
    area_mm2: float | None = None
    broken: list[str] = field(default_factory=list)
    mapper_evaluations: int = 0
    result: WorkloadResult | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.fits and self.feasible

    def to_dict(self) -> dict[str, Any]:
        return {
            "design": {k: _plain(v) for k, v in self.values.items()},
            "fits": self.fits,
            "feasible": self.feasible,
            "edp": self.edp if math.isfinite(self.edp) else None,
            "energy_j": self.energy_j if math.isfinite(self.energy_j) else None,
            "cycles": self.cycles if math.isfinite(self.cycles) else None,
            "area_mm2": self.area_mm2,
            "broken": self.broken,
        }


def _plain(v: float) -> int | float:
    return int(v) if float(v).is_integer() else float(v)


class CodesignProblem:
    """Price design points of ``space`` for ``workload`` (see the module docstring)."""

    def __init__(
        self,
        space: HardwareDesignSpace,
        workload: Workload,
        mapper_budget: int = DEFAULT_MAPPER_BUDGET,
        objective: str = "edp",
        max_cycles: float | None = None,
    ) -> None:
        self.space, self.workload = space, workload
        self.mapper_budget, self.objective = mapper_budget, objective
        self.max_cycles = max_cycles
        self.on_price: Callable[[PointResult], None] | None = None  # e.g. a progress bar
        self._cache: dict[tuple[int, ...], PointResult] = {}

    @property
    def template(self) -> Template:
        return self.space.template

    def price(self, template: Template, indices: tuple[int, ...] = ()) -> PointResult:
        """Map the workload on ``template`` (a design point or the baseline itself)."""
        key = repr((template.levels, template.mac, self.workload.name, self.mapper_budget))
        rng = np.random.default_rng(zlib.crc32(key.encode()))
        result = map_workload(template, self.workload, self.mapper_budget, rng, self.objective)
        broken = [f"{ly.name}: {b}" for ly in result.layers for b in ly.broken]
        feasible = result.valid
        if feasible and self.max_cycles is not None and result.cycles > self.max_cycles:
            feasible = False
            broken.append(f"{result.cycles:.0f} cycles > the limit {self.max_cycles:.0f}")
        values = self.space.values(indices) if indices else {}
        return PointResult(
            indices=tuple(indices),
            values=values,
            fits=True,
            feasible=feasible,
            edp=result.edp,
            energy_j=result.energy_j if result.valid else math.inf,
            cycles=result.cycles if result.valid else math.inf,
            area_mm2=template.area_mm2,
            broken=broken,
            mapper_evaluations=result.evaluations,
            result=result,
        )

    def evaluate(self, indices: tuple[int, ...] | list[int] | np.ndarray) -> PointResult:
        """The price of one design point (cached); over budget: not priced, ``fits`` False."""
        key = tuple(int(i) for i in indices)
        hit = self._cache.get(key)
        if hit is None:
            design = self.space.design(key)
            broken = self.space.budget.broken(design)
            if broken:
                hit = PointResult(key, self.space.values(key), False, False, math.inf,
                                  area_mm2=design.area_mm2, broken=broken)  # fmt: skip
            else:
                hit = self.price(design, key)
            self._cache[key] = hit
            if self.on_price is not None:
                self.on_price(hit)
        return hit

    def constraint_slack(self, point: PointResult) -> float:
        """The unknown constraint as a number, ≤ 0 when met: log(cycles / limit), or +1 for a
        point some layer could not be mapped on."""
        if not math.isfinite(point.cycles):
            return 1.0
        if self.max_cycles is None:
            return -1.0
        return math.log(point.cycles / self.max_cycles)


__all__ = ["CodesignProblem", "PointResult"]
