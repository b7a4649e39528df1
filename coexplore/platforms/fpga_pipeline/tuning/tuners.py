"""Design tuners: find the fastest engine design of a stage within every budget.

All tuners search the same :class:`StageProblem` space and return the Pareto front of the valid
designs they evaluated, trading stage cycles against dynamic energy, so the pipeline tuner can
pick the fastest design of the bottleneck stage and the most frugal fast-enough design of the
others (throughput first, energy as the tie-break).

- ``exhaustive``: the exact front, found by bounding whole tilings (:mod:`~.exact`).
- ``reference``: every design of the space evaluated, vectorised in chunks: exact and slow,
  kept as the plain enumeration the exact tuner is tested and benchmarked against.
- ``tpe``: hyperopt's Tree-structured Parzen Estimator over the tile sizes (Tn, Tr, Tc) for
  ``budget`` distinct tilings, the largest fitting Tm values and the port split solved exactly
  per proposal.
- ``random``: hyperopt's random search over the same space, with the same inner solve: the
  baseline that shows what TPE's model buys at equal budget.
- ``auto`` (the default): ``exhaustive`` where that is cheaper than ``tpe``, else ``tpe``.

``tpe``, ``random`` and ``auto`` solve a space exactly wherever the exact tuner costs less than
the search (:func:`exact_is_cheaper`): the result can only be better, and a search is never
slower than the exact answer. :data:`SEARCHES` holds the searches themselves.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable

import numpy as np

from coexplore.platforms.fpga_pipeline.engine import evaluate_batch, resources
from coexplore.platforms.fpga_pipeline.tuning.exact import PartSolver
from coexplore.platforms.fpga_pipeline.tuning.front import StageFront, empty_front
from coexplore.platforms.fpga_pipeline.tuning.space import StageProblem
from coexplore.registry import Registry

CHUNK_CELLS = 200_000  # designs × layers per vectorised call (bench: 10k-100k cells run fastest)
HYPEROPT_TM_CANDIDATES = 8  # largest fitting Tm solved exactly per tpe/random proposal
HYPEROPT_MAX_PROPOSALS_PER_TILING = 2  # a converged search repeats itself: stop it
REFINE_STEPS = 2  # tile sizes either side of the best tiling tried after the search
REFINE_FACTORS = (0.5, 2.0)  # and the sizes nearest half and twice it (tiles that divide maps)
# Tilings the exact tuner bounds in the time of one hyperopt proposal (bench/bench_fast_phase.py:
# ~8M tiling-ranges/s against 5-13 ms per proposal at budget 200).
EXACT_TILINGS_PER_PROPOSAL = 40_000


def exact_is_cheaper(tilings: int, budget: int) -> bool:
    """Whether the exact tuner costs less than a ``budget``-proposal search on a space of
    ``tilings`` tilings: per stage it bounds every tiling once, a search pays per proposal."""
    return tilings <= budget * EXACT_TILINGS_PER_PROPOSAL


Tuner = Callable[[StageProblem, int, np.random.Generator], StageFront]
TUNERS: Registry[Tuner] = Registry("tuner")


def _evaluate(problem: StageProblem, rows: np.ndarray) -> StageFront:
    fronts = []
    step = max(1, CHUNK_CELLS // len(problem.layers))
    for i in range(0, len(rows), step):
        batch = evaluate_batch(problem.table, rows[i : i + step], problem.part, problem.precision)
        fronts.append(StageFront.of(batch, problem, len(batch.cycles)))
    return StageFront.merge(fronts) if fronts else empty_front(0)


@TUNERS.decorator("exhaustive")
def exhaustive(problem: StageProblem, budget: int, rng: np.random.Generator) -> StageFront:
    """The exact front of the whole space (``budget`` and ``rng`` are ignored), by bounds that
    skip the tilings that cannot reach it (:mod:`~.exact`): the optimum the others aim for."""
    solver = PartSolver(
        problem.layers,
        problem.part,
        problem.precision,
        square_tiles=problem.square_tiles,
        port_quanta=problem.port_quanta,
    )
    return solver.front(0, len(problem.layers))


@TUNERS.decorator("reference")
def reference(problem: StageProblem, budget: int, rng: np.random.Generator) -> StageFront:
    """Every design of the space evaluated, vectorised in chunks (``budget`` and ``rng`` are
    ignored): the slow, plain enumeration that ``exhaustive`` is tested against."""
    n_t, n_s = len(problem.tilings), len(problem.splits)
    if n_t == 0:
        return empty_front(0)
    fronts = []
    tilings_per_chunk = max(1, CHUNK_CELLS // (n_s * len(problem.layers)))
    for start in range(0, n_t, tilings_per_chunk):
        t_idx = np.arange(start, min(n_t, start + tilings_per_chunk))
        rows = problem.design_rows(np.repeat(t_idx, n_s), np.tile(np.arange(n_s), len(t_idx)))
        fronts.append(_evaluate(problem, rows))
    return StageFront.merge(fronts)


def _hyperopt_search(
    problem: StageProblem, budget: int, rng: np.random.Generator, algo: Callable
) -> StageFront:
    """Run a hyperopt algorithm over the tile sizes (Tn, Tr[, Tc]) on a log scale.

    Each proposal snaps to the nearest tile sizes of the space; the two cheap inner choices are
    then solved exactly in one vectorised call: the :data:`HYPEROPT_TM_CANDIDATES` largest Tm
    that fit every on-chip budget, each with every port split. ``budget`` counts *distinct*
    tilings: a proposal that snaps to one already evaluated is answered from a cache and costs
    nothing (the search stops early if the space has fewer tilings than the budget). A local
    refinement around the best tiling follows; its evaluations are counted too.
    """
    from hyperopt import STATUS_OK, Trials, fmin, hp

    if len(problem.tilings) == 0:
        return empty_front(0)
    tm_v, tn_v = problem.tm_values, problem.tn_values
    side = np.union1d(problem.tr_values, problem.tc_values)
    tr_v = side if problem.square_tiles else problem.tr_values
    tc_v = side if problem.square_tiles else problem.tc_values
    splits, part = problem.splits, problem.part

    def log_range(values: np.ndarray, name: str):
        return hp.loguniform(name, 0.0, math.log(float(values[-1]) + 0.5))

    def nearest(values: np.ndarray, x: float) -> int:
        return int(values[np.abs(np.log(values) - math.log(x)).argmin()])

    space = {"tn": log_range(tn_v, "tn"), "tr": log_range(tr_v, "tr")}
    if not problem.square_tiles:
        space["tc"] = log_range(tc_v, "tc")
    grid = len(tn_v) * len(tr_v) * (1 if problem.square_tiles else len(tc_v))
    wanted = min(budget, grid)
    losses: dict[tuple[int, int, int], float] = {}
    fronts: list[StageFront] = []

    def solve(tn: int, tr: int, tc: int) -> float:
        tilings = np.stack([tm_v, *(np.full_like(tm_v, v) for v in (tn, tr, tc))], axis=1)
        dsp, bram, lut = resources(problem.table, tilings, problem.precision)
        tilings = tilings[(dsp <= part.dsp) & (bram <= part.bram18k) & (lut <= part.lut)]
        tilings = tilings[-HYPEROPT_TM_CANDIDATES:]
        if len(tilings) == 0:  # nothing fits: ranked below every proposal that does
            return 1e3
        rows = np.concatenate(
            [np.repeat(tilings, len(splits), axis=0), np.tile(splits, (len(tilings), 1))], axis=1
        )
        front = _evaluate(problem, rows)
        fronts.append(front)
        return math.log(float(front.cycles[0])) if not front.empty else 1e3

    def evaluate(key: tuple[int, int, int]) -> float:
        if key not in losses:
            losses[key] = solve(*key)
        return losses[key]

    def objective(p: dict) -> dict:
        tn, tr = nearest(tn_v, p["tn"]), nearest(tr_v, p["tr"])
        key = (tn, tr, tr if problem.square_tiles else nearest(tc_v, p["tc"]))
        return {"loss": evaluate(key), "status": STATUS_OK}

    def enough(_trials, *args):
        return len(losses) >= wanted, args

    fmin(
        objective,
        space,
        algo=algo(budget),
        max_evals=HYPEROPT_MAX_PROPOSALS_PER_TILING * wanted,
        trials=Trials(),
        rstate=np.random.default_rng(int(rng.integers(2**63 - 1))),
        early_stop_fn=enough,
        show_progressbar=False,
    )
    # Local refinement: the tile sizes next to the best tiling, and half and twice them, until
    # none improves on it. The loss surface is rugged at the scale of single tile sizes (a 7x7
    # tile may beat 8x8 by 10%; 7, 14 and 28 all divide a 56x56 map), which a global model
    # samples too coarsely; this costs a few dozen tilings.
    axes = [tn_v, tr_v] if problem.square_tiles else [tn_v, tr_v, tc_v]
    while True:
        best = min(losses, key=losses.__getitem__)
        if losses[best] >= 1e3:
            break
        coords = best[:2] if problem.square_tiles else best
        pos = [int(np.searchsorted(v, c)) for v, c in zip(axes, coords, strict=True)]
        around = [
            sorted(
                {
                    *v[max(0, i - REFINE_STEPS) : i + REFINE_STEPS + 1].tolist(),
                    *(nearest(v, v[i] * f) for f in REFINE_FACTORS),
                }
            )
            for v, i in zip(axes, pos, strict=True)
        ]
        for combo in itertools.product(*around):
            evaluate((combo[0], combo[1], combo[1] if problem.square_tiles else combo[2]))
        if min(losses, key=losses.__getitem__) == best:
            break
    return StageFront.merge(fronts) if fronts else empty_front(0)


def tpe_search(problem: StageProblem, budget: int, rng: np.random.Generator) -> StageFront:
    """hyperopt's Tree-structured Parzen Estimator, ``budget`` distinct tilings."""
    from hyperopt import tpe as hyperopt_tpe

    def algo(budget: int):
        # A quarter of the budget samples the prior before TPE models it: on these rugged
        # spaces hyperopt's default of 20 start-up proposals locks onto a local optimum early.
        return functools.partial(hyperopt_tpe.suggest, n_startup_jobs=max(20, budget // 4))

    return _hyperopt_search(problem, budget, rng, algo)


def random_search(problem: StageProblem, budget: int, rng: np.random.Generator) -> StageFront:
    """hyperopt's random search over the same space as ``tpe``, ``budget`` distinct tilings."""
    from hyperopt import rand

    return _hyperopt_search(problem, budget, rng, lambda _budget: rand.suggest)


# The searches themselves, whatever the size of the space (benchmarks measure these).
SEARCHES: dict[str, Tuner] = {"tpe": tpe_search, "random": random_search, "auto": tpe_search}


def _search_or_exact(name: str) -> Tuner:
    def tune(problem: StageProblem, budget: int, rng: np.random.Generator) -> StageFront:
        if exact_is_cheaper(len(problem.grid), budget):
            return exhaustive(problem, budget, rng)
        return SEARCHES[name](problem, budget, rng)

    tune.__doc__ = (
        f"``exhaustive`` where it costs less than {name!r} searching with this budget "
        f"(:func:`exact_is_cheaper`), else the search (:data:`SEARCHES`)."
    )
    return tune


for _name in SEARCHES:
    TUNERS.register(_name, _search_or_exact(_name))
