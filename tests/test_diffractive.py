"""The ``diffractive`` platform family: layouts (golden costs by hand), its hardware tokens and
masks, skip planes as empty planes, the ``optics`` oracle, the scenarios (``check_env``) and a
short search through the CLI."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from coexplore.cli.main import main
from coexplore.config import ConfigError, load_mapping
from coexplore.core.candidate import Candidate
from coexplore.optics import PRESETS, MultiTaskD2NN, check_layout, layout_cost
from coexplore.platforms.diffractive.family import DiffractiveHardware, LayoutSpace
from coexplore.scenario import get_scenario, make_evaluator, scenario_from_dict, scenario_path
from coexplore.spaces.d2nn import D2NNSpace

SMALL = PRESETS["slm-visible"].at_grid(24)


def test_layout_costs_by_hand():
    # 2 shared + 2 specific per task, two 10-class tasks: 2 + 2·2 = 6 masks, 20 detectors
    two = [10, 10]
    assert layout_cost(["shared", "shared", "specific", "specific"], two, slm=False) == {
        "layers": 6, "slms": 0, "detectors": 20, "splitters": 1,
    }  # fmt: skip
    assert layout_cost(["skip", "shared", "specific"], two, slm=True)["slms"] == 1 + 2
    assert layout_cost(["shared"] * 5, [10], slm=False) == {
        "layers": 5, "slms": 0, "detectors": 10, "splitters": 0,
    }  # fmt: skip
    assert layout_cost(["specific", "skip"], [10, 10, 4], slm=False)["layers"] == 3
    for bad in (["shared", "specific", "shared"], ["skip", "skip"], ["mask"], []):
        with pytest.raises(ValueError):
            check_layout(bad)


def test_the_hardware_tokens_reach_exactly_the_possible_layouts():
    space = LayoutSpace(4)
    reached = set()

    def walk(prefix):
        if len(prefix) == 4:
            reached.add(tuple(space.decode(prefix)["layout"]))
            return
        for t in space.allowed(prefix):
            walk([*prefix, t])

    walk([])
    possible = set()
    for layout in itertools.product(("shared", "specific", "skip"), repeat=4):
        with contextlib.suppress(ValueError):
            possible.add(check_layout(layout))
    assert reached == possible
    # by hand: with the first specific plane at k = 0..3, the k planes before it are shared or
    # skip and the 3 − k after it specific or skip: 2^k · 2^(3−k) = 8 each, 32 in all; with
    # no specific plane, 2^4 shared/skip layouts less the empty one: 15. 47.
    assert len(possible) == 47
    assert space.token_names() == ["plane1", "plane2", "plane3", "plane4"]


def test_a_layout_equals_the_counts_and_a_skip_is_an_empty_plane():
    tasks = {"a": 10, "b": 10}
    torch.manual_seed(0)
    x = torch.rand(3, 1, 8, 8)
    counts = MultiTaskD2NN(SMALL, tasks, shared=2, specific=1)
    laid = MultiTaskD2NN(SMALL, tasks, layout=["shared", "shared", "specific"])
    laid.load_state_dict(counts.state_dict())
    for p in counts.parameters():
        torch.nn.init.uniform_(p, 0, 6)
    laid.load_state_dict(counts.state_dict())
    for t in tasks:
        assert torch.equal(counts(x, t), laid(x, t))
    # an empty plane: the same as a mask of zero phase there
    skip = MultiTaskD2NN(SMALL, tasks, layout=["shared", "skip", "specific"])
    state = {k: v for k, v in counts.state_dict().items() if not k.startswith("shared.1")}
    skip.load_state_dict(state)
    with torch.no_grad():
        counts.shared[1].phase.zero_()
    for t in tasks:
        torch.testing.assert_close(skip(x, t), counts(x, t), rtol=1e-5, atol=1e-7)
    assert skip.hardware_cost() == layout_cost(skip.layout, [10, 10], slm=False)
    assert skip.hardware_cost()["layers"] == 1 + 2


def test_the_fast_phase_prices_what_the_model_builds():
    scenario = get_scenario("d2nn-digits")
    platform = scenario.platform()
    space = platform.hardware_space()
    rng = np.random.default_rng(0)
    network = scenario.space.sample(rng).network((1, 8, 8), 10)
    assert network.macs == 0  # no electronic work
    system = platform.config.optical_system()
    for _ in range(6):
        tokens = []
        for _ in range(len(space.token_choices())):
            tokens.append(int(rng.choice(space.allowed(tokens))))
        choice = space.decode(tokens)
        fast = platform.evaluate(Candidate(network=network, choice=choice), scenario.specs, rng)
        model = MultiTaskD2NN(system, {"digits": 10, "mnist5k": 10}, layout=choice["layout"])
        cost = model.hardware_cost()
        assert (fast.metrics.layers, fast.metrics.detectors) == (cost["layers"], 20)
        assert bool(fast.failed_specs) == (cost["layers"] > 6)


def test_bad_settings_name_the_field():
    with pytest.raises(ConfigError, match="tasks"):
        DiffractiveHardware(tasks=("mnist5k", "nope"))
    with pytest.raises(ConfigError, match="tasks"):
        DiffractiveHardware(tasks=("mnist5k", "mnist5k"))
    with pytest.raises(ConfigError, match="slots"):
        DiffractiveHardware(slots=0)
    with pytest.raises(ConfigError, match="task_weights"):
        D2NNSpace(task_weights=(1.5,))
    data = load_mapping(scenario_path("d2nn-digits"))
    with pytest.raises(ConfigError, match="slow_phase.oracle"):
        scenario_from_dict({**data, "slow_phase": {"oracle": "train"}}, "x.yaml")
    fpga = load_mapping(scenario_path("digits-fpga"))
    with pytest.raises(ConfigError, match="hardware.family"):
        scenario_from_dict({**fpga, "slow_phase": {"oracle": "optics"}}, "x.yaml")
    sgd = {**data, "slow_phase": {"oracle": "optics", "train": {"optimizer": "sgd"}}}
    with pytest.raises(ConfigError, match="optimizer"):
        make_evaluator(scenario_from_dict(sgd, "x.yaml"))
    with pytest.raises(ConfigError, match="system"):
        DiffractiveHardware(system="no-such-system.yaml").optical_system()


def tiny(name="d2nn-digits", **data):
    """The scenario at a fidelity for tests: 24×24 grid, 300 images, 1 epoch."""
    s = get_scenario(name)
    options = dataclasses.replace(s.hardware.options, grid=24)
    train = dataclasses.replace(s.slow_phase.train, epochs=1)
    return dataclasses.replace(
        s,
        data=dataclasses.replace(s.data, train_subset=300, **data),
        hardware=dataclasses.replace(s.hardware, options=options),
        slow_phase=dataclasses.replace(s.slow_phase, train=train),
    )


def test_the_oracle_trains_the_layout_and_caches_it(tmp_path):
    cache = str(tmp_path / "cache.sqlite")
    ev = make_evaluator(tiny(), cache=cache)
    shared, split = [1, 0, 0, 1, 1], [1, 0, 1, 1, 1]  # w=0.5: SSTT and S T T T
    a, b = ev.evaluate_batch([shared, split])
    assert a.hardware["layout"] == ["shared", "shared", "specific", "specific"]
    assert (a.metrics.layers, b.metrics.layers) == (6, 7) and b.pruned and not a.pruned
    assert a.val_acc > 0.3 and not a.diverged  # both tasks well above chance (10%)
    for task in ("digits", "mnist5k"):
        assert a.tasks[task]["val_acc"] > 0.2
    assert a.macs == 0
    again = make_evaluator(tiny(), cache=cache).evaluate(shared)
    assert again.cache_hit and again.val_acc == a.val_acc
    # another layout with the same training is another network: trained, not taken from a
    other = make_evaluator(tiny(), cache=cache).evaluate([1, 0, 2, 1, 1])
    assert not other.cache_hit and other.hardware["layout"][1] == "skip"


def test_the_scenarios_pass_check_env():
    env = gym.make("coexplore/d2nn-digits-v0", scenario=tiny())
    check_env(env.unwrapped, skip_render_check=True)
    assert env.unwrapped.choices == [3, 3, 3, 3, 3]
    assert "coexplore/d2nn-mnist-fashion-v0" in gym.registry


def test_a_search_of_layouts_runs_through_the_cli(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["search", "--env", "d2nn-digits", "--agent", "random", "--episodes", "4",
            "--set", "hardware.grid=24", "--set", "data.train_subset=200",
            "--set", "slow_phase.train.epochs=1", "--out", str(out), "--json", "--quiet",
            "--wandb-mode", "disabled"]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["best"]["platform"] == "diffractive" and summary["best"]["tasks"]
    lines = (out / "candidates.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 4
    for r in records:
        assert r["platform"] == "diffractive" and "layout" in r["hardware"]
        assert r["pruned"] == (r["metrics"]["layers"] > 6)
        assert r["pruned"] or set(r["tasks"]) == {"digits", "mnist5k"}
