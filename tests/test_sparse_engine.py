"""The sparse engine variant and the break-even pruning ratio (ADMM-NN, Ren et al., ASPLOS 2019).

Golden numbers are worked out by hand from docs/fpga-model.md#sparse-engine-and-break-even-
pruning-ratio; the properties hold for any layer and design (hypothesis).
"""

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coexplore.config import ConfigError
from coexplore.platforms.fpga_pipeline.engine import EngineDesign, evaluate_batch
from coexplore.platforms.fpga_pipeline.parts import get_part
from coexplore.platforms.fpga_pipeline.precision import PRECISIONS
from coexplore.platforms.fpga_pipeline.sparse import (
    SparseEngineModel,
    break_even_ratio,
    evaluate_sparse,
)
from coexplore.workloads import NetworkBuilder, preset

FIXED16 = PRECISIONS.get("fixed16")
FP32 = PRECISIONS.get("fp32")
ZYNQ = get_part("XC7Z020")  # 100 MHz, 1.2 mW/DSP, 1.0 mW/BRAM18K, 30 pJ/DRAM bit
NO_OVERHEAD = SparseEngineModel(overhead=0.0)
SMALL = EngineDesign(4, 2, 4, 4, 32, 32, 32)  # <Tm,Tn,Tr,Tc> = <4,2,4,4>, 32-bit ports

# conv: M=8 out, N=4 in, 10x10 input, K=3, S=1 -> R=C=8
CONV = NetworkBuilder("c", (4, 10, 10)).conv(8, 3).build().layers[0]
# fc: N=8 in, M=8 out (a 1x1 conv on a 1x1 map)
FC = NetworkBuilder("f", (8, 1, 1)).fc(8).build().layers[0]


def test_golden_conv():
    # Dense, fixed16 (16-bit activations and weights), ports 32 bits/cycle:
    #   Tr' = 4 + 3 - 1 = 6; tComp = 9*16 = 144; tI = 2*36*16/32 = 36;
    #   tW = 4*2*9*16/32 = 36; tO = 4*16*16/32 = 32; L1 = 144; L2 = max(2*144, 32) = 288;
    #   tiles = 2*2*2 = 8; cycles = 8*288 + 32 + 144 = 2480.
    # Sparse at d = 0.25 (index 4 b, overhead 1.22):
    #   nnz = ceil(0.25*72) = 18; tW = ceil(18*20/32) = ceil(11.25) = 12;
    #   tComp = ceil(0.25*2.22*144) = ceil(79.92) = 80; L1 = max(80, 36, 12) = 80;
    #   L2 = max(2*80, 32) = 160; cycles = 8*160 + 32 + 80 = 1392.
    # DRAM bits = tiles*(n_iter*(in + w) + out):
    #   dense 8*(2*(1152 + 1152) + 1024) = 45,056; sparse 8*(2*(1152 + 360) + 1024) = 32,384.
    # BRAM: input bank 36 words*16 b -> 1 block, x2 buffers x Tn=2 -> 4; output bank 16 words
    #   -> 1, x2 x Tm=4 -> 8; sparse weight bank ceil(0.25*9) = 3 words*20 b -> 1, x2 x 8 -> 16.
    # Energy: busy = (8 DSP*1.2 + 28 BRAM*1.0) mW = 37.6 mW;
    #   E = 0.0376 W * 1392 / 1e8 Hz + 32,384 b * 30 pJ = 5.23392e-7 + 9.7152e-7 = 1.494912e-6 J.
    e = evaluate_sparse([CONV], SMALL, ZYNQ, FIXED16, [0.25])
    assert e.dense_cycles.tolist() == [2480]
    assert e.sparse_cycles.tolist() == [1392]
    assert e.dense_dram_bits.tolist() == [45_056]
    assert e.sparse_dram_bits.tolist() == [32_384]
    assert e.use_sparse.tolist() == [True]
    assert (e.total_cycles, e.dense_total_cycles, e.total_dram_bits) == (1392, 2480, 32_384)
    assert e.bram18k == 4 + 8 + 16
    assert e.energy_j == pytest.approx(1.494912e-6, rel=1e-12)
    # Break-even: dense L1 = 144 and cycles = 8*max(2*L1, 32) + 32 + L1 grow with L1, so sparse
    # is not slower iff its L1 <= 144: ceil(319.68 d) <= 144 iff d <= 1/2.22 (tW <= 45 and
    # tI = 36 never bind) -> r = 2.22.
    assert break_even_ratio([CONV], SMALL, FIXED16)[0] == pytest.approx(2.22, rel=1e-14)


