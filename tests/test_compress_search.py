"""Compressed candidates in the co-exploration search: the ``compression:`` section, the fast
phase pricing the planned compression, the ``compress`` oracle, and ``digits-admm-fpga``."""

import dataclasses

import numpy as np
import pytest
import yaml
from gymnasium.utils.env_checker import check_env

from coexplore.compress.oracle import CompressionSpec
from coexplore.compress.projections import kept_count
from coexplore.config import ConfigError, load_mapping
from coexplore.core.candidate import Candidate
from coexplore.core.specs import Specs
from coexplore.env import CoExploreEnv
from coexplore.platforms.fpga_pipeline.pipeline import evaluate_pipeline
from coexplore.platforms.fpga_pipeline.tuning.pipeline import tune_partition
from coexplore.scenario import (
    get_scenario,
    make_evaluator,
    make_oracle,
    scenario_from_dict,
    scenario_path,
)

NET = "k3f24s1-k3f36s1-k3f48s2-k3f48s1-k3f64s2-k3f64s1|flatten"


def quick(tmp_path=None, **compression):
    """digits-admm-fpga with one epoch per stage: the real pipeline, fast enough for tests."""
    s = get_scenario("digits-admm-fpga")
    train = dataclasses.replace(s.slow_phase.train, epochs=1)
    spec = dataclasses.replace(
        s.compression, prune_epochs=1, retrain_epochs=1, quant_epochs=1, **compression
    )
    return dataclasses.replace(
        s, slow_phase=dataclasses.replace(s.slow_phase, train=train), compression=spec
    )


def base():
    return load_mapping(scenario_path("digits-admm-fpga"))


def network(scenario, text=NET):
    return scenario.space.parse(text).network((1, 8, 8), 10)


# --- the plan ------------------------------------------------------------------------------------


@pytest.mark.parametrize("ratio", [2, 10, 40])
@pytest.mark.parametrize("schedule", ["size", "uniform"])
def test_plan_keeps_one_over_the_ratio_and_at_least_one_weight(ratio, schedule):
    net = network(get_scenario("digits-admm-fpga"))
    spec = CompressionSpec(ratio=ratio, schedule=schedule, bits=3)
    plan = spec.plan(net)
    layers = {ly.name: ly for ly in net.layers if ly.name in plan}
    assert set(plan) == {ly.name for ly in net.layers if ly.weights}
    kept = {n: kept_count(layers[n].weights, p.keep) for n, p in plan.items()}
    total = sum(ly.weights for ly in layers.values())
    assert all(k >= 1 for k in kept.values()) and all(p.bits == 3 for p in plan.values())
    # the floor of one weight per layer can only keep more than 1/ratio, by a few weights
    assert total / ratio - len(plan) <= sum(kept.values()) <= total / ratio + 2 * len(plan)
    c = spec.compression(net)
    assert c.density == {n: kept[n] / layers[n].weights for n in plan}
    assert c.weight_bits == dict.fromkeys(plan, 3)
    if schedule == "size":  # larger layers pruned harder
        order = sorted(layers, key=lambda n: layers[n].weights)
        keeps = [plan[n].keep for n in order]
        assert keeps == sorted(keeps, reverse=True)


def test_a_layer_never_empties():
    net = network(get_scenario("digits-admm-fpga"), "k1f24s1-k1f24s1-k1f24s1|flatten")
    spec = CompressionSpec(ratio=5000)
    assert min(kept_count(ly.weights, spec.plan(net)[ly.name].keep) for ly in net.layers) == 1


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("ratio", 1, "a number > 1"),
        ("ratio", "ten", "a number"),
        ("schedule", "ops", "depends on the hardware"),
        ("method", "lottery", "admm"),
        ("bits", 0, "null or an integer >= 1"),
        ("prune_epochs", 0, "an integer >= 1"),
        ("rho", 0, "a number > 0"),
        ("overhead", -1, "finite number >= 0"),
        ("structure", "block", "element"),
        ("typo", 1, "one of the known fields"),
    ],
)
def test_bad_compression_settings_name_the_field(field, value, message):
    data = base()
    data["compression"][field] = value
    with pytest.raises(ConfigError, match=message) as err:
        scenario_from_dict(data, "sc.yaml")
    assert f"compression.{field}" in str(err.value) or field == "overhead"


def test_compression_and_the_compress_oracle_go_together():
    data = base()
    data["slow_phase"]["oracle"] = "train"
    with pytest.raises(ConfigError, match="slow_phase.oracle.*compress"):
        scenario_from_dict(data, "sc.yaml")
    data = base()
    del data["compression"]
    with pytest.raises(ConfigError, match="compression.*present"):
        scenario_from_dict(data, "sc.yaml")


def test_a_family_that_cannot_price_compression_is_an_error():
    data = load_mapping(scenario_path("nb201-eyeriss"))
    data["compression"] = {"ratio": 4}
    data["slow_phase"] = {"oracle": "compress"}
    with pytest.raises(ConfigError, match="fpga-pipeline"):
        scenario_from_dict(data, "sc.yaml")
    data["hardware"]["mode"] = "none"  # accuracy-only NAS of compressed networks: fine
    s = scenario_from_dict(data, "sc.yaml")
    ev = make_evaluator(s)
    arch = s.space.sample(np.random.default_rng(0))
    assert s.compression.ratio == 4 and ev.candidate(s.space.to_tokens(arch)).compression is None


# --- the fast phase --------------------------------------------------------------------------


