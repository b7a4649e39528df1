"""The fast phase of the FPGA pipeline: tune a candidate's engines, check the specs, prune.

The controller picks the network and the FPGA pipeline (one part per stage); the fast phase
tunes the engine designs and the layer partition (the design tuner) and checks the specs. When
they fail, it tries other part choices from the pool, up to ``hw_attempts`` hardware designs per
network as Jiang et al. do (they resample up to 10), before pruning the candidate. The pools are
small, so the other designs are enumerated rather than sampled.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from coexplore.core.metrics import Metrics
from coexplore.core.specs import SpecFailure, Specs
from coexplore.platforms.fpga_pipeline.parts import get_part
from coexplore.platforms.fpga_pipeline.pipeline import (
    PipelineMetrics,
    evaluate_pipeline,
    map_layers,
)
from coexplore.platforms.fpga_pipeline.sparse import Compression
from coexplore.platforms.fpga_pipeline.tuning.pipeline import (
    NoFeasibleDesign,
    StageTuner,
    TuneResult,
    tune_partition,
)
from coexplore.workloads.layer import Network


def metrics_from_pipeline(m: PipelineMetrics | dict) -> Metrics:
    """The SI metrics of a pipeline report (:meth:`PipelineMetrics.to_dict` form accepted)."""
    d = m.to_dict() if isinstance(m, PipelineMetrics) else m
    return Metrics.derived(
        latency_s=d["latency_ms"] / 1e3,
        throughput_fps=d["throughput_fps"],
        energy_j=d["energy_mj"] / 1e3,
        devices=len(d["stages"]),
    )


@dataclass
class FastPhaseResult:
    parts: list[str]  # the parts of the design kept (the last one tried if pruned)
    result: TuneResult | None
    failed_specs: list[SpecFailure]
    attempts: int
    wall_s: float
    tried: list[list[str]] = field(default_factory=list)

    @property
    def pruned(self) -> bool:
        return self.result is None or bool(self.failed_specs)

    @property
    def metrics(self) -> PipelineMetrics | None:
        return None if self.result is None else self.result.metrics


def throughput_upper_bound(tuner: StageTuner, pool: list[str]) -> float:
    """No pipeline of pool parts beats this throughput: every layer runs on some stage, and a
    stage takes at least as long as its slowest layer on the best part for that layer."""
    layers = [(i, i + 1) for i in range(len(tuner.network))]
    best = np.min([tuner.stage_times(get_part(p), layers) for p in pool], axis=0)
    return 1.0 / float(best.max())


def bound_failures(tuner: StageTuner, pool: list[str], specs: Specs) -> list[SpecFailure]:
    """The throughput spec, when even the upper bound over the pool misses it (sound)."""
    bound = specs.bound("throughput_fps")
    if bound is None or bound.bound != "min":
        return []
    failure = bound.check(throughput_upper_bound(tuner, pool), "upper bound over the pool")
    return [] if failure is None else [failure]


def pipelines_to_try(chosen: list[str], pool: list[str], max_fpgas: int, layers: int):
    """The controller's choice first, then every other pipeline of pool parts, longest first
    (more FPGAs, more throughput), so the attempts cover the pool in a fixed order."""
    yield chosen
    for n in range(min(max_fpgas, layers), 0, -1):
        for combo in itertools.product(pool, repeat=n):
            if list(combo) != chosen:
                yield list(combo)


def check(result: TuneResult, specs: Specs) -> list[SpecFailure]:
    return specs.check(metrics_from_pipeline(result.metrics))


def priced(result: TuneResult, network: Network, compression: Compression | None) -> TuneResult:
    """``result`` with its metrics for the compressed network (unchanged without one): the
    engines and partition stay those tuned for the dense network; each layer runs sparse
    where that is not slower (:func:`evaluate_pipeline`)."""
    if compression is None:
        return result
    return replace(result, metrics=evaluate_pipeline(network, result.hardware, compression))


def run_fast_phase(
    network: Network,
    parts: list[str],
    pool,
    fast,
    specs: Specs,
    rng: np.random.Generator,
    compression: Compression | None = None,
) -> FastPhaseResult:
    """Tune ``parts`` first, then other pipelines of the pool (:func:`pipelines_to_try`), up to
    ``fast.hw_attempts`` in all, until one meets every spec.

    One stage tuner serves every attempt, so a (part, layer range) problem is tuned once per
    candidate. A candidate whose throughput upper bound already misses the spec is pruned at
    once, without trying hardware designs that cannot succeed. With ``compression`` each
    design is tuned for the dense network and priced for the compressed one (:func:`priced`);
    the bound, a dense one, is then skipped, since sparse layers may run faster.
    """
    start = time.perf_counter()
    tuner = StageTuner(
        network,
        precision=pool.precision,
        tuner=fast.tuner,
        budget=fast.budget,
        seed=int(rng.integers(2**31)),
    )
    missed = [] if compression is not None else bound_failures(tuner, list(pool.parts), specs)
    if missed:
        return FastPhaseResult(list(parts), None, missed, 0, time.perf_counter() - start, [])
    tried: list[list[str]] = []
    failed: list[SpecFailure] = []
    result: TuneResult | None = None
    for choice in pipelines_to_try(list(parts), list(pool.parts), pool.max_fpgas, len(network)):
        if len(tried) == fast.hw_attempts:
            break
        tried.append(choice)
        try:
            result = tune_partition(network, choice, link=pool.link_gbps, stage_tuner=tuner)
            result = priced(result, network, compression)
            failed = check(result, specs)
        except (NoFeasibleDesign, ValueError) as exc:
            result, failed = None, [SpecFailure("infeasible", str(exc))]
        if not failed:
            break
    return FastPhaseResult(
        tried[-1], result, failed, len(tried), time.perf_counter() - start, tried
    )


def reference_design(
    network: Network, pool, fast, specs: Specs, compression: Compression | None = None
) -> TuneResult:
    """The best design the tuner finds for ``network`` over every pipeline of the pool: the
    highest throughput among those meeting the specs (else among all), then least energy
    (with ``compression``: of the compressed network, :func:`priced`). Hardware-aware NAS on
    fixed hardware keeps this design for every candidate."""
    tuner = StageTuner(network, precision=pool.precision, tuner=fast.tuner, budget=fast.budget)
    results = []
    for choice in pipelines_to_try([pool.parts[0]], list(pool.parts), pool.max_fpgas, len(network)):
        try:
            result = tune_partition(network, choice, link=pool.link_gbps, stage_tuner=tuner)
            results.append(priced(result, network, compression))
        except (NoFeasibleDesign, ValueError):
            continue
    if not results:
        raise NoFeasibleDesign(f"no pipeline of {list(pool.parts)} runs {network.name}")
    ok = [r for r in results if not check(r, specs)] or results
    return max(ok, key=lambda r: (r.metrics.throughput_fps, -r.metrics.energy_mj))


def budget_failures(metrics: PipelineMetrics) -> list[SpecFailure]:
    """The resource budgets a design breaks, one failure each."""
    return [
        SpecFailure("budget", f"stage {v['stage']} {v['budget']}: {v['used']} of {v['available']}")
        for v in metrics.violations
    ]


def run_fixed_hardware(
    network: Network, design: TuneResult, specs: Specs, compression: Compression | None = None
) -> FastPhaseResult:
    """The fast phase on fixed hardware: ``network`` (compressed by ``compression``, if given)
    on ``design``'s engines, with the design's partition (or, for a network of another layer
    count, the best split over the same engines: :func:`map_layers`); it fails when it breaks
    a budget of the design or misses a spec."""
    start = time.perf_counter()
    parts = [s.part for s in design.hardware.stages]
    try:
        hardware = map_layers(network, design.hardware)
        metrics = evaluate_pipeline(network, hardware, compression)
    except ValueError as exc:  # e.g. fewer layers than stages
        failed = [SpecFailure("infeasible", str(exc))]
        return FastPhaseResult(parts, None, failed, 1, time.perf_counter() - start, [parts])
    result = TuneResult(hardware, metrics, "fixed", 0, 0, 0.0)
    failed = budget_failures(metrics) + check(result, specs)
    return FastPhaseResult(parts, result, failed, 1, time.perf_counter() - start, [parts])


def upgrade_v0(old: dict[str, Any]) -> dict[str, Any]:
    """A version-0 record (written when coexplore knew only this family) in version 1's fields:
    the pipeline report becomes the SI metrics and the details."""
    from coexplore.core.specs import upgrade_failure

    d = dict(old)
    pipeline = d.pop("metrics")
    parts = d.pop("parts")
    d["platform"] = "fpga-pipeline"
    d["choice"] = d.pop("parts_chosen")
    d["metrics"] = None if pipeline is None else metrics_from_pipeline(pipeline).to_dict()
    d["details"] = (
        None if pipeline is None and not parts else {"parts": parts, "pipeline": pipeline}
    )
    d["failed_specs"] = [upgrade_failure(f).to_dict() for f in d["failed_specs"]]
    d["reward_terms"] = {k: d.pop(k) for k in ("r_acc", "r_hw") if k in d}
    d["version"] = 1
    return d
