"""A sparse-weight variant of the FPGA'15 engine, and each layer's break-even pruning ratio.

Pruning only pays on hardware if the engine skips the pruned weights, and a sparse engine pays
for that in index storage and irregular compute. ADMM-NN (Ren et al., ASPLOS 2019) measures the
trade-off as a *break-even pruning ratio*: the pruning ratio r = 1/density below which a sparse
design is slower than the dense one (2.22× for their sparse PE design). This module models the
sparse engine as the engine of :mod:`engine` with two terms changed per tile
(docs/fpga-model.md#sparse-engine-and-break-even-pruning-ratio):

    nnz      = ⌈d·w_tile⌉                          non-zeros of a weight tile (w_tile dense)
    tW_sp    = ⌈nnz·(b_w + b_idx) / Wb⌉            value + relative index bits per non-zero
    tComp_sp = max(1, ⌈d·(1 + overhead)·K²·Tr·Tc⌉)  skipped zeros, irregularity overhead

Input and output tiles and the cycles structure are the dense engine's (:class:`TileTerms`).
Relative indices of ``index_bits`` bits per non-zero follow Han et al. (Deep Compression,
ICLR 2016). Both engines store ``weight_bits`` value bits per weight, so the comparison is at
equal value precision.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coexplore.config import ConfigError, check_number, load_mapping, require_keys
from coexplore.platforms.fpga_pipeline.engine import (
    EngineDesign,
    LayerTable,
    TileTerms,
    bank_blocks,
    bram_from_banks,
    busy_power_w,
    dynamic_energy_j,
    resources,
    tile_depths,
    tile_terms,
    weight_depth,
)
from coexplore.platforms.fpga_pipeline.parts import FPGAPart
from coexplore.platforms.fpga_pipeline.precision import Precision
from coexplore.workloads.layer import Layer, Network

# A product of floats within this relative distance of an integer counts as that integer, so
# float noise (0.1·30 = 3.0000000000000004) does not add a cycle or a non-zero.
_CEIL_RTOL = 1e-12
# Geometric bisection steps on the density in [_D_MIN, 1]: ln(1/_D_MIN)/2**64 < 1e-16 relative.
_BISECTIONS = 64
# The limit d → 0+: one non-zero per weight tile and one cycle per tile.
_D_MIN = 1e-300
# No sparse engine is this much slower per non-zero; more overflows the int64 cycle counts.
MAX_OVERHEAD = 1000


@dataclass(frozen=True)
class SparseEngineModel:
    """How a sparse engine stores and computes non-zero weights.

    ``index_bits``: relative index bits stored with each non-zero weight, the zero-run length
    since the previous one (Han et al., Deep Compression, ICLR 2016, who use 8 for conv and 5 for
    fc layers; 4 here is an assumption). The filler zeros a run longer than 2^index_bits needs
    are not counted.
    ``overhead``: irregularity overhead: the sparse MAC array spends (1 + overhead) times the
    cycles per non-zero weight that the dense array spends per weight (load imbalance across the
    units, index decoding). The default 1.22 makes a compute-bound layer break even at a pruning
    ratio of 1 + overhead = 2.22×, the break-even ratio ADMM-NN (Ren et al., ASPLOS 2019)
    reports for its sparse PE design; it is a calibration, not a measurement of this engine.
    """

    index_bits: int = 4
    overhead: float = 1.22

    def __post_init__(self) -> None:
        source = type(self).__name__
        bits = self.index_bits
        if isinstance(bits, bool) or not isinstance(bits, int | np.integer) or not 1 <= bits <= 32:
            raise ConfigError(source, "index_bits", "an integer from 1 to 32", bits)
        over = self.overhead
        if (
            isinstance(over, bool)
            or not isinstance(over, int | float | np.integer | np.floating)
            or not 0 <= over <= MAX_OVERHEAD
        ):
            raise ConfigError(
                source, "overhead", f"a finite number >= 0 and <= {MAX_OVERHEAD}", over
            )
        object.__setattr__(self, "index_bits", int(bits))
        object.__setattr__(self, "overhead", float(over))


@dataclass(frozen=True)
class Compression:
    """A compressed network as the FPGA model sees it: per weight layer (by name) the kept
    fraction of its weights and the value bits of each kept weight, and the sparse engine that
    runs them. Layers not named are dense at the precision's bits."""

    density: Mapping[str, float]
    weight_bits: Mapping[str, int] = field(default_factory=dict)
    model: SparseEngineModel = field(default_factory=SparseEngineModel)
    weights: Mapping[str, int] = field(default_factory=dict)  # recorded counts, for check()

    def arrays(
        self, layers: Sequence[Layer], precision: Precision
    ) -> tuple[list[float], list[int]]:
        """(density, weight bits) per layer of ``layers``; bits capped at the precision's."""
        top = precision.weight_bits
        density = [float(self.density.get(ly.name, 1.0)) for ly in layers]
        bits = [min(int(self.weight_bits.get(ly.name, top)), top) for ly in layers]
        return density, bits

    def to_dict(self) -> dict:
        return {
            "density": dict(self.density),
            "weight_bits": dict(self.weight_bits),
            "index_bits": self.model.index_bits,
            "overhead": self.model.overhead,
            **({"weights": dict(self.weights)} if self.weights else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping, source: str = "<compression>") -> Compression:
        """From ``{density: {layer: f}, weight_bits: {layer: n}, index_bits, overhead}``, or
        from a ``coexplore compress --json`` report (its ``layers`` and ``fpga``)."""
        if isinstance(data, Mapping) and "layers" in data and "density" not in data:
            return cls._from_report(data, source)
        require_keys(data, source, required={"density"},
                     optional={"weight_bits", "index_bits", "overhead", "weights"})  # fmt: skip
        maps = {}
        for name, rule in (("density", _fraction), ("weight_bits", _bits), ("weights", _count)):
            values = {} if data.get(name) is None else data[name]
            if not isinstance(values, Mapping):
                raise ConfigError(source, name, "a mapping of layer name to value", values)
            maps[name] = {k: rule(v, source, f"{name}.{k}") for k, v in values.items()}
        model = _engine_model(data, source, "")
        return cls(maps["density"], maps["weight_bits"], model, maps["weights"])

    @classmethod
    def _from_report(cls, data: Mapping, source: str) -> Compression:
        """A ``coexplore compress --json`` report: each layer's ``keep``, its ``bits`` (below
        32: quantised) and ``weights``, and the ``fpga`` engine's index bits and overhead."""
        layers, fpga = data["layers"], data.get("fpga") or {}
        if not isinstance(layers, list):
            raise ConfigError(source, "layers", "the report's list of layers", layers)
        if not isinstance(fpga, Mapping):
            raise ConfigError(source, "fpga", "the report's mapping of FPGA results", fpga)
        density, bits, weights = {}, {}, {}
        for i, ly in enumerate(layers):
            where = f"layers[{i}]"
            needed = {"name", "keep", "bits", "weights"}  # (a report's layer holds more)
            require_keys(ly, source, needed, optional=ly, prefix=where)
            if not isinstance(ly["name"], str) or not ly["name"].strip():
                raise ConfigError(source, f"{where}.name", "a layer name", ly["name"])
            density[ly["name"]] = _fraction(ly["keep"], source, f"{where}.keep")
            weights[ly["name"]] = _count(ly["weights"], source, f"{where}.weights")
            value_bits = _bits(ly["bits"], source, f"{where}.bits")
            if value_bits < 32:  # (32: float, not quantised)
                bits[ly["name"]] = value_bits
        return cls(density, bits, _engine_model(fpga, source, "fpga."), weights)

    def check(self, layers: Sequence[Layer], source: str = "<compression>") -> None:
        """Every named layer must be a weight layer of ``layers`` (with the weight count the
        file recorded, when it did): a compression of another network is an error."""
        by_name = {ly.name: ly for ly in layers if ly.weights}
        recorded = self.weights
        for name in [*self.density, *self.weight_bits]:
            if name not in by_name:
                known = ", ".join(by_name)
                raise ConfigError(source, name, f"a weight layer of the network: {known}")
            if name in recorded and recorded[name] != by_name[name].weights:
                raise ConfigError(
                    source,
                    name,
                    f"the network's layer of {by_name[name].weights} weights",
                    f"a layer of {recorded[name]} weights",
                )


def _fraction(value: Any, source: str, field: str) -> float:
    return check_number(value, source, field, 0, 1, above=True, allowed="a kept fraction in (0, 1]")


def _bits(value: Any, source: str, field: str) -> int:
    return check_number(value, source, field, 1, integer=True)


_count = _bits  # a weight count: an integer >= 1 too


def _engine_model(data: Mapping, source: str, where: str) -> SparseEngineModel:
    """The sparse engine of a file's ``index_bits`` and ``overhead`` (under ``where``)."""
    try:
        return SparseEngineModel(
            index_bits=data.get("index_bits", SparseEngineModel.index_bits),
            overhead=data.get("overhead", SparseEngineModel.overhead),
        )
    except ConfigError as err:
        raise ConfigError(source, f"{where}{err.field}", err.allowed, err.got) from None


def read_compression_file(path: str | Path, network: Network) -> Compression:
    """A compression file (``hw evaluate --compression``) of ``network``'s weight layers."""
    compression = Compression.from_dict(load_mapping(path), str(path))
    compression.check(network.layers, str(path))
    return compression


@dataclass(frozen=True)
class SparseEvaluation:
    """Dense and sparse engines on every layer, (L,) arrays; pooling layers always run dense.

    ``use_sparse``: the layer runs sparse (density < 1 and sparse cycles <= dense cycles);
    ``cycles``/``dram_bits``: the chosen engine per layer. ``bram18k``/``energy_j``: the engine
    that runs the chosen mix (weight banks deep enough for both kinds of layer);
    ``dense_bram18k``/``dense_energy_j``: the all-dense engine at the same weight bits.
    Energies are dynamic energy per image (:func:`engine.dynamic_energy_j`).
    """

    dense_cycles: np.ndarray
    sparse_cycles: np.ndarray
    dense_dram_bits: np.ndarray
    sparse_dram_bits: np.ndarray
    use_sparse: np.ndarray
    cycles: np.ndarray
    dram_bits: np.ndarray
    bram18k: int
    dense_bram18k: int
    energy_j: float
    dense_energy_j: float

    @property
    def total_cycles(self) -> int:
        return int(self.cycles.sum())

    @property
    def dense_total_cycles(self) -> int:
        return int(self.dense_cycles.sum())

    @property
    def total_dram_bits(self) -> int:
        return int(self.dram_bits.sum())


def _ceil_count(x: np.ndarray) -> np.ndarray:
    """⌈x⌉ of non-negative reals as integers, float noise forgiven (:data:`_CEIL_RTOL`)."""
    return np.ceil(np.asarray(x, dtype=np.float64) * (1.0 - _CEIL_RTOL)).astype(np.int64)


def _per_layer(values, n_layers: int, what: str, dtype) -> np.ndarray:
    """A scalar (every layer) or one value per layer, as an (L,) array."""
    arr = np.asarray(values, dtype=dtype)
    if arr.ndim == 0:
        return np.full(n_layers, arr, dtype=dtype)
    if arr.shape != (n_layers,):
        count = arr.shape[0] if arr.ndim == 1 else f"an array of shape {arr.shape} of"
        raise ValueError(f"{what} has {count} values for {n_layers} layers")
    return arr


@dataclass(frozen=True)
class _Engines:
    """One design on the layers: the dense terms, and the sparse terms at any density."""

    table: LayerTable
    design: EngineDesign
    precision: Precision
    model: SparseEngineModel
    w_count: np.ndarray  # (L,) dense weights per weight tile (0 for pooling)
    weight_bits: np.ndarray  # (L,)
    dense: TileTerms  # (L,) arrays

    @classmethod
    def of(
        cls,
        layers: Network | Sequence[Layer],
        design: EngineDesign,
        precision: Precision,
        weight_bits: int | Sequence[int] | None,
        model: SparseEngineModel,
    ) -> _Engines:
        layers = layers.layers if isinstance(layers, Network) else tuple(layers)
        table = LayerTable.of(layers)
        wbits = _per_layer(
            precision.weight_bits if weight_bits is None else weight_bits,
            len(layers),
            "weight_bits",
            np.float64,
        )
        if not (
            np.isfinite(wbits).all() and (wbits == np.round(wbits)).all() and (wbits >= 1).all()
        ):
            raise ValueError(f"weight_bits must be integers >= 1, got {wbits.tolist()}")
        wbits = wbits.astype(np.int64)
        # At one bit per weight, the weight-tile bits are the weight count w_tile.
        per_weight = dataclasses.replace(precision, weight_bits=1)
        counts = tile_terms(table, design.as_array()[:, :4], per_weight).map(lambda a: a[0])
        dense = dataclasses.replace(counts, w_bits=counts.w_bits * wbits)
        return cls(table, design, precision, model, counts.w_bits, wbits, dense)

    def check_density(self, density) -> np.ndarray:
        d = _per_layer(density, self.w_count.size, "density", np.float64)
        weighted = self.table.has_weights[0]
        bad = weighted & ~((d > 0) & (d <= 1))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"density of layer {i} must be in (0, 1], got {d[i]}")
        return np.where(weighted, d, 1.0)

    def sparse(self, density: np.ndarray) -> TileTerms:
        """The sparse engine's terms at per-layer ``density``; pooling layers stay dense."""
        m = self.model
        nnz = _ceil_count(density * self.w_count)
        t_comp = np.maximum(1, _ceil_count(density * (1.0 + m.overhead) * self.dense.t_comp))
        weighted = self.table.has_weights[0]
        return dataclasses.replace(
            self.dense,
            t_comp=np.where(weighted, t_comp, self.dense.t_comp),
            w_bits=nnz * (self.weight_bits + m.index_bits),
        )

    def cycles(self, terms: TileTerms) -> np.ndarray:
        d = self.design
        return terms.cycles(d.ib, d.wb, d.ob)

    def energy(
        self,
        part: FPGAPart,
        sparse_layers: np.ndarray,
        density: np.ndarray,
        cycles: np.ndarray,
        dram: np.ndarray,
    ) -> tuple[int, float]:
        """(BRAM18Ks, dynamic energy per image) of the engine running ``sparse_layers`` sparse.

        Input/output banks as :func:`engine.resources`. Each of the Tm·Tn weight banks holds one
        tile's weights of its (m, n) pair: K² words of ``weight_bits`` for a dense layer,
        ⌈d·K²⌉ words of ``weight_bits + index_bits`` for a sparse one (the non-zeros spread
        evenly over the banks); a bank is as large as its largest layer needs. DSPs and LUTs
        are the dense engine's (``precision``), whatever ``weight_bits``.
        """
        t, tilings, prec = self.table, self.design.as_array()[:, :4], self.precision
        dsp = resources(t, tilings, prec)[0]
        depth_in, depth_out = tile_depths(t, tilings[:, 2:4])
        depth_dense = weight_depth(t)[0]
        depth = np.where(sparse_layers, _ceil_count(density * depth_dense), depth_dense)
        bits = self.weight_bits + np.where(sparse_layers, self.model.index_bits, 0)
        bram = bram_from_banks(
            tilings[:, 0],
            tilings[:, 1],
            bank_blocks(depth_in.max(axis=1), prec.act_bits),
            bank_blocks(depth_out.max(axis=1), prec.act_bits),
            bank_blocks(depth, bits).max(),
        )
        energy = dynamic_energy_j(busy_power_w(dsp, bram, part), cycles.sum(), dram.sum(), part)
        return int(bram[0]), float(energy[0])


