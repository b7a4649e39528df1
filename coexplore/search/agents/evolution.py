"""``rea``: regularised evolution (Real et al., "Regularized Evolution for Image Classifier
Architecture Search", AAAI 2019, Algorithm 1), the usual NAS-Bench-201 baseline.

A population (a queue) holds at most ``population`` candidates with their rewards. The first
``population`` candidates are drawn uniformly, every token among its possible choices, as by
``random``. After that, each child comes from a tournament: ``sample_size`` members drawn
uniformly with replacement, the one with the highest reward is the parent, and exactly one of
its tokens is mutated (:meth:`TokenSpace.mutate <coexplore.core.tokens.TokenSpace.mutate>`): a
position drawn uniformly among those where another choice was possible when the parent was
drawn (given its earlier tokens), and a new value drawn uniformly among those other choices (a
parent with no such position is copied). Since the possible choices of a token can depend on
the earlier ones (hardware slots, chain-space strides), every later token keeps the parent's
value where it is still possible and is drawn uniformly among the possible ones otherwise. The
child joins the population and the oldest member leaves it (ageing, the "regularisation"), not
the worst.

``batch_episodes`` candidates are proposed per call, children bred from the population as it
was at the call start, so with a parallel executor they are evaluated as one batch, then join it
in order (a call ends early where the population fills, so children always come from a full one).
Candidates go to the evaluator directly (:class:`~coexplore.search.agents.base.PopulationAgent`).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from coexplore.config import ConfigError
from coexplore.search.agents.base import AT_LEAST_ONE, PopulationAgent

Tokens = tuple[int, ...]
Possible = tuple[tuple[int, ...], ...]  # the possible choices of each token, given the earlier
Member = tuple[Tokens, float, Possible]  # (tokens, reward, possible)


class RegularizedEvolutionAgent(PopulationAgent):
    name = "rea"
    defaults = {"population": 50, "sample_size": 10, "batch_episodes": 1}
    limits = dict.fromkeys(defaults, AT_LEAST_ONE)

    def __init__(self, env, seed: int = 0, **params: Any) -> None:
        super().__init__(env, seed, **params)
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

    def run(self, episodes: int) -> int:
        n = min(episodes, self.params["batch_episodes"])
        start = list(self.population)
        filling = len(start) < self.params["population"]
        if filling:  # a call never straddles the phases: children come from a full population
            n = min(n, self.params["population"] - len(start))
        if n < 1:
            return 0
        drawn: list[tuple[Tokens, Possible]] = []

        def proposals():
            space = self.token_space
            for _ in range(n):
                if filling:
                    tokens = space.sample(self.rng)
                else:
                    parent, _, possible = self._parent(start)
                    tokens = space.mutate(parent, self.rng, possible)
                drawn.append((tuple(tokens), space.options(tokens)))
                yield tokens

        records = self.propose(proposals())
        for (tokens, possible), record in zip(drawn, records, strict=True):
            self.population.append((tokens, float(record.reward), possible))
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
