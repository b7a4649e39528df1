"""Golden numbers for the engine model, each worked out by hand from docs/fpga-model.md#engine."""

import numpy as np
import pytest

from coexplore.platforms.fpga_pipeline.engine import Bottleneck, EngineDesign, evaluate_batch
from coexplore.platforms.fpga_pipeline.engine_reference import evaluate_reference
from coexplore.platforms.fpga_pipeline.parts import get_part
from coexplore.platforms.fpga_pipeline.precision import PRECISIONS
from coexplore.workloads import NetworkBuilder, preset

FIXED16 = PRECISIONS.get("fixed16")
FP32 = PRECISIONS.get("fp32")
ZYNQ = get_part("XC7Z020")

# conv: M=8 out, N=4 in, 10x10 input, K=3, S=1, no padding -> R=C=8
CONV = NetworkBuilder("g", (4, 10, 10)).conv(8, 3).build().layers[0]


def run(layers, design, part=ZYNQ, precision=FIXED16):
    batch = evaluate_batch(layers, design.as_array(), part, precision, per_layer=True)
    ref = evaluate_reference(layers, design, part, precision)
    # the vectorised model and the line-by-line reference agree
    assert batch.layer_cycles[0].tolist() == ref.layer_cycles
    assert [Bottleneck(b) for b in batch.layer_bottleneck[0]] == ref.layer_bottleneck
    assert (batch.dsp[0], batch.bram18k[0], batch.lut[0]) == (ref.dsp, ref.bram18k, ref.lut)
    assert batch.violations(0) == ref.violations
    return batch


def test_compute_bound_conv():
    # <Tm,Tn,Tr,Tc> = <4,2,4,4>, 16-bit ports of 16 bits/cycle
    # Tr' = S*Tr + K - S = 4 + 3 - 1 = 6
    # tComp = K^2 Tr Tc = 9*16 = 144
    # tI = ceil(Tn Tr' Tc' 16 / Ib) = 2*36*16/16 = 72; tW = Tm Tn K^2 16/Wb = 4*2*9 = 72
    # tO = Tm Tr Tc 16 / Ob = 4*16 = 64
    # L1 = max(144, 72, 72) = 144; L2 = max(ceil(4/2) * 144, 64) = 288
    # cycles = ceil(8/4) ceil(8/4) ceil(8/4) * 288 + tO + L1 = 8*288 + 64 + 144 = 2512
    b = run([CONV], EngineDesign(4, 2, 4, 4, 16, 16, 16))
    assert b.layer_cycles[0, 0] == 2512
    assert b.layer_bottleneck[0, 0] == Bottleneck.COMPUTE
    # BRAM: input bank 36 words*16 b -> 1 block, x2 buffers x Tn=2 -> 4;
    # output bank 16 words -> 1, x2 x Tm=4 -> 8; weight bank 9 words -> 1, x2 x 8 banks -> 16
    assert b.bram18k[0] == 4 + 8 + 16
    assert b.dsp[0] == 8  # Tm*Tn MACs, 1 DSP each in 16-bit fixed point
    assert b.lut[0] == 8 * 40 + 5000
    # DRAM traffic: 8 tiles x (2 input passes x (1152 + 1152) + 1024 output bits) = 45,056 bits
    assert b.layer_dram_bits[0, 0] == 8 * (2 * (2 * 36 * 16 + 8 * 9 * 16) + 4 * 16 * 16)


@pytest.mark.parametrize(
    ("ports", "cycles", "bottleneck"),
    [
        # Ib = 1: tI = 2*36*16 = 1152 = L1; L2 = 2*1152; 8*2304 + 64 + 1152 = 19,648
        ((1, 16, 16), 19_648, Bottleneck.LOAD_IFM),
        # Wb = 1: tW = 4*2*9*16 = 1152, same arithmetic
        ((16, 1, 16), 19_648, Bottleneck.LOAD_WEIGHTS),
        # Ob = 1: tO = 4*16*16 = 1024 > 2*144; 8*1024 + 1024 + 144 = 9,360
        ((16, 16, 1), 9_360, Bottleneck.STORE_OFM),
    ],
)
def test_memory_bound_conv(ports, cycles, bottleneck):
    b = run([CONV], EngineDesign(4, 2, 4, 4, *ports))
    assert b.layer_cycles[0, 0] == cycles and b.layer_bottleneck[0, 0] == bottleneck


