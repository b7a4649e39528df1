"""``local``: local search (White et al., "Local search is state of the art for neural
architecture search benchmarks", 2021), a baseline that NAS benchmarks must beat.

Start from a candidate drawn as ``random`` draws one and evaluate its whole neighbourhood: every
candidate that changes exactly one token to another possible choice (later tokens kept where
still possible, else redrawn: :meth:`TokenSpace.repair
<coexplore.core.tokens.TokenSpace.repair>`), in an order drawn from the seed. Move to the best
neighbour when its reward beats the current candidate's (best improvement, as White et al.'s
default); at a local optimum, restart from a new random candidate. A neighbour evaluated before
is answered from memory (a repeat: no training). ``max_neighbours`` caps a neighbourhood (a
uniform subset beyond it). One candidate is proposed per call, so every checkpoint is whole.
"""

from __future__ import annotations

import math
from typing import Any

from coexplore.search.agents.base import AT_LEAST_ONE, PopulationAgent

Tokens = tuple[int, ...]


def _score(reward: float) -> float:
    return -math.inf if math.isnan(reward) else reward


class LocalSearchAgent(PopulationAgent):
    name = "local"
    defaults = {"max_neighbours": 10_000}
    limits = {"max_neighbours": AT_LEAST_ONE}

    def __init__(self, env, seed: int = 0, **params: Any) -> None:
        super().__init__(env, seed, **params)
        self.current: tuple[Tokens, float] | None = None
        self.queue: list[Tokens] = []  # the current candidate's neighbours not yet evaluated
        self.best: tuple[Tokens, float] | None = None  # the best neighbour evaluated so far
        self.restarts = 0

    def neighbours(self, tokens: Tokens) -> list[Tokens]:
        """Every candidate one token away from ``tokens`` (made possible), in a drawn order."""
        options = self.token_space.options(tokens)
        out: list[Tokens] = []
        for t, values in enumerate(options):
            for v in values:
                if v != tokens[t]:
                    out.append(tuple(self.token_space.repair(tokens, self.rng, {t: int(v)})))
        out = [n for n in dict.fromkeys(out) if n != tokens]
        order = self.rng.permutation(len(out))[: self.params["max_neighbours"]]
        return [out[i] for i in order]

    def run(self, episodes: int) -> int:
        if episodes < 1:
            return 0
        if self.current is None:
            (record,) = self.propose([self.token_space.sample(self.rng)])
            self.current = (tuple(record.tokens), _score(record.reward))
            self.queue, self.best = self.neighbours(self.current[0]), None
            return 1
        if not self.queue:  # a candidate without neighbours: a local optimum by itself
            self._step()
            return self.run(episodes)
        (record,) = self.propose([list(self.queue.pop(0))])
        scored = (tuple(record.tokens), _score(record.reward))
        if self.best is None or scored[1] > self.best[1]:
            self.best = scored
        if not self.queue:
            self._step()
        return 1

    def _step(self) -> None:
        """The neighbourhood is done: move to the best neighbour if it improves, else restart."""
        if self.best is not None and self.best[1] > self.current[1]:
            self.current = self.best
            self.queue, self.best = self.neighbours(self.current[0]), None
        else:
            self.current, self.queue, self.best = None, [], None
            self.restarts += 1

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state,
            "current": self.current,
            "queue": list(self.queue),
            "best": self.best,
            "restarts": self.restarts,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.current, self.queue = state["current"], list(state["queue"])
        self.best, self.restarts = state["best"], state["restarts"]
