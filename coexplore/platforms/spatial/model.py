"""The analytical cost model of a mapping on a spatial template, vectorised over many mappings.

Access counts follow Timeloop's analytical model (Parashar et al., ISPASS 2019), as checked
against the ``eyeriss_like`` reference run (``docs/spatial.md``):

- the **tile** of a tensor at a level is its footprint under the factors at and below the level
  (temporal, and spatial of the level's own fan-out); inputs have the halo (P−1)·stride + R;
- **fills** of a level (per instance) = tile × the temporal factors above it, except the innermost
  run of loops above it that the tensor does not depend on (the tile stays: *stationarity*);
- a parent's **reads** = its children's fills, over all child instances, divided by the spatial
  factors between them that the tensor does not depend on (*multicast*); outputs go up as
  **updates**, divided the same way (*spatial reduction*), and a level's output reads are its
  updates less the outputs each instance sees (the first update of an output reads nothing);
  an output tile that leaves and comes back is refilled from the parent;
- **cycles** = max(product of the temporal factors, max over levels of accesses / bandwidth);
- **energy** = Σ block accesses × energy per access + MACs × MAC energy + leakage × used
  instances × cycles; **EDP** = energy × cycles.

Validity: the factors of every dim multiply to its extent, the fan-outs hold the spatial
factors, the tiles fit each level, dataflow constraints and keep/bypass rules hold. An invalid
mapping is reported with the budgets it breaks (:func:`violations`), never priced as if valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from coexplore.platforms.spatial.arch import Template
from coexplore.platforms.spatial.mapping import KINDS, Mapping, MappingBatch
from coexplore.workloads.problem import DEPENDS, DIMS, TENSORS, Problem

_R, _S, _P, _Q, _C, _M, _N, _G = range(len(DIMS))
_DEP = np.array([[d in DEPENDS[t] for d in DIMS] for t in TENSORS])  # (3, D)
WEIGHTS, INPUTS, OUTPUTS = range(3)

# Bits of BatchStats.broken: which rule a mapping breaks.
RULES = ("factors", "fanout", "capacity", "dataflow", "keep")


def footprint(tensor: int, f: np.ndarray, stride_h: int, stride_w: int) -> np.ndarray:
    """Elements of ``tensor`` under per-dim extents ``f`` (..., D)."""
    if tensor == WEIGHTS:
        return f[..., _R] * f[..., _S] * f[..., _C] * f[..., _M] * f[..., _G]
    if tensor == OUTPUTS:
        return f[..., _P] * f[..., _Q] * f[..., _M] * f[..., _N] * f[..., _G]
    h = (f[..., _P] - 1) * stride_h + f[..., _R]
    w = (f[..., _Q] - 1) * stride_w + f[..., _S]
    return f[..., _C] * f[..., _N] * f[..., _G] * h * w


@dataclass
class BatchStats:
    """The model's results for ``n`` mappings (totals are over all instances of a level)."""

    broken: np.ndarray  # (n,) bitmask over RULES; 0 = valid
    tiles: np.ndarray  # (n, L, 3) words per instance
    used_words: np.ndarray  # (n, L) words of the kept tiles per instance
    instances: np.ndarray  # (n, L+1) used instances per level; [:, L]: MAC units
    fills: np.ndarray  # (n, L, 3) per instance (outputs: tile entries, each drained once)
    reads: np.ndarray  # (n, L, 3) totals
    writes: np.ndarray  # (n, L, 3) totals (fills and updates)
    updates: np.ndarray  # (n, L) output updates, totals
    compute_cycles: np.ndarray
    cycles: np.ndarray
    level_energy_pj: np.ndarray  # (n, L)
    mac_energy_pj: np.ndarray
    macs: int

    @property
    def valid(self) -> np.ndarray:
        return self.broken == 0

    @property
    def energy_pj(self) -> np.ndarray:
        return self.level_energy_pj.sum(axis=1) + self.mac_energy_pj

    @property
    def edp(self) -> np.ndarray:
        """Energy × cycles in J·cycle (Timeloop's EDP); NaN for invalid mappings."""
        return np.where(self.valid, self.energy_pj * 1e-12 * self.cycles, np.nan)

    @property
    def pes(self) -> np.ndarray:
        return self.instances[:, -1]