def test_golden_fc():
    # Dense: tComp = 1; tI = ceil(2*16/32) = 1; tW = 4*2*16/32 = 4; tO = 4*16/32 = 2;
    #   L1 = 4; n_iter = 8/2 = 4; L2 = max(16, 2) = 16; tiles = 8/4 = 2; cycles = 32 + 2 + 4 = 38.
    # Sparse at d = 0.25: nnz = ceil(0.25*8) = 2; tW = ceil(2*20/32) = 2;
    #   tComp = max(1, ceil(0.555)) = 1; L1 = 2; L2 = 8; cycles = 16 + 2 + 2 = 20.
    # DRAM bits: dense 2*(4*(32 + 128) + 64) = 1408; sparse 2*(4*(32 + 40) + 64) = 704.
    e = evaluate_sparse([FC], SMALL, ZYNQ, FIXED16, 0.25)
    assert e.dense_cycles.tolist() == [38]
    assert e.sparse_cycles.tolist() == [20]
    assert (e.dense_dram_bits.tolist(), e.sparse_dram_bits.tolist()) == ([1408], [704])
    # Break-even: cycles = 2*max(4 L1, 2) + 2 + L1 = 9 L1 + 2 (38 at L1 = 4), so sparse is not
    # slower iff ceil(nnz*20/32) <= 4 iff nnz <= 6 iff ceil(8d) <= 6 iff d <= 3/4
    # (tComp = ceil(2.22 d) <= 3 never binds) -> r = 4/3.
    assert break_even_ratio([FC], SMALL, FIXED16)[0] == pytest.approx(4 / 3, rel=1e-14)


def test_golden_weight_bound_conv():
    # Wb = 4: dense tW = 72*16/4 = 288 > tComp = 144, so L1 = 288 and
    # cycles = 8*max(2*288, 32) + 32 + 288 = 4928. Sparse: tComp = ceil(319.68 d) <= 288 iff
    # d <= 0.9009; tW = ceil(nnz*20/4) = 5 nnz <= 288 iff nnz <= 57 iff d <= 57/72 -> r = 72/57.
    design = EngineDesign(4, 2, 4, 4, 32, 4, 32)
    assert evaluate_sparse([CONV], design, ZYNQ, FIXED16, 1.0).dense_cycles.tolist() == [4928]
    assert break_even_ratio([CONV], design, FIXED16)[0] == pytest.approx(72 / 57, rel=1e-14)


def test_tie_runs_sparse_with_smaller_weight_banks():
    # fp32, 25x25 kernel on a 25x25 input (R = C = 1), <1,1,1,1>, 32-bit ports.
    # Dense: tComp = 625; tI = 625*32/32 = 625; tW = 625; tO = 1; cycles = 625 + 1 + 625 = 1251.
    # Sparse at d = 0.25: tComp = ceil(0.25*2.22*625) = ceil(346.875) = 347;
    #   nnz = ceil(156.25) = 157, tW = ceil(157*36/32) = 177; L1 = tI = 625: a tie, run sparse
    #   (same cycles, fewer DRAM bits).
    # BRAM: input bank 625 words*32 b = 20,000 b -> 2 blocks, x2 -> 4; output 1 word -> 1, x2 -> 2;
    #   weight bank dense 625*32 = 20,000 b -> 2, x2 -> 4 (total 10); sparse ceil(0.25*625) =
    #   157 words*36 b = 5652 b -> 1, x2 -> 2 (total 8).
    # DRAM bits: dense 20,000 + 20,000 + 32 = 40,032; sparse 20,000 + 5652 + 32 = 25,684.
    # Energy (5 DSPs at 1.2 mW): sparse (6 + 8) mW*1251/1e8 + 25,684*30 pJ = 9.4566e-7 J;
    #   dense (6 + 10) mW*1251/1e8 + 40,032*30 pJ = 1.40112e-6 J.
    layer = NetworkBuilder("k", (1, 25, 25)).conv(1, 25).build().layers[0]
    e = evaluate_sparse([layer], EngineDesign(1, 1, 1, 1, 32, 32, 32), ZYNQ, FP32, 0.25)
    assert (e.dense_cycles.tolist(), e.sparse_cycles.tolist()) == ([1251], [1251])
    assert e.use_sparse.tolist() == [True]
    assert (e.dense_dram_bits.tolist(), e.dram_bits.tolist()) == ([40_032], [25_684])
    assert (e.dense_bram18k, e.bram18k) == (10, 8)
    assert e.energy_j == pytest.approx(9.4566e-7, rel=1e-12)
    assert e.dense_energy_j == pytest.approx(1.40112e-6, rel=1e-12)
    # d = 0.85, no overhead: tComp = ceil(531.25) = 532, tW = ceil(532*36/32) = 599 <= tI = 625,
    # again a tie; the weight bank holds 532 words*36 b = 19,152 b -> 2 blocks (the values alone,
    # 17,024 b, would fit in 1), so the BRAM count stays 10.
    e = evaluate_sparse(
        [layer], EngineDesign(1, 1, 1, 1, 32, 32, 32), ZYNQ, FP32, 0.85, model=NO_OVERHEAD
    )
    assert (e.sparse_cycles.tolist(), e.use_sparse.tolist(), e.bram18k) == ([1251], [True], 10)


