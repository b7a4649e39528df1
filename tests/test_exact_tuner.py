"""The exact tuner equals the plain enumeration (``reference``) on every problem it is given.

Same optimum means the same designs, partition and metrics to the last bit: the exact tuner
keeps the reference's tie-break (cycles, then energy, then design order), so nothing a search
records may change with it.
"""

import dataclasses

import numpy as np
import pytest

from coexplore.platforms.fpga_pipeline.parts import PARTS, get_part
from coexplore.platforms.fpga_pipeline.precision import PRECISIONS
from coexplore.platforms.fpga_pipeline.tuning.exact import (
    PartSolver,
    distinct_layers,
    useful_sizes_mask,
)
from coexplore.platforms.fpga_pipeline.tuning.pipeline import (
    NoFeasibleDesign,
    StageTuner,
    tune_partition,
    tune_pipeline,
)
from coexplore.platforms.fpga_pipeline.tuning.space import StageProblem, useful_tile_sizes
from coexplore.platforms.fpga_pipeline.tuning.tuners import TUNERS
from coexplore.spaces.chain import ChainSpace
from coexplore.spaces.nb201 import NB201Space
from coexplore.workloads import preset


def chain(seed: int, depth: int, size: int, strides=(1, 2)):
    arch = ChainSpace(depth=depth, strides=strides).sample(np.random.default_rng(seed), size)
    return arch.network((3 if size != 28 else 1, size, size), 10)


def nb201(seed: int):
    return NB201Space().sample(np.random.default_rng(seed)).network((3, 32, 32), 10)


def same_front(a, b) -> None:
    assert np.array_equal(a.designs, b.designs)
    assert np.array_equal(a.cycles, b.cycles)
    assert np.array_equal(a.energy_j, b.energy_j)  # bit for bit


def outcome(net, parts, cuts=None, **options):
    """(hardware, metrics) of a tuning, or the error it raised."""
    try:
        r = tune_pipeline(net, parts, cuts, **options)
    except NoFeasibleDesign as exc:
        return type(exc).__name__
    return r.hardware.to_dict(), r.metrics.to_dict()


def assert_same_tuning(net, parts, cuts=None, **options) -> None:
    exact = outcome(net, parts, cuts, tuner="exhaustive", **options)
    assert exact == outcome(net, parts, cuts, tuner="reference", **options)


def cramped(bram18k: int) -> str:
    """An XC7A50T with only ``bram18k`` BRAMs, registered as a part of its own."""
    part = dataclasses.replace(get_part("XC7A50T"), name=f"CRAMPED{bram18k}", bram18k=bram18k)
    PARTS.register(part.name, part, overwrite=True)
    return part.name


def test_useful_sizes_mask_matches_the_reference_lists():
    dims, values = np.arange(1, 80), np.arange(1, 90)
    mask = useful_sizes_mask(values, dims)
    for j, d in enumerate(dims):
        assert values[mask[:, j]].tolist() == useful_tile_sizes([d]).tolist()


def test_identical_layers_are_computed_once():
    net = nb201(0)
    shapes, index = distinct_layers(net.layers)
    assert len(shapes) < len(net.layers) / 2
    assert [shapes[i].out_channels for i in index] == [ly.out_channels for ly in net.layers]


@pytest.mark.parametrize(
    "net",
    [chain(1, 6, 8), chain(2, 6, 28), chain(3, 6, 32, strides=(1,)), preset("lenet5")],
    ids=["chain8", "chain28", "chain32", "lenet5"],
)
@pytest.mark.parametrize("part", ["XC7Z020", "XC7A50T", "XC7Z045"])
def test_stage_fronts_equal_the_reference_on_random_ranges(net, part):
    rng = np.random.default_rng(0)
    solver = PartSolver(net.layers, get_part(part), PRECISIONS.get("fixed16"))
    ranges = {(0, len(net))} | {tuple(sorted(rng.choice(len(net) + 1, 2, replace=False)))}
    ranges |= {(i, i + 1) for i in rng.choice(len(net), 2, replace=False)}
    for a, b in sorted(ranges):
        problem = StageProblem(net.layers[a:b], get_part(part), PRECISIONS.get("fixed16"))
        ref = TUNERS.get("reference")(problem, 0, None)
        same_front(solver.front(a, b), ref)
        for row in range(len(ref.cycles)):  # the frugal design within every front point
            choice = solver.frugal(np.array([a]), np.array([b]), float(ref.cycles[row]))[0]
            assert np.array_equal(choice.design, ref.designs[ref.frugal_within(ref.cycles[row])])


@pytest.mark.parametrize("seed", [0, 1])
def test_nb201_network_on_one_fpga(seed):
    assert_same_tuning(nb201(seed), ["XC7Z045"])


def test_nb201_network_on_a_three_fpga_partition():
    net = nb201(2)
    assert_same_tuning(net, ["XC7Z020", "XC7Z045", "XC7A50T"], [9, 40])


