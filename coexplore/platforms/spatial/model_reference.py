"""A line-by-line, one-mapping-at-a-time transcription of the spatial cost model.

It exists for two reasons: it is the oracle the vectorised model in :mod:`model` is tested
against (two independent codings of the rules in that module's docstring must agree on every
mapping), and it is the scalar baseline ``bench/bench_spatial.py`` measures the vectorised model
against. It is plain Python on ints: no numpy in the computation. Library code uses
:func:`coexplore.platforms.spatial.model.evaluate_batch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import inf, prod

from coexplore.config import ConfigError
from coexplore.platforms.spatial.arch import Template
from coexplore.platforms.spatial.mapping import KINDS, LevelMapping, Mapping, MappingBatch
from coexplore.platforms.spatial.model import RULES
from coexplore.workloads.problem import DEPENDS, DIMS, TENSORS, Problem

R, S, P, Q, C, M, N, G = range(len(DIMS))
WEIGHTS, INPUTS, OUTPUTS = range(len(TENSORS))
# Per tensor, per dim: does the tensor's index depend on the dim?
DEPENDS_ON = tuple(tuple(d in DEPENDS[t] for d in DIMS) for t in TENSORS)


@dataclass(frozen=True)
class LoopNest:
    """One mapping as plain ints, levels outer to inner, dims as :data:`DIMS`.

    ``temporal``, ``spatial_x``, ``spatial_y``: per level the factor of every dim; ``order``:
    per level the dims of its temporal loops, outer to inner; ``keep``: per level, per tensor
    of :data:`TENSORS`, whether the level holds it.
    """

    temporal: tuple[tuple[int, ...], ...]
    spatial_x: tuple[tuple[int, ...], ...]
    spatial_y: tuple[tuple[int, ...], ...]
    order: tuple[tuple[int, ...], ...]
    keep: tuple[tuple[bool, ...], ...]

    @classmethod
    def of_row(cls, batch: MappingBatch, i: int) -> LoopNest:
        """Row ``i`` of a batch, read out as Python ints."""

        def rows(a) -> tuple[tuple, ...]:
            return tuple(tuple(level) for level in a[i].tolist())

        return cls(
            temporal=rows(batch.temporal),
            spatial_x=rows(batch.spatial_x),
            spatial_y=rows(batch.spatial_y),
            order=rows(batch.order),
            keep=rows(batch.keep),
        )

    @classmethod
    def of_mapping(cls, template: Template, mapping: Mapping) -> LoopNest:
        """A :class:`Mapping`'s level dicts (levels not named: factor 1, default keeps)."""
        names = [lv.name for lv in template.levels]
        for name in mapping.levels:
            if name not in names:
                raise ConfigError(template.name, f"mapping.{name}", f"a level of {names}")
        parts: dict[str, list] = {kind: [] for kind in (*KINDS, "order", "keep")}
        for level in template.levels:
            lm = mapping.levels.get(level.name, LevelMapping())
            for kind in KINDS:
                factors = getattr(lm, kind)
                parts[kind].append(tuple(factors.get(dim, 1) for dim in DIMS))
            listed = [DIMS.index(dim) for dim in lm.temporal]  # loop order, outer to inner
            parts["order"].append(tuple(listed + [d for d in range(len(DIMS)) if d not in listed]))
            kept = level.keeps if lm.keep is None else lm.keep
            parts["keep"].append(tuple(t in kept for t in TENSORS))
        return cls(**{k: tuple(v) for k, v in parts.items()})


@dataclass(frozen=True)
class ReferenceResult:
    """One mapping's results; per level outer to inner, per tensor as :data:`TENSORS`.

    Access counts are totals over a level's used instances; tiles and fills are per instance.
    """

    broken: tuple[str, ...]  # the rules of model.RULES the mapping breaks, in that order
    tiles: tuple[tuple[int, ...], ...]  # words per instance
    used_words: tuple[int, ...]  # words of the kept tiles per instance
    instances: tuple[int, ...]  # used instances per level, then the MAC units used
    fills: tuple[tuple[int, ...], ...]  # per instance (outputs: tile entries, drained once each)
    reads: tuple[tuple[int, ...], ...]
    writes: tuple[tuple[int, ...], ...]  # fills and updates
    updates: tuple[int, ...]  # output updates arriving at the level
    compute_cycles: int
    cycles: float
    level_energy_pj: tuple[float, ...]
    mac_energy_pj: float

    @property
    def valid(self) -> bool:
        return not self.broken

    @property
    def energy_pj(self) -> float:
        return sum(self.level_energy_pj) + self.mac_energy_pj

    @property
    def edp(self) -> float:
        """Energy × cycles in J·cycle; NaN for an invalid mapping."""
        return self.energy_pj * 1e-12 * self.cycles if self.valid else float("nan")


