"""The exact stage tuner: the optimum design of every layer range of a network on a part, at once.

A pipeline partitioner asks for the best engine of many stages: every contiguous layer range
(a, b) on every part. Enumerating each stage's space separately (``reference``) costs
``ranges × designs × layers``. This solver gets the same optima by structure and bounds
(docs/fpga-model.md#exact-tuning):

1. **One space per part.** The tile sizes worth trying for the whole network contain those of
   every range; a design outside a range's own space is matched or beaten on every layer of the
   range by the design with each tile size rounded down into it, which also comes first in the
   tie-break order. So one grid serves every range, and the optima do not change.
2. **Per-layer terms, ranges by prefix sums.** A stage's cycles and DRAM traffic are sums over
   its layers for one shared design; its buffers are as deep as the largest tile over its
   layers. Identical layers are computed once; cumulative sums over the layers and range maxima
   give every range's totals as array operations.
3. **Bound, then solve exactly.** The ports enter only the load/store times, and cycles never
   increase with a wider port, so a tiling's cycles with every port at its widest split share
   bound all its splits from below (and its energy with them). Per range the best bound gives
   an incumbent; only tilings whose bound does not exceed it are solved with every split.

Ties follow the reference exactly: least cycles, then least energy, then the first design in
the space's lexicographic order (Tm, Tn, Tr, Tc, Ib, Wb). The frugal query (least energy within
a cycle budget, the pipeline's tie-break for non-bottleneck stages) is bounded the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coexplore.platforms.fpga_pipeline.engine import (
    LayerTable,
    bank_blocks,
    bram_blocks,
    bram_from_banks,
    busy_power_w,
    dynamic_energy_j,
    tile_depths,
    tile_terms,
    weight_depth,
)
from coexplore.platforms.fpga_pipeline.parts import FPGAPart
from coexplore.platforms.fpga_pipeline.precision import Precision
from coexplore.platforms.fpga_pipeline.tuning.front import StageFront, empty_front, pareto
from coexplore.platforms.fpga_pipeline.tuning.space import DEFAULT_PORT_QUANTA, StageProblem
from coexplore.workloads.layer import Layer

NO_DESIGN = np.iinfo(np.int64).max
RANGE_CELLS = 1 << 20  # (tiling, range) cells per batch: bounded memory, cache-friendly


@dataclass(frozen=True)
class Choice:
    """One design chosen for a stage: its row (:data:`~..engine.DESIGN_FIELDS`), cycles, energy."""

    design: np.ndarray
    cycles: int
    energy_j: float


def distinct_layers(layers: tuple[Layer, ...]) -> tuple[list[Layer], np.ndarray]:
    """The layers whose engine terms differ (names aside), and each layer's index among them."""
    seen: dict[tuple, int] = {}
    firsts: list[Layer] = []
    index = []
    for ly in layers:
        key = (ly.kind, ly.in_channels, ly.out_channels, ly.out_h, ly.out_w)
        key += (ly.kernel, ly.stride, ly.groups)
        if key not in seen:
            seen[key] = len(firsts)
            firsts.append(ly)
        index.append(seen[key])
    return firsts, np.array(index, dtype=np.int64)