def test_depthwise_and_pool_use_the_diagonal():
    net = NetworkBuilder("g", (8, 10, 10)).dwconv(3).build()
    # p = min(Tm, Tn) = 2 channels per tile; ceil(8/2) = 4 channel steps, one input pass
    # tComp = 144; tI = 2*36*16/16 = 72; tW = 2*9*16/16 = 18; tO = 2*16*16/16 = 32
    # cycles = 2*2*4*144 + 32 + 144 = 2480
    b = run(net.layers, EngineDesign(4, 2, 4, 4, 16, 16, 16))
    assert b.layer_cycles[0, 0] == 2480
    pool = NetworkBuilder("g", (8, 10, 10)).pool(2).build()
    # R = 5, Tr = 4: Tr' = 2*4 + 2 - 2 = 8; tComp = 4*16 = 64; tI = 2*64 = 128; no weights
    # tO = 32; L1 = 128 (load IFM); tiles = ceil(5/4)^2 * 4 = 16; 16*128 + 32 + 128 = 2208
    b = run(pool.layers, EngineDesign(4, 2, 4, 4, 16, 16, 16))
    assert b.layer_cycles[0, 0] == 2208 and b.layer_bottleneck[0, 0] == Bottleneck.LOAD_IFM


def test_grouped_conv_runs_groups_in_turn():
    grouped = NetworkBuilder("g", (4, 10, 10)).conv(8, 3, groups=2).build().layers[0]
    # per group M=4, N=2: ceil(2/2) = 1 input pass; 2 groups x ceil(4/4) = 2 channel steps
    # tI = 72, tW = 72, tComp = 144, tO = 64 -> L2 = 144; 2*2*2*144 + 64 + 144 = 1360
    b = run([grouped], EngineDesign(4, 2, 4, 4, 16, 16, 16))
    assert b.layer_cycles[0, 0] == 1360


def test_fc_layer_is_weight_bound():
    fc = NetworkBuilder("g", (512, 1, 1)).fc(10).build().layers[0]
    # M=10, N=512, 1x1: tComp = 1, tI = 8*16/16 = 8, tW = 2*8*16/16 = 16, tO = 2
    # L2 = 64 passes * 16 = 1024; ceil(10/2) = 5 steps: 5*1024 + 2 + 16 = 5138
    b = run([fc], EngineDesign(2, 8, 1, 1, 16, 16, 16))
    assert b.layer_cycles[0, 0] == 5138 and b.layer_bottleneck[0, 0] == Bottleneck.LOAD_WEIGHTS


def test_alexnet_conv1_fp32_bram_budget_is_enforced():
    conv1 = preset("alexnet").layers[0]  # M=96, N=3, 227 -> 55, K=11, S=4
    vc707 = get_part("XC7VX485T")
    b = run([conv1], EngineDesign(64, 7, 55, 55, 300, 300, 300), vc707, FP32)
    # input bank: (4*55 + 11 - 4)^2 = 227^2 = 51,529 words x 32 b = 1,648,928 b -> 90 blocks
    # x2 x Tn=7 = 1260; output bank 55^2 x 32 b = 96,800 b -> 6 blocks x2 x 64 = 768;
    # weight bank 121 x 32 b -> 1 block x2 x 448 = 896; total 2924 > 2060
    assert b.bram18k[0] == 1260 + 768 + 896
    assert b.dsp[0] == 64 * 7 * 5 == 2240  # within the 2800 DSPs
    assert b.violations(0) == ["bram18k"] and not b.valid[0]
    # compute-bound cycles: ceil(96/64) = 2 steps x 121*55*55 per tile + prologue
    assert b.layer_cycles[0, 0] >= 2 * 121 * 55 * 55


def test_every_budget_is_checked():
    design = EngineDesign(64, 64, 4, 4, 100, 100, 100)  # 4096 DSPs on a 220-DSP part
    b = run([CONV], design)
    assert set(b.violations(0)) >= {"dsp", "lut"}
    wide = EngineDesign(1, 1, 4, 4, 100, 100, 100)  # 300 bits/cycle > 168 available
    assert run([CONV], wide).violations(0) == ["bandwidth"]


def test_tiles_larger_than_the_map_are_clipped():
    big = run([CONV], EngineDesign(4, 2, 100, 100, 16, 16, 16))
    exact = run([CONV], EngineDesign(4, 2, 8, 8, 16, 16, 16))
    assert big.layer_cycles[0, 0] == exact.layer_cycles[0, 0]
    assert big.bram18k[0] == exact.bram18k[0]


def test_design_rejects_nonpositive_fields():
    with pytest.raises(ValueError, match="tm"):
        EngineDesign(0, 1, 1, 1, 1, 1, 1)
    with pytest.raises(ValueError):
        evaluate_batch([CONV], np.zeros((1, 7), dtype=np.int64), ZYNQ, FIXED16)
