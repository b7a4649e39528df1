"""The one-FPGA engine model of Zhang et al., FPGA'15, vectorised over many designs.

An engine is a tiled loop nest ``<Tm, Tn, Tr, Tc>`` (output channels, input channels, output
rows, output columns per tile) with off-chip ports of ``Ib, Wb, Ob`` bits per cycle. For a layer
of M out-channels, N in-channels, an R×C output map, a K×K kernel and stride S
(docs/fpga-model.md#engine):

    tComp = K²·Tr·Tc                                  cycles per tile (pipeline II = 1)
    tI = ⌈Tn·Tr'·Tc'·bI/Ib⌉,  Tr' = S·Tr + K − S      load an input tile (with halo)
    tW = ⌈Tm·Tn·K²·bW/Wb⌉                             load a weight tile
    tO = ⌈Tm·Tr·Tc·bO/Ob⌉                             store an output tile
    L1 = max(tComp, tI, tW);  L2 = max(⌈N/Tn⌉·L1, tO)
    cycles = ⌈R/Tr⌉·⌈C/Tc⌉·⌈M/Tm⌉·L2 + tO + L1        (prologue/epilogue)

Resources: Tm·Tn MAC units (DSPs by precision); double-buffered BRAM18K banks, Tn input banks,
Tm output banks and Tm·Tn weight banks, each as deep as the largest tile of the layers it runs;
Ib + Wb + Ob against the part's DRAM bits per cycle; LUTs per MAC unit (estimate). Every budget
is checked, and each design reports the budgets it breaks.

Conventions beyond the base equations, each from how the loop nest runs a layer:
- The engine's tile is shared by every layer it runs, so a tile dimension larger than a layer's
  map (``Tr > R``) is capped at the map (FPGA'15's loops bound rows by ``min(row + Tr, R)``): a
  7×7 map does not pay for a 13×13 tile. A partial *edge* tile (R not a multiple of Tr) is
  charged as a full one, as in the equations above; this is conservative (3.1% of the cycles of
  FPGA'15's AlexNet design, see docs/fpga15.md).
- BRAM capacity is 18 Kb per block as in the equations; a RAMB18 stores 16 Kb of 8/16/32-bit data
  (the other 2 Kb are parity bits), so the BRAM count can be up to 1/8 optimistic for deep banks.
- Grouped convolutions run their groups one after another (⌈M/Tm⌉ becomes G·⌈(M/G)/Tm⌉).
- Depthwise convolution and pooling pair each output channel with its own input channel, so the
  Tm×Tn array works on its diagonal: p = min(Tm, Tn) channels per tile, one input-channel pass.
  Pooling moves no weights and uses no multipliers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from enum import IntEnum

import numpy as np

from coexplore.platforms.fpga_pipeline.parts import FPGAPart
from coexplore.platforms.fpga_pipeline.precision import ENGINE_LUT_OVERHEAD, Precision
from coexplore.workloads.layer import Layer, LayerKind

BRAM18K_BITS = 18 * 1024
DESIGN_FIELDS = ("tm", "tn", "tr", "tc", "ib", "wb", "ob")
BUDGETS = ("dsp", "bram18k", "lut", "bandwidth")


class Bottleneck(IntEnum):
    """The term that sets a layer's cycles (ties go to the earlier entry)."""

    COMPUTE = 0
    LOAD_IFM = 1
    LOAD_WEIGHTS = 2
    STORE_OFM = 3

    @property
    def label(self) -> str:
        return ("compute", "load IFM", "load weights", "store OFM")[self.value]


