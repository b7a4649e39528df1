"""Hardware + mapping co-design through the evaluator: the fixed-workload space, the slow phase
that trains nothing, and the agents of the study (cbo, bo, tpe, random) at equal budgets."""

from __future__ import annotations

import json
import math

import pytest

from coexplore.config import ConfigError
from coexplore.core.specs import Specs
from coexplore.scenario import make_evaluator
from coexplore.scenario.catalogue import scenario_path
from coexplore.scenario.schema import apply_overrides, load_mapping, scenario_from_dict
from coexplore.search.codesign import CODESIGN_ENV, Codesign, codesign_summary
from coexplore.search.runlog import read_records
from coexplore.search.runner import SearchConfig, run_search
from coexplore.workloads.suites import WORKLOADS, NamedWorkload, load_workload

SMALL_SPACE = {
    "pe_x": {"level": "shared_glb", "field": "fanout_x", "choices": [7, 14, 28]},
    "pe_y": {"level": "shared_glb", "field": "fanout_y", "choices": [6, 12, 24]},
    "weights_spad": {"level": "weights_spad", "field": "size_words",
                     "choices": [96, 192, 384, 768]},
    "glb": {"level": "shared_glb", "field": "size_words", "choices": [32768, 131072]},
}  # fmt: skip
SMALL = (
    "space.net=dqn",
    "fast_phase.mapper_budget=300",
    f"hardware.space={json.dumps(SMALL_SPACE)}",
    "specs={}",
    "reward.target=1.0e-7",
)


def search(tmp_path, agent: str, budget: int, seed: int, overrides=SMALL, resume=False, out=None):
    out = out or tmp_path / f"{agent}-{budget}-s{seed}"
    config = SearchConfig(CODESIGN_ENV, agent, budget, seed, str(out), overrides=tuple(overrides))
    run_search(config, resume=resume, progress=False, report=False)
    return read_records(out)


@pytest.fixture(scope="module")
def optimum():
    """DQN on 72 design points of the Eyeriss-like template, 46 within its area: every possible
    one evaluated, so the exhaustive optimum (the highest reward, the lowest EDP) is known."""
    data = apply_overrides(load_mapping(scenario_path(CODESIGN_ENV)), list(SMALL))
    evaluator = make_evaluator(scenario_from_dict(data, "small"))
    legal = evaluator.token_space.legal(1000)
    assert (len(legal), evaluator.token_space.size()) == (46, 72)
    records = evaluator.evaluate_batch([list(t) for t in legal])
    assert not any(r.pruned for r in records)
    best = max(records, key=lambda r: r.reward)
    assert best.metrics["edp_js"] == min(r.metrics["edp_js"] for r in records)
    return best


def test_every_agent_keeps_the_budget_and_is_deterministic(tmp_path):
    for agent in ("cbo", "bo", "tpe", "random"):
        a = search(tmp_path, agent, 10, 4)
        b = search(tmp_path / "again", agent, 10, 4)
        assert [r.tokens for r in a] == [r.tokens for r in b], agent
        assert len(a) == 10, agent
        if agent != "random":  # the listing agents never propose a candidate twice
            assert len({tuple(r.tokens) for r in a}) == 10, agent


def test_cbo_finds_the_known_optimum_and_never_evaluates_an_invalid_point(tmp_path, optimum):
    for seed in range(3):
        records = search(tmp_path, "cbo", 12, seed)
        assert not any(r.failed_specs for r in records)  # no budget failure: never over area
        assert max(r.reward for r in records) == pytest.approx(optimum.reward), seed
        assert min(r.metrics["edp_js"] for r in records) == optimum.metrics["edp_js"]


def test_nas_bo_over_the_one_hot_encoding_finds_the_known_optimum_too(tmp_path, optimum):
    """``nas-bo``: the same constrained BO on one-hot tokens, hyperparameters refitted every
    10 points."""
    for seed in range(3):
        records = search(tmp_path, "nas-bo", 12, seed)
        assert not any(r.failed_specs for r in records)
        assert max(r.reward for r in records) == pytest.approx(optimum.reward), seed


def test_the_penalty_baselines_spend_evaluations_on_invalid_points(tmp_path):
    for agent in ("bo", "tpe"):
        records = search(tmp_path, agent, 12, 0)
        invalid = [r for r in records if r.pruned]
        assert invalid, agent
        for r in invalid:  # over the area budget: not priced, a budget failure, the penalty
            assert r.metrics is None and r.failed_specs[0].kind == "budget"
            assert "area" in r.failed_specs[0].reason and r.reward == -1.0
    assert not any(r.pruned for r in search(tmp_path, "random", 12, 0))