@pytest.mark.parametrize(
    "parts",
    [["XC7Z020"], ["XC7Z020", "XC7A50T"], ["XC7A50T", "XC7Z020", "XC7A50T"], ["XC7Z020"] * 4],
    ids=lambda p: f"{len(p)}-fpga",
)
@pytest.mark.parametrize("seed", [4, 5])
def test_partitioned_pipelines_equal_the_reference(parts, seed):
    assert_same_tuning(chain(seed, 6, 8), parts)


@pytest.mark.parametrize(
    "parts", [["XC7Z020", "XC7Z045"], ["XC7A50T", "XC7Z020", "XC7Z020"]], ids=["2", "3"]
)
def test_partitioned_32x32_chain(parts):
    assert_same_tuning(chain(6, 5, 32, strides=(1,)), parts)


def test_presets_on_two_fpgas():
    assert_same_tuning(preset("lenet5"), ["XC7Z020", "XC7A50T"])
    assert_same_tuning(preset("resnet18-chain"), ["XC7Z020", "XC7Z045"], [6])


@pytest.mark.parametrize(
    "options",
    [
        {"precision": "fp32"},
        {"precision": "fixed8"},
        {"square_tiles": False},
        {"port_quanta": 5},
    ],
    ids=["fp32", "fixed8", "rect-tiles", "quanta5"],
)
def test_space_options(options):
    assert_same_tuning(chain(7, 4, 8), ["XC7Z020", "XC7A50T"], **options)


def test_buffers_bound_the_optimum():
    net = chain(8, 6, 32, strides=(1,))
    free = outcome(net, ["XC7A50T"], tuner="exhaustive")
    tight = cramped(20)  # the fastest free design needs more BRAM than this
    try:
        assert outcome(net, [tight], tuner="exhaustive")[1]["stages"][0]["bram18k_used"] <= 20
        assert outcome(net, [tight], tuner="exhaustive")[0] != free[0]
        assert_same_tuning(net, [tight, "XC7Z020"])
        assert_same_tuning(net, [tight])
        assert_same_tuning(net, [tight], precision="fp32")
    finally:
        PARTS._items.pop(tight)


def test_no_design_fits_at_all():
    tiny = dataclasses.replace(get_part("XC7A50T"), name="TINY2", dsp=4)  # < one fp32 MAC
    PARTS.register("TINY2", tiny)
    no_bram = cramped(5)  # the smallest engine needs 6: two blocks per bank kind
    try:
        net = chain(9, 3, 8)
        for parts, precision in ((["TINY2"], "fp32"), (["TINY2", "XC7Z020"], "fp32")):
            assert (
                outcome(net, parts, tuner="exhaustive", precision=precision) == "NoFeasibleDesign"
            )
            assert_same_tuning(net, parts, precision=precision)
        assert outcome(net, [no_bram, "XC7Z020"], tuner="exhaustive") == "NoFeasibleDesign"
        assert_same_tuning(net, ["XC7Z020", no_bram])
    finally:
        PARTS._items.pop("TINY2")
        PARTS._items.pop(no_bram)


def test_stage_tuner_answers_from_one_solver_per_part():
    net = chain(10, 6, 8)
    tuner = StageTuner(net)
    tune_partition(net, ["XC7Z020", "XC7A50T"], stage_tuner=tuner)
    tune_partition(net, ["XC7A50T", "XC7Z020"], stage_tuner=tuner)
    assert sorted(tuner._solvers) == ["XC7A50T", "XC7Z020"]
    assert tuner.problems == sum(len(s.solved) for s in tuner._solvers.values())


def test_search_tuners_solve_exactly_only_where_that_is_cheaper(monkeypatch):
    from coexplore.platforms.fpga_pipeline.tuning import tuners

    net, parts = chain(11, 3, 8), ["XC7Z020", "XC7A50T"]
    exact = tune_partition(net, parts, tuner="tpe", budget=20)
    assert exact.method == "exact"
    assert exact.hardware == tune_partition(net, parts, tuner="exhaustive").hardware
    monkeypatch.setattr(tuners, "EXACT_TILINGS_PER_PROPOSAL", 0)  # every space "too large"
    searched = tune_partition(net, parts, tuner="tpe", budget=20)
    assert searched.method == "tpe" and searched.metrics.valid
    assert searched.metrics.throughput_fps <= exact.metrics.throughput_fps * (1 + 1e-12)


@pytest.mark.parametrize("name", ["tpe", "random", "auto"])
def test_a_stage_search_hands_over_to_exact_where_that_is_cheaper(name, monkeypatch):
    from coexplore.platforms.fpga_pipeline.tuning import tuners

    problem = StageProblem(chain(12, 3, 8).layers, get_part("XC7Z020"), PRECISIONS.get("fixed16"))
    same_front(
        TUNERS.get(name)(problem, 20, np.random.default_rng(0)),
        TUNERS.get("reference")(problem, 0, None),
    )
    monkeypatch.setattr(tuners, "EXACT_TILINGS_PER_PROPOSAL", 0)
    searched = TUNERS.get(name)(problem, 20, np.random.default_rng(0))
    direct = tuners.SEARCHES[name](problem, 20, np.random.default_rng(0))
    same_front(searched, direct)
