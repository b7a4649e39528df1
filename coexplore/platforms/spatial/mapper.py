"""Mapping search for one layer on one template: random valid mappings, then local refinement.

The **map space** of a layer: every way to split each dim's extent into factors over the
template's slots (temporal at each level, spatial on each fan-out axis, where the dataflow
constraints allow the dim), a loop order per level, and keep/bypass choices at levels that
allow bypassing. :class:`MapSpace` samples it in batches (each prime factor of a dim goes to one
of its allowed slots), mutates mappings (one prime factor moved to another slot, two loops
swapped, one bypass flipped), and enumerates it exhaustively for small layers.
:func:`search_mappings` is the fast phase's mapper: a random start, then (μ + λ) refinement of
the best, all through the vectorised model, until the evaluation budget is spent.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from coexplore.config import ConfigError
from coexplore.platforms.spatial.arch import Template
from coexplore.platforms.spatial.mapping import KINDS, MappingBatch
from coexplore.platforms.spatial.model import BatchStats, evaluate_batch
from coexplore.workloads.problem import DIMS, TENSORS, Problem

OBJECTIVES = ("edp", "energy", "cycles")


@lru_cache(maxsize=4096)
def prime_factors(n: int) -> tuple[int, ...]:
    out, p = [], 2
    while p * p <= n:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    if n > 1:
        out.append(n)
    return tuple(out)


def objective_values(stats: BatchStats, objective: str) -> np.ndarray:
    """The value to minimise per mapping (inf for invalid ones)."""
    if objective == "edp":
        value = stats.energy_pj * stats.cycles
    elif objective == "energy":
        value = stats.energy_pj
    elif objective == "cycles":
        value = stats.cycles
    else:
        raise ConfigError("mapper", "objective", f"one of {list(OBJECTIVES)}", objective)
    return np.where(stats.valid, value, np.inf)


class MapSpace:
    """The mappings of ``problem`` on ``template`` that respect factors and dataflow rules."""

    def __init__(self, template: Template, problem: Problem) -> None:
        self.template, self.problem = template, problem
        # slots: (level, kind index in KINDS); a dim's allowed slots per the constraints
        self.slots = [
            (li, ki)
            for li, lv in enumerate(template.levels)
            for ki, kind in enumerate(KINDS)
            if kind == "temporal" or (lv.fanout_x if kind == "spatial_x" else lv.fanout_y) > 1
        ]
        self.allowed = []  # per dim: indices into self.slots
        for d, dim in enumerate(DIMS):
            ok = [
                s
                for s, (li, ki) in enumerate(self.slots)
                if dim in template.levels[li].allowed(KINDS[ki])
            ]
            if problem.dims[d] > 1 and not ok:
                raise ConfigError(
                    template.name, f"layer {problem.name}.{dim}",
                    f"a dim the template can map (no level may tile {dim}, extent "
                    f"{problem.dims[d]})",
                )  # fmt: skip
            self.allowed.append(np.array(ok, int))
        self.primes = [prime_factors(e) for e in problem.dims]
        self.bypass_levels = [li for li, lv in enumerate(template.levels) if lv.bypass and li > 0]

    def _put(self, batch: MappingBatch, d: int, slot: np.ndarray, factor: int) -> None:
        """Multiply dim ``d`` of row i's ``slot[i]`` by ``factor``, for every row."""
        rows = np.arange(len(batch))
        levels = np.array([li for li, _ in self.slots])[slot]
        kinds = np.array([ki for _, ki in self.slots])[slot]
        for ki, kind in enumerate(KINDS):
            sel = kinds == ki
            getattr(batch, kind)[rows[sel], levels[sel], d] *= factor

    def sample(self, n: int, rng: np.random.Generator) -> MappingBatch:
        """``n`` random mappings: every prime factor of every dim in a random allowed slot,
        random loop orders, random bypasses (valid factors and dataflow; capacity and fan-out
        are left to the model to check)."""
        batch = MappingBatch.ones(self.template, n)
        for d in range(len(DIMS)):
            for p in self.primes[d]:
                slot = self.allowed[d][rng.integers(len(self.allowed[d]), size=n)]
                self._put(batch, d, slot, p)
        batch.order = np.argsort(rng.random(batch.order.shape), axis=2)
        for li in self.bypass_levels:
            can = np.array([t in self.template.levels[li].keeps for t in TENSORS])
            batch.keep[:, li] = can & (rng.random((n, len(TENSORS))) < 0.5)
        return batch

    def mutate(self, parents: MappingBatch, rng: np.random.Generator) -> MappingBatch:
        """One child per parent: a prime factor moved (70%), two loops swapped (20%), or a
        bypass flipped (10%, where the template allows bypassing)."""
        child = parents.copy()
        n = len(child)
        what = rng.random(n)
        move = np.flatnonzero(what < 0.7)
        for i in move:  # scalar per child: cheap next to the batched model evaluation
            self._move_factor(child, int(i), rng)
        swap = np.flatnonzero((what >= 0.7) & (what < 0.9))
        if len(swap):
            level = rng.integers(len(self.template.levels), size=len(swap))
            a = rng.integers(len(DIMS), size=len(swap))
            b = rng.integers(len(DIMS), size=len(swap))
            va = child.order[swap, level, a].copy()
            child.order[swap, level, a] = child.order[swap, level, b]
            child.order[swap, level, b] = va
        flip = np.flatnonzero(what >= 0.9)
        if len(flip) and self.bypass_levels:
            level = np.array(self.bypass_levels)[
                rng.integers(len(self.bypass_levels), size=len(flip))
            ]
            tensor = rng.integers(len(TENSORS), size=len(flip))
            can = np.array([[t in lv.keeps for t in TENSORS] for lv in self.template.levels])
            ok = can[level, tensor]
            child.keep[flip[ok], level[ok], tensor[ok]] ^= True
        elif len(flip):
            for i in flip:
                self._move_factor(child, int(i), rng)
        return child

    def _move_factor(self, batch: MappingBatch, i: int, rng: np.random.Generator) -> None:
        movable = [d for d in range(len(DIMS)) if self.primes[d] and len(self.allowed[d]) > 1]
        if not movable:
            return
        d = movable[rng.integers(len(movable))]
        values = [int(getattr(batch, KINDS[ki])[i, li, d]) for li, ki in self.slots]
        sources = [s for s in self.allowed[d] if values[s] > 1]
        src = sources[rng.integers(len(sources))]
        p = prime_factors(values[src])[rng.integers(len(prime_factors(values[src])))]
        dst = self.allowed[d][rng.integers(len(self.allowed[d]))]
        (ls, ks), (ld, kd) = self.slots[src], self.slots[dst]
        getattr(batch, KINDS[ks])[i, ls, d] //= p
        getattr(batch, KINDS[kd])[i, ld, d] *= p

    def neighbours(self, one: MappingBatch) -> MappingBatch:
        """Every mapping one step from ``one`` (a batch of one): one prime factor of a dim moved
        to another allowed slot, two adjacent loops of a level swapped, one bypass flipped."""
        rows = []
        values = {kind: getattr(one, kind)[0] for kind in KINDS}
        for d in range(len(DIMS)):
            allowed = self.allowed[d]
            for src in allowed:
                ls, ks = self.slots[src]
                f = int(values[KINDS[ks]][ls, d])
                for p in sorted(set(prime_factors(f))) if f > 1 else ():
                    for dst in allowed:
                        if dst == src:
                            continue
                        ld, kd = self.slots[dst]
                        rows.append(("move", d, ls, ks, ld, kd, p))
        levels = len(self.template.levels)
        for li in range(levels):
            for j in range(len(DIMS) - 1):
                rows.append(("swap", li, j))
        for li in self.bypass_levels:
            for ti, t in enumerate(TENSORS):
                if t in self.template.levels[li].keeps:
                    rows.append(("flip", li, ti))
        out = MappingBatch.concat([one] * len(rows)) if rows else one.copy()
        for r, step in enumerate(rows):
            if step[0] == "move":
                _, d, ls, ks, ld, kd, p = step
                getattr(out, KINDS[ks])[r, ls, d] //= p
                getattr(out, KINDS[kd])[r, ld, d] *= p
            elif step[0] == "swap":
                _, li, j = step
                out.order[r, li, [j, j + 1]] = out.order[r, li, [j + 1, j]]
            else:
                _, li, ti = step
                out.keep[r, li, ti] = ~out.keep[r, li, ti]
        return out

    def enumerate(self, limit: int = 2_000_000) -> MappingBatch:
        """Every distinct mapping: all tilings, per level all orders of its loops with a factor
        > 1 (the order of factor-1 loops changes nothing), all bypass choices. Raises when
        there are more than ``limit``."""
        levels, dims = len(self.template.levels), len(DIMS)
        per_dim = [np.array(list(_factorizations(self.problem.dims[d], len(self.allowed[d]))),
                            dtype=np.int64).reshape(-1, len(self.allowed[d]))
                   for d in range(dims)]  # fmt: skip
        count = math.prod(len(f) for f in per_dim)
        if count > limit:
            raise ValueError(f"the map space has more than {limit} tilings")
        grids = np.meshgrid(*(np.arange(len(f)) for f in per_dim), indexing="ij")
        picks = [g.ravel() for g in grids]
        n = len(picks[0])
        tilings = MappingBatch.ones(self.template, n)
        for d in range(dims):
            for j, s in enumerate(self.allowed[d]):
                li, ki = self.slots[s]
                getattr(tilings, KINDS[ki])[:, li, d] *= per_dim[d][picks[d], j]
        looped = tilings.temporal > 1  # (n, L, D)
        signature = np.packbits(looped.reshape(n, -1), axis=1)
        _, group = np.unique(signature, axis=0, return_inverse=True)
        keeps = np.array(self._keep_choices())  # (k, L, 3)
        out: list[MappingBatch] = []
        total = 0
        for g in range(group.max() + 1):
            rows = np.flatnonzero(group.ravel() == g)
            ds = [np.flatnonzero(looped[rows[0], li]) for li in range(levels)]
            orders = list(itertools.product(*(itertools.permutations(x) for x in ds)))
            total += len(rows) * len(orders) * len(keeps)
            if total > limit:
                raise ValueError(f"the map space has more than {limit} mappings")
            order = np.empty((len(orders), levels, dims), np.int64)
            for o, per_level in enumerate(orders):
                for li, first in enumerate(per_level):
                    order[o, li] = [*first, *(d for d in range(dims) if d not in first)]
            reps = len(orders) * len(keeps)
            block = tilings.take(np.repeat(rows, reps))
            block.order = np.tile(np.repeat(order, len(keeps), axis=0), (len(rows), 1, 1))
            block.keep = np.tile(keeps, (len(rows) * len(orders), 1, 1))
            out.append(block)
        return MappingBatch.concat(out)

    def _keep_choices(self) -> list[np.ndarray]:
        can = np.array([[t in lv.keeps for t in TENSORS] for lv in self.template.levels])
        options = []
        for li in self.bypass_levels:
            kept = [ti for ti in range(len(TENSORS)) if can[li, ti]]
            options.append([(li, sub) for r in range(len(kept) + 1)
                            for sub in itertools.combinations(kept, r)])  # fmt: skip
        out = []
        for combo in itertools.product(*options):
            keep = can.copy()
            for li, sub in combo:
                keep[li] = [ti in sub for ti in range(len(TENSORS))]
            out.append(keep)
        return out


