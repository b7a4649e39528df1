"""A line-by-line, one-design-at-a-time transcription of the engine equations.

It exists for two reasons: it is the oracle the vectorised model in :mod:`engine` is tested
against (two independent codings of docs/fpga-model.md#engine must agree on every design),
and it is the scalar baseline ``bench/bench_engine.py`` measures the vectorised model against.
Library code uses :func:`coexplore.platforms.fpga_pipeline.engine.evaluate_batch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil

from coexplore.platforms.fpga_pipeline.engine import BRAM18K_BITS, Bottleneck, EngineDesign
from coexplore.platforms.fpga_pipeline.parts import FPGAPart
from coexplore.platforms.fpga_pipeline.precision import ENGINE_LUT_OVERHEAD, Precision
from coexplore.workloads.layer import Layer, LayerKind


@dataclass(frozen=True)
class ReferenceResult:
    layer_cycles: list[int]
    layer_bottleneck: list[Bottleneck]
    cycles: int
    dsp: int
    bram18k: int
    lut: int
    bandwidth: int
    violations: list[str]


def _layer(layer: Layer, d: EngineDesign, p: Precision) -> tuple[int, Bottleneck, int, int, int]:
    """(cycles, bottleneck, input-tile depth, output-tile depth, weight-tile depth) of a layer."""
    diagonal = layer.kind in (LayerKind.DWCONV, LayerKind.POOL)
    if diagonal:
        channels = layer.out_channels
        par = min(d.tm, d.tn, channels)
        m_par = n_par = par
        n_iter = 1
        m_iter = ceil(channels / par)
        weights_per_tile = 0 if layer.kind is LayerKind.POOL else par * layer.kernel**2
    else:
        m, n = layer.channels_per_group
        m_par, n_par = min(d.tm, m), min(d.tn, n)
        n_iter = ceil(n / d.tn)
        m_iter = layer.groups * ceil(m / d.tm)
        weights_per_tile = m_par * n_par * layer.kernel**2
    k, s = layer.kernel, layer.stride
    tr, tc = min(d.tr, layer.out_h), min(d.tc, layer.out_w)
    tr_in, tc_in = s * tr + k - s, s * tc + k - s

    t_comp = k * k * tr * tc
    t_in = ceil(n_par * tr_in * tc_in * p.act_bits / d.ib)
    t_w = ceil(weights_per_tile * p.weight_bits / d.wb)
    t_out = ceil(m_par * tr * tc * p.act_bits / d.ob)
    l1 = max(t_comp, t_in, t_w)
    l2 = max(n_iter * l1, t_out)
    cycles = ceil(layer.out_h / d.tr) * ceil(layer.out_w / d.tc) * m_iter * l2 + t_out + l1

    if t_out > n_iter * l1:
        bottleneck = Bottleneck.STORE_OFM
    elif l1 == t_comp:
        bottleneck = Bottleneck.COMPUTE
    elif l1 == t_in:
        bottleneck = Bottleneck.LOAD_IFM
    else:
        bottleneck = Bottleneck.LOAD_WEIGHTS
    w_depth = 0 if layer.kind is LayerKind.POOL else k * k
    return cycles, bottleneck, tr_in * tc_in, tr * tc, w_depth


def evaluate_reference(
    layers: Sequence[Layer], design: EngineDesign, part: FPGAPart, precision: Precision
) -> ReferenceResult:
    results = [_layer(layer, design, precision) for layer in layers]
    in_depth = max(r[2] for r in results)
    out_depth = max(r[3] for r in results)
    w_depth = max(r[4] for r in results)
    bram = (
        2 * design.tn * ceil(in_depth * precision.act_bits / BRAM18K_BITS)
        + 2 * design.tm * ceil(out_depth * precision.act_bits / BRAM18K_BITS)
        + 2 * design.tm * design.tn * ceil(w_depth * precision.weight_bits / BRAM18K_BITS)
    )
    dsp = design.tm * design.tn * precision.dsp_per_mac
    lut = design.tm * design.tn * precision.lut_per_mac + ENGINE_LUT_OVERHEAD
    bandwidth = design.ib + design.wb + design.ob
    violations = [
        name
        for name, used, limit in (
            ("dsp", dsp, part.dsp),
            ("bram18k", bram, part.bram18k),
            ("lut", lut, part.lut),
            ("bandwidth", bandwidth, part.dram_bits_per_cycle),
        )
        if used > limit
    ]
    return ReferenceResult(
        layer_cycles=[r[0] for r in results],
        layer_bottleneck=[r[1] for r in results],
        cycles=sum(r[0] for r in results),
        dsp=dsp,
        bram18k=bram,
        lut=lut,
        bandwidth=bandwidth,
        violations=violations,
    )