def evaluate_sparse(
    layers: Network | Sequence[Layer],
    design: EngineDesign,
    part: FPGAPart,
    precision: Precision,
    density: float | Sequence[float],
    *,
    weight_bits: int | Sequence[int] | None = None,
    model: SparseEngineModel | None = None,
) -> SparseEvaluation:
    """Dense and sparse cycles of every layer on one engine design, and the faster mix.

    ``density``: kept fraction of each layer's weights, in (0, 1] (one value, or one per layer;
    ignored for pooling). ``weight_bits``: value bits per stored weight, e.g. after quantisation
    (default ``precision.weight_bits``); the dense engine moves them too. A layer runs sparse
    when its density is below 1 and sparse is not slower: on a tie it moves fewer DRAM bits.
    """
    eng = _Engines.of(layers, design, precision, weight_bits, model or SparseEngineModel())
    d = eng.check_density(density)
    sparse = eng.sparse(d)
    dense_cycles, sparse_cycles = eng.cycles(eng.dense), eng.cycles(sparse)
    dense_dram, sparse_dram = eng.dense.dram_bits, sparse.dram_bits
    use = (d < 1) & (sparse_cycles <= dense_cycles) & eng.table.has_weights[0]
    cycles = np.where(use, sparse_cycles, dense_cycles)
    dram = np.where(use, sparse_dram, dense_dram)
    bram, energy = eng.energy(part, use, d, cycles, dram)
    no_sparse = np.zeros_like(use)
    dense_bram, dense_energy = eng.energy(part, no_sparse, d, dense_cycles, dense_dram)
    return SparseEvaluation(
        dense_cycles=dense_cycles,
        sparse_cycles=sparse_cycles,
        dense_dram_bits=dense_dram,
        sparse_dram_bits=sparse_dram,
        use_sparse=use,
        cycles=cycles,
        dram_bits=dram,
        bram18k=bram,
        dense_bram18k=dense_bram,
        energy_j=energy,
        dense_energy_j=dense_energy,
    )


