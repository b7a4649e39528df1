"""Design tuners: find the fastest engine design of a stage within every budget.

All tuners search the same :class:`StageProblem` space and return the Pareto front of the valid
designs they evaluated, trading stage cycles against dynamic energy, so the pipeline tuner can
pick the fastest design of the bottleneck stage and the most frugal fast-enough design of the
others (throughput first, energy as the tie-break).

- ``exhaustive``: every design of the space, vectorised in chunks; exact.
- ``random``: ``budget`` designs drawn uniformly from the on-chip-feasible tilings × port splits.
- ``tpe``: hyperopt's Tree-structured Parzen Estimator over the tile sizes (Tn, Tr, Tc) for
  ``budget`` proposals, the largest fitting Tm and the port split solved per proposal.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from coexplore.hardware.engine import EngineBatch, evaluate_batch, resources
from coexplore.registry import Registry
from coexplore.tuning.space import StageProblem

CHUNK_CELLS = 4_000_000  # designs × layers evaluated per vectorised call (bounds memory)
TPE_TM_CANDIDATES = 8


@dataclass(frozen=True)
class StageFront:
    """Valid designs on the (cycles, dynamic energy) Pareto front, fastest first."""

    designs: np.ndarray  # (F, 7)
    cycles: np.ndarray  # (F,)
    energy_j: np.ndarray  # (F,) dynamic energy per image
    evaluations: int

    @property
    def empty(self) -> bool:
        return len(self.cycles) == 0

    @classmethod
    def of(cls, batch: EngineBatch, problem: StageProblem, evaluations: int) -> StageFront:
        energy = batch.dynamic_energy_j(problem.part.clock_hz, problem.part.dram_pj_per_bit)
        return pareto(
            batch.designs[batch.valid], batch.cycles[batch.valid], energy[batch.valid], evaluations
        )

    @classmethod
    def merge(cls, fronts: list[StageFront]) -> StageFront:
        return pareto(
            np.concatenate([f.designs for f in fronts]),
            np.concatenate([f.cycles for f in fronts]),
            np.concatenate([f.energy_j for f in fronts]),
            sum(f.evaluations for f in fronts),
        )

    def frugal_within(self, max_cycles: float) -> int | None:
        """Index of the least-energy design taking at most ``max_cycles`` (None if none does)."""
        ok = np.flatnonzero(self.cycles <= max_cycles * (1 + 1e-12))
        return None if len(ok) == 0 else int(ok[-1])


def pareto(designs: np.ndarray, cycles: np.ndarray, energy: np.ndarray, evaluations: int):
    """Keep the designs no other design beats on both cycles and energy (ties: lowest row)."""
    order = np.lexsort((energy, cycles))
    e_sorted = energy[order]
    best_before = np.minimum.accumulate(np.concatenate([[np.inf], e_sorted[:-1]]))
    keep = order[e_sorted < best_before]
    return StageFront(designs[keep], cycles[keep], energy[keep], evaluations)


Tuner = Callable[[StageProblem, int, np.random.Generator], StageFront]
TUNERS: Registry[Tuner] = Registry("tuner")


def _evaluate(problem: StageProblem, rows: np.ndarray) -> StageFront:
    fronts = []
    step = max(1, CHUNK_CELLS // len(problem.layers))
    for i in range(0, len(rows), step):
        batch = evaluate_batch(problem.table, rows[i : i + step], problem.part, problem.precision)
        fronts.append(StageFront.of(batch, problem, len(batch.cycles)))
    return StageFront.merge(fronts) if fronts else _empty(0)


def _empty(evaluations: int) -> StageFront:
    return StageFront(np.zeros((0, 7), np.int64), np.zeros(0, np.int64), np.zeros(0), evaluations)


@TUNERS.decorator("exhaustive")
def exhaustive(problem: StageProblem, budget: int, rng: np.random.Generator) -> StageFront:
    """Every design of the space (``budget`` and ``rng`` are ignored): the exact optimum."""
    n_t, n_s = len(problem.tilings), len(problem.splits)
    if n_t == 0:
        return _empty(0)
    fronts = []
    tilings_per_chunk = max(1, CHUNK_CELLS // (n_s * len(problem.layers)))
    for start in range(0, n_t, tilings_per_chunk):
        t_idx = np.arange(start, min(n_t, start + tilings_per_chunk))
        rows = problem.design_rows(np.repeat(t_idx, n_s), np.tile(np.arange(n_s), len(t_idx)))
        fronts.append(_evaluate(problem, rows))
    return StageFront.merge(fronts)


@TUNERS.decorator("random")
def random_search(problem: StageProblem, budget: int, rng: np.random.Generator) -> StageFront:
    """``budget`` designs drawn uniformly from the feasible tilings × port splits."""
    if len(problem.tilings) == 0:
        return _empty(0)
    rows = problem.design_rows(
        rng.integers(len(problem.tilings), size=budget),
        rng.integers(len(problem.splits), size=budget),
    )
    return _evaluate(problem, rows)


@TUNERS.decorator("tpe")
def tpe(problem: StageProblem, budget: int, rng: np.random.Generator) -> StageFront:
    """hyperopt TPE over (Tn, Tr[, Tc]) on a log scale, ``budget`` proposals.

    The tile sizes that interact through the BRAM budget are what TPE explores; the two cheap
    inner choices are solved exactly per proposal in one vectorised call: the
    :data:`TPE_TM_CANDIDATES` largest Tm that fit every on-chip budget, each with every port
    split. The evaluation count reports every design this evaluates.
    """
    from hyperopt import STATUS_OK, Trials, fmin, hp
    from hyperopt import tpe as hyperopt_tpe

    if len(problem.tilings) == 0:
        return _empty(0)
    tm_v, tn_v = problem.tm_values, problem.tn_values
    side = np.union1d(problem.tr_values, problem.tc_values)
    tr_v = side if problem.square_tiles else problem.tr_values
    tc_v = side if problem.square_tiles else problem.tc_values
    splits = problem.splits

    def log_range(values: np.ndarray, name: str):
        return hp.loguniform(name, 0.0, math.log(float(values[-1]) + 0.5))

    def nearest(values: np.ndarray, x: float) -> int:
        return int(values[np.abs(np.log(values) - math.log(x)).argmin()])

    space = {"tn": log_range(tn_v, "tn"), "tr": log_range(tr_v, "tr")}
    if not problem.square_tiles:
        space["tc"] = log_range(tc_v, "tc")
    fronts: list[StageFront] = []

    def objective(p: dict) -> dict:
        tn, tr = nearest(tn_v, p["tn"]), nearest(tr_v, p["tr"])
        tc = tr if problem.square_tiles else nearest(tc_v, p["tc"])
        tilings = np.stack([tm_v, *(np.full_like(tm_v, v) for v in (tn, tr, tc))], axis=1)
        dsp, bram, lut = resources(problem.table, tilings, problem.precision)
        part = problem.part
        tilings = tilings[(dsp <= part.dsp) & (bram <= part.bram18k) & (lut <= part.lut)]
        tilings = tilings[-TPE_TM_CANDIDATES:]
        if len(tilings) == 0:  # nothing fits: ranked below every proposal that does
            return {"loss": 1e3, "status": STATUS_OK}
        rows = np.concatenate(
            [np.repeat(tilings, len(splits), axis=0), np.tile(splits, (len(tilings), 1))], axis=1
        )
        front = _evaluate(problem, rows)
        fronts.append(front)
        loss = math.log(float(front.cycles[0])) if not front.empty else 1e3
        return {"loss": loss, "status": STATUS_OK}

    # A quarter of the budget samples the prior before TPE models it: on these rugged spaces
    # hyperopt's default of 20 start-up proposals locks onto a local optimum too early.
    suggest = functools.partial(hyperopt_tpe.suggest, n_startup_jobs=max(20, budget // 4))
    fmin(
        objective,
        space,
        algo=suggest,
        max_evals=budget,
        trials=Trials(),
        rstate=np.random.default_rng(int(rng.integers(2**63 - 1))),
        show_progressbar=False,
    )
    return StageFront.merge(fronts) if fronts else _empty(0)