@pytest.mark.parametrize("overhead", [0.0, 0.5, 1.22, 3.0])
def test_compute_bound_conv_breaks_even_at_one_plus_overhead(overhead):
    # Ample ports: every load takes <= 2 cycles, so L1 = tComp on both engines and the sparse
    # tComp = ceil(d (1 + o) 144) <= 144 iff d <= 1/(1 + o).
    wide = EngineDesign(4, 2, 4, 4, 1024, 1024, 1024)
    r = break_even_ratio([CONV], wide, FIXED16, model=SparseEngineModel(overhead=overhead))
    assert r[0] == pytest.approx(1 + overhead, rel=1e-14)


@pytest.mark.parametrize(("weight_bits", "ratio"), [(16, 256 / 204), (8, 256 / 170)])
def test_fc_breaks_even_near_bit_ratio(weight_bits, ratio):
    # 16x16 array, 256-in/256-out fc: w_tile = 256, Wb = 32, Ib = Ob = 256 (tI = tO = 1 at 16 b).
    # Dense tW = 256 b/32; sparse tW = ceil(nnz (b + 4)/32) <= 256 b/32 iff nnz <= 8*256 b/(b+4):
    #   b = 16: tW = 128, nnz <= 4096/20 -> 204, r = 256/204 = 1.2549 (bit ratio 20/16 = 1.25);
    #   b = 8:  tW = 64,  nnz <= 2048/12 -> 170, r = 256/170 = 1.5059 (bit ratio 12/8 = 1.5).
    # tComp = ceil(2.22 d) <= 3 never binds.
    fc = NetworkBuilder("f", (256, 1, 1)).fc(256).build()
    design = EngineDesign(16, 16, 1, 1, 256, 32, 256)
    r = break_even_ratio(fc, design, FIXED16, weight_bits=weight_bits)
    assert r[0] == pytest.approx(ratio, rel=1e-14)
    assert r[0] >= (weight_bits + 4) / weight_bits


def test_never_breaks_even_and_pooling():
    # 1x1 array, 16-bit port: dense tW = 1 cycle, one sparse non-zero needs 20 b = 2 cycles.
    net = NetworkBuilder("p", (1, 4, 4)).pool(2).fc(4).build()
    design = EngineDesign(1, 1, 1, 1, 16, 16, 16)
    r = break_even_ratio(net, design, FIXED16)
    assert math.isnan(r[0]) and r[1] == math.inf
    e = evaluate_sparse(net, design, ZYNQ, FIXED16, [math.nan, 1e-6])
    assert e.sparse_cycles[0] == e.dense_cycles[0]
    assert e.use_sparse.tolist() == [False, False]


