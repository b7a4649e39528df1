"""Searchers over a template's design space (registry ``SEARCHERS``), at equal evaluation budgets.

Every searcher gets the same :class:`~coexplore.accel.problem.CodesignProblem` and ``budget``
distinct design points; what differs is how it picks them.

- ``cbo``: constrained Bayesian optimisation in the spirit of Shi et al. (the paper's method is
  not public; the design is ours). The known constraints are exploited, not learnt: candidates
  are only the points within the silicon budget (enumerated from the space), so no invalid point
  is ever evaluated. A GP (botorch ``SingleTaskGP``, Matérn-5/2, on normalised choice indices)
  models log EDP; a second GP models the constraint known only after evaluation (the latency
  limit as log slack); the acquisition is log constrained expected improvement (Gardner et al.,
  ICML 2014) maximised exactly over the remaining candidates.
- ``bo``: the DOSA paper's BO baseline: one GP over the whole box of choices, points over
  budget or infeasible get a large penalty (the worst log EDP seen + 3), log EI over the box.
- ``tpe``: hyperopt's Tree-structured Parzen Estimator over the box, the same penalty.
- ``random``: uniform over the points within budget, without replacement.

A searcher returns the points in the order it evaluated them.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable

import numpy as np

from coexplore.accel.problem import CodesignProblem, PointResult
from coexplore.config import ConfigError
from coexplore.registry import Registry

Searcher = Callable[[CodesignProblem, int, np.random.Generator], list[PointResult]]
SEARCHERS: Registry[Searcher] = Registry("searcher")
PENALTY = 3.0  # log-EDP above the worst seen, for the penalty baselines


def _box(problem: CodesignProblem) -> np.ndarray:
    space = problem.space
    grids = np.meshgrid(*(np.arange(len(p.choices)) for p in space.params), indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1)


def _normalise(problem: CodesignProblem, points: np.ndarray) -> np.ndarray:
    n = np.array([max(1, len(p.choices) - 1) for p in problem.space.params], float)
    return points / n


@SEARCHERS.decorator("random")
def random_search(problem: CodesignProblem, budget: int, rng: np.random.Generator):
    points = problem.space.feasible_points()
    order = rng.permutation(len(points))[:budget]
    return [problem.evaluate(points[i]) for i in order]


def _log_edp(point: PointResult) -> float:
    return math.log(point.edp) if point.ok else math.nan


def _penalised(values: list[float]) -> np.ndarray:
    y = np.array(values)
    good = y[np.isfinite(y)]
    worst = good.max() if len(good) else 0.0
    return np.where(np.isfinite(y), y, worst + PENALTY)


def _fit_gp(x: np.ndarray, y: np.ndarray):
    import torch
    from botorch.exceptions import InputDataWarning
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    tx = torch.tensor(x, dtype=torch.float64)
    ty = torch.tensor(y, dtype=torch.float64).reshape(-1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputDataWarning)
        gp = SingleTaskGP(tx, ty, outcome_transform=Standardize(m=1))
    # A failed fit keeps the prior's hyperparameters: still a usable model. Constant outcomes
    # (every start point penalised alike) are legitimate data here, not a user mistake.
    with warnings.catch_warnings(), contextlib.suppress(Exception):
        warnings.simplefilter("ignore", InputDataWarning)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
    return gp


def _argmax_acquisition(acq, candidates: np.ndarray) -> int:
    import torch

    best, best_i = -math.inf, 0
    with torch.no_grad():
        for start in range(0, len(candidates), 4096):
            chunk = torch.tensor(candidates[start : start + 4096], dtype=torch.float64)
            values = acq(chunk.unsqueeze(1)).numpy()
            i = int(np.argmax(values))
            if values[i] > best:
                best, best_i = float(values[i]), start + i
    return best_i


def _initial(budget: int) -> int:
    return max(2, min(8, budget // 4))


def _bayes_loop(problem: CodesignProblem, budget: int, rng: np.random.Generator,
                candidates: np.ndarray, acquisition: Callable) -> list[PointResult]:  # fmt: skip
    """Random start points, then the candidate maximising ``acquisition(points, x)`` (built
    from the points evaluated so far and their inputs) until ``budget`` points are evaluated."""
    import torch

    torch.manual_seed(int(rng.integers(2**31)))
    x_all = _normalise(problem, candidates)
    remaining = np.ones(len(candidates), bool)
    out: list[PointResult] = []
    for i in rng.permutation(len(candidates))[: min(_initial(budget), budget)]:
        out.append(problem.evaluate(candidates[i]))
        remaining[i] = False
    while len(out) < min(budget, len(candidates)):
        evaluated = np.flatnonzero(~remaining)
        acq = acquisition([problem.evaluate(candidates[i]) for i in evaluated], x_all[evaluated])
        idx = np.flatnonzero(remaining)
        j = idx[_argmax_acquisition(acq, x_all[idx])]
        out.append(problem.evaluate(candidates[j]))
        remaining[j] = False
    return out


@SEARCHERS.decorator("cbo")
def constrained_bo(problem: CodesignProblem, budget: int, rng: np.random.Generator):
    from botorch.acquisition.analytic import (
        LogConstrainedExpectedImprovement,
        LogExpectedImprovement,
    )
    from botorch.models import ModelListGP

    def acquisition(points: list[PointResult], x: np.ndarray):
        y = _penalised([math.log(p.edp) if math.isfinite(p.edp) else math.nan for p in points])
        slack = np.array([problem.constraint_slack(p) for p in points])
        objective_gp = _fit_gp(x, -y)  # maximise −log EDP
        feasible = slack <= 0
        best = float((-y)[feasible].max()) if feasible.any() else float((-y).min())
        if np.ptp(slack) == 0:  # nothing to learn about the constraint yet (or no limit)
            return LogExpectedImprovement(objective_gp, best_f=best)
        return LogConstrainedExpectedImprovement(
            ModelListGP(objective_gp, _fit_gp(x, slack)),
            best_f=best,
            objective_index=0,
            constraints={1: (None, 0.0)},
        )

    # the known constraints, exploited exactly: only points within budget are candidates
    return _bayes_loop(problem, budget, rng, problem.space.feasible_points(), acquisition)


@SEARCHERS.decorator("bo")
def penalty_bo(problem: CodesignProblem, budget: int, rng: np.random.Generator):
    from botorch.acquisition.analytic import LogExpectedImprovement

    def acquisition(points: list[PointResult], x: np.ndarray):
        y = _penalised([_log_edp(p) for p in points])
        return LogExpectedImprovement(_fit_gp(x, -y), best_f=float((-y).max()))

    return _bayes_loop(problem, budget, rng, _box(problem), acquisition)


@SEARCHERS.decorator("tpe")
def tpe_search(problem: CodesignProblem, budget: int, rng: np.random.Generator):
    from hyperopt import STATUS_OK, Trials, fmin, hp, tpe

    params = problem.space.params
    space = {p.name: hp.choice(p.name, list(range(len(p.choices)))) for p in params}
    seen: dict[tuple[int, ...], PointResult] = {}
    order: list[PointResult] = []

    def objective(chosen: dict) -> dict:
        key = tuple(int(chosen[p.name]) for p in params)
        if key not in seen:
            seen[key] = problem.evaluate(key)
            order.append(seen[key])
        if seen[key].ok:
            return {"loss": math.log(seen[key].edp), "status": STATUS_OK}
        worst = max((math.log(p.edp) for p in seen.values() if p.ok), default=0.0)
        return {"loss": worst + PENALTY, "status": STATUS_OK}

    def enough(_trials, *args):
        return len(seen) >= budget, args

    fmin(
        objective,
        space,
        algo=tpe.suggest,
        max_evals=budget * 20,  # proposals; repeats of a point cost nothing
        trials=Trials(),
        rstate=np.random.default_rng(int(rng.integers(2**63 - 1))),
        early_stop_fn=enough,
        show_progressbar=False,
    )
    return order[:budget]


def run_search(problem: CodesignProblem, method: str, budget: int, seed: int) -> list[PointResult]:
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ConfigError("search", "budget", "an integer >= 1", budget)
    return SEARCHERS.get(method)(problem, budget, np.random.default_rng(seed))


__all__ = ["SEARCHERS", "run_search"]
