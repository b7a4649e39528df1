"""Hardware + mapping co-design of one fixed workload as a search (Shi et al.'s setting).

A :class:`Codesign` names a template, a workload and the mapper's budget; it prices the
template as it is (the hand-tuned baseline) with the spatial family and turns that into the
``eyeriss-codesign`` scenario's overrides: the latency limit (a constraint known only after
evaluating; ``"baseline"``: no slower than the template as it is) and the EDP target (the
baseline's, so a reward above 0 beats it). Any agent then searches it as any scenario, with a
run directory, resume, W&B and a report; ``cbo``, ``bo`` and ``tpe`` are the ones of the study
(``docs/cbo.md``). :func:`codesign_summary` reads a run back as the study reports it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coexplore.config import ConfigError
from coexplore.core.evaluator import CandidateEvaluator
from coexplore.core.record import CandidateRecord
from coexplore.core.specs import Specs
from coexplore.platforms.spatial.network import DEFAULT_MAPPER_BUDGET
from coexplore.scenario import make_evaluator
from coexplore.scenario.catalogue import scenario_path
from coexplore.scenario.schema import apply_overrides, load_mapping, scenario_from_dict
from coexplore.search.runlog import read_records, read_run
from coexplore.search.runner import SearchConfig

CODESIGN_ENV = "eyeriss-codesign"


@dataclass(frozen=True)
class Codesign:
    """A template's design space searched for one workload (see the module docstring).
    ``dram_bw`` bounds the outermost level's bandwidth (words per cycle); ``energy_exponent``
    sets how every size parameter scales energy per access (0: the template's energies)."""

    template: str = "eyeriss-like"
    net: str = "resnet50"
    batch: int = 1
    mapper_budget: int = DEFAULT_MAPPER_BUDGET
    max_latency: str | float | None = "baseline"
    dram_bw: float | None = None
    energy_exponent: float | None = None

    def hardware_overrides(self) -> list[str]:
        """The scenario's overrides that set the template, the workload and the mapper."""
        out = [
            f"space.net={self.net}",
            f"hardware.template={self.template}",
            f"hardware.batch={self.batch}",
            f"fast_phase.mapper_budget={self.mapper_budget}",
        ]
        if self.dram_bw is not None:
            out.append(f"hardware.dram_bw={self.dram_bw}")
        if self.energy_exponent is not None:
            from coexplore.platforms.spatial.arch import load_template

            space = {
                k: {**v, "energy_exponent": self.energy_exponent}
                if "size_words" in str(v["field"])
                else v
                for k, v in (load_template(self.template).space or {}).items()
            }
            out.append(f"hardware.space={json.dumps(space)}")
        return out

    def evaluator(self) -> CandidateEvaluator:
        """The evaluator of this co-design's scenario, without specs (its platform is the
        configured family: ``platform.design(choice)`` is a design point's template)."""
        data = apply_overrides(
            load_mapping(scenario_path(CODESIGN_ENV)), [*self.hardware_overrides(), "specs={}"]
        )
        return make_evaluator(scenario_from_dict(data, CODESIGN_ENV))

    def baseline(self) -> tuple[CandidateRecord, float]:
        """The template as it is, priced as the search prices a design point, and its clock."""
        evaluator = self.evaluator()
        candidate = evaluator.build(evaluator.space.sample(None))
        fast = evaluator.platform.evaluate_fixed(candidate, {}, Specs())
        if fast.metrics is None:
            reasons = "; ".join(f.reason for f in fast.failed_specs)
            allowed = f"a template that runs {self.net}"
            raise ConfigError(self.template, "template", allowed, reasons)
        record = evaluator.record(candidate, fast, None, evaluator.reward_fn.penalized())
        return record, evaluator.platform.template.clock_hz

    def overrides(self, baseline: CandidateRecord, clock_hz: float) -> list[str]:
        """Every override of the search: the hardware's, the latency limit and the target."""
        limit = self.max_latency
        specs: list[str]
        if limit == "baseline":
            specs = [f"specs.latency_s.max={baseline.metrics['latency_s']!r}"]
        elif limit in (None, "none"):
            specs = ["specs={}"]
        else:
            try:
                cycles = float(limit)
            except (TypeError, ValueError):
                allowed = "'baseline', 'none' or a number of cycles"
                raise ConfigError("codesign", "max_latency", allowed, limit) from None
            specs = [f"specs.latency_s.max={cycles / clock_hz!r}"]
        target = f"reward.target={baseline.metrics['edp_js']!r}"
        return [*self.hardware_overrides(), "specs={}", *specs, target]

    def config(self, agent: str, budget: int, seed: int, out: str | None = None,
               **kwargs: Any) -> tuple[SearchConfig, CandidateRecord, float]:  # fmt: skip
        """The search of ``budget`` design points by ``agent``, the baseline and the clock."""
        baseline, clock = self.baseline()
        overrides = tuple(self.overrides(baseline, clock))
        config = SearchConfig(CODESIGN_ENV, agent, budget, seed, out, overrides=overrides, **kwargs)
        return config, baseline, clock


def _is_invalid(record: CandidateRecord) -> bool:
    """Over the silicon budget: a constraint known before evaluating, so never priced."""
    return any(f.kind == "budget" for f in record.failed_specs)


def codesign_summary(run_dir: str | Path, baseline: CandidateRecord, clock_hz: float) -> dict:
    """A co-design run as the study reports it: EDP in J·cycle (Timeloop's unit: a pass's
    energy × its cycles), the
    evaluations over budget (*invalid*) and slower than the limit or unmappable
    (*infeasible*), the best design and the best-so-far EDP after each evaluation."""
    records, meta = read_records(run_dir), read_run(run_dir)
    limit = meta["specs"].get("latency_s", {}).get("max")
    batch = meta["scenario_data"]["hardware"].get("batch", 1)

    def cycles(r: CandidateRecord) -> float:
        """A pass's cycles, summed from its layers (exact; latency × clock rounds)."""
        return sum(ly["count"] * ly["cycles"] for ly in r.details["layers"])

    def edp_cycles(r: CandidateRecord) -> float:
        return r.metrics["energy_j"] * batch * cycles(r)

    ok = [r for r in records if r.feasible]
    best = min(ok, key=edp_cycles, default=None)
    trace, so_far = [], math.inf
    for r in records:
        if r.feasible:
            so_far = min(so_far, edp_cycles(r))
        trace.append(so_far if math.isfinite(so_far) else None)
    base_edp = edp_cycles(baseline)
    out: dict[str, Any] = {
        "evaluations": len(records),
        "invalid_evaluations": sum(_is_invalid(r) for r in records),
        "infeasible_evaluations": sum(r.pruned and not _is_invalid(r) for r in records),
        "valid": best is not None,
        "baseline_edp": base_edp,
        "baseline_cycles": cycles(baseline),
        "baseline_energy_j": baseline.metrics["energy_j"] * batch,
        "max_cycles": None if limit is None else limit * clock_hz,
        "wall_s": max((r.wall_s or 0.0 for r in records), default=0.0),
        "trace": trace,
        "out": str(run_dir),
    }
    if best is None:
        return {**out, "design": None, "edp": None, "cycles": None, "energy_j": None}
    layers = (best.details or {}).get("layers", [])
    return {
        **out,
        "design": best.choice,
        "edp": edp_cycles(best),
        "edp_vs_baseline": edp_cycles(best) / base_edp,
        "cycles": cycles(best),
        "energy_j": best.metrics["energy_j"] * batch,
        "latency_s": best.metrics["latency_s"],
        "area_mm2": best.metrics.get("area_mm2"),
        "episode": best.episode,
        "layers": layers,
        "mapping_file": {
            "template": best.hardware["template"],
            "workload": best.arch,
            "layers": {ly["name"]: ly["mapping"] for ly in layers},
            "hardware": best.choice,
        },
    }


__all__ = ["CODESIGN_ENV", "Codesign", "codesign_summary"]