def footprint(tensor: int, e: list[int], stride_h: int, stride_w: int) -> int:
    """Elements of ``tensor`` an extent ``e[d]`` of every dim touches (inputs with the halo)."""
    if tensor == WEIGHTS:
        return e[R] * e[S] * e[C] * e[M] * e[G]
    if tensor == OUTPUTS:
        return e[P] * e[Q] * e[M] * e[N] * e[G]
    height = (e[P] - 1) * stride_h + e[R]
    width = (e[Q] - 1) * stride_w + e[S]
    return e[C] * e[N] * e[G] * height * width


def _stationary_fills(loops_inner_first: list[tuple[int, int]], tensor: int) -> int:
    """Tile refetches: the product of the loops above a level, skipping the innermost run of
    loops the tensor does not depend on (factor-1 loops are no loops)."""
    count, started = 1, False
    for dim, factor in loops_inner_first:
        if not started and factor > 1 and DEPENDS_ON[tensor][dim]:
            started = True
        if started:
            count *= factor
    return count


def evaluate_reference(
    template: Template, problem: Problem, mapping: Mapping | MappingBatch | LoopNest, i: int = 0
) -> ReferenceResult:
    """Tiles, accesses, cycles, energy and broken rules of one mapping (row ``i`` of a batch)."""
    if isinstance(mapping, Mapping):
        nest = LoopNest.of_mapping(template, mapping)
    elif isinstance(mapping, MappingBatch):
        nest = LoopNest.of_row(mapping, i)
    else:
        nest = mapping
    levels = template.levels
    L, D = len(levels), len(DIMS)
    sh, sw = problem.stride_h, problem.stride_w
    T = nest.temporal
    spatial = [[nest.spatial_x[li][d] * nest.spatial_y[li][d] for d in range(D)] for li in range(L)]

    # Used instances: a level has one instance per combination of the spatial factors above it.
    instances = [1]
    for li in range(L):
        instances.append(instances[li] * prod(spatial[li]))
    macs_units = instances[L]
    compute_cycles = prod(prod(T[li]) for li in range(L))
    macs = compute_cycles * macs_units  # every MAC unit works every compute cycle

    # Tiles: the footprint of the extents at and below the level (temporal at the level and
    # inward, spatial of the level's own fan-out and inward).
    tiles = [[0, 0, 0] for _ in range(L)]
    extent = [1] * D
    for li in range(L - 1, -1, -1):
        extent = [extent[d] * T[li][d] * spatial[li][d] for d in range(D)]
        for t in range(3):
            tiles[li][t] = footprint(t, extent, sh, sw)
    used_words = [sum(tiles[li][t] for t in range(3) if nest.keep[li][t]) for li in range(L)]

    # Fills per instance: the tile times the temporal loops above the level, less the
    # innermost run the tensor does not depend on (the tile stays: stationarity).
    fills = [[0, 0, 0] for _ in range(L)]
    above: list[tuple[int, int]] = []  # the loops above level li, innermost first
    for li in range(L):
        for t in range(3):
            fills[li][t] = tiles[li][t] * _stationary_fills(above, t)
        above = [(d, T[li][d]) for d in reversed(nest.order[li])] + above

    # Distinct outputs one instance of a level sees over the run: every temporal factor of an
    # output dim (the instance iterates over them), the spatial ones at and below the level.
    total_temporal = [prod(T[li][d] for li in range(L)) for d in range(D)]
    distinct = []
    for li in range(L):
        seen = [total_temporal[d] * prod(spatial[j][d] for j in range(li, L)) for d in range(D)]
        distinct.append(footprint(OUTPUTS, seen, sh, sw))

    def unshared(tensor: int, upper: int, lower: int) -> int:
        """Spatial factors of levels upper..lower-1 on dims ``tensor`` does not depend on:
        that many child instances receive the same data (multicast) or send partial sums of
        the same outputs (spatial reduction)."""
        return prod(
            spatial[j][d]
            for j in range(upper, lower)
            for d in range(D)
            if not DEPENDS_ON[tensor][d]
        )

    reads = [[0, 0, 0] for _ in range(L)]
    writes = [[0, 0, 0] for _ in range(L)]
    updates = [0] * L

    # Weights and inputs flow down: a parent (the next level inward that keeps the tensor is its
    # child; the MACs after the innermost) reads what its child instances fill, once per group
    # of children that multicast shares. The outermost level is never filled.
    for t in (WEIGHTS, INPUTS):
        kept = [li for li in range(L) if nest.keep[li][t]]
        for k, parent in enumerate(kept):
            child = kept[k + 1] if k + 1 < len(kept) else L
            per_child = compute_cycles if child == L else fills[child][t]  # MACs: 1 per cycle
            reads[parent][t] = per_child * (instances[child] // unshared(t, parent, child))
            if parent > 0:
                writes[parent][t] = fills[parent][t] * instances[parent]

    # Outputs flow up: a child drains every tile entry to its parent once (MACs: one update per
    # cycle), children that reduce spatially into the same outputs count once. Each update is a
    # read-modify-write except the first of every output an instance sees; an entry beyond
    # those first ones was drained earlier and is refilled: written from the parent, which reads
    # it for that. The outermost level holds every output once: nothing to drain or refill.
    kept = [li for li in range(L) if nest.keep[li][OUTPUTS]]
    entries = [fills[li][OUTPUTS] if li > 0 else distinct[li] for li in range(L)]
    refills = [entries[li] - distinct[li] for li in range(L)]  # per instance
    for k, parent in enumerate(kept):
        child = kept[k + 1] if k + 1 < len(kept) else L
        groups = instances[child] // unshared(OUTPUTS, parent, child)
        updates[parent] = (compute_cycles if child == L else entries[child]) * groups
        child_refills = 0 if child == L else refills[child] * groups
        first = distinct[parent] * instances[parent]
        reads[parent][OUTPUTS] = updates[parent] - first + child_refills
        writes[parent][OUTPUTS] = updates[parent] + refills[parent] * instances[parent]

    # Cycles: the temporal loops, unless a level's bandwidth (per used instance) is slower.
    cycles: float = compute_cycles
    for li, level in enumerate(levels):
        read_bw = inf if level.read_bw is None else level.read_bw
        write_bw = inf if level.write_bw is None else level.write_bw
        cycles = max(
            cycles,
            sum(reads[li]) / instances[li] / read_bw,
            sum(writes[li]) / instances[li] / write_bw,
        )

    # Energy: block accesses × energy per access, leakage of the used instances every cycle.
    level_energy = []
    for li, level in enumerate(levels):
        level_energy.append(
            sum(reads[li]) / level.block_words * level.read_pj
            + sum(writes[li]) / level.block_words * level.write_pj
            + level.leak_pj * instances[li] * cycles
        )
    mac_energy = macs * template.mac.energy_pj + template.mac.leak_pj * macs_units * cycles

    broken = _broken(template, problem, nest, used_words)
    return ReferenceResult(
        broken=broken,
        tiles=tuple(tuple(x) for x in tiles),
        used_words=tuple(used_words),
        instances=tuple(instances),
        fills=tuple(tuple(x) for x in fills),
        reads=tuple(tuple(x) for x in reads),
        writes=tuple(tuple(x) for x in writes),
        updates=tuple(updates),
        compute_cycles=compute_cycles,
        cycles=float(cycles),
        level_energy_pj=tuple(level_energy),
        mac_energy_pj=mac_energy,
    )


def _broken(
    template: Template, problem: Problem, nest: LoopNest, used_words: list[int]
) -> tuple[str, ...]:
    """The rules of :data:`model.RULES` the mapping breaks."""
    levels = template.levels
    broken = set()
    for d in range(len(DIMS)):
        got = 1
        for li in range(len(levels)):
            got *= nest.temporal[li][d] * nest.spatial_x[li][d] * nest.spatial_y[li][d]
        if got != problem.dims[d]:
            broken.add("factors")
    for li, level in enumerate(levels):
        if prod(nest.spatial_x[li]) > level.fanout_x or prod(nest.spatial_y[li]) > level.fanout_y:
            broken.add("fanout")
        if level.size_words is not None and used_words[li] > level.size_words:
            broken.add("capacity")
        for kind, factors in zip(
            KINDS, (nest.temporal, nest.spatial_x, nest.spatial_y), strict=True
        ):
            allowed = level.allowed(kind)
            if any(f > 1 and DIMS[d] not in allowed for d, f in enumerate(factors[li])):
                broken.add("dataflow")
        for t, tensor in enumerate(TENSORS):
            keeps = tensor in level.keeps
            if nest.keep[li][t] and not keeps:
                broken.add("keep")  # the level cannot hold the tensor
            if not level.bypass and nest.keep[li][t] != keeps:
                broken.add("keep")  # the level cannot bypass the tensor
    return tuple(rule for rule in RULES if rule in broken)


__all__ = ["LoopNest", "ReferenceResult", "evaluate_reference", "footprint"]
