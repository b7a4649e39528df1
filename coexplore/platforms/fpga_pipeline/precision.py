"""Arithmetic precisions an engine can be built in: bit widths and the cost of one MAC unit."""

from __future__ import annotations

from dataclasses import dataclass

from coexplore.registry import Registry


@dataclass(frozen=True)
class Precision:
    """Bits per activation (input and output feature maps) and weight; resources per MAC unit.

    ``dsp_per_mac``: DSP slices one multiply-accumulate unit takes (FPGA'15: 5 for fp32 — 3 for
    the multiplier, 2 for the adder; 1 for 16-bit or narrower fixed point on a DSP48).
    ``lut_per_mac``: estimated LUTs per MAC unit for the adder tree, muxing and control.
    """

    name: str
    act_bits: int
    weight_bits: int
    dsp_per_mac: int
    lut_per_mac: int


PRECISIONS: Registry[Precision] = Registry("precision")
for _p in (
    Precision("fp32", act_bits=32, weight_bits=32, dsp_per_mac=5, lut_per_mac=350),
    Precision("fixed16", act_bits=16, weight_bits=16, dsp_per_mac=1, lut_per_mac=40),
    Precision("fixed8", act_bits=8, weight_bits=8, dsp_per_mac=1, lut_per_mac=25),
):
    PRECISIONS.register(_p.name, _p)

# LUTs of the engine's fixed control, DMA and AXI glue, whatever its size (estimate).
ENGINE_LUT_OVERHEAD = 5000
