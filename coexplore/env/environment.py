"""``CoExploreEnv``: joint NAS + hardware design as a Gymnasium environment.

A thin token adapter over :class:`~coexplore.core.evaluator.CandidateEvaluator`. A candidate is
a child network of the scenario's search space plus a hardware choice of its platform family.
Tokens are emitted in Jiang et al.'s order: every software token (for the chain space: kernel,
filters, stride per layer), then the family's hardware tokens (for the FPGA pipeline: one per
pipeline slot, a part of the pool or "no further FPGA").

- ``mode="sequential"`` (default): one ``Discrete`` action per token. The observation is a
  ``Box`` in [0, 1] of length 2T + 1 for T tokens: entry t is (choice + 1) / choices of token t
  once chosen (0 before), followed by a one-hot of the current position (T + 1 positions, the
  last meaning "complete"). ``action_masks()`` marks the possible choices of the current token
  (sb3-contrib's MaskablePPO reads it); an impossible action from an agent that ignores masks
  is mapped onto the possible ones (``action % len(possible)``), never a crash.
- ``mode="one-shot"``: one ``MultiDiscrete`` action holds every token; episodes of one step,
  constant observation.

At the last token the evaluator runs the fast phase (a candidate that cannot meet the specs is
pruned with ``reward.penalty`` and never trained), the slow phase and the reward; ``info`` is
the candidate's record (:class:`~coexplore.core.record.CandidateRecord`, as JSON).

The possible choices are the evaluator's :class:`~coexplore.core.tokens.TokenSpace`'s
(``env.token_space``), the same the population agents draw from. A partial table: when the
scenario's table of measurements or accuracies holds only some architectures of the space, the
masks keep to its rows (:class:`~coexplore.core.coverage.Coverage`, ``env.coverage``; None when
nothing restricts the space).

Space shrinking: with a ``shrinking:`` section in the scenario (or an agent that calls
:meth:`CoExploreEnv.shrink`), a :class:`~coexplore.core.shrinking.SpaceShrinker` attached to the
token space drops the choices whose candidates are dominated on the target hardware;
``action_masks()``, the mapping of impossible actions and the population agents' draws then
keep to the choices left (every agent searches the smaller space). It learns from the
evaluator's records (a listener); its state is part of :meth:`state_dict`, which a search's
checkpoint keeps.

Records: ``env.listeners`` is the evaluator's list of listeners, which get every record the
evaluator hands out, through the env or from a population agent calling it directly.

Batches (for token-by-step agents): between ``begin_batch()`` and ``end_batch()`` a finished
candidate gets reward 0 and ``info["pending"]``; ``end_batch()`` evaluates them together
(trainings through the scenario's executor) and returns their rewards in order. Agents whose
sampling within a batch does not depend on its rewards (a PPO rollout, a REINFORCE batch) use
it, so a parallel executor changes nothing but the wall time. With a sequential executor
``begin_batch()`` returns False and every candidate is evaluated at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from coexplore.config import ConfigError
from coexplore.core.evaluator import Candidate, CandidateEvaluator
from coexplore.core.oracle import AccuracyOracle
from coexplore.core.platform import FastResult
from coexplore.core.record import CandidateRecord
from coexplore.core.shrinking import ShrinkConfig, SpaceShrinker
from coexplore.core.tokens import walk
from coexplore.scenario import Scenario, get_scenario, make_evaluator

MODES = ("sequential", "one-shot")


class CoExploreEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(
        self,
        scenario: str | Scenario = "digits-fpga",
        mode: str = "sequential",
        cache: str | None = None,
        oracle: AccuracyOracle | None = None,
        evaluator: CandidateEvaluator | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.scenario = get_scenario(scenario) if isinstance(scenario, str) else scenario
        self.evaluator = evaluator or make_evaluator(self.scenario, cache=cache, oracle=oracle)
        self.mode = mode
        self.space = self.scenario.space
        self.input_shape, self.num_classes = self.evaluator.input_shape, self.evaluator.num_classes
        self.sw_choices = self.evaluator.sw_choices
        self.hardware_space = self.evaluator.hardware_space
        self.choices = self.evaluator.choices
        self.coverage = self.evaluator.coverage
        self.token_space = self.evaluator.token_space
        n = len(self.choices)
        if mode == "sequential":
            self.action_space = spaces.Discrete(max(self.choices))
            self.observation_space = spaces.Box(0.0, 1.0, (2 * n + 1,), np.float32)
        else:
            self.action_space = spaces.MultiDiscrete(self.choices)
            self.observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)
        self.listeners: list[Callable[[CandidateRecord], None]] = self.evaluator.listeners
        self._tokens: list[int] = []
        self._batch: list[Candidate] | None = None
        self._target_ok: FastResult | None = None
        if self.scenario.shrinking is not None:
            self.shrink(self.scenario.shrinking)

    # --- tokens ----------------------------------------------------------------------------
    def possible(self, prefix: list[int]) -> list[int]:
        """The choices of token ``len(prefix)`` after ``prefix`` (:meth:`TokenSpace.possible`):
        those the space or the hardware allows, within a partial table's rows and the shrunk
        space."""
        return self.token_space.possible(prefix)

    # --- space shrinking -------------------------------------------------------------------
    @property
    def shrinker(self) -> SpaceShrinker | None:
        """The token space's shrinker (None: no shrinking)."""
        return self.token_space.shrinker

    def shrink(
        self, config: ShrinkConfig | None = None, frozen: tuple[int, ...] = ()
    ) -> SpaceShrinker:
        """Turn progressive space shrinking on (the scenario's ``shrinking:`` does it at
        construction); ``frozen`` tokens are never shrunk. With ``config.generation`` 0 the
        caller steps it (:meth:`SpaceShrinker.step`), else it steps every that many distinct
        candidates. Returns the shrinker (the one already on, if any)."""
        if self.shrinker is None:
            config = config or self.scenario.shrinking or ShrinkConfig()
            metric = config.metric or (self.scenario.objectives or (None,))[0]
            if metric is None:
                raise ConfigError(
                    self.scenario.source, "shrinking.metric", "a metric the platform reports"
                )
            self.token_space.shrinker = SpaceShrinker(self.choices, metric, config, frozen)
            self.listeners.append(self._observe)
        return self.shrinker

    def _observe(self, record: CandidateRecord) -> None:
        if self.shrinker is not None and self.shrinker.observe(record):
            self.shrinker.step()

    def state_dict(self) -> dict[str, Any]:
        """What a resumed search needs of the env beyond its records: the shrunk space."""
        return {"shrinker": None if self.shrinker is None else self.shrinker.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = state.get("shrinker")
        if saved is not None:
            config = ShrinkConfig(**{**saved["config"], "metric": saved["metric"]})
            self.shrink(config, frozen=tuple(saved["frozen"])).load_state_dict(saved)

    # --- the fast phase alone ----------------------------------------------------------------
    def fast_phase(self, tokens: list[int]) -> FastResult | None:
        """The fast phase of a candidate (its cost model or latency predictor) without training
        it and without an episode: what channel scaling asks many times per candidate. None in
        accuracy-only NAS."""
        return self.evaluator.fast_phase(self.evaluator.candidate(tokens))

    def least_work(self) -> list[int]:
        """Tokens of a network with the fewest MACs the space allows (coordinate descent from
        the first choices, hardware tokens at their first possible value; the fewest of a
        partial table's rows): a stand-in for the fastest network, which no search can beat
        by much."""
        n = len(self.sw_choices)
        tokens = self.token_space.walk(lambda _, possible: possible[0])
        if self.coverage is not None:  # a partial table: its least-work row
            macs = [
                self.evaluator.network(self.space.from_tokens(list(t))).macs
                for t in self.coverage.tokens
            ]
            return [*self.coverage.tokens[int(np.argmin(macs))], *tokens[n:]]

        def allowed(prefix: list[int]) -> list[int]:  # the whole space's
            return self.space.allowed(prefix, self.input_shape[1])

        def kept(want: list[int]) -> list[int]:
            """``want``, each token kept where still possible, else its first choice."""
            return walk(n, allowed, lambda p, a: want[len(p)] if want[len(p)] in a else a[0])

        for _ in range(2):
            for t in range(n):
                best = None
                for v in allowed(tokens[:t]):
                    trial = kept([*tokens[:t], v, *tokens[t + 1 : n]])
                    macs = self.evaluator.network(self.space.from_tokens(trial)).macs
                    if best is None or macs < best[0]:
                        best = (macs, trial)
                tokens[:n] = best[1]
        return tokens

    def check_target(self) -> FastResult | None:
        """Raise a :class:`ConfigError` when the least-work network (:meth:`least_work`)
        misses a ``max`` spec on a platform whose hardware is fixed (no hardware tokens): the
        target is then below what the space reaches, and a search would only be pruned. Its
        fast phase otherwise (None without one)."""
        if self.scenario.hardware.mode != "explore" or self.hardware_space.token_choices():
            return None
        if self._target_ok is not None:  # checked before (the runner, then an agent)
            return self._target_ok
        tokens = self.least_work()
        fast = self.fast_phase(tokens)
        failed = fast.failed_specs if fast else []
        misses = [f for f in failed if f.bound == "max" and f.value is not None]
        if misses:
            arch = self.evaluator.candidate(tokens).arch.canonical
            f = misses[0]
            raise ConfigError(
                self.scenario.source,
                f"specs.{f.metric}.max",
                f"a target the space can reach: its least-work network {arch} reaches "
                f"{f.metric} = {f.value:.4g}, nothing in the space is much below that",
                f.limit,
            )
        self._target_ok = fast
        return fast

    @property
    def tokens(self) -> tuple[int, ...]:
        """The tokens of the episode so far (after its last step: the whole candidate)."""
        return tuple(self._tokens)

    def action_masks(self) -> np.ndarray:
        """Possible choices of the current token (sequential mode), for MaskablePPO."""
        mask = np.zeros(self.action_space.n if self.mode == "sequential" else 1, dtype=bool)
        if self.mode == "sequential" and len(self._tokens) < len(self.choices):
            mask[self.possible(self._tokens)] = True
        return mask

    def _take(self, prefix: list[int], action: int) -> int:
        possible = self.possible(prefix)
        return int(action) if int(action) in possible else possible[int(action) % len(possible)]

    def _observation(self) -> np.ndarray:
        if self.mode == "one-shot":
            return np.zeros(1, dtype=np.float32)
        n = len(self.choices)
        obs = np.zeros(2 * n + 1, dtype=np.float32)
        for t, v in enumerate(self._tokens):
            obs[t] = (v + 1) / self.choices[t]
        obs[n + len(self._tokens)] = 1.0
        return obs

    def decode(self, tokens: list[int]) -> tuple[Any, Any]:
        """(architecture, hardware choice) a full token list names."""
        c = self.evaluator.candidate(tokens)
        return c.arch, c.choice

    # --- Gymnasium API ---------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._tokens = []
        return self._observation(), {}

    def step(self, action):
        if self.mode == "one-shot":
            tokens: list[int] = []
            for a in np.asarray(action).reshape(-1)[: len(self.choices)]:
                tokens.append(self._take(tokens, a))
            self._tokens = tokens
        else:
            if len(self._tokens) >= len(self.choices):
                raise RuntimeError("the episode is over: call reset()")
            self._tokens.append(self._take(self._tokens, action))
        if len(self._tokens) < len(self.choices):
            return self._observation(), 0.0, False, False, {}
        candidate = self.evaluator.candidate(self._tokens)
        if self._batch is not None:
            self._batch.append(candidate)
            return self._observation(), 0.0, True, False, {"pending": len(self._batch) - 1}
        (record,) = self._finish([candidate])
        return self._observation(), record.reward, True, False, record.to_json()

    # --- evaluation ------------------------------------------------------------------------
    def evaluate(self, tokens: list[int]) -> tuple[float, dict[str, Any]]:
        """The candidate's reward and record (JSON), outside an episode (the record goes to
        the listeners too); a candidate evaluated before gets its evaluation back without being
        redone."""
        record = self.evaluator.evaluate(tokens)
        return record.reward, record.to_json()

    def preload(self, records: list[CandidateRecord]) -> None:
        """Finished evaluations (a run log's records) are answered at once from now on."""
        self.evaluator.preload(records)

    def begin_batch(self) -> bool:
        """Defer the candidates finished from now on to :meth:`end_batch`; False (and nothing
        deferred) when the evaluator has no parallel executor."""
        if self._batch is not None:
            raise RuntimeError("a batch is already open")
        if not self.evaluator.parallel:
            return False
        self._batch = []
        return True

    def end_batch(self) -> list[float]:
        """Evaluate the deferred candidates as one batch; their rewards, in order."""
        batch, self._batch = self._batch or [], None
        return [r.reward for r in self._finish(batch)]

    def _finish(self, candidates: list[Candidate]) -> list[CandidateRecord]:
        return self.evaluator.evaluate_batch(candidates)  # the evaluator tells the listeners

    def close(self) -> None:
        self.evaluator.close()
        super().close()
