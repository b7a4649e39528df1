"""The multi-FPGA pipeline model: golden metrics by hand, specs, design files."""

import pytest

from coexplore.config import ConfigError
from coexplore.core.specs import Specs
from coexplore.platforms.fpga_pipeline.engine import EngineDesign
from coexplore.platforms.fpga_pipeline.fast_phase import metrics_from_pipeline
from coexplore.platforms.fpga_pipeline.pipeline import (
    HardwareDesign,
    Stage,
    evaluate_pipeline,
    single_stage,
)
from coexplore.platforms.fpga_pipeline.sparse import Compression, evaluate_sparse
from coexplore.workloads import NetworkBuilder

# conv 8@3x3 on 4x10x10 (-> 8x8x8), then fc 512 -> 10
NET = NetworkBuilder("toy", (4, 10, 10)).conv(8, 3).fc(10).build()
TWO_STAGES = HardwareDesign(
    (
        Stage("XC7Z020", 0, 1, EngineDesign(4, 2, 4, 4, 16, 16, 16)),
        Stage("XC7A50T", 1, 2, EngineDesign(2, 8, 1, 1, 16, 16, 16)),
    ),
    precision="fixed16",
)


def test_two_stage_metrics_by_hand():
    m = evaluate_pipeline(NET, TWO_STAGES)
    # stage 0: 2512 cycles (see test_engine_golden) at 100 MHz = 25.12 us
    # stage 1: fc, 5138 cycles = 51.38 us
    # link: min(1.0, 6.6) Gb/s; 512 activations x 16 b = 8192 b -> 8.192 us
    t0, t1, x = 25.12e-6, 51.38e-6, 8.192e-6
    assert [s.cycles for s in m.stages] == [2512, 5138]
    assert m.transfer_ms == pytest.approx([x * 1e3])
    assert m.throughput_fps == pytest.approx(1 / t1)  # 19,462.8 images/s
    assert m.latency_ms == pytest.approx((t0 + t1 + x) * 1e3)
    assert m.pipeline_efficiency == pytest.approx((t0 + t1) / 2 / t1)
    assert m.bottleneck_stage == 1
    # energy: static power over the whole period + busy DSP/BRAM power + DRAM bits
    # stage 0 (XC7Z020): 0.15 W * t1; (8 DSP * 1.2 mW + 28 BRAM * 1 mW) * t0; 45,056 b * 30 pJ
    e0 = 0.15 * t1 + (8 * 1.2e-3 + 28 * 1e-3) * t0 + 45_056 * 30e-12
    # stage 1 (XC7A50T): 16 DSPs, BRAM 2*8 + 2*2 + 2*16 = 52; 5 tiles x (64 x (128 + 256) + 32) b
    e1 = 0.08 * t1 + (16 * 1.2e-3 + 52 * 1e-3) * t1 + 5 * (64 * (8 * 16 + 16 * 16) + 32) * 30e-12
    assert m.energy_mj == pytest.approx((e0 + e1) * 1e3)
    assert m.gops_per_w == pytest.approx(NET.ops / 1e9 / (e0 + e1))
    assert m.valid and m.stages[1].bottleneck == "load weights"


def test_link_override_can_make_the_transfer_the_bottleneck():
    slow = HardwareDesign(TWO_STAGES.stages, "fixed16", link_gbps=0.1)
    m = evaluate_pipeline(NET, slow)
    assert m.throughput_fps == pytest.approx(1 / (8192 / 0.1e9))
    assert m.bottleneck_stage == -1  # transfer 0


def test_over_budget_stage_is_reported():
    hw = single_stage("XC7A50T", EngineDesign(32, 32, 8, 8, 40, 40, 40), 2, "fixed16")
    m = evaluate_pipeline(NET, hw)
    assert not m.valid
    budgets = {v["budget"] for v in m.violations}
    assert {"dsp", "bram18k"} <= budgets
    assert all(v["used"] > v["available"] for v in m.violations)


def test_specs_report_which_fail_and_by_how_much():
    pm = evaluate_pipeline(NET, TWO_STAGES)
    m = metrics_from_pipeline(pm)
    assert m.latency_s == pytest.approx(pm.latency_ms / 1e3) and m.devices == 2
    assert m.energy_j == pytest.approx(pm.energy_mj / 1e3)
    assert m.power_w == pytest.approx(m.energy_j * pm.throughput_fps)  # J/image × images/s
    assert m.edp_js == pytest.approx(m.energy_j * m.latency_s)
    legacy = {"min_throughput_fps": 10_000, "max_fpgas": 2}
    assert Specs.from_config(legacy).check(m) == []
    legacy = {"min_throughput_fps": 40_000, "max_latency_ms": 0.05, "max_fpgas": 1}
    failed = Specs.from_config(legacy).check(m)
    by_name = {f.metric: f for f in failed}
    assert set(by_name) == {"throughput_fps", "latency_s", "devices"}
    assert all(f.kind == "spec" for f in failed)
    assert by_name["throughput_fps"].bound == "min" and by_name["latency_s"].bound == "max"
    assert by_name["throughput_fps"].miss_ratio == pytest.approx(
        (40_000 - pm.throughput_fps) / 40_000
    )
    assert by_name["latency_s"].limit == pytest.approx(0.05e-3)  # ms read as s
    assert by_name["devices"].value == 2
    # the metric form says the same
    same = Specs.from_config({"throughput_fps": {"min": 40_000}, "latency_s": {"max": 0.05e-3}})
    assert [f.metric for f in same.check(m)] == ["throughput_fps", "latency_s"]


