"""Progressive space shrinking (HSCoNAS, Luo et al., DATE 2021): drop the choices whose
candidates are dominated on the target hardware, so later candidates come from a smaller space.

The shrinker is attached to the scenario's token space (:meth:`TokenSpace.possible
<coexplore.core.tokens.TokenSpace.possible>`, the env's action masks), so every agent searches
the shrunk space: the population agents (``random``, ``rea``, ``hsconas``) and MaskablePPO never
propose a dropped choice, and an agent that ignores masks (PPO) has its action mapped onto the
kept ones.

A :class:`SpaceShrinker` watches the evaluator's records. At each step (every ``generation``
distinct candidates when the scenario's ``shrinking:`` section turns it on, or when an agent
calls :meth:`SpaceShrinker.step` after its generations) it takes the **front**: the candidates
that meet the specs and that no other such candidate beats on both validation accuracy and the
latency metric (the first of the scenario's objectives; one to maximise counts negated). A
choice (token t = value v) is dominated when at least ``min_samples`` distinct candidates had
it and none of them is on the front (candidates over the target count as dominated). Per
token, at most ``max_drop`` of the dominated choices leave per step, those whose best feasible
accuracy is lowest first, and never below ``keep`` (a share of the token's choices, at least
one) choices.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from coexplore.config import ConfigError
from coexplore.core.record import CandidateRecord

_SOURCE = "shrinking"


@dataclass(frozen=True)
class ShrinkConfig:
    """The scenario's ``shrinking:`` section (or an agent's shrinking settings)."""

    generation: int = 20  # distinct candidates between steps (0: only when an agent steps)
    min_samples: int = 30  # a choice is judged once this many distinct candidates had it
    max_drop: int = 1  # choices a token loses per step, at most
    keep: float = 0.5  # share of a token's choices that always stays (at least one)
    metric: str | None = None  # the latency metric; None: the scenario's first objective

    def __post_init__(self) -> None:
        for name, low in (("generation", 0), ("min_samples", 1), ("max_drop", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(_SOURCE, name, f"an integer >= {low}", value)
        if isinstance(self.keep, bool) or not (
            isinstance(self.keep, int | float) and 0 <= self.keep <= 1
        ):
            raise ConfigError(_SOURCE, "keep", "a share in [0, 1]", self.keep)

    @classmethod
    def from_dict(cls, data: Any) -> ShrinkConfig:
        if data is True:
            return cls()
        if not isinstance(data, dict):
            raise ConfigError(_SOURCE, "shrinking", "a mapping of settings (or true)", data)
        known = set(cls.__dataclass_fields__)
        for key in data:
            if key not in known:
                raise ConfigError(_SOURCE, key, f"one of {', '.join(sorted(known))}", data[key])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Point = tuple[tuple[int, ...], float, float, bool]  # tokens, val_acc, cost, feasible


def cost(value: float | None, metric: str) -> float:
    """A metric as a cost, lower is better: negated where larger is better (throughput);
    infinite when it was not reported."""
    from coexplore.core.metrics import METRIC_INFO

    if value is None:
        return math.inf
    info = METRIC_INFO.get(metric)
    return -float(value) if info is not None and info.maximize else float(value)


class SpaceShrinker:
    """Shrinks ``choices`` (choices per token) from the candidates it has seen; ``frozen`` are
    tokens it leaves alone (an agent that sets them itself, as channel scaling sets widths)."""

    def __init__(
        self,
        choices: list[int],
        metric: str,
        config: ShrinkConfig | None = None,
        frozen: Iterable[int] = (),
    ) -> None:
        self.config = config or ShrinkConfig()
        self.choices, self.metric = list(choices), metric
        self.frozen = frozenset(int(t) for t in frozen)
        self.allowed: list[set[int]] = [set(range(c)) for c in self.choices]
        self.points: dict[tuple[int, ...], Point] = {}
        self.dropped: list[dict[str, Any]] = []  # (step, token, value) in the order they left
        self.steps = 0
        self._since = 0

    def observe(self, record: CandidateRecord) -> bool:
        """Take a record in; True when a generation is complete (an automatic step is due)."""
        key = tuple(record.tokens)
        if key in self.points:
            return False
        feasible = not record.pruned and not record.failed_specs and record.val_acc is not None
        acc = float(record.val_acc) if record.val_acc is not None else -math.inf
        if record.diverged:
            feasible, acc = False, -math.inf
        latency = cost(record.metric(self.metric), self.metric)
        self.points[key] = (key, acc, latency, feasible and math.isfinite(latency))
        self._since += 1
        g = self.config.generation
        if g and self._since >= g:
            self._since = 0
            return True
        return False

    def front(self) -> set[tuple[int, ...]]:
        """The tokens of the feasible candidates no other feasible one dominates (higher
        accuracy, lower latency); of candidates tied on both, every one is on it."""
        feasible = sorted((p for p in self.points.values() if p[3]), key=lambda p: (p[2], -p[1]))
        front: set[tuple[int, ...]] = set()
        best = (-math.inf, math.nan)  # the best accuracy so far and the latency it came with
        for tokens, acc, latency, _ in feasible:  # by increasing latency
            if acc > best[0] or (acc == best[0] and latency == best[1]):
                front.add(tokens)
                best = (acc, latency)
        return front

    def step(self) -> list[tuple[int, int]]:
        """One shrinking step; the (token, value) pairs it dropped."""
        self.steps += 1
        front = self.front()
        dropped: list[tuple[int, int]] = []
        for t, allowed in enumerate(self.allowed):
            if t in self.frozen:
                continue
            floor = max(1, math.ceil(self.config.keep * self.choices[t]))
            room = min(self.config.max_drop, len(allowed) - floor)
            if room < 1:
                continue
            judged = []
            for v in sorted(allowed):
                mine = [p for p in self.points.values() if p[0][t] == v]
                if len(mine) < self.config.min_samples or any(p[0] in front for p in mine):
                    continue
                best = max((p[1] for p in mine if p[3]), default=-math.inf)
                judged.append((best, v))
            for _, v in sorted(judged)[:room]:
                allowed.discard(v)
                dropped.append((t, v))
                self.dropped.append({"step": self.steps, "token": t, "value": v})
        return dropped

    def size(self) -> float:
        """log10 of the shrunk space's size (the product of the kept choices per token)."""
        return sum(math.log10(len(a)) for a in self.allowed)

    def state_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "metric": self.metric,
            "frozen": sorted(self.frozen),
            "allowed": [sorted(a) for a in self.allowed],
            "points": list(self.points.values()),
            "dropped": list(self.dropped),
            "steps": self.steps,
            "since": self._since,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.allowed = [set(a) for a in state["allowed"]]
        self.points = {tuple(p[0]): (tuple(p[0]), *p[1:]) for p in state["points"]}
        self.dropped = list(state["dropped"])
        self.steps, self._since = int(state["steps"]), int(state["since"])
