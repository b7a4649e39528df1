"""The fast phase: tune a candidate's hardware, check the specs, prune without training.

The controller picks the network and the FPGA pipeline (one part per stage); the fast phase
tunes the engine designs and the layer partition (the design tuner) and checks the specs. When
they fail, it tries other part choices from the pool, up to ``hw_attempts`` hardware designs per
network as Jiang et al. do (they resample up to 10), before pruning the candidate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coexplore.hardware.pipeline import PipelineMetrics
from coexplore.scenario.schema import Scenario
from coexplore.tuning.pipeline import NoFeasibleDesign, TuneResult, tune_partition
from coexplore.workloads.layer import Network


@dataclass
class FastPhaseResult:
    parts: list[str]  # the parts of the design kept (the last one tried if pruned)
    result: TuneResult | None
    failed_specs: list[dict[str, Any]]
    attempts: int
    wall_s: float
    tried: list[list[str]] = field(default_factory=list)

    @property
    def pruned(self) -> bool:
        return self.result is None or bool(self.failed_specs)

    @property
    def metrics(self) -> PipelineMetrics | None:
        return None if self.result is None else self.result.metrics


def run_fast_phase(
    network: Network, parts: list[str], scenario: Scenario, rng: np.random.Generator
) -> FastPhaseResult:
    """Tune ``parts`` first, then other pool choices, until one meets every spec."""
    start = time.perf_counter()
    hw, fast = scenario.hardware, scenario.fast_phase
    candidates, tried = [list(parts)], []
    failed: list[dict[str, Any]] = []
    result: TuneResult | None = None
    while candidates and len(tried) < fast.hw_attempts:
        choice = candidates.pop(0)
        tried.append(choice)
        try:
            result = tune_partition(
                network,
                choice,
                link=hw.link_gbps,
                precision=hw.precision,
                tuner=fast.tuner,
                budget=fast.budget,
                seed=int(rng.integers(2**31)),
            )
            failed = scenario.specs.check(result.metrics)
            if not result.metrics.valid:  # cannot happen with a tuner, kept as a guard
                failed.append({"spec": "budgets", "violations": result.metrics.violations})
        except (NoFeasibleDesign, ValueError) as exc:
            result, failed = None, [{"spec": "feasible", "reason": str(exc)}]
        if not failed:
            break
        if not candidates:  # resample another pipeline from the pool
            n = int(rng.integers(1, min(hw.max_fpgas, len(network)) + 1))
            candidates.append([str(p) for p in rng.choice(hw.parts, size=n)])
    return FastPhaseResult(
        tried[-1], result, failed, len(tried), time.perf_counter() - start, tried
    )