def test_design_file_round_trip_and_errors():
    again = HardwareDesign.from_dict(TWO_STAGES.to_dict())
    assert again == TWO_STAGES
    data = TWO_STAGES.to_dict()
    data["stages"][1]["layers"] = [2]
    with pytest.raises(ConfigError, match=r"stages\[1\].layers"):
        HardwareDesign.from_dict(data, "d.yaml")
    data = TWO_STAGES.to_dict()
    data["precision"] = "fp64"
    with pytest.raises(ConfigError, match="fixed16"):
        HardwareDesign.from_dict(data, "d.yaml")
    data = TWO_STAGES.to_dict()
    data["stages"][0]["part"] = "NOPE"
    with pytest.raises(ConfigError, match="XC7Z020"):
        HardwareDesign.from_dict(data, "d.yaml")
    data = TWO_STAGES.to_dict()
    del data["stages"][0]["design"]["tm"]
    with pytest.raises(ConfigError, match="design.tm"):
        HardwareDesign.from_dict(data, "d.yaml")
    data = TWO_STAGES.to_dict()
    data["stages"][0]["layers"] = "0-0"
    assert HardwareDesign.from_dict(data) == TWO_STAGES


def test_design_must_cover_the_network():
    with pytest.raises(ValueError, match="covers 1 layers"):
        evaluate_pipeline(
            NET, single_stage("XC7Z020", EngineDesign(1, 1, 1, 1, 1, 1, 1), 1, "fixed16")
        )


def _splits(n: int, stages: int):
    import itertools

    return [list(c) for c in itertools.combinations(range(1, n), stages - 1)]


@pytest.mark.parametrize("parts", [("XC7Z020", "XC7A50T"), ("XC7Z020", "XC7A50T", "XC7Z020")])
def test_a_fixed_design_maps_another_network_onto_its_engines(parts):
    """map_layers keeps the engines and finds the split with the least period: no split
    without a budget break is faster (brute force over every split)."""
    import numpy as np

    from coexplore.platforms.fpga_pipeline.pipeline import map_layers
    from coexplore.platforms.fpga_pipeline.tuning.pipeline import tune_pipeline
    from coexplore.spaces import make_space

    space = make_space("nb201", cells_per_stage=1)
    resnet = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
    reference = space.parse(resnet).network((3, 32, 32), 10)
    fixed = tune_pipeline(reference, list(parts)).hardware
    assert map_layers(reference, fixed) is fixed  # its own network: its own partition
    rng = np.random.default_rng(0)
    checked = 0
    while checked < 3:
        net = space.sample(rng).network((3, 32, 32), 10)
        if len(net) == len(reference) or len(net) < len(parts):
            continue
        mapped = map_layers(net, fixed)
        assert [(s.part, s.design) for s in mapped.stages] == [
            (s.part, s.design) for s in fixed.stages
        ]
        period = 1 / evaluate_pipeline(net, mapped).throughput_fps
        clean = []
        for cuts in _splits(len(net), len(parts)):
            bounds = [0, *cuts, len(net)]
            stages = tuple(
                Stage(s.part, a, b, s.design)
                for s, a, b in zip(fixed.stages, bounds, bounds[1:], strict=False)
            )
            m = evaluate_pipeline(net, HardwareDesign(stages, fixed.precision))
            if not m.violations:
                clean.append(1 / m.throughput_fps)
        assert clean and period <= min(clean) * (1 + 1e-12)
        checked += 1


def test_a_dense_compression_changes_nothing():
    plain = evaluate_pipeline(NET, TWO_STAGES).to_dict()
    assert evaluate_pipeline(NET, TWO_STAGES, Compression({"conv1": 1.0})).to_dict() == plain


def test_compressed_stages_run_the_sparse_engine():
    from coexplore.platforms.fpga_pipeline.parts import get_part
    from coexplore.platforms.fpga_pipeline.precision import PRECISIONS

    comp = Compression({"conv1": 0.25, "fc2": 0.1}, {"fc2": 4})
    m = evaluate_pipeline(NET, TWO_STAGES, comp)
    dense = evaluate_pipeline(NET, TWO_STAGES)
    prec = PRECISIONS.get("fixed16")
    energy, times = [], []
    for i, stage in enumerate(TWO_STAGES.stages):
        layers = NET.layers[stage.start : stage.stop]
        part = get_part(stage.part)
        density, bits = comp.arrays(layers, prec)
        ev = evaluate_sparse(layers, stage.design, part, prec, density, weight_bits=bits)
        assert m.stages[i].cycles == ev.total_cycles <= dense.stages[i].cycles
        assert m.stages[i].bram18k_used == ev.bram18k
        assert m.stages[i].layer_bottleneck == ["sparse"] * len(layers)  # both run sparse
        times.append(ev.total_cycles / part.clock_hz)
        energy.append((part, ev.energy_j))
    period = max(times + [t / 1e3 for t in m.transfer_ms])
    assert m.throughput_fps == pytest.approx(1 / period)
    assert m.energy_mj == pytest.approx(1e3 * sum(p.static_w * period + e for p, e in energy))
    assert comp.arrays(NET.layers, prec) == ([0.25, 0.1], [16, 4])
