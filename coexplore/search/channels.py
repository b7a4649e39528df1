"""Dynamic channel scaling (HSCoNAS, Luo et al., DATE 2021): for a candidate's operators, the
widths that maximise a proxy of accuracy while the fast phase (a latency predictor, a cost
model) says it still meets the latency target.

The space names its width tokens (:meth:`SearchSpace.width_tokens`, narrowest choice first:
the chain space's filters, the ibn space's width multipliers; NAS-Bench-201 has none, so there
is nothing to scale). The proxy is a registered function of the network's workload: ``macs``
(default: under a latency target, the most arithmetic the target affords) or ``weights``.
With at most ``exhaustive`` width combinations every one is a candidate, tried in decreasing
proxy until the first that meets the target; beyond that, a greedy ascent from the narrowest:
each step widens the one token whose widening meets the target with the most proxy per unit
of the metric's cost added (per second of latency). Fast-phase answers and proxies are memoised
per call.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from coexplore.core.shrinking import cost
from coexplore.registry import Registry
from coexplore.workloads.layer import Network

PROXIES: Registry[Callable[[Network], float]] = Registry("accuracy proxy")
PROXIES.register("macs", lambda network: float(network.macs))
PROXIES.register("weights", lambda network: float(network.weights))


@dataclass(frozen=True)
class Scaled:
    """The scaled tokens, whether they meet the target, their latency and proxy, and how many
    fast-phase queries it took."""

    tokens: tuple[int, ...]
    feasible: bool
    latency: float | None
    proxy: float
    queries: int


def scale_channels(
    evaluator: Any,
    tokens: list[int],
    metric: str,
    proxy: str = "macs",
    exhaustive: int = 256,
    limit: float | None = None,
) -> Scaled:
    """``tokens`` with their width tokens rescaled on ``evaluator`` (a
    :class:`~coexplore.core.evaluator.CandidateEvaluator`, whose fast phase alone it asks): the
    widest-by-proxy widths whose fast phase meets every spec (and ``metric`` within ``limit``,
    a stricter target, when given); the narrowest when none does."""
    space, coverage = evaluator.space, evaluator.coverage  # coverage: a partial table's rows
    software = len(evaluator.sw_choices)
    widths = {t: order for t, order in space.width_tokens().items() if t < len(tokens)}
    score = PROXIES.get(proxy)
    positions = sorted(widths)
    answers: dict[tuple[int, ...], tuple[bool, float | None]] = {}
    values: dict[tuple[int, ...], float] = {}

    def build(levels: tuple[int, ...]) -> list[int]:
        out = list(tokens)
        for t, level in zip(positions, levels, strict=True):
            out[t] = widths[t][level]
        return out

    def covered(levels: tuple[int, ...]) -> bool:
        return coverage is None or coverage.covers(build(levels)[:software])

    def fits(levels: tuple[int, ...]) -> tuple[bool, float | None]:
        if not covered(levels):  # a partial table has no answer for it
            return False, None
        if levels not in answers:
            fast = evaluator.fast_phase(evaluator.candidate(build(levels)))
            latency = None if fast is None or fast.metrics is None else fast.metrics.get(metric)
            ok = fast is None or not fast.failed_specs
            if ok and limit is not None:
                ok = cost(latency, metric) <= cost(limit, metric)
            answers[levels] = (ok, latency)  # the latency as reported
        return answers[levels]

    def value(levels: tuple[int, ...]) -> float:
        if levels not in values:
            arch = space.from_tokens(build(levels)[:software])
            values[levels] = score(evaluator.network(arch))
        return values[levels]

    def result(levels: tuple[int, ...]) -> Scaled:
        ok, latency = fits(levels)
        return Scaled(tuple(build(levels)), ok, latency, value(levels), len(answers))

    if not positions:
        return result(())
    narrowest = tuple(0 for _ in positions)
    if not covered(narrowest):  # a partial table: start from the tokens as they are
        narrowest = tuple(widths[t].index(tokens[t]) for t in positions)
    combos = math.prod(len(widths[t]) for t in positions)
    if combos <= exhaustive:
        grid = itertools.product(*(range(len(widths[t])) for t in positions))
        for levels in sorted(grid, key=lambda lv: (-value(lv), lv)):
            if fits(levels)[0]:
                return result(levels)
        return result(narrowest)
    levels = narrowest
    if not fits(levels)[0]:
        return result(levels)
    while True:
        base_value, base_latency = value(levels), cost(fits(levels)[1], metric)
        best: tuple[float, tuple[int, ...]] | None = None
        for i, t in enumerate(positions):
            if levels[i] + 1 >= len(widths[t]):
                continue
            trial = (*levels[:i], levels[i] + 1, *levels[i + 1 :])
            ok, latency = fits(trial)
            if not ok:
                continue
            gain = value(trial) - base_value
            added = cost(latency, metric) - base_latency
            rate = math.inf if not added > 0 else gain / added
            if best is None or (rate, gain) > (best[0], value(best[1]) - base_value):
                best = (rate, trial)
        if best is None:
            return result(levels)
        levels = best[1]