def _factorizations(n: int, k: int):
    """Ordered tuples of ``k`` positive integers whose product is ``n``."""
    if k == 1:
        yield (n,)
        return
    for f in range(1, n + 1):
        if n % f == 0:
            for rest in _factorizations(n // f, k - 1):
                yield (f, *rest)


@dataclass
class MapperResult:
    """The best mapping found, its model results, and what the search spent."""

    batch: MappingBatch  # the best mapping, a batch of one
    stats: BatchStats  # its results (batch of one)
    value: float  # the objective (inf: no valid mapping found)
    evaluations: int
    valid_evaluations: int

    @property
    def found(self) -> bool:
        return bool(np.isfinite(self.value))


def search_mappings(
    template: Template,
    problem: Problem,
    budget: int = 6000,
    rng: np.random.Generator | None = None,
    objective: str = "edp",
    start_fraction: float = 0.4,
    elite: int = 32,
    rounds: int = 8,
    climb_fraction: float = 0.3,
) -> MapperResult:
    """The best mapping of ``problem`` in ``budget`` model evaluations.

    ``start_fraction`` of the budget goes to random mappings, then rounds of mutating the
    ``elite`` best (μ + λ), and the last ``climb_fraction`` to steepest descent from the best
    (all :meth:`MapSpace.neighbours` of the current mapping per step, until none is better or
    the budget is spent). Deterministic for a given ``rng`` seed.
    """
    if budget < 2:
        raise ConfigError("mapper", "budget", "an integer >= 2", budget)
    rng = np.random.default_rng(0) if rng is None else rng
    space = MapSpace(template, problem)
    start = max(1, int(budget * start_fraction))
    pool = space.sample(start, rng)
    stats = evaluate_batch(template, problem, pool)
    values = objective_values(stats, objective)
    spent, valid = start, int(stats.valid.sum())
    climb = int(budget * climb_fraction)
    rounds_left = budget - start - climb
    per_round = max(elite, -(-rounds_left // rounds)) if rounds_left else 0
    while rounds_left > 0:
        k = min(per_round, rounds_left)
        best = np.argsort(values)[:elite]
        best = best[np.isfinite(values[best])]
        if len(best) == 0:
            children = space.sample(k, rng)
        else:
            children = space.mutate(pool.take(best[rng.integers(len(best), size=k)]), rng)
        cstats = evaluate_batch(template, problem, children)
        cvalues = objective_values(cstats, objective)
        spent, valid, rounds_left = spent + k, valid + int(cstats.valid.sum()), rounds_left - k
        keep = np.argsort(values)[: elite * 4]
        pool = MappingBatch.concat([pool.take(keep), children])
        values = np.concatenate([values[keep], cvalues])
    i = int(np.argmin(values))
    best_batch, best_value = pool.take([i]), float(values[i])
    climb += max(0, rounds_left)
    while climb > 0 and np.isfinite(best_value):
        near = space.neighbours(best_batch)
        near = near.take(slice(0, climb))
        nstats = evaluate_batch(template, problem, near)
        nvalues = objective_values(nstats, objective)
        spent, valid, climb = spent + len(near), valid + int(nstats.valid.sum()), climb - len(near)
        j = int(np.argmin(nvalues))
        if not nvalues[j] < best_value * (1 - 1e-12):
            break
        best_batch, best_value = near.take([j]), float(nvalues[j])
    return MapperResult(
        batch=best_batch,
        stats=evaluate_batch(template, problem, best_batch),
        value=best_value,
        evaluations=spent,
        valid_evaluations=valid,
    )


__all__ = ["OBJECTIVES", "MapSpace", "MapperResult", "objective_values", "search_mappings"]
