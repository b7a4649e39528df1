"""``rea``: regularised evolution (Real et al., "Regularized Evolution for Image Classifier
Architecture Search", AAAI 2019, Algorithm 1), the usual NAS-Bench-201 baseline.

A population (a queue) holds at most ``population`` candidates with their rewards. The first
``population`` candidates are drawn uniformly, every token among its possible choices, as by
``random``. After that, each child comes from a tournament: ``sample_size`` members drawn
uniformly with replacement, the one with the highest reward is the parent, and exactly one of
its tokens is mutated: a position drawn uniformly among those where another choice is possible
(given the parent's earlier tokens), and a new value drawn uniformly among those other choices
(a parent with no such position is copied). Since the possible choices of a token can depend on
the earlier ones (hardware slots, chain-space strides), every later token keeps the parent's
value where it is still possible and is drawn uniformly among the possible ones otherwise. The
child joins the population and the oldest member leaves it (ageing, the "regularisation"), not
the worst.

``batch_episodes`` candidates are proposed per call, children bred from the population as it
was at the call start, so with a parallel executor they are evaluated as one batch, then join it
in order (a call ends early where the population fills, so children always come from a full one).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from coexplore.config import ConfigError
from coexplore.search.agents.base import (
    AT_LEAST_ONE,
    Agent,
    begin_batch,
    end_batch,
    masked_choices,
)

Tokens = tuple[int, ...]
Possible = tuple[tuple[int, ...], ...]  # the possible choices of each token, given the earlier
Member = tuple[Tokens, float, Possible]  # (tokens, reward, possible)


class RegularizedEvolutionAgent(Agent):
    name = "rea"
    defaults = {"population": 50, "sample_size": 10, "batch_episodes": 1}
    limits = dict.fromkeys(defaults, AT_LEAST_ONE)

    def __init__(self, env, seed: int = 0, **params: Any) -> None:
        super().__init__(env, seed, **params)
        self.rng = np.random.default_rng(seed)
        self.population: deque[Member] = deque()

    @classmethod
    def check_together(cls, params: dict[str, Any], source: str) -> None:
        if params["sample_size"] > params["population"]:
            allowed = f"an integer >= 1 and <= population {params['population']}"
            raise ConfigError(source, "sample_size", allowed, params["sample_size"])

    # --- breeding ------------------------------------------------------------------------------
    def _parent(self, population: list[Member]) -> Member:
        """Tournament: the best of ``sample_size`` members drawn with replacement."""
        picks = self.rng.integers(0, len(population), size=self.params["sample_size"])

        def fitness(i: int) -> float:
            r = population[i][1]
            return -math.inf if math.isnan(r) else r

        return population[max(picks.tolist(), key=fitness)]  # ties: the first drawn

    def _mutation(self, parent: Member) -> tuple[int, int] | None:
        """(position, new value) of a one-token mutation of ``parent``; None if none exists."""
        tokens, _, possible = parent
        positions = [t for t, p in enumerate(possible) if any(v != tokens[t] for v in p)]
        if not positions:
            return None
        t = int(self.rng.choice(positions))
        return t, int(self.rng.choice([v for v in possible[t] if v != tokens[t]]))

    # --- episodes ------------------------------------------------------------------------------
    def _play(self, parent: Member | None) -> tuple[Tokens, Possible, float]:
        """Play a uniform candidate (``parent`` None) or a mutated child on the env:
        (tokens, possible choices of each token, final step reward)."""
        mutation = None if parent is None else self._mutation(parent)
        self.env.reset()
        tokens: list[int] = []
        possible: list[tuple[int, ...]] = []
        done, reward = False, 0.0
        while not done:
            t = len(tokens)
            mask = masked_choices(self.env)
            if len(mask) == 0:
                raise RuntimeError(f"the env allows no choice for token {t}")
            allowed = set(mask.tolist())
            if mutation is not None and t == mutation[0] and mutation[1] in allowed:
                action = mutation[1]
            elif parent is not None and t < len(parent[0]) and parent[0][t] in allowed:
                action = parent[0][t]
            else:
                action = int(self.rng.choice(mask))
            tokens.append(action)
            possible.append(tuple(int(v) for v in mask))
            _, r, terminated, truncated, _ = self.env.step(action)
            done, reward = terminated or truncated, float(r)
        return tuple(tokens), tuple(possible), reward

    def run(self, episodes: int) -> int:
        n = min(episodes, self.params["batch_episodes"])
        start = list(self.population)
        filling = len(start) < self.params["population"]
        if filling:  # a call never straddles the phases: children come from a full population
            n = min(n, self.params["population"] - len(start))
        if n < 1:
            return 0
        deferred = begin_batch(self.env)
        played = [self._play(None if filling else self._parent(start)) for _ in range(n)]
        rewards = end_batch(self.env) if deferred else [p[2] for p in played]
        for (tokens, possible, _), reward in zip(played, rewards, strict=True):
            self.population.append((tokens, float(reward), possible))
            if len(self.population) > self.params["population"]:
                self.population.popleft()
        return n

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state, "population": list(self.population)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.population = deque(
            (tuple(tokens), float(reward), tuple(tuple(p) for p in possible))
            for tokens, reward, possible in state["population"]
        )