def test_the_latency_limit_is_a_constraint_known_after_evaluation(tmp_path):
    codesign = Codesign(net="dqn", mapper_budget=300)
    baseline, clock = codesign.baseline()
    overrides = [o for o in codesign.overrides(baseline, clock) if not o.startswith("hardware.")]
    overrides += [f"hardware.space={json.dumps(SMALL_SPACE)}"]
    records = search(tmp_path, "cbo", 10, 0, overrides)
    limit = baseline.metrics["latency_s"]
    assert any(r.pruned for r in records) and any(not r.pruned for r in records)
    for r in records:
        assert r.pruned == (r.metrics["latency_s"] > limit)
        assert r.pruned == bool(r.failed_specs) and all(f.kind == "spec" for f in r.failed_specs)
    summary = codesign_summary(tmp_path / "cbo-10-s0", baseline, clock)
    assert summary["max_cycles"] == pytest.approx(limit * clock)
    assert summary["infeasible_evaluations"] == sum(r.pruned for r in records)
    assert summary["invalid_evaluations"] == 0
    ok = [r.metrics["edp_js"] * clock for r in records if not r.pruned]
    assert summary["edp"] == pytest.approx(min(ok))
    assert summary["trace"][-1] == pytest.approx(min(ok))
    assert summary["edp_vs_baseline"] == pytest.approx(min(ok) / summary["baseline_edp"])


@pytest.mark.parametrize(("agent", "part", "total"), [("cbo", 6, 10), ("tpe", 6, 10),
                                                      ("nas-bo", 10, 14)])  # fmt: skip
def test_an_interrupted_search_resumes_exactly(tmp_path, agent, part, total):
    """(``nas-bo`` stops after its fit at 8 points and resumes on the hyperparameters of it.)"""
    whole = search(tmp_path, agent, total, 2)
    out = tmp_path / "parts"
    search(tmp_path, agent, part, 2, out=out)
    resumed = search(tmp_path, agent, total, 2, resume=True, out=out)
    assert [r.tokens for r in resumed] == [r.tokens for r in whole]
    assert [r.reward for r in resumed] == [r.reward for r in whole]


def test_the_hardware_only_reward_and_record(tmp_path):
    (r,) = search(tmp_path, "random", 1, 0)
    assert r.arch == "dqn" and r.space == "workload" and r.tokens == list(r.tokens)
    assert math.isnan(r.val_acc) and r.macs == load_workload("dqn").macs
    assert r.reward == pytest.approx(-math.log10(r.metrics["edp_js"] / 1.0e-7))
    assert r.reward_terms == {"hw": pytest.approx(-r.reward)}


def test_a_named_workload_is_built_at_the_pricer_s_batch():
    for name in WORKLOADS:
        for batch in (1, 3):
            assert NamedWorkload(name).workload(batch) == load_workload(name, batch)
    assert NamedWorkload("resnet50").macs == load_workload("resnet50").macs


def scenario(**changes) -> dict:
    data = load_mapping(scenario_path(CODESIGN_ENV))
    for section, value in changes.items():
        data[section] = value
    return data


@pytest.mark.parametrize(
    ("changes", "field", "allowed"),
    [
        ({"hardware": {"family": "fpga-pipeline", "parts": ["XC7Z020"]}, "fast_phase": {}},
         "hardware.family", "spatial"),
        ({"slow_phase": {"oracle": "table", "table": "nb201-cifar10"}}, "slow_phase.oracle",
         "none"),
        ({"space": {"name": "nb201"}}, "space.name", "workload"),
        ({"reward": {"name": "hotnas", "target": 1.0}}, "reward.name", "edp"),
        ({"hardware": {"family": "spatial", "mode": "none"}}, "hardware.mode", "explore"),
        ({"space": {"name": "workload", "net": "resnet51"}}, "workload", "resnet50"),
    ],
)  # fmt: skip
def test_a_scenario_that_does_not_fit_names_the_field(changes, field, allowed):
    data = scenario(**changes)
    if changes.get("space", {}).get("name") == "nb201":
        data["data"] = {"name": "cifar10"}
    with pytest.raises(ConfigError) as err:
        scenario_from_dict(data, "bad.yaml")
    assert field in str(err.value) and allowed in str(err.value)


def test_a_space_too_large_to_list_is_a_clear_error(tmp_path):
    overrides = ("space.net=dqn", "fast_phase.mapper_budget=100")
    config = SearchConfig(CODESIGN_ENV, "cbo", 3, 0, str(tmp_path / "run"), overrides=overrides,
                          agent_params={"max_candidates": 100})  # fmt: skip
    with pytest.raises(ConfigError, match="max_candidates"):
        run_search(config, progress=False, report=False)
    assert not (tmp_path / "run").exists()  # a run that cannot start leaves nothing behind


def test_bad_codesign_arguments():
    codesign = Codesign(net="mlp", mapper_budget=100, max_latency="fast")
    baseline, clock = Codesign(net="mlp", mapper_budget=100).baseline()
    with pytest.raises(ConfigError, match="max_latency"):
        codesign.overrides(baseline, clock)
    fast = Codesign(net="mlp", mapper_budget=100, max_latency=10_000)
    assert f"specs.latency_s.max={10_000 / clock!r}" in fast.overrides(baseline, clock)
    assert "specs={}" in Codesign(max_latency="none").overrides(baseline, clock)
    assert Specs().bounds == ()


def test_the_codesign_scenario_passes_check_env():
    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    data = apply_overrides(load_mapping(scenario_path(CODESIGN_ENV)), list(SMALL))
    env = gym.make(f"coexplore/{CODESIGN_ENV}-v0", scenario=scenario_from_dict(data, "small"))
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped)
    _, info = env.reset(seed=0)
    assert env.action_space.n == 4  # the hardware tokens alone: the widest has 4 choices