def break_even_ratio(
    layers: Network | Sequence[Layer],
    design: EngineDesign,
    precision: Precision,
    *,
    weight_bits: int | Sequence[int] | None = None,
    model: SparseEngineModel | None = None,
) -> np.ndarray:
    """Per layer, the smallest pruning ratio r = 1/density >= 1 at which the sparse engine is
    not slower than the dense one on ``design`` (ADMM-NN's break-even ratio), an (L,) array.

    ``math.inf`` where even the limit density → 0 (one non-zero per weight tile, one cycle per
    tile) is slower, e.g. when the index bits make the lone non-zero's load longer than the dense
    tile's; ``nan`` for pooling layers (no weights to prune).

    Every sparse term (non-zeros, tW, tComp) is non-decreasing in the density and the cycles are
    non-decreasing in every term, so the densities at which sparse is not slower form an interval
    (0, d*], closed since ⌈x⌉ <= n iff x <= n. Geometric bisection on the density (vectorised
    over layers) brackets d*; d* is then snapped to the exact edge of the bracket's cell, where
    the integer counts stay constant: d* = min(nnz/w_tile, tComp_sp/((1 + overhead)·tComp), 1)
    with the counts at the bracket's feasible end, so e.g. a compute-bound layer gives exactly
    1 + overhead (to float rounding).
    """
    eng = _Engines.of(layers, design, precision, weight_bits, model or SparseEngineModel())
    dense = eng.cycles(eng.dense)

    def not_slower(d: np.ndarray) -> np.ndarray:
        return eng.cycles(eng.sparse(d)) <= dense

    n = eng.w_count.size
    lo, hi = np.full(n, math.log(_D_MIN)), np.zeros(n)
    reachable, at_one = not_slower(np.exp(lo)), not_slower(np.ones(n))
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        good = not_slower(np.exp(mid))
        lo, hi = np.where(good, mid, lo), np.where(good, hi, mid)
    d_lo = np.exp(lo)
    # The edge of d_lo's cell: the largest density with the same non-zeros and compute cycles.
    at_lo = eng.sparse(d_lo)
    nnz = at_lo.w_bits // (eng.weight_bits + eng.model.index_bits)
    edges = np.minimum(
        np.where(eng.w_count > 0, nnz / np.maximum(eng.w_count, 1), 1.0),
        at_lo.t_comp / ((1.0 + eng.model.overhead) * eng.dense.t_comp),
    )
    snapped = np.minimum(edges, 1.0)
    d_star = np.where(not_slower(snapped), snapped, d_lo)  # the snap holds; d_lo is a fallback
    d_star = np.where(at_one, 1.0, d_star)
    ratio = np.where(reachable, 1.0 / d_star, math.inf)
    return np.where(eng.table.has_weights[0], ratio, math.nan)
