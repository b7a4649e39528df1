"""``CoExploreEnv``: joint NAS + FPGA design as a Gymnasium environment.

A candidate is a child network of the scenario's search space plus an FPGA pipeline from its
pool. Tokens are emitted in Jiang et al.'s order: every software token (for the chain space:
kernel, filters, stride per layer), then one hardware token per pipeline slot (slot 0: a part
of the pool; later slots: a part, or the last choice, "no further FPGA").

- ``mode="sequential"`` (default): one ``Discrete`` action per token. The observation is a
  ``Box`` in [0, 1] of length 2T + 1 for T tokens: entry t is (choice + 1) / choices of token t
  once chosen (0 before), followed by a one-hot of the current position (T + 1 positions, the
  last meaning "complete"). ``action_masks()`` marks the possible choices of the current token
  (sb3-contrib's MaskablePPO reads it); an impossible action from an agent that ignores masks
  is mapped onto the possible ones (``action % len(possible)``), never a crash.
- ``mode="one-shot"``: one ``MultiDiscrete`` action holds every token; episodes of one step,
  constant observation.

At the last token the **fast phase** tunes the hardware and checks the specs
(:mod:`coexplore.platforms.fpga_pipeline.fast_phase`); a candidate that cannot meet them is
pruned with ``reward.penalty`` and never trained. Survivors go to the **slow phase** (the scenario's
accuracy oracle) and get the HotNAS-form reward. ``info`` carries the whole candidate record.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from coexplore.data import load_dataset
from coexplore.platforms.fpga_pipeline.fast_phase import (
    reference_design,
    run_fast_phase,
    run_fixed_hardware,
)
from coexplore.platforms.fpga_pipeline.tuning.pipeline import TuneResult
from coexplore.scenario import Scenario, get_scenario, hotnas_reward
from coexplore.scenario.reward import accuracy_term
from coexplore.slow.oracles import AccuracyOracle, TableOracle, TrainOracle

MODES = ("sequential", "one-shot")
NO_FPGA = "none"
RECORD_ONLY = ("episode", "wall_s", "repeat")  # per-proposal keys, not the evaluation's


def make_oracle(scenario: Scenario, cache: str | None = None) -> AccuracyOracle:
    slow = scenario.slow_phase
    if slow.oracle == "table":
        return TableOracle(slow.table)
    return TrainOracle(scenario.data, slow.train, cache)


class CoExploreEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(
        self,
        scenario: str | Scenario = "digits-fpga",
        mode: str = "sequential",
        cache: str | None = None,
        oracle: AccuracyOracle | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.scenario = get_scenario(scenario) if isinstance(scenario, str) else scenario
        self.mode = mode
        self.oracle = oracle or make_oracle(self.scenario, cache)
        data = load_dataset(self.scenario.data)
        self.input_shape, self.num_classes = data.input_shape, data.num_classes
        self.space = self.scenario.space
        hw = self.scenario.hardware
        self.pool = list(hw.parts)
        self.sw_choices = self.space.token_choices()
        self.hw_choices = []
        if hw.mode == "explore":
            self.hw_choices = [len(self.pool)] + [len(self.pool) + 1] * (hw.max_fpgas - 1)
        self.fixed: TuneResult | None = None
        if hw.mode == "fixed":
            reference = self.space.parse(hw.reference)
            self.fixed = reference_design(
                reference.network(self.input_shape, self.num_classes), self.scenario
            )
        self.choices = self.sw_choices + self.hw_choices
        n = len(self.choices)
        if mode == "sequential":
            self.action_space = spaces.Discrete(max(self.choices))
            self.observation_space = spaces.Box(0.0, 1.0, (2 * n + 1,), np.float32)
        else:
            self.action_space = spaces.MultiDiscrete(self.choices)
            self.observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)
        self._tokens: list[int] = []
        self._records: dict[tuple[int, ...], tuple[float, dict[str, Any]]] = {}

    # --- tokens ----------------------------------------------------------------------------
    def _possible(self, prefix: list[int]) -> list[int]:
        position = len(prefix)
        if position < len(self.sw_choices):
            return self.space.allowed(prefix, self.input_shape[1])
        slot = position - len(self.sw_choices)
        earlier = prefix[len(self.sw_choices) :]
        if slot > 0 and earlier[-1] == len(self.pool):  # after "no further FPGA", only that
            return [len(self.pool)]
        return list(range(self.choices[position]))

    def action_masks(self) -> np.ndarray:
        """Possible choices of the current token (sequential mode), for MaskablePPO."""
        mask = np.zeros(self.action_space.n if self.mode == "sequential" else 1, dtype=bool)
        if self.mode == "sequential" and len(self._tokens) < len(self.choices):
            mask[self._possible(self._tokens)] = True
        return mask

    def _take(self, prefix: list[int], action: int) -> int:
        possible = self._possible(prefix)
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

    def decode(self, tokens: list[int]) -> tuple[Any, list[str]]:
        """(architecture, parts of the pipeline) a full token list names."""
        sw, hw = tokens[: len(self.sw_choices)], tokens[len(self.sw_choices) :]
        parts = [self.pool[v] for v in hw if v < len(self.pool)]
        return self.space.from_tokens(sw), parts

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
        reward, info = self.evaluate(self._tokens)
        return self._observation(), reward, True, False, info

    # --- the two phases --------------------------------------------------------------------
    def evaluate(self, tokens: list[int]) -> tuple[float, dict[str, Any]]:
        """The candidate's reward and record; a candidate proposed again in this environment
        gets its recorded evaluation back (same reward, same record) without being redone."""
        key = tuple(tokens)
        if key not in self._records:
            self._records[key] = self._evaluate(tokens)
        reward, info = self._records[key]
        return reward, copy.deepcopy(info)

    def preload(self, records: list[dict[str, Any]]) -> None:
        """Take finished evaluations (records of a search log) as already done: proposing one
        of them again returns its record at once (a resumed search replays them)."""
        for r in records:
            info = {k: v for k, v in r.items() if k not in RECORD_ONLY}
            self._records[tuple(r["tokens"])] = (float(r["reward"]), info)

    def _evaluate(self, tokens: list[int]) -> tuple[float, dict[str, Any]]:
        """Fast phase, then (for survivors) slow phase and reward."""
        arch, parts = self.decode(tokens)
        network = arch.network(self.input_shape, self.num_classes)
        if self.scenario.hardware.mode == "none":
            return self._accuracy_only(arch, tokens, network.macs)
        if self.fixed is not None:
            fast = run_fixed_hardware(network, self.fixed, self.scenario)
        else:
            # The hardware resampling of the fast phase is seeded by the candidate itself, so
            # a candidate gets the same evaluation whenever and wherever it is proposed.
            rng = np.random.default_rng([self.scenario.data.seed, *tokens])
            fast = run_fast_phase(network, parts, self.scenario, rng)
        pruned = fast.pruned and self.scenario.fast_phase.prune
        info: dict[str, Any] = {
            "arch": arch.canonical,
            "space": self.space.name,
            "tokens": list(tokens),
            "parts_chosen": parts,
            "parts": fast.parts,
            "hw_attempts": fast.attempts,
            "pruned": pruned,
            "failed_specs": fast.failed_specs,
            "fast_s": fast.wall_s,
            "macs": network.macs,
            "hardware": None if fast.result is None else fast.result.hardware.to_dict(),
            "metrics": None if fast.metrics is None else fast.metrics.to_dict(),
        }
        if pruned:
            info.update(reward=self.scenario.reward.penalty, slow_s=0.0, cache_hit=False)
            return float(self.scenario.reward.penalty), info
        info.update(self._slow_phase(arch))
        if fast.metrics is None:  # nothing runs it (only when pruning is off)
            info.update(reward=self.scenario.reward.penalty, r_acc=-1.0, r_hw=-1.0)
            return float(self.scenario.reward.penalty), info
        terms = hotnas_reward(
            info["val_acc"], fast.metrics, self.scenario.specs, self.scenario.reward
        )
        info.update(reward=terms.reward, r_acc=terms.r_acc, r_hw=terms.r_hw)
        return float(terms.reward), info

    def _slow_phase(self, arch) -> dict[str, Any]:
        start = time.perf_counter()
        ev = self.oracle.evaluate(arch, self.scenario.data.seed)
        return {
            "val_acc": ev.val_acc,
            "test_acc": ev.test_acc,
            "diverged": ev.diverged,
            "cache_hit": ev.cache_hit,
            "slow_s": time.perf_counter() - start,
        }

    def _accuracy_only(self, arch, tokens: list[int], macs: int) -> tuple[float, dict[str, Any]]:
        """Hardware mode ``none`` (accuracy-only NAS): train, reward = r_acc, no hardware."""
        info: dict[str, Any] = {
            "arch": arch.canonical,
            "space": self.space.name,
            "tokens": list(tokens),
            "parts_chosen": [],
            "parts": [],
            "hw_attempts": 0,
            "pruned": False,
            "failed_specs": [],
            "fast_s": 0.0,
            "macs": macs,
            "hardware": None,
            "metrics": None,
            **self._slow_phase(arch),
        }
        r_acc = accuracy_term(info["val_acc"], self.scenario.reward)
        info.update(reward=r_acc, r_acc=r_acc, r_hw=0.0)
        return float(r_acc), info
