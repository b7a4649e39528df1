"""The engine design space a tuner searches for one pipeline stage.

Tile sizes worth trying are the values ``⌈X/k⌉`` for every layer dimension X of the stage (any
other value takes as many tiles as the next smaller one of these, with a larger buffer), capped
by the part's DSP budget. Port widths split the part's DRAM bits per cycle into ``quanta`` equal
shares (rounding leftovers to the output port); only splits that use the whole bandwidth are kept,
since a wider port never costs a cycle.
Every tuner searches this same space, so ``exhaustive`` is the exact optimum the others are
measured against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from coexplore.platforms.fpga_pipeline.engine import LayerTable, resources
from coexplore.platforms.fpga_pipeline.parts import FPGAPart
from coexplore.platforms.fpga_pipeline.precision import Precision
from coexplore.workloads.layer import Layer

DEFAULT_PORT_QUANTA = 12


def useful_tile_sizes(dims: Sequence[int], cap: int | None = None) -> np.ndarray:
    """Sorted distinct ``⌈d/k⌉`` over the dimensions ``dims`` and k = 1..d, at most ``cap``."""
    values: set[int] = set()
    for d in set(int(x) for x in dims):
        k = np.arange(1, d + 1)
        values.update(np.unique(-(-d // k)).tolist())
    out = np.array(sorted(values), dtype=np.int64)
    return out if cap is None else out[out <= cap]


def port_splits(bandwidth: int, quanta: int) -> np.ndarray:
    """All (Ib, Wb, Ob) that give each port a positive whole number of the ``quanta`` shares."""
    if bandwidth < 3:
        raise ValueError(f"a DRAM bandwidth of {bandwidth} bits/cycle cannot feed three ports")
    quanta = min(quanta, bandwidth)
    rows = [(a, b, quanta - a - b) for a in range(1, quanta - 1) for b in range(1, quanta - a)]
    widths = np.array(rows, dtype=np.int64) * bandwidth // quanta
    widths[:, 2] += bandwidth - widths.sum(axis=1)  # rounding leftovers go to the output port
    return widths


@dataclass(frozen=True)
class StageProblem:
    """One stage to tune: its layers on a part in a precision, and the space to search."""

    layers: tuple[Layer, ...]
    part: FPGAPart
    precision: Precision
    square_tiles: bool = True
    port_quanta: int = DEFAULT_PORT_QUANTA

    @cached_property
    def table(self) -> LayerTable:
        return LayerTable.of(self.layers)

    @cached_property
    def max_units(self) -> int:
        """MAC units the DSP and LUT budgets allow."""
        from coexplore.platforms.fpga_pipeline.precision import ENGINE_LUT_OVERHEAD

        by_dsp = self.part.dsp // self.precision.dsp_per_mac
        by_lut = (self.part.lut - ENGINE_LUT_OVERHEAD) // self.precision.lut_per_mac
        return max(0, min(by_dsp, by_lut))

    @cached_property
    def tm_values(self) -> np.ndarray:
        return useful_tile_sizes(self.table.m.ravel().tolist(), self.max_units)

    @cached_property
    def tn_values(self) -> np.ndarray:
        return useful_tile_sizes(self.table.n.ravel().tolist(), self.max_units)

    @cached_property
    def tr_values(self) -> np.ndarray:
        return useful_tile_sizes(self.table.r.ravel().tolist())

    @cached_property
    def tc_values(self) -> np.ndarray:
        return useful_tile_sizes(self.table.c.ravel().tolist())

    @cached_property
    def splits(self) -> np.ndarray:
        return port_splits(self.part.dram_bits_per_cycle, self.port_quanta)

    @cached_property
    def grid(self) -> np.ndarray:
        """Every (Tm, Tn, Tr, Tc) of the space within the MAC-unit cap, in lexicographic order."""
        tm, tn = np.meshgrid(self.tm_values, self.tn_values, indexing="ij")
        keep = tm * tn <= self.max_units
        pairs = np.stack([tm[keep], tn[keep]], axis=1)
        if self.square_tiles:
            side = np.union1d(self.tr_values, self.tc_values)
            rc = np.stack([side, side], axis=1)
        else:
            tr, tc = np.meshgrid(self.tr_values, self.tc_values, indexing="ij")
            rc = np.stack([tr.ravel(), tc.ravel()], axis=1)
        return np.concatenate(
            [np.repeat(pairs, len(rc), axis=0), np.tile(rc, (len(pairs), 1))], axis=1
        )

    @cached_property
    def tilings(self) -> np.ndarray:
        """Every tiling of :attr:`grid` that fits the DSP, LUT and BRAM budgets on all layers."""
        dsp, bram, lut = resources(self.table, self.grid, self.precision)
        fits = (dsp <= self.part.dsp) & (bram <= self.part.bram18k) & (lut <= self.part.lut)
        return self.grid[fits]

    @property
    def size(self) -> int:
        """Designs in the space that fit every on-chip budget (tilings × port splits)."""
        return len(self.tilings) * len(self.splits)

    def design_rows(self, tiling_idx: np.ndarray, split_idx: np.ndarray) -> np.ndarray:
        """(D, 7) design rows from indices into :attr:`tilings` and :attr:`splits`."""
        return np.concatenate([self.tilings[tiling_idx], self.splits[split_idx]], axis=1)
