"""``random``: every token drawn uniformly among its possible choices (the usual baseline).

``batch_episodes`` candidates are drawn per call and, with a parallel executor, evaluated as one
batch; the draws do not depend on rewards, so the batch size changes nothing but the wall time.
"""

from __future__ import annotations

from typing import Any

from coexplore.search.agents.base import AT_LEAST_ONE, PopulationAgent


class RandomAgent(PopulationAgent):
    name = "random"
    defaults = {"batch_episodes": 8}
    limits = {"batch_episodes": AT_LEAST_ONE}

    def run(self, episodes: int) -> int:
        n = min(episodes, self.params["batch_episodes"])
        if n < 1:
            return 0
        self.propose(self.token_space.sample(self.rng) for _ in range(n))
        return n

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
