"""Bayesian optimisation over a scenario's candidates, for spaces small enough to list (a
template's design space with a fixed workload: hardware + mapping co-design, ``docs/cbo.md``).

- ``cbo``: constrained Bayesian optimisation in the spirit of Shi et al. (the paper's method is
  not public; the design is ours). The constraints known before evaluating are exploited, not
  learnt: the candidates are the possible ones (:meth:`TokenSpace.legal
  <coexplore.core.tokens.TokenSpace.legal>`: for the spatial family, the designs within the
  silicon budget), so no masked-out point is ever evaluated. A GP (botorch ``SingleTaskGP``,
  Matérn-5/2, on normalised token indices) models the objective; a second GP models the
  constraint known only after evaluating (the specs, as a log slack, :func:`slack`); the
  acquisition is log constrained expected improvement (Gardner et al., ICML 2014), maximised
  exactly over the candidates not yet evaluated.
- ``bo``: the DOSA paper's BO baseline: one GP over the whole box of choices (the masks
  ignored: the family rejects a choice it cannot build), a candidate that is pruned or
  unpriced gets a penalty (the worst objective seen − ``penalty``), log EI over the box.
- ``tpe``: hyperopt's Tree-structured Parzen Estimator over the box, the same penalty, asked
  and told one candidate at a time; a suggestion it made before is told its loss again and
  costs no evaluation.

The objective is the candidate's reward (maximised). A candidate that the specs prune has no
reward; when nothing is trained (a fixed workload) its hardware reward is still known, and the
objective GP of ``cbo`` reads it. Each ``run`` call proposes one candidate (then the runner
checkpoints); the state is the seed's generator and what was observed, so a resumed search goes
on exactly. ``penalty`` defaults to 1.3: three natural-log units of EDP on the ``edp``
reward's log10 scale.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from functools import cached_property
from typing import Any

import numpy as np

from coexplore.config import ConfigError
from coexplore.core.record import CandidateRecord
from coexplore.search.agents.base import AT_LEAST_ONE, POSITIVE, Param, PopulationAgent

Point = tuple[tuple[int, ...], float, float, bool]  # tokens, objective (NaN: unknown), slack, ok
ENCODINGS = ("ordinal", "onehot")


def slack(record: CandidateRecord, specs: Any) -> float:
    """The constraint known only after evaluating, as one number ≤ 0 when met: the largest
    log(value / limit) over the specs' bounds (limit / value for a lower bound), −1 without
    specs, +1 for a candidate with no metrics (no design found, or not priced)."""
    if record.metrics is None:
        return 1.0
    worst = -1.0 if not specs.bounds else -math.inf
    for b in specs.bounds:
        value = record.metrics.get(b.metric)
        if value is None or value <= 0:
            return 1.0
        ratio = value / b.limit if b.bound == "max" else b.limit / value
        worst = max(worst, math.log(ratio))
    return worst


def _fit_gp(x: np.ndarray, y: np.ndarray, hypers: dict | None = None):
    """A GP on (x, y); its hyperparameters fitted by maximum likelihood, or, given ``hypers``
    (an earlier fit's), taken from there (the outcome's standardisation is always this
    data's)."""
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
    if hypers is not None:
        gp.load_state_dict(hypers, strict=False)
        return gp.eval()
    # A failed fit keeps the prior's hyperparameters: still a usable model. Constant outcomes
    # (every start point penalised alike) are legitimate data here, not a user mistake.
    with warnings.catch_warnings(), contextlib.suppress(Exception):
        warnings.simplefilter("ignore", InputDataWarning)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
    return gp


def _hypers(gp) -> dict:
    """A fitted GP's hyperparameters (not its data's standardisation), to reuse."""
    return {
        k: v.detach().clone()
        for k, v in gp.state_dict().items()
        if not k.startswith("outcome_transform")
    }


def _argmax(acq, x: np.ndarray) -> int:
    """The row of ``x`` where the acquisition is largest (the first of ties)."""
    import torch

    best, best_i = -math.inf, 0
    with torch.no_grad():
        for start in range(0, len(x), 4096):
            chunk = torch.tensor(x[start : start + 4096], dtype=torch.float64)
            values = acq(chunk.unsqueeze(1)).numpy()
            i = int(np.argmax(values))
            if values[i] > best:
                best, best_i = float(values[i]), start + i
    return best_i


class _Listed(PopulationAgent):
    """An agent over a listed set of candidates that proposes one new candidate per call."""

    defaults = {"max_candidates": 200_000}
    limits = {"max_candidates": AT_LEAST_ONE}
    box = True  # the candidates: every combination of choices; False: the possible ones

    def __init__(self, env, seed: int = 0, **params: Any) -> None:
        super().__init__(env, seed, **params)
        limit = self.params["max_candidates"]
        space = self.token_space
        if self.box and space.size() > limit:
            self._too_many(space.size())
        try:
            self.candidates = space.box() if self.box else space.legal(limit)
        except ValueError:
            self._too_many(f"more than {limit}")
        if not len(self.candidates):
            raise ConfigError(f"agent {self.name}", "space", "at least one possible candidate")
        self.index = {tuple(int(v) for v in row): i for i, row in enumerate(self.candidates)}
        self.points: list[Point] = []

    def _too_many(self, count: Any) -> None:
        raise ConfigError(
            f"agent {self.name}",
            "max_candidates",
            f"at least the space's {count} candidates (this agent lists them; a space this "
            "large wants random, rea or an RL agent)",
            self.params["max_candidates"],
        )

    def observe(self, record: CandidateRecord) -> Point:
        """The objective (the reward; a pruned candidate's hardware reward when nothing is
        trained; else unknown), the constraint's slack and whether it counts as met."""
        ev = self.evaluator
        objective = math.nan
        if not record.pruned:
            objective = float(record.reward)
        elif record.metrics is not None and not ev.oracle.measures_accuracy:
            objective = float(ev.reward_fn.hardware_only(record.metrics, ev.specs).reward)
        ok = not record.pruned and math.isfinite(record.reward)
        return (tuple(record.tokens), objective, slack(record, ev.specs), ok)

    def run(self, episodes: int) -> int:
        if episodes < 1 or len(self.points) >= len(self.candidates):
            return 0
        tokens = self.next_tokens()
        record = self.propose([tokens])[0]
        self.points.append(self.observe(record))
        return 1

    def next_tokens(self) -> list[int]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state, "points": list(self.points)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.points = list(state["points"])


class _Bayes(_Listed):
    """Random start points, then the candidate not yet evaluated that maximises the
    acquisition (:meth:`acquisition`) built from the points evaluated so far."""

    defaults = {**_Listed.defaults, "initial": 8, "encoding": "ordinal", "refit_every": 1}
    limits = {
        **_Listed.limits,
        "initial": AT_LEAST_ONE,
        "encoding": Param(choices=ENCODINGS),
        "refit_every": AT_LEAST_ONE,
    }

    def __init__(self, env, seed: int = 0, **params: Any) -> None:
        super().__init__(env, seed, **params)
        self.hypers: dict[str, tuple[int, dict]] = {}  # per GP: points at its fit, the fit

    def gp(self, role: str, x: np.ndarray, y: np.ndarray):
        """The GP ``role`` on (x, y), its hyperparameters fitted afresh every ``refit_every``
        points (each fit costs far more than conditioning on the data: the cost of a long
        search), reused from the last fit in between."""
        n, every = len(y), self.params["refit_every"]
        last = self.hypers.get(role)
        if every > 1 and last is not None and n - last[0] < every:
            return _fit_gp(x, y, last[1])
        gp = _fit_gp(x, y)
        if every > 1:
            self.hypers[role] = (n, _hypers(gp))
        return gp

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "hypers": dict(self.hypers)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.hypers = dict(state.get("hypers", {}))

    @cached_property
    def inputs(self) -> np.ndarray:
        """The candidates as GP inputs: ``ordinal``, token indices scaled to [0, 1] (choices
        that are sizes, as a template's); ``onehot``, each token's choice one-hot (choices that
        are categories, as a cell's operations: the adjacency encoding of White et al., "A
        study on encodings for neural architecture search", NeurIPS 2020)."""
        choices = self.token_space.choices
        if self.params["encoding"] == "onehot":
            columns = [np.eye(n)[self.candidates[:, t]] for t, n in enumerate(choices) if n > 1]
            return (
                np.concatenate(columns, axis=1) if columns else np.zeros((len(self.candidates), 1))
            )
        scale = np.array([max(1, n - 1) for n in choices], float)
        return self.candidates / scale

    def next_tokens(self) -> list[int]:
        import torch

        torch.manual_seed(int(self.rng.integers(2**31)))  # a fit that restarts draws from it
        seen = np.array([self.index[p[0]] for p in self.points], dtype=np.int64)
        remaining = np.ones(len(self.candidates), bool)
        remaining[seen] = False
        left = np.flatnonzero(remaining)
        if len(self.points) < self.params["initial"]:
            return [int(v) for v in self.candidates[int(self.rng.choice(left))]]
        x = self.inputs
        acq = self.acquisition(x[seen])
        return [int(v) for v in self.candidates[left[_argmax(acq, x[left])]]]

    def acquisition(self, x: np.ndarray):
        raise NotImplementedError


def penalised(points: list[Point], margin: float) -> np.ndarray:
    """The objective of each point, a point not met set to the worst objective met − ``margin``
    (0 − ``margin`` when none is met yet)."""
    y = np.array([p[1] if p[3] else math.nan for p in points])
    met = y[np.isfinite(y)]
    worst = met.min() if len(met) else 0.0
    return np.where(np.isfinite(y), y, worst - margin)


class ConstrainedBO(_Bayes):
    name = "cbo"
    box = False

    def acquisition(self, x: np.ndarray):
        from botorch.acquisition.analytic import (
            LogConstrainedExpectedImprovement,
            LogExpectedImprovement,
        )
        from botorch.models import ModelListGP

        y = np.array([p[1] for p in self.points])
        s = np.array([p[2] for p in self.points])
        # an objective that is unknown (no design, or nothing priced) counts as the worst seen
        known = y[np.isfinite(y)]
        y = np.where(np.isfinite(y), y, (known.min() if len(known) else 0.0) - 1.0)
        objective = self.gp("objective", x, y)
        met = s <= 0
        best = float(y[met].max()) if met.any() else float(y.min())
        if np.ptp(s) == 0:  # nothing to learn about the constraint yet (or no specs)
            return LogExpectedImprovement(objective, best_f=best)
        return LogConstrainedExpectedImprovement(
            ModelListGP(objective, self.gp("constraint", x, s)),
            best_f=best,
            objective_index=0,
            constraints={1: (None, 0.0)},
        )


class ArchitectureBO(ConstrainedBO):
    """``nas-bo``: ``cbo`` over the one-hot encoding of the tokens, for architecture spaces
    whose choices are categories (a cell's operations), the BO baseline of NAS benchmarks."""

    name = "nas-bo"
    defaults = {**ConstrainedBO.defaults, "encoding": "onehot", "refit_every": 10}


class PenaltyBO(_Bayes):
    name = "bo"
    defaults = {**_Bayes.defaults, "penalty": 1.3}
    limits = {**_Bayes.limits, "penalty": POSITIVE}

    def acquisition(self, x: np.ndarray):
        from botorch.acquisition.analytic import LogExpectedImprovement

        y = penalised(self.points, self.params["penalty"])
        return LogExpectedImprovement(self.gp("objective", x, y), best_f=float(y.max()))


class TPE(_Listed):
    """hyperopt's TPE, asked and told one suggestion at a time; ``max_repeats`` suggestions of
    candidates already evaluated in a row, then a uniform draw among the others."""

    name = "tpe"
    defaults = {**_Listed.defaults, "penalty": 1.3, "max_repeats": 1000}
    limits = {**_Listed.limits, "penalty": POSITIVE, "max_repeats": AT_LEAST_ONE}

    def __init__(self, env, seed: int = 0, **params: Any) -> None:
        super().__init__(env, seed, **params)
        self.told: list[tuple[tuple[int, ...], float]] = []  # every suggestion and its loss
        self._tpe = None  # hyperopt's domain, trials and names, built at the first suggestion

    def _loss(self, tokens: tuple[int, ...]) -> float:
        """The loss of an evaluated candidate now: −objective, or the penalty."""
        y = penalised(self.points, self.params["penalty"])
        return -float(y[[p[0] for p in self.points].index(tokens)])

    def next_tokens(self) -> list[int]:
        seen = {p[0] for p in self.points}
        for _ in range(self.params["max_repeats"]):
            tokens = self._suggest()
            if tokens not in seen:
                return list(tokens)
            self.told.append((tokens, self._loss(tokens)))
        others = [i for i, row in enumerate(self.candidates) if tuple(row) not in seen]
        return [int(v) for v in self.candidates[int(self.rng.choice(others))]]

    def run(self, episodes: int) -> int:
        done = super().run(episodes)
        if done:
            tokens = self.points[-1][0]
            self.told.append((tokens, self._loss(tokens)))
        return done

    def _suggest(self) -> tuple[int, ...]:
        from hyperopt import tpe

        domain, trials, names = self._hyperopt()
        seed = int(self.rng.integers(2**31 - 1))
        (doc,) = tpe.suggest([len(self.told)], domain, trials, seed)
        return tuple(int(doc["misc"]["vals"][k][0]) for k in names)

    def _hyperopt(self):
        """hyperopt's domain and trials, the trials holding every suggestion told so far (built
        once, then extended: a restored agent rebuilds them from ``told``)."""
        from hyperopt import JOB_STATE_DONE, STATUS_OK, Domain, Trials, hp

        if self._tpe is None:
            choices = self.token_space.choices
            names = [f"t{i}" for i in range(len(choices))]
            space = {k: hp.choice(k, list(range(n))) for k, n in zip(names, choices, strict=True)}
            domain = Domain(lambda _: {"loss": 0.0, "status": STATUS_OK}, space)
            self._tpe = (domain, Trials(), names)
        domain, trials, names = self._tpe
        for tid in range(len(trials.trials), len(self.told)):
            tokens, loss = self.told[tid]
            misc = {"tid": tid, "cmd": domain.cmd, "workdir": None,
                    "idxs": {k: [tid] for k in names},
                    "vals": {k: [v] for k, v in zip(names, tokens, strict=True)}}  # fmt: skip
            (doc,) = trials.new_trial_docs([tid], [None], [{"loss": loss, "status": STATUS_OK}],
                                          [misc])  # fmt: skip
            doc["state"] = JOB_STATE_DONE
            trials.insert_trial_docs([doc])
        trials.refresh()
        return self._tpe

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "told": list(self.told)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.told, self._tpe = list(state["told"]), None