@dataclass(frozen=True)
class EngineDesign:
    """Tile sizes ``<Tm, Tn, Tr, Tc>`` and off-chip port widths ``Ib, Wb, Ob`` (bits/cycle)."""

    tm: int
    tn: int
    tr: int
    tc: int
    ib: int
    wb: int
    ob: int

    def __post_init__(self) -> None:
        for name in DESIGN_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"engine design field {name} must be an integer >= 1, got {value}")
            object.__setattr__(self, name, int(value))

    def as_array(self) -> np.ndarray:
        return np.array([[getattr(self, f) for f in DESIGN_FIELDS]], dtype=np.int64)

    @classmethod
    def from_array(cls, row: Sequence[int]) -> EngineDesign:
        return cls(*(int(v) for v in row))

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _ceil_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return -(-a // b)


@dataclass(frozen=True)
class LayerTable:
    """Per-layer integers the engine equations read, as (1, L) arrays for broadcasting."""

    groups: np.ndarray
    m: np.ndarray  # out-channels per group (all channels for diagonal layers)
    n: np.ndarray  # in-channels per group
    r: np.ndarray
    c: np.ndarray
    k: np.ndarray
    s: np.ndarray
    diagonal: np.ndarray  # depthwise conv or pooling
    has_weights: np.ndarray
    macs: np.ndarray

    @classmethod
    def of(cls, layers: Sequence[Layer]) -> LayerTable:
        if not layers:
            raise ValueError("an engine needs at least one layer to run")

        def col(values):
            return np.array([values(ly) for ly in layers], dtype=np.int64)[None, :]

        def is_diagonal(ly: Layer) -> bool:
            return ly.kind in (LayerKind.DWCONV, LayerKind.POOL)

        def per_group(ly: Layer) -> tuple[int, int, int]:
            """(groups run one after another, M per group, N per group)."""
            if is_diagonal(ly):
                return 1, ly.out_channels, ly.in_channels
            return ly.groups, *ly.channels_per_group

        return cls(
            groups=col(lambda ly: per_group(ly)[0]),
            m=col(lambda ly: per_group(ly)[1]),
            n=col(lambda ly: per_group(ly)[2]),
            r=col(lambda ly: ly.out_h),
            c=col(lambda ly: ly.out_w),
            k=col(lambda ly: ly.kernel),
            s=col(lambda ly: ly.stride),
            diagonal=np.array([is_diagonal(ly) for ly in layers])[None, :],
            has_weights=np.array([ly.kind is not LayerKind.POOL for ly in layers])[None, :],
            macs=col(lambda ly: ly.macs),
        )


@dataclass(frozen=True)
class EngineBatch:
    """The engine model evaluated for D designs on L layers.

    Per design (D,): ``cycles`` (sum over layers), ``dsp``, ``bram18k``, ``lut``, ``bandwidth``
    used, ``over`` (D, 4) bool per budget in :data:`BUDGETS`, ``valid``, ``dram_bits`` moved and
    ``busy_power_w`` (dynamic power of the DSPs and BRAMs in use). With ``per_layer=True`` also
    (D, L) ``layer_cycles``, ``layer_bottleneck`` and ``layer_dram_bits``.
    """

    designs: np.ndarray
    cycles: np.ndarray
    dsp: np.ndarray
    bram18k: np.ndarray
    lut: np.ndarray
    bandwidth: np.ndarray
    over: np.ndarray
    dram_bits: np.ndarray
    busy_power_w: np.ndarray
    bottleneck_cycles: np.ndarray  # (D, 4): cycles of the layers each bottleneck dominates
    layer_cycles: np.ndarray | None = None
    layer_bottleneck: np.ndarray | None = None
    layer_dram_bits: np.ndarray | None = None

    @property
    def valid(self) -> np.ndarray:
        return ~self.over.any(axis=1)

    def violations(self, i: int) -> list[str]:
        return [name for name, bad in zip(BUDGETS, self.over[i], strict=True) if bad]

    def dynamic_energy_j(self, part: FPGAPart) -> np.ndarray:
        """Energy per image of the busy engine (:func:`dynamic_energy_j`)."""
        return dynamic_energy_j(self.busy_power_w, self.cycles, self.dram_bits, part)


@dataclass(frozen=True)
class TileTerms:
    """The engine equations' per-(tiling, layer) integers that do not depend on the ports.

    Arrays broadcast together (``(T, L)`` from :func:`tile_terms`). A stage tuner computes them
    once per tiling and layer, then :meth:`cycles` for every port split: the ports only enter
    through the three load/store times.
    """

    tiles: np.ndarray  # ⌈R/Tr⌉·⌈C/Tc⌉·(M iterations)
    n_iter: np.ndarray  # input-channel passes per tile
    t_comp: np.ndarray
    in_bits: np.ndarray  # per input tile
    w_bits: np.ndarray  # per weight tile
    out_bits: np.ndarray  # per output tile

    def map(self, fn) -> TileTerms:
        """The same terms with ``fn`` applied to every array (indexing, reshaping)."""
        return TileTerms(*(fn(getattr(self, f.name)) for f in fields(self)))

    @property
    def dram_bits(self) -> np.ndarray:
        return self.tiles * (self.n_iter * (self.in_bits + self.w_bits) + self.out_bits)

    def cycles(self, ib, wb, ob, *, bottleneck: bool = False):
        """Cycles per layer with port widths ``ib, wb, ob`` (broadcast against the terms);
        with ``bottleneck=True`` also the :class:`Bottleneck` of each layer."""
        t_in = _ceil_div(self.in_bits, ib)
        t_w = _ceil_div(self.w_bits, wb)
        t_out = _ceil_div(self.out_bits, ob)
        l1 = np.maximum(np.maximum(self.t_comp, t_in), t_w)
        inner = self.n_iter * l1
        cycles = self.tiles * np.maximum(inner, t_out) + t_out + l1
        if not bottleneck:
            return cycles
        kind = np.select(
            [t_out > inner, l1 == self.t_comp, l1 == t_in],
            [Bottleneck.STORE_OFM, Bottleneck.COMPUTE, Bottleneck.LOAD_IFM],
            Bottleneck.LOAD_WEIGHTS,
        )
        return cycles, kind


def tile_terms(table: LayerTable, tilings: np.ndarray, precision: Precision) -> TileTerms:
    """:class:`TileTerms` of tilings ``(T, 4)`` = Tm, Tn, Tr, Tc on every layer: ``(T, L)``."""
    tm, tn, tr, tc = (tilings[:, j : j + 1] for j in range(4))
    t = table
    # Parallelism actually used per layer; the diagonal mode pairs channels one to one.
    p_diag = np.minimum(np.minimum(tm, tn), t.m)
    m_par = np.where(t.diagonal, p_diag, np.minimum(tm, t.m))
    n_par = np.where(t.diagonal, p_diag, np.minimum(tn, t.n))
    n_iter = np.where(t.diagonal, 1, _ceil_div(t.n, tn))
    m_iter = np.where(t.diagonal, _ceil_div(t.m, p_diag), t.groups * _ceil_div(t.m, tm))
    tr_e, tc_e = np.minimum(tr, t.r), np.minimum(tc, t.c)
    tr_in, tc_in = t.s * tr_e + t.k - t.s, t.s * tc_e + t.k - t.s
    w_tile = np.where(t.has_weights, m_par * np.where(t.diagonal, 1, n_par) * t.k**2, 0)
    return TileTerms(
        tiles=_ceil_div(t.r, tr) * _ceil_div(t.c, tc) * m_iter,
        n_iter=n_iter,
        t_comp=t.k**2 * tr_e * tc_e,
        in_bits=n_par * tr_in * tc_in * precision.act_bits,
        w_bits=w_tile * precision.weight_bits,
        out_bits=m_par * tr_e * tc_e * precision.act_bits,
    )


def busy_power_w(dsp: np.ndarray, bram: np.ndarray, part: FPGAPart) -> np.ndarray:
    """Dynamic power of the DSPs and BRAMs an engine uses while it computes."""
    return (dsp * part.dsp_mw + bram * part.bram_mw) * 1e-3


def dynamic_energy_j(busy_w, cycles, dram_bits, part: FPGAPart) -> np.ndarray:
    """Energy per image of a busy engine: its DSP/BRAM power × busy time + DRAM traffic."""
    return busy_w * cycles / part.clock_hz + dram_bits * part.dram_pj_per_bit * 1e-12


def evaluate_batch(
    layers: Sequence[Layer] | LayerTable,
    designs: np.ndarray,
    part: FPGAPart,
    precision: Precision,
    *,
    per_layer: bool = False,
) -> EngineBatch:
    """Evaluate D engine designs (rows of ``designs``, columns :data:`DESIGN_FIELDS`) at once."""
    table = layers if isinstance(layers, LayerTable) else LayerTable.of(layers)
    designs = np.asarray(designs, dtype=np.int64)
    if designs.ndim != 2 or designs.shape[1] != len(DESIGN_FIELDS):
        raise ValueError(f"designs must be a (D, {len(DESIGN_FIELDS)}) integer array")
    if (designs < 1).any():
        raise ValueError("every design field must be >= 1")
    ib, wb, ob = (designs[:, j : j + 1] for j in range(4, 7))
    terms = tile_terms(table, designs[:, :4], precision)
    layer_cycles, bottleneck = terms.cycles(ib, wb, ob, bottleneck=True)
    layer_dram_bits = terms.dram_bits
    bottleneck_cycles = np.stack(
        [np.where(bottleneck == b, layer_cycles, 0).sum(axis=1) for b in Bottleneck], axis=1
    )

    dsp, bram, lut = resources(table, designs[:, :4], precision)
    bandwidth = (ib + wb + ob)[:, 0]
    over = np.stack(
        [
            dsp > part.dsp,
            bram > part.bram18k,
            lut > part.lut,
            bandwidth > part.dram_bits_per_cycle,
        ],
        axis=1,
    )
    return EngineBatch(
        designs=designs,
        cycles=layer_cycles.sum(axis=1),
        dsp=dsp,
        bram18k=bram,
        lut=lut,
        bandwidth=bandwidth,
        over=over,
        dram_bits=layer_dram_bits.sum(axis=1),
        busy_power_w=busy_power_w(dsp, bram, part),
        bottleneck_cycles=bottleneck_cycles,
        layer_cycles=layer_cycles if per_layer else None,
        layer_bottleneck=bottleneck if per_layer else None,
        layer_dram_bits=layer_dram_bits if per_layer else None,
    )


def tile_depths(table: LayerTable, sides: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Words per input-tile and output-tile buffer bank of tile sizes ``(T, 2)`` = Tr, Tc on
    every layer: two ``(T, L)`` arrays (a buffer serves the largest tile of its layers)."""
    tr, tc = sides[:, 0:1], sides[:, 1:2]
    t = table
    tr_e, tc_e = np.minimum(tr, t.r), np.minimum(tc, t.c)
    return (t.s * tr_e + t.k - t.s) * (t.s * tc_e + t.k - t.s), tr_e * tc_e


def weight_depth(table: LayerTable) -> np.ndarray:
    """Words per weight buffer bank on every layer, ``(1, L)``: K² (pooling has no weights)."""
    return np.where(table.has_weights, table.k**2, 0)


def bank_blocks(depth, bits: int):
    """BRAM18Ks of one bank holding ``depth`` words of ``bits`` bits."""
    return _ceil_div(depth * bits, BRAM18K_BITS)


def bram_from_banks(tm, tn, blocks_in, blocks_out, blocks_w):
    """BRAM18Ks of the double-buffered banks: Tn input, Tm output and Tm·Tn weight banks."""
    return 2 * tn * blocks_in + 2 * tm * blocks_out + 2 * tm * tn * blocks_w


def bram_blocks(tm, tn, depth_in, depth_out, depth_w, precision: Precision):
    """BRAM18Ks of an engine whose banks are as deep as the given depths (broadcast)."""
    return bram_from_banks(
        tm,
        tn,
        bank_blocks(depth_in, precision.act_bits),
        bank_blocks(depth_out, precision.act_bits),
        bank_blocks(depth_w, precision.weight_bits),
    )


def resources(
    table: LayerTable, tilings: np.ndarray, precision: Precision
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(DSPs, BRAM18Ks, LUTs) of engines with tilings ``(T, 4)`` = Tm, Tn, Tr, Tc.

    Buffers are double-buffered and as deep as the largest tile any of the layers needs.
    """
    depth_in, depth_out = tile_depths(table, tilings[:, 2:4])
    tm, tn = tilings[:, 0], tilings[:, 1]
    bram = bram_blocks(
        tm,
        tn,
        depth_in.max(axis=1),
        depth_out.max(axis=1),
        int(weight_depth(table).max()),
        precision,
    )
    units = tm * tn
    return (
        units * precision.dsp_per_mac,
        bram,
        units * precision.lut_per_mac + ENGINE_LUT_OVERHEAD,
    )
