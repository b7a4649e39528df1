"""``random``: every token drawn uniformly among its possible choices (the usual baseline)."""

from __future__ import annotations

from typing import Any

import numpy as np

from coexplore.search.agents.base import Agent, check_params, masked_choices


class RandomAgent(Agent):
    name = "random"

    def __init__(self, env, seed: int = 0, **params: Any) -> None:
        check_params(self.name, params, set())
        super().__init__(env, seed, **params)
        self.rng = np.random.default_rng(seed)

    def run(self, episodes: int) -> int:
        done = episodes < 1
        if not done:
            self.env.reset()
        while not done:
            action = int(self.rng.choice(masked_choices(self.env)))
            _, _, terminated, truncated, _ = self.env.step(action)
            done = terminated or truncated
        return 0 if episodes < 1 else 1

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