class _Arrays:
    """The template's per-level numbers as arrays, computed once per template."""

    def __init__(self, t: Template) -> None:
        lv = t.levels
        inf = np.inf
        self.size = np.array([inf if x.size_words is None else x.size_words for x in lv])
        self.block = np.array([x.block_words for x in lv], float)
        self.read_pj = np.array([x.read_pj for x in lv])
        self.write_pj = np.array([x.write_pj for x in lv])
        self.leak_pj = np.array([x.leak_pj for x in lv])
        self.read_bw = np.array([inf if x.read_bw is None else x.read_bw for x in lv])
        self.write_bw = np.array([inf if x.write_bw is None else x.write_bw for x in lv])
        self.fanout = {
            "spatial_x": np.array([x.fanout_x for x in lv]),
            "spatial_y": np.array([x.fanout_y for x in lv]),
        }
        self.allowed = {k: np.array([[d in x.allowed(k) for d in DIMS] for x in lv]) for k in KINDS}
        self.can_keep = np.array([[tn in x.keeps for tn in TENSORS] for x in lv])
        self.bypass = np.array([x.bypass for x in lv])


_ARRAYS: dict[int, tuple[Template, _Arrays]] = {}


def _arrays(t: Template) -> _Arrays:
    hit = _ARRAYS.get(id(t))
    if hit is None or hit[0] is not t:
        hit = (t, _Arrays(t))
        _ARRAYS[id(t)] = hit
        if len(_ARRAYS) > 256:
            _ARRAYS.pop(next(iter(_ARRAYS)))
    return hit[1]


