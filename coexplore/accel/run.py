"""One co-design search with its baselines, as the JSON report ``coexplore accel search`` prints.

The baselines are the template itself, as hand-tuned hardware: ``baseline`` maps every layer
within the template's own dataflow constraints (for ``eyeriss-like`` the row-stationary
dataflow), and ``baseline_free_mapping`` is the same hardware with every dataflow constraint
lifted, the best mapping the mapper finds. With ``max_latency="baseline"`` the latency limit
(a constraint known only after evaluation) is the baseline's cycles: a design may not be slower.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from coexplore.accel.problem import CodesignProblem, PointResult
from coexplore.accel.searchers import run_search
from coexplore.config import ConfigError
from coexplore.platforms.spatial.arch import load_template
from coexplore.platforms.spatial.network import (
    DEFAULT_MAPPER_BUDGET,
    evaluate_workload,
    map_workload,
)
from coexplore.platforms.spatial.space import apply, template_space
from coexplore.workloads.suites import load_workload


def make_problem(
    template: str,
    net: str,
    mapper_budget: int = DEFAULT_MAPPER_BUDGET,
    max_latency: str | float | None = "baseline",
    batch: int = 1,
    energy_exponent: float | None = None,
    dram_bw: float | None = None,
) -> tuple[CodesignProblem, PointResult]:
    """The problem and its baseline (the template as it is); ``energy_exponent`` overrides how
    every size parameter scales energy per access (0: the template's energies); ``dram_bw``
    bounds the outermost level's read and write bandwidth (words per cycle)."""
    base = load_template(template)
    if dram_bw is not None:
        base = base.replace_level(base.levels[0].name, read_bw=dram_bw, write_bw=dram_bw)
    data = base.space
    if energy_exponent is not None and data:
        data = {k: {**v, "energy_exponent": energy_exponent} if "size_words" in str(v["field"])
                else v for k, v in data.items()}  # fmt: skip
    space = template_space(base, data)
    problem = CodesignProblem(space, load_workload(net, batch), mapper_budget)
    baseline = problem.price(space.template)
    if max_latency == "baseline":
        problem.max_cycles = baseline.cycles
    elif max_latency not in (None, "none"):
        try:
            problem.max_cycles = float(max_latency)
        except (TypeError, ValueError):
            raise ConfigError(
                "search", "max_latency", "'baseline', 'none' or a number of cycles", max_latency
            ) from None
    return problem, baseline


def best_so_far(points: list[PointResult]) -> list[float | None]:
    out, best = [], math.inf
    for p in points:
        if p.ok:
            best = min(best, p.edp)
        out.append(best if math.isfinite(best) else None)
    return out


def search_report(
    problem: CodesignProblem,
    baseline: PointResult,
    method: str,
    budget: int,
    seed: int,
    free_baseline: bool = True,
) -> dict[str, Any]:
    start = time.perf_counter()
    points = run_search(problem, method, budget, seed)
    wall = time.perf_counter() - start
    ok = [p for p in points if p.ok]
    best = min(ok, key=lambda p: p.edp) if ok else None
    report: dict[str, Any] = {
        "template": problem.template.name,
        "net": problem.workload.name,
        "search": method,
        "seed": seed,
        "budget": budget,
        "mapper_budget": problem.mapper_budget,
        "valid": best is not None,
        "evaluations": len(points),
        "invalid_evaluations": sum(not p.fits for p in points),
        "infeasible_evaluations": sum(p.fits and not p.feasible for p in points),
        "max_cycles": problem.max_cycles,
        "baseline_edp": baseline.edp,
        "baseline_cycles": baseline.cycles,
        "baseline_energy_j": baseline.energy_j,
        "area_budget_mm2": problem.space.budget.area_mm2,
        "wall_s": wall,
        "trace": best_so_far(points),
    }
    if free_baseline:
        free = problem.price(problem.template.without_dataflow())
        report["baseline_free_mapping_edp"] = free.edp
    if best is not None:
        result = best.result
        report.update(
            design={k: (int(v) if float(v).is_integer() else v) for k, v in best.values.items()},
            edp=best.edp,
            edp_vs_baseline=best.edp / baseline.edp,
            cycles=best.cycles,
            energy_j=best.energy_j,
            latency_s=result.latency_s,
            area_mm2=best.area_mm2,
            layers=result.report()["layers"],
            mapping_file={
                **result.mapping_file(),
                "template": problem.template.name,
                "hardware": best.values,
            },  # fmt: skip
        )
    else:
        report.update(design=None, edp=None, cycles=None, energy_j=None)
    return report


def evaluate_report(template: str, net: str, mappings: dict | None, hardware: dict | None,
                    mapper_budget: int, seed: int, detail: bool, batch: int = 1,
                    source: str = "<mapping>") -> dict[str, Any]:  # fmt: skip
    """A workload on a template (optionally a design point of its space), on given mappings or
    on the mapper's."""
    base = load_template(template)
    design = base
    if hardware:
        space = template_space(base)
        unknown = [k for k in hardware if k not in space.names]
        if unknown:
            raise ConfigError(source, f"hardware.{unknown[0]}", f"one of {space.names}")
        for p in space.params:
            if p.name in hardware and hardware[p.name] not in p.choices:
                allowed = f"one of its choices {list(p.choices)}"
                raise ConfigError(source, f"hardware.{p.name}", allowed, hardware[p.name])
        values = {**{p.name: p.baseline(base) for p in space.params}, **hardware}
        design = apply(base, space.params, values)
    workload = load_workload(net, batch)
    if mappings is None:
        result = map_workload(design, workload, mapper_budget, np.random.default_rng(seed))
    else:
        result = evaluate_workload(design, workload, mappings, source)
    out = result.report(detail=detail)
    out["template"] = template
    out["hardware"] = hardware or {}
    return out


__all__ = ["best_so_far", "evaluate_report", "make_problem", "search_report"]
