"""``CandidateEvaluator``: fast phase → prune → slow phase → reward → record, for one candidate
or a batch, usable without the env (population and Bayesian searchers call it directly).

A candidate is named by its tokens (software, then hardware). Its fast phase is seeded by the
tokens themselves, so a candidate gets the same record whenever and wherever it is evaluated;
a candidate evaluated before (or preloaded from a run log) is answered from memory. In a batch,
the fast phase of every candidate runs here, then the survivors' trainings go through the
scenario's executor (``sequential``, ``process``, ``ray``) as one map, and the records come
back in input order: same seed, same records, whatever the executor.

Every record it hands out (repeats included, in order) goes to its ``listeners``: the search's
run log and W&B, a space shrinker. ``token_space`` is the scenario's
:class:`~coexplore.core.tokens.TokenSpace`, which says which tokens are legal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from coexplore.core.coverage import Coverage
from coexplore.core.record import CandidateRecord
from coexplore.core.tokens import TokenSpace
from coexplore.data import dataset_shape
from coexplore.platforms import FastResult, HardwareSpace, NoHardwareTokens
from coexplore.scenario import Scenario, get_scenario
from coexplore.slow.oracles import ORACLES, AccuracyOracle, Evaluation
from coexplore.spaces.base import Architecture


def make_oracle(scenario: Scenario, cache: str | None = None) -> AccuracyOracle:
    """The accuracy oracle ``slow_phase.oracle`` names, configured by the scenario."""
    return ORACLES.get(scenario.slow_phase.oracle).from_scenario(scenario, cache)


@dataclass(frozen=True)
class Candidate:
    """A network and a hardware choice, named by the tokens an agent emitted."""

    arch: Architecture
    choice: Any
    tokens: tuple[int, ...]


class CandidateEvaluator:
    """Evaluates candidates of ``scenario``; ``cache`` is the slow phase's result cache file,
    ``run_dir`` where a local Ray keeps its files."""

    def __init__(
        self,
        scenario: str | Scenario,
        cache: str | None = None,
        oracle: AccuracyOracle | None = None,
        run_dir: str | None = None,
    ) -> None:
        self.scenario = get_scenario(scenario) if isinstance(scenario, str) else scenario
        self.platform = self.scenario.platform()
        self.oracle = oracle or make_oracle(self.scenario, cache)
        self.run_dir = run_dir
        # the shape alone: a table oracle needs no images (their files need not be here)
        self.input_shape, self.num_classes = dataset_shape(self.scenario.data)
        self.space = self.scenario.space
        mode = self.scenario.hardware.mode
        self.hardware_space: HardwareSpace = (
            self.platform.hardware_space() if mode == "explore" else NoHardwareTokens()
        )
        self.fixed = None
        if mode == "fixed":
            reference = self.space.parse(self.scenario.hardware.reference)
            self.fixed = self.platform.reference(self.network(reference), self.scenario.specs)
        self.coverage = Coverage.of(self.space, self._covered(), self.scenario.source)
        self.token_space = TokenSpace(
            self.space, self.hardware_space, self.input_shape[1], self.coverage
        )
        self.listeners: list[Callable[[CandidateRecord], None]] = []
        self._memo: dict[tuple[int, ...], CandidateRecord] = {}
        self._executor = None

    def _covered(self) -> dict[str, Collection[str] | None]:
        """The architectures each part answers for (a partial table), by its setting."""
        named: dict[str, Collection[str] | None] = {}
        parts = [("slow_phase", self.oracle)]
        if self.scenario.hardware.mode != "none":
            parts.insert(0, ("hardware", self.platform))
        for section, part in parts:
            covered = part.architectures()
            if covered is not None:
                named[f"{section}.{covered[0]}"] = covered[1]
        return named

    # --- candidates --------------------------------------------------------------------------
    @property
    def sw_choices(self) -> list[int]:
        return self.space.token_choices()

    @property
    def choices(self) -> list[int]:
        return self.sw_choices + self.hardware_space.token_choices()

    def candidate(self, tokens: Sequence[int]) -> Candidate:
        """The candidate a full token list names."""
        n = len(self.sw_choices)
        tokens = tuple(int(t) for t in tokens)
        arch = self.space.from_tokens(list(tokens[:n]))
        return Candidate(arch, self.hardware_space.decode(list(tokens[n:])), tokens)

    def network(self, arch: Architecture):
        return arch.network(self.input_shape, self.num_classes)

    @property
    def parallel(self) -> bool:
        """Whether batches go to more than one worker (agents then defer rewards to batches)."""
        slow = self.scenario.slow_phase
        return slow.executor != "sequential" and slow.workers != 1

    # --- evaluation --------------------------------------------------------------------------
    def evaluate(self, candidate: Candidate | Sequence[int]) -> CandidateRecord:
        return self.evaluate_batch([candidate])[0]

    def evaluate_batch(
        self, candidates: Sequence[Candidate | Sequence[int]]
    ) -> list[CandidateRecord]:
        """The records of ``candidates``, in order (each also to the listeners); trainings of
        the batch run as one map."""
        cands = [c if isinstance(c, Candidate) else self.candidate(c) for c in candidates]
        fresh: dict[tuple[int, ...], tuple[Candidate, FastResult | None, int]] = {}
        for c in cands:
            if c.tokens not in self._memo and c.tokens not in fresh:
                fresh[c.tokens] = (c, *self.fast_phase(c))
        jobs = {
            self._job_key(c): self._job(c) for c, fast, _ in fresh.values() if not self.prunes(fast)
        }
        evaluations = dict(zip(jobs, self._accuracies(list(jobs.values())), strict=True))
        for key, (c, fast, macs) in fresh.items():
            self._memo[key] = self._record(c, fast, macs, evaluations.get(self._job_key(c)))
        records = [self._memo[c.tokens] for c in cands]
        for record in records:
            for listener in self.listeners:
                listener(record)
        return records

    @property
    def trains_hardware(self) -> bool:
        """Whether the slow phase trains the hardware choice too (an optical layout)."""
        return self.platform.trained_with_hardware and self.scenario.hardware.mode == "explore"

    def _job_key(self, c: Candidate) -> Any:
        """What one training stands for: the architecture, with the choice when it is trained."""
        if self.trains_hardware:
            return c.arch.canonical, json.dumps(c.choice, sort_keys=True)
        return c.arch.canonical

    def _job(self, c: Candidate) -> tuple:
        if self.trains_hardware:
            return c.arch, self.scenario.data.seed, c.choice
        return c.arch, self.scenario.data.seed

    def preload(self, records: Sequence[CandidateRecord]) -> None:
        """Take finished evaluations (records of a run log) as done: a candidate among them is
        answered at once (a resumed search replays them)."""
        for r in records:
            self._memo[tuple(r.tokens)] = r.evaluation()

    def fast_phase(self, c: Candidate) -> tuple[FastResult | None, int]:
        """The fast phase of a candidate (None in accuracy-only NAS) and its MACs."""
        network = self.network(c.arch)
        if self.scenario.hardware.mode == "none":
            return None, network.macs
        specs = self.scenario.specs
        if self.fixed is not None:
            return self.platform.evaluate_fixed(network, self.fixed, specs), network.macs
        rng = np.random.default_rng([self.scenario.data.seed, *c.tokens])
        return self.platform.evaluate(network, c.choice, specs, rng), network.macs

    def prunes(self, fast: FastResult | None) -> bool:
        """Whether this fast-phase result stops the candidate before training."""
        return fast is not None and fast.pruned and self.scenario.fast_phase.prune

    def _accuracies(self, jobs: list[tuple]) -> list[Evaluation]:
        if len(jobs) > 1 and self.parallel:
            return self._pool().map(self.oracle.evaluate_job, jobs)
        return [self.oracle.evaluate_job(job) for job in jobs]

    def _pool(self):
        if self._executor is None:
            from coexplore.slow.executors import make_executor

            slow = self.scenario.slow_phase
            self._executor = make_executor(
                slow.executor,
                workers=slow.workers,
                run_dir=self.run_dir,
                address=slow.address,
                threads=slow.train.threads,  # the trainings' count: workers x threads = cores
            )
        return self._executor

    def _record(
        self, c: Candidate, fast: FastResult | None, macs: int, ev: Evaluation | None
    ) -> CandidateRecord:
        scenario, reward = self.scenario, self.scenario.reward
        common: dict[str, Any] = {
            "arch": c.arch.canonical,
            "space": self.space.name,
            "tokens": list(c.tokens),
            "platform": scenario.hardware.family,
            "choice": c.choice,
            "macs": macs,
        }
        if fast is None:  # accuracy-only NAS
            hw: dict[str, Any] = {
                "hardware": None,
                "metrics": None,
                "details": None,
                "pruned": False,
                "failed_specs": [],
                "hw_attempts": 0,
                "fast_s": 0.0,
            }
        else:
            hw = {
                "hardware": fast.hardware,
                "metrics": fast.metrics,
                "details": fast.details,
                "pruned": self.prunes(fast),
                "failed_specs": list(fast.failed_specs),
                "hw_attempts": fast.attempts,
                "fast_s": fast.wall_s,
            }
        if ev is None:  # pruned: never trained
            return CandidateRecord(**common, **hw, reward=float(reward.penalty))
        slow = {
            "val_acc": ev.val_acc,
            "test_acc": ev.test_acc,
            "diverged": ev.diverged,
            "cache_hit": ev.cache_hit,
            "slow_s": ev.wall_s,
            "tasks": ev.tasks,
        }
        if fast is None:
            terms = reward.accuracy_only(ev.val_acc)
        elif fast.metrics is None:  # no design runs it (only when pruning is off)
            return CandidateRecord(
                **common,
                **hw,
                **slow,
                reward=float(reward.penalty),
                reward_terms={"r_acc": -1.0, "r_hw": -1.0},
            )
        else:
            terms = reward(ev.val_acc, fast.metrics, scenario.specs)
        return CandidateRecord(
            **common, **hw, **slow, reward=float(terms.reward), reward_terms=terms.terms
        )

    def close(self) -> None:
        if self._executor is not None:
            self._executor.close()
            self._executor = None
