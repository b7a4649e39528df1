"""``hsconas``: the search of HSCoNAS (Luo et al., "HSCoNAS: Hardware-Software Co-Design of
Efficient DNNs via Neural Architecture Search", DATE 2021): a multi-objective evolutionary
algorithm over the operators, dynamic channel scaling of every child on the fast phase
(:mod:`coexplore.search.channels`) and progressive space shrinking after every generation
(:mod:`coexplore.core.shrinking`). The paper gives no details of its EA; this one is NSGA-II's
(Deb et al., IEEE TEC 2002) with regularised evolution's ageing (Real et al., AAAI 2019):

- objectives: validation accuracy and the latency metric (the scenario's first objective, or
  ``metric``; a metric to maximise, as throughput, counts negated), under Deb's constrained
  domination: a candidate meeting the specs beats one that does not, two that do not are ranked
  by how far they miss them (the sum of the relative misses);
- a generation of ``population`` children: with probability ``crossover`` a uniform crossover
  of two binary-tournament parents, else a copy of one; then every token is mutated with
  probability 1 / (tokens the agent sets), at least one; tokens are drawn among the token
  space's possible choices (the shrunk space), and a child seen before is drawn again (up to
  20 times);
- channel scaling then sets the child's width tokens (``channel_scaling``), so shrinking
  leaves those tokens alone; with a ``margin`` it aims that share inside the target (a
  predictor's error and the device's drift then leave the pick within it);
- survivors: parents and children ranked by (non-domination rank, crowding distance); members
  older than ``max_age`` generations leave first (ageing keeps the population moving);
- shrinking (``shrink``) steps once per generation, unless the scenario's ``shrinking:``
  already shrinks the env for every agent.

The first generation is drawn uniformly (then channel-scaled). Each generation goes to the
evaluator as one batch (made legal again by :meth:`TokenSpace.repair
<coexplore.core.tokens.TokenSpace.repair>` where the space shrank meanwhile), so a parallel
executor trains it at once.
"""

from __future__ import annotations

import math
from typing import Any

from coexplore.config import ConfigError
from coexplore.core.metrics import METRIC_INFO
from coexplore.core.record import CandidateRecord
from coexplore.core.shrinking import ShrinkConfig, cost
from coexplore.search.agents.base import AT_LEAST_ONE, UNIT, Param, PopulationAgent
from coexplore.search.channels import PROXIES, scale_channels

Member = dict[str, Any]  # tokens, acc, latency (a cost: lower is better), feasible, violation, age


def constrained_ranks(members: list[Member]) -> list[int]:
    """Non-domination rank (0 = the front) of each member under constrained domination."""

    def dominates(a: Member, b: Member) -> bool:
        if a["feasible"] != b["feasible"]:
            return a["feasible"]
        if not a["feasible"]:
            return a["violation"] < b["violation"]
        better = a["acc"] >= b["acc"] and a["latency"] <= b["latency"]
        return better and (a["acc"] > b["acc"] or a["latency"] < b["latency"])

    n = len(members)
    beaten = [[j for j in range(n) if dominates(members[i], members[j])] for i in range(n)]
    count = [sum(dominates(members[j], members[i]) for j in range(n)) for i in range(n)]
    ranks, rank = [0] * n, 0
    front = [i for i in range(n) if count[i] == 0]
    while front:
        nxt = []
        for i in front:
            ranks[i] = rank
            for j in beaten[i]:
                count[j] -= 1
                if count[j] == 0:
                    nxt.append(j)
        front, rank = nxt, rank + 1
    return ranks