def test_dense_side_is_the_engine_model():
    net = preset("lenet5")
    design = EngineDesign(8, 4, 7, 7, 64, 64, 40)
    batch = evaluate_batch(net.layers, design.as_array(), ZYNQ, FIXED16, per_layer=True)
    e = evaluate_sparse(net, design, ZYNQ, FIXED16, 1.0)
    assert e.dense_cycles.tolist() == batch.layer_cycles[0].tolist()
    assert e.dense_dram_bits.tolist() == batch.layer_dram_bits[0].tolist()
    assert e.dense_bram18k == batch.bram18k[0]
    assert e.dense_energy_j == pytest.approx(batch.dynamic_energy_j(ZYNQ)[0], rel=1e-12)
    # density 1 never runs sparse: same engine, same energy
    assert not e.use_sparse.any() and e.energy_j == e.dense_energy_j
    # a Network and its layer sequence are the same input
    same = evaluate_sparse(list(net.layers), design, ZYNQ, FIXED16, 1.0)
    assert all(np.array_equal(getattr(e, f), getattr(same, f)) for f in vars(e))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"index_bits": 0}, "index_bits"),
        ({"index_bits": 33}, "index_bits"),
        ({"index_bits": 2.5}, "index_bits"),
        ({"index_bits": True}, "index_bits"),
        ({"overhead": -0.1}, "overhead"),
        ({"overhead": math.nan}, "overhead"),
        ({"overhead": math.inf}, "overhead"),
        ({"overhead": "1"}, "overhead"),
    ],
)
def test_bad_model_values(kwargs, field):
    with pytest.raises(ConfigError, match=field) as info:
        SparseEngineModel(**kwargs)
    assert info.value.field == field


def test_bad_inputs():
    with pytest.raises(ValueError, match="density has 3 values for 2 layers"):
        evaluate_sparse([CONV, FC], SMALL, ZYNQ, FIXED16, [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="weight_bits has 1 values for 2 layers"):
        break_even_ratio([CONV, FC], SMALL, FIXED16, weight_bits=[8])
    for bad in (0.0, 1.5, math.nan):
        with pytest.raises(ValueError, match="density of layer 1"):
            evaluate_sparse([CONV, FC], SMALL, ZYNQ, FIXED16, [0.5, bad])
    with pytest.raises(ValueError, match="weight_bits"):
        evaluate_sparse([CONV], SMALL, ZYNQ, FIXED16, 0.5, weight_bits=0)


@st.composite
def networks(draw):
    """Small random chains of conv / dwconv / pool layers ending in an fc layer."""
    c, size = draw(st.integers(1, 8)), draw(st.integers(6, 16))
    b = NetworkBuilder("h", (c, size, size))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["conv", "conv", "dwconv", "pool"]))
        k, s = draw(st.sampled_from([1, 3, 5])), draw(st.integers(1, 2))
        if kind == "conv":
            b.conv(draw(st.integers(1, 32)), k, stride=s, padding="same")
        elif kind == "dwconv":
            b.dwconv(k, stride=s, padding="same")
        elif b.shape[1] >= 2:
            b.pool(2)
    return b.fc(draw(st.integers(1, 16))).build()