def evaluate_batch(template: Template, problem: Problem, batch: MappingBatch) -> BatchStats:
    """Access counts, cycles and energy of every mapping in ``batch`` (see the module doc)."""
    a = _arrays(template)
    T, SX, SY, keep = batch.temporal, batch.spatial_x, batch.spatial_y, batch.keep
    n, L, D = T.shape
    sh, sw = problem.stride_h, problem.stride_w
    spatial = SX * SY
    per_level = T * spatial

    # --- validity -----------------------------------------------------------------------------
    broken = np.zeros(n, np.int64)
    product = per_level.prod(axis=1)
    broken |= (product != np.array(problem.dims)).any(axis=1) << 0
    over_x = SX.prod(axis=2) > a.fanout["spatial_x"]
    over_y = SY.prod(axis=2) > a.fanout["spatial_y"]
    broken |= (over_x | over_y).any(axis=1) << 1
    flow = np.zeros(n, bool)
    for kind, factors in (("temporal", T), ("spatial_x", SX), ("spatial_y", SY)):
        flow |= ((factors > 1) & ~a.allowed[kind]).any(axis=(1, 2))
    broken |= flow << 3
    bad_keep = (keep & ~a.can_keep) | (~a.bypass[:, None] & (keep != a.can_keep))
    broken |= bad_keep.any(axis=(1, 2)) << 4

    # --- tiles, instances, distinct footprints -----------------------------------------------
    below = np.cumprod(per_level[:, ::-1], axis=1)[:, ::-1]  # extents at and below each level
    tiles = np.stack([footprint(t, below, sh, sw) for t in range(3)], axis=2).astype(float)
    used_words = (tiles * keep).sum(axis=2)
    broken |= (used_words > a.size).any(axis=1) << 2
    spatial_below = np.cumprod(spatial[:, ::-1], axis=1)[:, ::-1]
    seen = T.prod(axis=1)[:, None, :] * spatial_below  # what one instance sees over the run
    distinct = np.stack([footprint(t, seen, sh, sw) for t in range(3)], axis=2).astype(float)
    instances = np.ones((n, L + 1))
    instances[:, 1:] = np.cumprod(spatial.prod(axis=2), axis=1)
    compute_cycles = T.prod(axis=(1, 2)).astype(float)
    macs_total = compute_cycles * instances[:, L]

    # --- fills with stationarity ------------------------------------------------------------
    # Loops inner to outer, level by level from the innermost: the loops above level l are
    # the tail starting at (L - l) * D.
    loops = np.take_along_axis(T, batch.order, axis=2)[:, ::-1, ::-1].reshape(n, L * D)
    order_seq = batch.order[:, ::-1, ::-1].reshape(n, L * D)
    fills = np.empty((n, L, 3))
    for t in range(3):
        hit = _DEP[t][order_seq] & (loops > 1)
        for li in range(L):
            tail = slice((L - li) * D, None)
            started = np.logical_or.accumulate(hit[:, tail], axis=1)
            fills[:, li, t] = np.where(started, loops[:, tail], 1).prod(axis=1)
    fills *= tiles

    # --- accesses up the hierarchy ------------------------------------------------------------
    share = [np.where(_DEP[t], 1, spatial).prod(axis=2) for t in range(3)]  # (n, L) per tensor
    reads = np.zeros((n, L, 3))
    writes = np.zeros((n, L, 3))
    updates = np.zeros((n, L))
    for t in (WEIGHTS, INPUTS):
        demand = macs_total.copy()
        for li in range(L - 1, -1, -1):
            demand = demand / share[t][:, li]
            k = keep[:, li, t]
            filled = fills[:, li, t] * instances[:, li] if li > 0 else np.zeros(n)
            reads[:, li, t] = np.where(k, demand, 0)
            writes[:, li, t] = np.where(k, filled, 0)
            demand = np.where(k, filled, demand)
    demand, refill = macs_total.copy(), np.zeros(n)
    for li in range(L - 1, -1, -1):
        demand = demand / share[OUTPUTS][:, li]
        refill = refill / share[OUTPUTS][:, li]
        k = keep[:, li, OUTPUTS]
        first = distinct[:, li, OUTPUTS] * instances[:, li]
        entries = fills[:, li, OUTPUTS] * instances[:, li] if li > 0 else first
        refills = entries - first
        updates[:, li] = np.where(k, demand, 0)
        reads[:, li, OUTPUTS] = np.where(k, demand - first + refill, 0)
        writes[:, li, OUTPUTS] = np.where(k, demand + refills, 0)
        demand = np.where(k, entries, demand)
        refill = np.where(k, refills, refill)

    # --- cycles and energy --------------------------------------------------------------------
    per_instance = instances[:, :L]
    bound = np.maximum(
        reads.sum(axis=2) / per_instance / a.read_bw, writes.sum(axis=2) / per_instance / a.write_bw
    )
    cycles = np.maximum(compute_cycles, bound.max(axis=1))
    level_energy = (
        reads.sum(axis=2) / a.block * a.read_pj
        + writes.sum(axis=2) / a.block * a.write_pj
        + a.leak_pj * per_instance * cycles[:, None]
    )
    mac_energy = macs_total * template.mac.energy_pj + (
        template.mac.leak_pj * instances[:, L] * cycles
    )
    return BatchStats(
        broken=broken,
        tiles=tiles,
        used_words=used_words,
        instances=instances,
        fills=fills,
        reads=reads,
        writes=writes,
        updates=updates,
        compute_cycles=compute_cycles,
        cycles=cycles,
        level_energy_pj=level_energy,
        mac_energy_pj=mac_energy,
        macs=problem.macs,
    )