def crowding(members: list[Member], ranks: list[int]) -> list[float]:
    """NSGA-II's crowding distance within each rank (infinite at the ends)."""
    distance = [0.0] * len(members)
    for r in set(ranks):
        idx = [i for i, x in enumerate(ranks) if x == r]
        for key in ("acc", "latency"):
            values = [members[i][key] if math.isfinite(members[i][key]) else 0.0 for i in idx]
            order = sorted(range(len(idx)), key=values.__getitem__)
            span = (values[order[-1]] - values[order[0]]) or 1.0
            distance[idx[order[0]]] = distance[idx[order[-1]]] = math.inf
            for a, b, c in zip(order, order[1:], order[2:], strict=False):
                distance[idx[b]] += (values[c] - values[a]) / span
    return distance


class HSCoNASAgent(PopulationAgent):
    name = "hsconas"
    defaults = {
        "population": 16,
        "crossover": 0.5,
        "max_age": 4,
        "channel_scaling": True,
        "proxy": "macs",
        "exhaustive": 256,
        "margin": 0.0,
        "shrink": True,
        "min_samples": 30,
        "max_drop": 1,
        "keep": 0.5,
        "metric": None,
    }
    limits = {
        "population": Param(low=2),
        "crossover": UNIT,
        "max_age": AT_LEAST_ONE,
        "proxy": Param(choices=tuple(PROXIES)),
        "exhaustive": AT_LEAST_ONE,
        "margin": Param(low=0, high=1, high_open=True),
        "min_samples": AT_LEAST_ONE,
        "max_drop": AT_LEAST_ONE,
        "keep": UNIT,
    }

    @classmethod
    def param_specs(cls) -> dict[str, Param]:
        """``metric`` is one of the declared metrics, the families' own included (they are
        declared when the families load)."""
        from coexplore.platforms import load_platforms

        load_platforms()
        metric = Param(type=str | None, choices=tuple(METRIC_INFO))
        return {**super().param_specs(), "metric": metric}

    def __init__(self, env, seed: int = 0, **params: Any) -> None:
        super().__init__(env, seed, **params)
        p = self.params
        self.env_ = env.unwrapped
        scenario = self.env_.scenario
        objectives = scenario.objectives
        metric = p["metric"] or (objectives[0] if objectives else None)
        if metric is None and scenario.hardware.mode != "none":
            raise ConfigError(f"agent {self.name}", "metric", "a metric the platform reports")
        self.metric = metric
        target = None if metric is None else scenario.specs.limit(metric)
        self.limit = None  # channel scaling's target, ``margin`` inside the scenario's
        if target is not None and p["margin"]:
            info = METRIC_INFO.get(metric)
            sign = 1 if info is not None and info.maximize else -1
            self.limit = target * (1 + sign * p["margin"])
        self.env_.check_target()
        widths = self.env_.space.width_tokens() if p["channel_scaling"] else {}
        self.scaled = frozenset(widths)
        self.free = [t for t in range(len(self.env_.choices)) if t not in self.scaled]
        self.shrinker = None
        if p["shrink"] and metric is not None:
            config = ShrinkConfig(
                generation=0,
                min_samples=p["min_samples"],
                max_drop=p["max_drop"],
                keep=p["keep"],
                metric=metric,
            )
            self.shrinker = self.env_.shrink(config, frozen=tuple(self.scaled))
            # a scenario's shrinker (or a restored one with generations) steps itself
            self._steps = self.shrinker.config.generation == 0
        self.population: list[Member] = []
        self.seen: set[tuple[int, ...]] = set()
        self.generation = 0
        self.scaling_queries = 0

    # --- children ------------------------------------------------------------------------------
    def _tournament(self, ranks: list[int], crowd: list[float]) -> Member:
        pair = self.rng.integers(0, len(self.population), size=2).tolist()
        return self.population[min(pair, key=lambda k: (ranks[k], -crowd[k], k))]

    def _legal(self, wanted: list[int], mutate: set[int]) -> list[int]:
        """``wanted`` token by token within the possible choices (drawn uniformly where it is
        not possible); a ``mutate`` token takes another possible value (drawn uniformly)."""

        def pick(prefix: list[int], possible: list[int]) -> Any:
            want = wanted[len(prefix)]
            if len(prefix) in mutate:
                others = [v for v in possible if v != want]
                return self.rng.choice(others) if others else possible[0]
            return want if want in possible else self.rng.choice(possible)

        return self.token_space.walk(pick)

    def _bred(self, ranks: list[int], crowd: list[float]) -> list[int]:
        a = self._tournament(ranks, crowd)["tokens"]
        if self.rng.random() < self.params["crossover"]:
            b = self._tournament(ranks, crowd)["tokens"]
            a = [x if self.rng.random() < 0.5 else y for x, y in zip(a, b, strict=True)]
        rate = 1.0 / max(len(self.free), 1)
        mutate = {t for t in self.free if self.rng.random() < rate}
        if not mutate and self.free:
            mutate = {int(self.rng.choice(self.free))}
        return self._legal(list(a), mutate)

    def _scale(self, tokens: list[int]) -> list[int]:
        if not self.scaled or self.metric is None:
            return tokens
        p = self.params
        s = scale_channels(
            self.evaluator, tokens, self.metric, p["proxy"], p["exhaustive"], self.limit
        )
        self.scaling_queries += s.queries
        return list(s.tokens)

    def _child(self, ranks: list[int], crowd: list[float], batch: set) -> list[int]:
        for _ in range(20):
            raw = self._bred(ranks, crowd) if self.population else self.token_space.sample(self.rng)
            tokens = self._scale(raw)
            if tuple(tokens) not in self.seen and tuple(tokens) not in batch:
                break
        return tokens

    # --- generations ---------------------------------------------------------------------------
    def _member(self, record: CandidateRecord) -> Member:
        latency = cost(record.metric(self.metric), self.metric) if self.metric else 0.0
        acc = record.val_acc
        feasible = not record.pruned and not record.failed_specs and acc is not None
        feasible = feasible and not record.diverged
        violation = 0.0
        if not feasible:  # how far the specs are missed; no metrics or no accuracy: the worst
            misses = [f.miss_ratio for f in record.failed_specs if f.miss_ratio is not None]
            violation = sum(misses) if misses and record.metrics is not None else 1e9
        return {
            "tokens": tuple(record.tokens),
            "acc": float(acc) if acc is not None and feasible else -math.inf,
            "latency": latency,
            "feasible": bool(feasible),
            "violation": float(violation),
            "age": 0,
        }

    def run(self, episodes: int) -> int:
        n = min(episodes, self.params["population"])
        if n < 1:
            return 0
        ranks = constrained_ranks(self.population)
        crowd = crowding(self.population, ranks)
        batch: set[tuple[int, ...]] = set()
        children = []
        for _ in range(n):
            tokens = self._child(ranks, crowd, batch)
            batch.add(tuple(tokens))
            children.append(tokens)
        records = self.propose(self.token_space.repair(c, self.rng) for c in children)
        self.generation += 1
        for m in self.population:
            m["age"] += 1
        fresh = []
        for record in records:
            if tuple(record.tokens) not in self.seen:
                self.seen.add(tuple(record.tokens))
                fresh.append(self._member(record))
        pool = [m for m in self.population if m["age"] <= self.params["max_age"]] + fresh
        ranks = constrained_ranks(pool)
        crowd = crowding(pool, ranks)
        order = sorted(range(len(pool)), key=lambda i: (ranks[i], -crowd[i], i))
        self.population = [pool[i] for i in order[: self.params["population"]]]
        if self.shrinker is not None and self._steps:
            self.shrinker.step()
        return n

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state,
            "population": [dict(m) for m in self.population],
            "seen": sorted(self.seen),
            "generation": self.generation,
            "scaling_queries": self.scaling_queries,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.population = [{**m, "tokens": tuple(m["tokens"])} for m in state["population"]]
        self.seen = {tuple(t) for t in state["seen"]}
        self.generation = int(state["generation"])
        self.scaling_queries = int(state["scaling_queries"])
