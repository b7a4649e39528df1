"""``CandidateEvaluator``: a candidate's way through the co-exploration, as named stages.

    tokens ─► candidate ─► fast_phase ─► prunes? ─► slow_phase ─► reward ─► record

- :meth:`~CandidateEvaluator.candidate`: the tokens an agent emitted (software, then hardware)
  become one :class:`~coexplore.core.candidate.Candidate`: architecture, layer workloads,
  hardware choice, planned compression, seed;
- :meth:`~CandidateEvaluator.fast_phase`: the platform family tunes and prices it
  (:class:`~coexplore.core.platform.FastResult`; None in accuracy-only NAS), seeded by the
  tokens themselves, so a candidate gets the same record whenever and wherever it is evaluated;
- :meth:`~CandidateEvaluator.prunes`: a candidate that misses its specs stops here;
- :meth:`~CandidateEvaluator.slow_phase`: the survivors' accuracies
  (:class:`~coexplore.core.oracle.Evaluation`), a batch's trainings through the executor as one
  map, so the same seed gives the same records whatever the executor;
- :meth:`~CandidateEvaluator.reward`: the scenario's reward, with its own term names
  (:class:`~coexplore.core.rewards.RewardTerms`);
- :meth:`~CandidateEvaluator.record`: one :class:`~coexplore.core.record.CandidateRecord`.

The evaluator is generic: it gets its parts (space, platform, oracle, specs, reward, …) from
whoever assembles it (:func:`coexplore.scenario.make_evaluator` for a scenario). A candidate
evaluated before (or preloaded from a run log) is answered from memory.

Every record it hands out (repeats included, in order) goes to its ``listeners``: the search's
run log and W&B, a space shrinker. ``token_space`` is the problem's
:class:`~coexplore.core.tokens.TokenSpace`, which says which tokens are legal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from coexplore.core.candidate import TRAINED_HARDWARE, Candidate
from coexplore.core.coverage import Coverage
from coexplore.core.oracle import AccuracyOracle, Evaluation
from coexplore.core.platform import FastResult, HardwareSpace, NoHardwareTokens, Platform
from coexplore.core.record import CandidateRecord
from coexplore.core.rewards import Reward, RewardTerms
from coexplore.core.specs import Specs
from coexplore.core.tokens import TokenSpace

if TYPE_CHECKING:
    from coexplore.spaces.base import Architecture, SearchSpace
    from coexplore.workloads.layer import Network

HARDWARE_MODES = ("explore", "fixed", "none")


class CandidateEvaluator:
    """Evaluates candidates of one co-exploration problem.

    ``mode``: ``explore`` (the agent picks hardware tokens, the fast phase tunes a design per
    candidate), ``fixed`` (one design, the family's ``reference`` for the ``reference``
    architecture, runs every candidate) or ``none`` (accuracy-only NAS); ``prune``: whether a
    candidate that misses its specs stops before training; ``compression``: a network's planned
    compression (a callable, for every candidate; None: dense); ``executor``: makes the
    executor a batch's trainings go through (None or ``parallel`` False: in this process);
    ``source``: what the problem came from, for messages.
    """

    def __init__(
        self,
        *,
        space: SearchSpace,
        platform: Platform,
        oracle: AccuracyOracle,
        specs: Specs,
        reward: Reward,
        input_shape: tuple[int, int, int],
        num_classes: int,
        seed: int = 0,
        mode: str = "explore",
        reference: Architecture | None = None,
        prune: bool = True,
        compression: Callable[[Network], Any] | None = None,
        executor: Callable[[], Any] | None = None,
        parallel: bool = False,
        source: str = "",
    ) -> None:
        if mode not in HARDWARE_MODES:
            raise ValueError(f"mode must be one of {HARDWARE_MODES}, got {mode!r}")
        self.space, self.platform, self.oracle = space, platform, oracle
        self.specs, self.reward_fn, self.mode, self.prune = specs, reward, mode, prune
        self.input_shape, self.num_classes, self.seed = input_shape, num_classes, seed
        self.compression = compression
        self.parallel = parallel and executor is not None
        self._make_executor, self._executor = executor, None
        self.hardware_space: HardwareSpace = (
            platform.hardware_space() if mode == "explore" else NoHardwareTokens()
        )
        self.fixed = None
        if mode == "fixed":
            if reference is None:
                raise ValueError("mode fixed needs the reference architecture")
            self.fixed = platform.reference(self.build(reference), specs)
        self.coverage = Coverage.of(space, self._covered(), source)
        self.token_space = TokenSpace(space, self.hardware_space, input_shape[1], self.coverage)
        self.listeners: list[Callable[[CandidateRecord], None]] = []
        self._memo: dict[tuple[int, ...], CandidateRecord] = {}

    def _covered(self) -> dict[str, Collection[str] | None]:
        """The architectures each part answers for (a partial table), by its setting."""
        parts: list[tuple[str, Any]] = [("slow_phase", self.oracle)]
        if self.mode != "none":
            parts.insert(0, ("hardware", self.platform))
        named: dict[str, Collection[str] | None] = {}
        for section, part in parts:
            covered = part.architectures()
            if covered is not None:
                named[f"{section}.{covered[0]}"] = covered[1]
        return named

    # --- tokens → candidate ------------------------------------------------------------------
    @property
    def sw_choices(self) -> list[int]:
        return self.space.token_choices()

    @property
    def choices(self) -> list[int]:
        return self.sw_choices + self.hardware_space.token_choices()

    def network(self, arch: Architecture) -> Network:
        return arch.network(self.input_shape, self.num_classes)

    def candidate(self, tokens: Sequence[int]) -> Candidate:
        """The candidate a full token list names."""
        n = len(self.sw_choices)
        tokens = tuple(int(t) for t in tokens)
        arch = self.space.from_tokens(list(tokens[:n]))
        return self.build(arch, self.hardware_space.decode(list(tokens[n:])), tokens)

    def build(self, arch: Architecture, choice: Any = None, tokens: tuple = ()) -> Candidate:
        """The candidate of ``arch`` with hardware ``choice`` (None: the family's own)."""
        network = self.network(arch)
        planned = None
        if self.compression is not None and self.mode != "none":
            planned = self.compression(network)
        return Candidate(arch, network, choice, planned, self.seed, tokens)

    # --- the stages ----------------------------------------------------------------------------
    def fast_phase(self, c: Candidate) -> FastResult | None:
        """The platform's design and metrics for ``c`` (None in accuracy-only NAS)."""
        if self.mode == "none":
            return None
        if self.fixed is not None:
            return self.platform.evaluate_fixed(c, self.fixed, self.specs)
        rng = np.random.default_rng([self.seed, *c.tokens])
        return self.platform.evaluate(c, self.specs, rng)

    def prunes(self, fast: FastResult | None) -> bool:
        """Whether this fast-phase result stops the candidate before training."""
        return fast is not None and fast.pruned and self.prune

    def slow_phase(self, candidates: Sequence[Candidate]) -> list[Evaluation]:
        """The accuracies of ``candidates``: one map through the executor when parallel."""
        if len(candidates) > 1 and self.parallel:
            if self._executor is None:
                self._executor = self._make_executor()
            return self._executor.map(self.oracle.evaluate, list(candidates))
        return [self.oracle.evaluate(c) for c in candidates]

    def reward(self, fast: FastResult | None, ev: Evaluation | None) -> RewardTerms:
        """The reward of a candidate: the penalty when it was pruned or no design runs it (only
        when pruning is off), the accuracy term in accuracy-only NAS, the hardware term when
        nothing is trained (a fixed workload), else the scenario's."""
        if ev is None or (fast is not None and fast.metrics is None):
            return self.reward_fn.penalized()
        if fast is None:
            return self.reward_fn.accuracy_only(ev.val_acc)
        if not self.oracle.measures_accuracy:
            return self.reward_fn.hardware_only(fast.metrics, self.specs)
        return self.reward_fn(ev.val_acc, fast.metrics, self.specs)

    def record(
        self, c: Candidate, fast: FastResult | None, ev: Evaluation | None, terms: RewardTerms
    ) -> CandidateRecord:
        """Everything known about ``c``, as one record."""
        hw: dict[str, Any] = {"hardware": None, "metrics": None, "details": None,
                              "pruned": False, "failed_specs": [], "hw_attempts": 0,
                              "fast_s": 0.0}  # fmt: skip
        if fast is not None:
            hw = {"hardware": fast.hardware, "metrics": fast.metrics, "details": fast.details,
                  "pruned": self.prunes(fast), "failed_specs": list(fast.failed_specs),
                  "hw_attempts": fast.attempts, "fast_s": fast.wall_s}  # fmt: skip
        slow: dict[str, Any] = {}
        if ev is not None:
            slow = {"val_acc": ev.val_acc, "test_acc": ev.test_acc, "diverged": ev.diverged,
                    "cache_hit": ev.cache_hit, "slow_s": ev.wall_s, "tasks": ev.tasks}  # fmt: skip
        return CandidateRecord(
            arch=c.arch.canonical,
            space=self.space.name,
            tokens=list(c.tokens),
            platform=self.platform.name,
            choice=c.choice,
            macs=c.network.macs,
            **hw,
            **slow,
            reward=float(terms.reward),
            reward_terms=terms.terms,
        )

    # --- the pipeline --------------------------------------------------------------------------
    def evaluate(self, candidate: Candidate | Sequence[int]) -> CandidateRecord:
        return self.evaluate_batch([candidate])[0]

    def evaluate_batch(
        self, candidates: Sequence[Candidate | Sequence[int]]
    ) -> list[CandidateRecord]:
        """The records of ``candidates``, in order (each also to the listeners); the trainings
        of the batch run as one map."""
        cands = [c if isinstance(c, Candidate) else self.candidate(c) for c in candidates]
        fresh: dict[tuple[int, ...], tuple[Candidate, FastResult | None]] = {}
        for c in cands:
            if c.tokens not in self._memo and c.tokens not in fresh:
                fresh[c.tokens] = (c, self.fast_phase(c))
        jobs: dict[Any, Candidate] = {}
        for c, fast in fresh.values():
            if not self.prunes(fast):
                jobs.setdefault(self.training_key(c), c)
        evaluations = dict(zip(jobs, self.slow_phase(list(jobs.values())), strict=True))
        for key, (c, fast) in fresh.items():
            ev = evaluations.get(self.training_key(c)) if not self.prunes(fast) else None
            self._memo[key] = self.record(c, fast, ev, self.reward(fast, ev))
        records = [self._memo[c.tokens] for c in cands]
        for record in records:
            for listener in self.listeners:
                listener(record)
        return records

    def training_key(self, c: Candidate) -> Any:
        """What one training stands for: the architecture, with the hardware choice when the
        oracle trains it (the same training serves every candidate with that key)."""
        return self._key(c.arch.canonical, c.choice)

    def record_training(self, record: CandidateRecord) -> Any:
        """The :meth:`training_key` of a record's candidate (a search counts its trainings)."""
        return self._key(record.arch, record.choice)

    def _key(self, arch: str, choice: Any) -> Any:
        if self.trains_hardware:
            return arch, json.dumps(choice, sort_keys=True)
        return arch

    @property
    def trains_hardware(self) -> bool:
        """Whether the slow phase trains the hardware choice too (an optical layout)."""
        return TRAINED_HARDWARE in self.oracle.capabilities and self.mode == "explore"

    def preload(self, records: Sequence[CandidateRecord]) -> None:
        """Take finished evaluations (records of a run log) as done: a candidate among them is
        answered at once (a resumed search replays them)."""
        for r in records:
            self._memo[tuple(r.tokens)] = r.evaluation()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.close()
            self._executor = None