def test_fast_phase_prices_the_planned_compression_on_the_dense_tuned_design():
    s = quick()
    ev = make_evaluator(s)
    arch = s.space.parse(NET)
    c = ev.candidate([*s.space.to_tokens(arch), 0, 1])
    fast = ev.fast_phase(c)
    net = network(s)
    planned = s.compression.compression(net)
    assert fast.details["compression"] == planned.to_dict()
    # the same engines and partition the dense fast phase tunes; the compressed network priced
    dense = tune_partition(net, ["XC7Z020", "XC7A50T"], tuner="exhaustive")
    assert fast.hardware == dense.hardware.to_dict()
    expected = evaluate_pipeline(net, dense.hardware, planned)
    assert fast.metrics.throughput_fps == pytest.approx(expected.throughput_fps)
    assert fast.metrics.throughput_fps >= dense.metrics.throughput_fps
    assert fast.metrics.energy_j <= dense.metrics.energy_mj / 1e3


def test_more_pruning_is_never_slower_on_the_same_design():
    s = get_scenario("digits-admm-fpga")
    net = network(s)
    design = tune_partition(net, ["XC7Z020", "XC7A50T"], tuner="exhaustive").hardware
    cycles = [
        evaluate_pipeline(net, design, CompressionSpec(ratio=r, bits=b).compression(net))
        for r in (1.5, 3, 10, 30, 100)
        for b in (8, 4)
    ]
    fps = [m.throughput_fps for m in cycles]
    assert fps[::2] == sorted(fps[::2]) and fps[1::2] == sorted(fps[1::2])
    assert all(m.violations == [] for m in cycles)


def test_the_dense_bound_does_not_prune_a_compressed_candidate():
    """A spec a dense network's bound already misses may be met compressed: no bound then."""
    s = dataclasses.replace(quick(), specs=Specs.from_config({"throughput_fps": {"min": 1e9}}))
    ev = make_evaluator(s)
    net = network(s)
    assert ev.platform.bound(net, s.specs) != []  # the dense network cannot meet it
    fast = ev.fast_phase(ev.candidate([*s.space.to_tokens(s.space.parse(NET)), 0, 1]))
    assert fast.pruned and fast.attempts > 0  # tried the designs, missed the spec


def test_fixed_hardware_prices_the_compressed_reference():
    s = quick()
    s = dataclasses.replace(
        s, hardware=dataclasses.replace(s.hardware, mode="fixed", reference=NET)
    )
    ev = make_evaluator(s)
    fast = ev.fast_phase(ev.candidate(s.space.to_tokens(s.space.parse(NET))))
    net = network(s)
    expected = evaluate_pipeline(net, ev.fixed.hardware, s.compression.compression(net))
    assert fast.metrics.throughput_fps == pytest.approx(expected.throughput_fps)
    assert fast.details["compression"]["density"] == s.compression.compression(net).density


# --- the oracle and the env ------------------------------------------------------------------


def test_compress_oracle_trains_the_planned_network_and_resumes(tmp_path):
    s = quick()
    cache = tmp_path / "c.sqlite"
    oracle = make_oracle(s, str(cache))
    arch = s.space.parse(NET)
    ev = oracle.evaluate(Candidate(arch))
    d = ev.details
    planned = s.compression.compression(network(s))
    assert d["density"] == pytest.approx(planned.density)  # trained as priced
    assert d["weights_dense"] / d["weights_kept"] == pytest.approx(10, rel=0.01)
    assert [st["stage"] for st in d["stages"]] == ["dense", "prune", "quant"]
    assert ev.val_acc == d["stages"][-1]["val_acc"] and not ev.cache_hit
    assert 0.1 < ev.test_acc <= 1 and d["resumed_stages"] == []
    again = oracle.evaluate(Candidate(arch))
    assert again.cache_hit and again.val_acc == ev.val_acc
    # an interrupted run: the result never reached the cache, its stages did
    cache.unlink()
    fresh = make_oracle(s, str(cache)).evaluate(Candidate(arch))
    assert not fresh.cache_hit and fresh.details["resumed_stages"] == ["dense", "prune", "quant"]
    assert fresh.val_acc == ev.val_acc and fresh.test_acc == ev.test_acc
    # another compression of the same candidate is another entry
    other = make_oracle(quick(ratio=4), str(cache)).evaluate(Candidate(arch))
    assert other.details["weights_kept"] > d["weights_kept"]


def test_digits_admm_fpga_passes_check_env_and_records_the_compression(tmp_path):
    env = CoExploreEnv(quick(), cache=str(tmp_path / "c.sqlite"))
    check_env(env, skip_render_check=True)
    env.reset(seed=0)
    arch = env.space.parse(NET)
    _, info = env.evaluate([*env.space.to_tokens(arch), 0, 1])
    assert info["details"]["compression"]["weight_bits"]["conv0"] == 4
    assert info["val_acc"] is not None or info["pruned"]


def test_scenario_file_round_trips_through_yaml(tmp_path):
    path = tmp_path / "mine.yaml"
    data = base()
    data["compression"]["bits"] = None
    path.write_text(yaml.safe_dump(data))
    s = get_scenario(str(path))
    assert s.compression.bits is None and s.compression.ratio == 10
    c = make_evaluator(s).candidate([*s.space.to_tokens(s.space.parse(NET)), 0, 1])
    assert c.compression == s.compression.compression(network(s))  # the plan it prices
    assert np.isclose(s.compression.to_dict()["ratio"], 10)
