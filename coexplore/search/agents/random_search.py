"""``random``: every token drawn uniformly among its possible choices (the usual baseline).

``batch_episodes`` candidates are drawn per call and, with a parallel executor, evaluated as one
batch; the draws do not depend on rewards, so the batch size changes nothing but the wall time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from coexplore.search.agents.base import (
    AT_LEAST_ONE,
    Agent,
    begin_batch,
    end_batch,
    masked_choices,
)


class RandomAgent(Agent):
    name = "random"
    defaults = {"batch_episodes": 8}
    limits = {"batch_episodes": AT_LEAST_ONE}

    def __init__(self, env, seed: int = 0, **params: Any) -> None:
        super().__init__(env, seed, **params)
        self.rng = np.random.default_rng(seed)

    def run(self, episodes: int) -> int:
        n = min(episodes, self.params["batch_episodes"])
        deferred = begin_batch(self.env) if n > 0 else False
        for _ in range(n):
            self.env.reset()
            done = False
            while not done:
                action = int(self.rng.choice(masked_choices(self.env)))
                _, _, terminated, truncated, _ = self.env.step(action)
                done = terminated or truncated
        if deferred:
            end_batch(self.env)
        return max(n, 0)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