def violations(template: Template, problem: Problem, batch: MappingBatch, i: int = 0) -> list[str]:
    """What mapping ``i`` breaks, one sentence per broken budget or rule (empty: valid)."""
    a = _arrays(template)
    out = []
    per_level = batch.temporal[i] * batch.spatial_x[i] * batch.spatial_y[i]
    for d, dim in enumerate(DIMS):
        got = int(per_level[:, d].prod())
        if got != problem.dims[d]:
            out.append(f"factors of {dim} multiply to {got}, not its extent {problem.dims[d]}")
    stats = evaluate_batch(template, problem, batch.take([i]))
    for li, level in enumerate(template.levels):
        for kind, axis in (("spatial_x", "x"), ("spatial_y", "y")):
            used = int(getattr(batch, kind)[i, li].prod())
            if used > a.fanout[kind][li]:
                out.append(
                    f"fan-out {axis} of {level.name}: the mapping uses {used}, "
                    f"the template has {a.fanout[kind][li]}"
                )
            bad = [DIMS[d] for d in range(len(DIMS)) if getattr(batch, kind)[i, li, d] > 1
                   and not a.allowed[kind][li, d]]  # fmt: skip
            if bad:
                out.append(f"{level.name} may not split {bad} over {axis} (dataflow)")
        bad = [DIMS[d] for d in range(len(DIMS))
               if batch.temporal[i, li, d] > 1 and not a.allowed["temporal"][li, d]]  # fmt: skip
        if bad:
            out.append(f"{level.name} may not tile {bad} temporally (dataflow)")
        used = stats.used_words[0, li]
        if used > a.size[li]:
            kept = [t for ti, t in enumerate(TENSORS) if batch.keep[i, li, ti]]
            out.append(
                f"capacity of {level.name}: the tiles of {kept} need {int(used)} words, "
                f"it holds {int(a.size[li])}"
            )
        for ti, tensor in enumerate(TENSORS):
            if batch.keep[i, li, ti] and not a.can_keep[li, ti]:
                out.append(f"{level.name} cannot keep {tensor}")
            elif not a.bypass[li] and batch.keep[i, li, ti] != a.can_keep[li, ti]:
                out.append(f"{level.name} cannot bypass {tensor}")
    return out


def layer_report(template: Template, problem: Problem, mapping: Mapping | MappingBatch,
                 i: int = 0) -> dict[str, Any]:  # fmt: skip
    """One mapping's full result as JSON: validity, cycles, energy, EDP and access counts."""
    batch = mapping.batch(template) if isinstance(mapping, Mapping) else mapping
    s = evaluate_batch(template, problem, batch.take([i]))
    broken = violations(template, problem, batch, i)
    levels = []
    for li, level in enumerate(template.levels):
        inst = float(s.instances[0, li])
        tensors = {}
        for ti, tensor in enumerate(TENSORS):
            if not batch.keep[i, li, ti]:
                continue
            entry = {
                "tile_words": int(s.tiles[0, li, ti]),
                "reads_per_instance": float(s.reads[0, li, ti] / inst),
                "writes_per_instance": float(s.writes[0, li, ti] / inst),
            }
            if ti == OUTPUTS:
                entry["updates_per_instance"] = float(s.updates[0, li] / inst)
            else:
                entry["fills_per_instance"] = float(s.writes[0, li, ti] / inst)
            tensors[tensor] = entry
        levels.append({
            "name": level.name,
            "instances_used": int(inst),
            "energy_pj": float(s.level_energy_pj[0, li]),
            "energy_fj_per_mac": float(s.level_energy_pj[0, li] / problem.macs * 1e3),
            "tensors": tensors,
        })  # fmt: skip
    energy = float(s.energy_pj[0])
    return {
        "layer": problem.name,
        "valid": not broken,
        "violations": broken,
        "macs": problem.macs,
        "pes_used": int(s.pes[0]),
        "pes": template.pes,
        "utilization": float(s.pes[0] / template.pes),
        "compute_cycles": float(s.compute_cycles[0]),
        "cycles": float(s.cycles[0]),
        "energy_j": energy * 1e-12,
        "edp": energy * 1e-12 * float(s.cycles[0]),
        "mac_energy_pj": float(s.mac_energy_pj[0]),
        "levels": levels,
        "mapping": batch.mapping(i, template).to_dict(),
    }


__all__ = ["RULES", "BatchStats", "evaluate_batch", "footprint", "layer_report", "violations"]