def useful_sizes_mask(values: np.ndarray, dims: np.ndarray) -> np.ndarray:
    """``(V, D)``: whether each tile size is a useful one, ``⌈d/k⌉`` for some k, of each
    dimension d (:func:`~.space.useful_tile_sizes`): exactly when ``v <= d`` and
    ``⌈d/⌈d/v⌉⌉ == v``."""
    v, d = values[:, None], dims[None, :]
    return (v <= d) & (-(-d // -(-d // v)) == v)


class RangeMax:
    """Maxima of the rows of a ``(K, L)`` array over column ranges ``[a, b)`` (a sparse table)."""

    def __init__(self, values: np.ndarray) -> None:
        self.levels = [values]
        width = 1
        while 2 * width <= values.shape[1]:
            prev = self.levels[-1]
            self.levels.append(np.maximum(prev[:, :-width], prev[:, width:]))
            width *= 2

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``(K, R)`` maxima over the ranges ``[a[r], b[r])``."""
        j = np.floor(np.log2(b - a)).astype(np.int64)
        out = np.empty((self.levels[0].shape[0], len(a)), dtype=self.levels[0].dtype)
        for level in np.unique(j):
            sel = j == level
            table = self.levels[level]
            out[:, sel] = np.maximum(table[:, a[sel]], table[:, b[sel] - (1 << level)])
        return out


@dataclass
class RangeBatch:
    """Bounds of every tiling on a batch of ranges: ``(T, R)`` arrays."""

    a: np.ndarray
    b: np.ndarray
    lb_cycles: np.ndarray
    bram: np.ndarray
    valid: np.ndarray
    dram_bits: np.ndarray


class PartSolver:
    """Exact stage optima of one network's layer ranges on one part (see the module doc)."""

    def __init__(
        self,
        layers: tuple[Layer, ...],
        part: FPGAPart,
        precision: Precision,
        *,
        square_tiles: bool = True,
        port_quanta: int = DEFAULT_PORT_QUANTA,
    ) -> None:
        shapes, self.layer_shape = distinct_layers(tuple(layers))
        space = StageProblem(
            tuple(shapes), part, precision, square_tiles=square_tiles, port_quanta=port_quanta
        )
        self.part, self.precision, self.splits = part, precision, space.splits
        self.num_layers = len(layers)
        table: LayerTable = space.table
        grid = space.grid
        sides, side_of = np.unique(grid[:, 2:4], axis=0, return_inverse=True)
        depth_in, depth_out = tile_depths(table, sides)  # (sides, shapes)
        depth_w = weight_depth(table)
        # A tiling that overflows the BRAM on every single layer fits no range.
        alone = bram_blocks(
            grid[:, :1], grid[:, 1:2], depth_in[side_of], depth_out[side_of], depth_w, precision
        )
        keep = (alone <= part.bram18k).any(axis=1)
        self.tilings, self.side_of = grid[keep], side_of.reshape(-1)[keep]
        self.terms = tile_terms(table, self.tilings, precision)  # (T, shapes)
        widest = self.splits.max(axis=0)
        bound = self.terms.cycles(*widest)
        self.cum_bound = self._cumulative(bound)
        self.cum_dram = self._cumulative(self.terms.dram_bits)
        self.depth_in = RangeMax(depth_in[:, self.layer_shape])
        self.depth_out = RangeMax(depth_out[:, self.layer_shape])
        self.depth_w = RangeMax(np.broadcast_to(depth_w, (1, len(shapes)))[:, self.layer_shape])
        self.dsp = self.tilings[:, 0] * self.tilings[:, 1] * precision.dsp_per_mac
        # Which tile sizes are in each range's own space: running counts of the layers that
        # make a value useful, per tiling column.
        dims = {"m": table.m[0], "n": table.n[0], "r": table.r[0], "c": table.c[0]}
        if square_tiles:
            dims["r"] = dims["c"] = np.stack([dims["r"], dims["c"]])
        self.members = [
            self._membership(self.tilings[:, j], dims[name]) for j, name in enumerate("mnrc")
        ]
        self.evaluations = 0
        self._batch: tuple[tuple[bytes, bytes], RangeBatch] | None = None
        self.solved: dict[tuple[int, int], Choice | None] = {}

    def _membership(self, values: np.ndarray, dims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(index of each tiling's value among the distinct ones, running count over the
        layers of those that have it among their useful tile sizes): ``(V, L + 1)``."""
        distinct, index = np.unique(values, return_inverse=True)
        useful = np.zeros((len(distinct), np.atleast_2d(dims).shape[1]), dtype=bool)
        for row in np.atleast_2d(dims):  # the dimensions a tile size serves (R and C if square)
            useful |= useful_sizes_mask(distinct, row)
        return index.reshape(-1), self._cumulative(useful.astype(np.int64))

    def _in_space(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``(T, R)``: whether each tiling is in each range's own space (the reference's)."""
        inside = np.ones((len(self.tilings), len(a)), dtype=bool)
        for index, counts in self.members:
            inside &= ((counts[:, b] - counts[:, a]) > 0)[index]
        return inside

    def _cumulative(self, per_shape: np.ndarray) -> np.ndarray:
        """``(..., L + 1)`` running sums over the layers of a ``(..., shapes)`` array."""
        per_layer = per_shape[..., self.layer_shape]
        out = np.zeros((*per_layer.shape[:-1], self.num_layers + 1), dtype=np.int64)
        np.cumsum(per_layer, axis=-1, out=out[..., 1:])
        return out

    def bounds(self, a: np.ndarray, b: np.ndarray) -> RangeBatch:
        """Cycle bounds, BRAM use and validity of every tiling on the ranges ``[a, b)``."""
        key = (a.tobytes(), b.tobytes())
        if self._batch is not None and self._batch[0] == key:
            return self._batch[1]
        act, weight = self.precision.act_bits, self.precision.weight_bits
        bram = bram_from_banks(
            self.tilings[:, :1],
            self.tilings[:, 1:2],
            bank_blocks(self.depth_in(a, b), act)[self.side_of],
            bank_blocks(self.depth_out(a, b), act)[self.side_of],
            bank_blocks(self.depth_w(a, b), weight),
        )
        self.evaluations += bram.size
        batch = RangeBatch(
            a=a,
            b=b,
            lb_cycles=self.cum_bound[:, b] - self.cum_bound[:, a],
            bram=bram,
            valid=(bram <= self.part.bram18k) & self._in_space(a, b),
            dram_bits=self.cum_dram[:, b] - self.cum_dram[:, a],
        )
        self._batch = (key, batch)
        return batch

    def solve(self, batch: RangeBatch, tiling: np.ndarray, rng: np.ndarray):
        """Exact (cycles, energy) of tilings ``tiling[p]`` on ranges ``rng[p]`` of ``batch``
        with every port split: two ``(P, splits)`` arrays."""
        used, inv = np.unique(tiling, return_inverse=True)
        ports = [self.splits[None, :, j, None] for j in range(3)]
        cycles = self.terms.map(lambda x: x[used][:, None, :]).cycles(*ports)
        cum = self._cumulative(cycles)  # (U, splits, L + 1)
        cols = np.arange(len(self.splits))[None, :]
        a, b = batch.a[rng][:, None], batch.b[rng][:, None]
        cyc = cum[inv[:, None], cols, b] - cum[inv[:, None], cols, a]
        busy = busy_power_w(self.dsp[tiling], batch.bram[tiling, rng], self.part)[:, None]
        dram = batch.dram_bits[tiling, rng][:, None]
        energy = dynamic_energy_j(busy, cyc, dram, self.part)
        self.evaluations += cyc.size
        return cyc, energy

    def energy_bound(self, batch: RangeBatch, tiling: np.ndarray, rng: np.ndarray) -> np.ndarray:
        """A lower bound on the energy of tilings ``tiling[p]`` on ranges ``rng[p]``: their
        cycle bound at their power and DRAM traffic (energy only grows with cycles)."""
        busy = busy_power_w(self.dsp[tiling], batch.bram[tiling, rng], self.part)
        return dynamic_energy_j(
            busy, batch.lb_cycles[tiling, rng], batch.dram_bits[tiling, rng], self.part
        )

    def _pick(self, tiling, rng, cycles, energy, n_ranges: int, *, frugal: bool, ok=None):
        """Per range, the best of the solved (tiling, split) designs by (cycles, energy,
        order), or with ``frugal`` by (energy, cycles, order) among the ``ok`` ones."""
        first_key, second_key = (energy, cycles) if frugal else (cycles, energy)
        if ok is not None:
            first_key = np.where(ok, first_key, np.inf)
        # Per pair: the best split (splits are in design order, so argmax takes the first tie).
        tied = first_key == first_key.min(axis=1, keepdims=True)
        second = np.where(tied, second_key, np.inf)
        split = np.argmax(tied & (second == second.min(axis=1, keepdims=True)), axis=1)
        pair = np.arange(len(tiling))
        k1, k2 = first_key[pair, split], second_key[pair, split]
        # Per range: the best pair (tilings are in design order too).
        pair = pair[np.isfinite(k1)] if ok is not None else pair
        order = pair[np.lexsort((tiling[pair], k2[pair], k1[pair], rng[pair]))]
        heads = order[np.r_[True, rng[order][1:] != rng[order][:-1]]] if len(order) else order
        out: list[Choice | None] = [None] * n_ranges
        for p in heads.tolist():
            s = split[p]
            design = np.concatenate([self.tilings[tiling[p]], self.splits[s]])
            out[rng[p]] = Choice(design, int(cycles[p, s]), float(energy[p, s]))
        return out

    def _chunks(self, n: int) -> list[slice]:
        """Range batches of at most :data:`RANGE_CELLS` (tiling, range) cells each."""
        step = max(1, RANGE_CELLS // max(1, len(self.tilings)))
        return [slice(i, i + step) for i in range(0, n, step)]

    def fastest(self, a: np.ndarray, b: np.ndarray) -> list[Choice | None]:
        """The fastest valid design of every range ``[a[r], b[r])`` (None where nothing fits)."""
        todo = [(int(x), int(y)) for x, y in zip(a, b, strict=True) if (x, y) not in self.solved]
        if todo and len(self.tilings) == 0:
            self.solved.update(dict.fromkeys(todo))
        elif todo:
            ta, tb = (np.array(v, dtype=np.int64) for v in zip(*todo, strict=True))
            for chunk in self._chunks(len(todo)):
                best = self._fastest(self.bounds(ta[chunk], tb[chunk]))
                self.solved.update(zip(todo[chunk], best, strict=True))
        return [self.solved[(int(x), int(y))] for x, y in zip(a, b, strict=True)]

    def _fastest(self, batch: RangeBatch) -> list[Choice | None]:
        n = len(batch.a)
        bound = np.where(batch.valid, batch.lb_cycles, NO_DESIGN)
        first = bound.argmin(axis=0)
        ranges = np.flatnonzero(bound[first, np.arange(n)] < NO_DESIGN)
        # The incumbent: the best split of the tiling with the best bound.
        inc_c, inc_e = np.full(n, NO_DESIGN), np.full(n, np.inf)
        if len(ranges):
            cyc, energy = self.solve(batch, first[ranges], ranges)
            inc_c[ranges] = cyc.min(axis=1)
            inc_e[ranges] = np.where(cyc == inc_c[ranges, None], energy, np.inf).min(axis=1)
        # A tiling can win only with a bound below the incumbent's cycles, or equal to them
        # with an energy bound not above the incumbent's energy.
        ahead = batch.valid & (bound < inc_c[None, :])
        t_tie, r_tie = np.nonzero(batch.valid & (bound == inc_c[None, :]))
        tie_ok = self.energy_bound(batch, t_tie, r_tie) <= inc_e[r_tie]
        ahead[t_tie[tie_ok], r_tie[tie_ok]] = True
        tiling, rng = np.nonzero(ahead)
        cyc, energy = self.solve(batch, tiling, rng)
        return self._pick(tiling, rng, cyc, energy, n, frugal=False)

    def frugal(self, a: np.ndarray, b: np.ndarray, max_cycles: float) -> list[Choice | None]:
        """The least-energy valid design of every range taking at most ``max_cycles`` (with the
        reference's relative tolerance of 1e-12); ties: fewer cycles, then design order."""
        limit = max_cycles * (1 + 1e-12)
        fast = self.fastest(a, b)
        out: list[Choice | None] = [None] * len(a)
        live = np.array(
            [r for r, f in enumerate(fast) if f is not None and f.cycles <= limit], dtype=np.int64
        )
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        for chunk in self._chunks(len(live)):
            idx = live[chunk]
            incumbent = np.array([fast[r].energy_j for r in idx])
            best = self._frugal(self.bounds(a[idx], b[idx]), limit, incumbent)
            for r, choice in zip(idx.tolist(), best, strict=True):
                out[r] = choice
        return out

    def _frugal(self, batch: RangeBatch, limit: float, incumbent: np.ndarray):
        busy = busy_power_w(self.dsp[:, None], batch.bram, self.part)
        bound_e = dynamic_energy_j(busy, batch.lb_cycles, batch.dram_bits, self.part)
        feasible = batch.valid & (batch.lb_cycles <= limit)
        # A better incumbent first: the tiling of least bound energy, solved exactly.
        lowest = np.where(feasible, bound_e, np.inf).argmin(axis=0)
        cyc, energy = self.solve(batch, lowest, np.arange(len(batch.a)))
        incumbent = np.minimum(incumbent, np.where(cyc <= limit, energy, np.inf).min(axis=1))
        tiling, rng = np.nonzero(feasible & (bound_e <= incumbent[None, :]))
        cyc, energy = self.solve(batch, tiling, rng)
        return self._pick(tiling, rng, cyc, energy, len(batch.a), frugal=True, ok=cyc <= limit)

    def front(self, a: int, b: int) -> StageFront:
        """The exact (cycles, energy) Pareto front of the valid designs of range ``[a, b)``."""
        before = self.evaluations
        batch = self.bounds(np.array([a]), np.array([b]))
        fastest = self.fastest(np.array([a]), np.array([b]))[0]
        if fastest is None:
            return empty_front(0)
        lb_c = batch.lb_cycles[:, 0]
        everyone = np.arange(len(self.tilings))
        lb_e = self.energy_bound(batch, everyone, np.zeros_like(everyone))
        tiling = np.flatnonzero(batch.valid[:, 0] & (lb_c <= fastest.cycles))
        front = self._front_of(batch, tiling)
        # A tiling can add a point only where its bound is not beaten by the front so far.
        i = np.searchsorted(front.cycles, lb_c, side="right") - 1
        e_before = np.where(i >= 0, front.energy_j[np.maximum(i, 0)], np.inf)
        c_before = np.where(i >= 0, front.cycles[np.maximum(i, 0)], 0)
        beaten = (e_before < lb_e) | ((e_before == lb_e) & (c_before < lb_c))
        more = np.flatnonzero(batch.valid[:, 0] & ~beaten)
        front = self._front_of(batch, np.union1d(tiling, more))
        return StageFront(front.designs, front.cycles, front.energy_j, self.evaluations - before)

    def _front_of(self, batch: RangeBatch, tiling: np.ndarray) -> StageFront:
        cyc, energy = self.solve(batch, tiling, np.zeros(len(tiling), dtype=np.int64))
        rows = np.concatenate(
            [
                np.repeat(self.tilings[tiling], len(self.splits), axis=0),
                np.tile(self.splits, (len(tiling), 1)),
            ],
            axis=1,
        )
        return pareto(rows, cyc.ravel(), energy.ravel(), 0)