designs = st.builds(
    EngineDesign,
    *(st.integers(1, 32) for _ in range(4)),
    *(st.integers(1, 256) for _ in range(3)),
)
models = st.builds(
    SparseEngineModel, st.integers(1, 8), st.floats(0, 4, allow_nan=False, allow_infinity=False)
)
densities = st.floats(1e-4, 1.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(net=networks(), design=designs, model=models, data=st.data())
def test_sparse_cycles_monotone_in_density(net, design, model, data):
    n = len(net)
    d1 = np.array(data.draw(st.lists(densities, min_size=n, max_size=n)))
    d2 = np.minimum(1.0, d1 * data.draw(st.floats(1.0, 100.0)))
    wbits = data.draw(st.sampled_from([None, 4, 8]))
    low, high, one = (
        evaluate_sparse(net, design, ZYNQ, FIXED16, d, weight_bits=wbits, model=model)
        for d in (d1, d2, 1.0)
    )
    assert (low.sparse_cycles <= high.sparse_cycles).all()
    assert (low.sparse_dram_bits <= high.sparse_dram_bits).all()
    assert (one.sparse_cycles >= one.dense_cycles).all()
    assert (low.cycles <= low.dense_cycles).all()


@settings(max_examples=60, deadline=None)
@given(net=networks(), design=designs, model=models, extra=st.floats(0, 2))
def test_break_even_is_the_threshold(net, design, model, extra):
    r = break_even_ratio(net, design, FIXED16, model=model)
    weighted = np.array([ly.kind.value != "pool" for ly in net.layers])
    assert np.isnan(r[~weighted]).all()
    assert (r[weighted] >= 1).all()
    # not slower at density 1/r, slower just above it (or at every density when r is inf)
    at = np.where(np.isfinite(r), 1 / np.nan_to_num(r, nan=1.0, posinf=1.0), 1e-300)
    e = evaluate_sparse(net, design, ZYNQ, FIXED16, at, model=model)
    finite = weighted & np.isfinite(r)
    assert (e.sparse_cycles[finite] <= e.dense_cycles[finite]).all()
    assert (e.sparse_cycles[weighted & ~finite] > e.dense_cycles[weighted & ~finite]).all()
    above = np.minimum(1.0, at * (1 + 1e-9))
    e = evaluate_sparse(net, design, ZYNQ, FIXED16, above, model=model)
    slower = finite & (r > 1)
    assert (e.sparse_cycles[slower] > e.dense_cycles[slower]).all()
    # a larger overhead never lowers the break-even ratio
    costlier = SparseEngineModel(model.index_bits, model.overhead + extra)
    r2 = break_even_ratio(net, design, FIXED16, model=costlier)
    assert (r2[weighted] >= r[weighted]).all()


def test_compression_files_and_compress_reports():
    from coexplore.platforms.fpga_pipeline.sparse import Compression

    c = Compression.from_dict({"density": {"conv1": 0.5}, "weight_bits": {"conv1": 4}})
    assert c.density == {"conv1": 0.5} and c.model == SparseEngineModel()
    report = {
        "layers": [{"name": "conv1", "keep": 0.25, "bits": 3, "weights": 500},
                   {"name": "fc2", "keep": 0.5, "bits": 32, "weights": 5000}],
        "fpga": {"index_bits": 5, "overhead": 1.0},
    }  # fmt: skip
    c = Compression.from_dict(report)
    assert c.weight_bits == {"conv1": 3}  # 32: float weights, the precision's bits
    assert c.model == SparseEngineModel(index_bits=5, overhead=1.0)
    for bad, field in [({"density": {"conv1": 0}}, "density.conv1"),
                       ({"density": {}, "weight_bits": {"fc1": 0}}, "weight_bits.fc1"),
                       ({"density": {}, "speed": 1}, "speed")]:  # fmt: skip
        with pytest.raises(ConfigError, match=field):
            Compression.from_dict(bad)


def test_hw_evaluate_with_a_compression(tmp_path, capsys):
    import json

    from coexplore.cli.main import main

    net = str(Path(__file__).parents[1] / "docs" / "compression" / "lenet5-caffe.yaml")
    design = tmp_path / "d.json"
    assert main(["hw", "tune", "--net", net, "--parts", "XC7Z020", "--out", str(design)]) == 0
    capsys.readouterr()
    argv = ["hw", "evaluate", "--net", net, "--design", str(design), "--json"]
    assert main(argv) == 0
    dense = json.loads(capsys.readouterr().out)
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"density": {"conv2": 0.1, "fc1": 0.01}, "weight_bits": {"fc1": 2}}))
    assert main([*argv, "--compression", str(f)]) == 0
    sparse = json.loads(capsys.readouterr().out)
    assert sparse["compression"]["density"] == {"conv2": 0.1, "fc1": 0.01}
    assert sparse["throughput_fps"] > dense["throughput_fps"]
    assert sparse["energy_mj"] < dense["energy_mj"]
    # a compression of another network: conv1 of 500 weights is not lenet5's (150)
    f.write_text(json.dumps({"density": {"conv1": 0.5}, "weights": {"conv1": 500}}))
    assert main(["hw", "evaluate", "--net", "lenet5", "--design", str(design),
                 "--compression", str(f)]) == 2  # fmt: skip
    assert "150 weights" in capsys.readouterr().err
    f.write_text(json.dumps({"density": {"conv9": 0.5}}))
    assert main([*argv, "--compression", str(f)]) == 2
    assert "conv9" in capsys.readouterr().err
