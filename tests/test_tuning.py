"""The tuners find known optima; the partitioner finds the best split; same seed, same result."""

import dataclasses
import itertools

import numpy as np
import pytest

from coexplore.platforms.fpga_pipeline.engine import EngineDesign
from coexplore.platforms.fpga_pipeline.engine_reference import evaluate_reference
from coexplore.platforms.fpga_pipeline.parts import PARTS, get_part
from coexplore.platforms.fpga_pipeline.precision import PRECISIONS
from coexplore.platforms.fpga_pipeline.tuning.pipeline import (
    NoFeasibleDesign,
    StageTuner,
    tune_partition,
    tune_pipeline,
)
from coexplore.platforms.fpga_pipeline.tuning.space import (
    StageProblem,
    port_splits,
    useful_tile_sizes,
)
from coexplore.platforms.fpga_pipeline.tuning.tuners import SEARCHES, TUNERS
from coexplore.workloads import NetworkBuilder, preset

SMALL = (
    NetworkBuilder("small", (3, 12, 12)).conv(10, 3, padding=1).pool(2).conv(12, 3).fc(5).build()
)


def test_useful_tile_sizes_and_splits():
    # ceil(10/k) for k = 1..10 -> 10, 5, 4, 3, 2, 2, 2, 2, 2, 1
    assert useful_tile_sizes([10]).tolist() == [1, 2, 3, 4, 5, 10]
    assert useful_tile_sizes([10, 6], cap=4).tolist() == [1, 2, 3, 4]
    s = port_splits(120, 4)  # (1,1,2), (1,2,1), (2,1,1) quarters of 120
    assert sorted(map(tuple, s.tolist())) == [(30, 30, 60), (30, 60, 30), (60, 30, 30)]


@pytest.mark.parametrize("tuner", ["exhaustive", "reference"])
def test_exact_tuners_find_the_brute_force_optimum(tuner):
    problem = StageProblem(
        SMALL.layers, get_part("XC7A50T"), PRECISIONS.get("fixed16"), port_quanta=6
    )
    front = TUNERS.get(tuner)(problem, 0, None)
    # brute force with the reference model over every design of the space
    best = min(
        evaluate_reference(
            SMALL.layers, EngineDesign(*t, *s), problem.part, problem.precision
        ).cycles
        for t in problem.tilings.tolist()
        for s in problem.splits.tolist()
    )
    assert front.cycles[0] == best
    if tuner == "reference":
        assert front.evaluations == problem.size


def test_known_optimum_of_a_compute_bound_layer():
    # One 1x1 conv, M = N = 16 on a 4x4 map, 16 MAC units allowed (16 DSPs, fixed16).
    # Every tile costs at least one cycle per input-channel pass, so compute takes
    # 16 positions x ceil(16/Tm) x ceil(16/Tn) >= 256 cycles, reached only with Tm*Tn = 16,
    # both dividing 16, and ports wide enough (768 bits/cycle) that tI = tW = tO = 1; with
    # 1x1 tiles the prologue + epilogue (tO + L1) is 2 cycles: 258 in all.
    layer = NetworkBuilder("k", (16, 4, 4)).conv(16, 1).build()
    part = dataclasses.replace(get_part("XCZU9EG"), dsp=16)
    problem = StageProblem(layer.layers, part, PRECISIONS.get("fixed16"))
    front = TUNERS.get("exhaustive")(problem, 0, None)
    tm, tn, tr, tc = front.designs[0][:4]
    assert tm * tn == 16 and 16 % tm == 0 and 16 % tn == 0
    assert front.cycles[0] == 258


@pytest.mark.parametrize("tuner", ["random", "tpe"])
def test_sampling_tuners_are_seeded_and_close_to_optimum(tuner):
    problem = StageProblem(SMALL.layers, get_part("XC7Z020"), PRECISIONS.get("fixed16"))
    a = SEARCHES[tuner](problem, 60, np.random.default_rng(3))
    b = SEARCHES[tuner](problem, 60, np.random.default_rng(3))
    assert np.array_equal(a.designs, b.designs) and np.array_equal(a.cycles, b.cycles)
    best = TUNERS.get("exhaustive")(problem, 0, None).cycles[0]
    assert best <= a.cycles[0] <= 1.5 * best


def test_partition_dp_equals_brute_force_over_all_cuts():
    net = preset("lenet5")
    parts = ["XC7Z020", "XC7A50T", "XC7A50T"]
    tuner = StageTuner(net, tuner="exhaustive")
    dp = tune_partition(net, parts, stage_tuner=tuner)
    results = [
        tune_pipeline(net, parts, list(cuts), stage_tuner=tuner)
        for cuts in itertools.combinations(range(1, len(net)), len(parts) - 1)
    ]
    best_fps = max(r.metrics.throughput_fps for r in results)
    assert dp.metrics.throughput_fps == pytest.approx(best_fps, rel=1e-12)
    ties = [r for r in results if r.metrics.throughput_fps >= best_fps * (1 - 1e-12)]
    assert dp.metrics.energy_mj <= min(r.metrics.energy_mj for r in ties) * (1 + 1e-9)
    assert dp.metrics.valid


def test_energy_is_the_tie_break_for_non_bottleneck_stages():
    net = preset("lenet5")
    # cut after layer 1: stage 1 (XC7A50T, layers 1-6) is the bottleneck, stage 0 has slack
    r = tune_pipeline(net, ["XC7Z020", "XC7A50T"], [1])
    fast = StageTuner(net).front("XC7Z020", 0, 1)
    stage0 = r.metrics.stages[0]
    assert r.metrics.bottleneck_stage == 1
    # the first stage is not the bottleneck, so it takes a slower, more frugal design
    assert fast.cycles[0] < stage0.cycles <= r.metrics.stages[1].cycles
    assert stage0.energy_mj < evaluate_pipeline_energy_of_fastest(net, r, fast)


def evaluate_pipeline_energy_of_fastest(net, result, front):
    from coexplore.platforms.fpga_pipeline.pipeline import HardwareDesign, Stage, evaluate_pipeline

    stages = list(result.hardware.stages)
    stages[0] = Stage(stages[0].part, 0, stages[0].stop, EngineDesign.from_array(front.designs[0]))
    return evaluate_pipeline(net, HardwareDesign(tuple(stages), "fixed16")).stages[0].energy_mj


def test_same_seed_same_pipeline():
    net = preset("lenet5")
    runs = [
        tune_pipeline(net, ["XC7Z020", "XC7A50T"], tuner="random", budget=50, seed=7)
        for _ in range(2)
    ]
    assert runs[0].hardware == runs[1].hardware


def test_infeasible_stage_is_a_clear_error():
    tiny = dataclasses.replace(get_part("XC7A50T"), name="TINY", dsp=4)  # < 5 DSPs of one fp32 MAC
    PARTS.register("TINY", tiny)
    try:
        with pytest.raises(NoFeasibleDesign, match="TINY"):
            tune_pipeline(preset("lenet5"), ["TINY"], [], precision="fp32")
    finally:
        PARTS._items.pop("TINY")


def test_bad_partitions():
    net = preset("lenet5")
    with pytest.raises(ValueError, match="need 1 cut"):
        tune_pipeline(net, ["XC7Z020", "XC7A50T"], [])
    with pytest.raises(ValueError, match="increase strictly"):
        tune_pipeline(net, ["XC7Z020", "XC7A50T"], [9])
    with pytest.raises(ValueError, match="cannot each take"):
        tune_partition(net, ["XC7Z020"] * 8)
