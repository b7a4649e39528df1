"""What a controller learns from a candidate it proposed before (``repeats``).

A search pays for trainings, and a repeated proposal costs none and tells nothing: its record
comes back from memory. Rewarded like a new candidate (``repeats: own``, the paper's
REINFORCE), proposing the best candidate found again is the policy's best move, so the policy
concentrates on it and stops exploring: on NAS-Bench-201 the paper's REINFORCE converges after
a few dozen trainings at hundreds of proposals per training (``coexplore benchmark``). With
``repeats: lowest`` a repeat earns the lowest reward seen so far instead, so the policy's best
move is always a candidate it has not tried, near those that scored well: it keeps searching
until the budget is spent. Only the controller's learning signal changes; the record, the log
and every report keep the candidate's own reward.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym

from coexplore.search.agents.base import Param

REPEATS = ("lowest", "own")
REPEATS_PARAM = Param(choices=REPEATS)


class RepeatReward(gym.Wrapper):
    """The env as a token-by-step controller sees it: a finished candidate's reward, or, for one
    proposed before with ``repeats="lowest"``, the lowest reward of the search so far. Deferred
    candidates (a batch, see :func:`~coexplore.search.agents.base.begin_batch`) get theirs at
    :meth:`end_batch`, in the order they finished, as one at a time would."""

    def __init__(self, env: gym.Env, repeats: str = "lowest") -> None:
        super().__init__(env)
        if repeats not in REPEATS:
            raise ValueError(f"repeats must be one of {REPEATS}, got {repeats!r}")
        self.repeats = repeats
        self.seen: set[tuple[int, ...]] = set()
        self.lowest = math.inf
        self._pending: list[tuple[int, ...]] = []

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if terminated or truncated:
            tokens = tuple(self.env.get_wrapper_attr("tokens"))
            if "pending" in info:
                self._pending.append(tokens)
            else:
                reward = self.learning_reward(tokens, float(reward))
        return obs, reward, terminated, truncated, info

    def end_batch(self) -> list[float]:
        rewards = list(self.env.get_wrapper_attr("end_batch")())
        pending, self._pending = self._pending, []
        return [self.learning_reward(t, r) for t, r in zip(pending, rewards, strict=True)]

    def learning_reward(self, tokens: tuple[int, ...], reward: float) -> float:
        self.lowest = min(self.lowest, reward)
        if self.repeats == "own" or tokens not in self.seen:
            self.seen.add(tokens)
            return reward
        return self.lowest

    def state_dict(self) -> dict[str, Any]:
        return {"seen": sorted(self.seen), "lowest": self.lowest}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seen = {tuple(t) for t in state["seen"]}
        self.lowest = state["lowest"]
