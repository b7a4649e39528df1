"""Platform families: every registered one passes the checker; a second family (the roofline
of tests/plugins, loaded as a user's plugin) runs a whole search through env, runner, report
and W&B; checkers catch broken entries."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from coexplore.core.checkers import CheckError, check_space, walk_tokens
from coexplore.core.specs import Bound, Specs
from coexplore.data.errors import DatasetError
from coexplore.platforms import PLATFORMS, check_family, load_platforms
from coexplore.scenario import get_scenario, make_evaluator, scenario_files
from coexplore.search.runlog import record_differences
from coexplore.spaces import SPACES, make_space

PLUGINS = Path(__file__).parent / "plugins"
sys.path.insert(0, str(PLUGINS))
import roofline_family  # noqa: E402  (registers "roofline", as COEXPLORE_PLUGINS would)

load_platforms()


def networks(space: str = "chain"):
    rng = np.random.default_rng(0)
    if space == "nb201":  # a table knows the cells of its benchmark only
        nb201 = make_space("nb201")
        return [nb201.sample(rng).network((3, 32, 32), 10) for _ in range(2)]
    chain = make_space("chain", depth=3)
    return [chain.sample(rng, input_size=8).network((1, 8, 8), 10) for _ in range(2)]


LOOSE = Specs.from_config({"latency_s": {"max": 1.0}})
SPECS = {
    "fpga-pipeline": [Specs.from_config({"min_throughput_fps": 3500, "max_fpgas": 1})],
    "roofline": [Specs.from_config({"latency_s": {"max": 1e-4}})],
    "table": [Specs.from_config({"latency_s": {"max": 0.012}})],
    "diffractive": [Specs.from_config({"layers": {"max": 4}}), Specs()],
}


def device_config(name, tmp_path):
    """Measured/predicted: a few passes, measurements cached so repeats are deterministic."""
    cls = PLATFORMS.get(name)
    tiny = {"warmup": 1, "repeats": 2, "rounds": 2}
    cache = str(tmp_path / "latency.sqlite")
    if name == "measured":
        return cls.config_class(**tiny, cache=cache)
    from coexplore.latency.device_predictor import fit_device_predictor
    from coexplore.latency.lab import Lab
    from coexplore.latency.measure import MeasureConfig

    lab = Lab(MeasureConfig(**tiny), cache)
    path = tmp_path / "predictor.pkl"
    fit_device_predictor(make_space("chain", depth=3), (1, 8, 8), 10, 12, lab).save(path)
    return cls.config_class(predictor=str(path))


@pytest.mark.parametrize("name", list(PLATFORMS))
def test_every_platform_passes_the_checker(name, tmp_path):
    cls = PLATFORMS.get(name)
    config, nets, space = None, networks(), None
    if name == "fpga-pipeline":
        config = cls.config_class(parts=("XC7Z020", "XC7A50T"))
    if name == "table":
        config, nets = cls.config_class(device="pixel2"), networks("nb201")
    if name in ("measured", "predicted"):  # the candidates carry architectures to measure
        config, space = device_config(name, tmp_path), make_space("chain", depth=3)
    check_family(cls, nets, config=config, specs=SPECS.get(name, [LOOSE]), samples=2, space=space)


@pytest.mark.parametrize("name", list(SPACES))
def test_every_space_passes_the_checker(name):
    shape = (3, 32, 32) if name == "nb201" else (1, 8, 8)
    check_space(make_space(name), input_shape=shape, n=3)


class Overcautious(roofline_family.Roofline):
    """Its bound prunes on any latency spec, however loose."""

    name = "overcautious"

    def bound(self, network, specs):
        limit = specs.limit("latency_s")
        return [] if limit is None else [Bound("latency_s", "max", limit).check(2 * limit)]


class Sloppy(roofline_family.Roofline):
    """Reports metrics it does not declare."""

    name = "sloppy"
    metrics = ("latency_s",)
    objectives = ("latency_s",)


class Unpicklable(roofline_family.Roofline):
    name = "unpicklable"

    def __init__(self, config=None, fast=None):
        super().__init__(config, fast)
        self.log = open(os.devnull, "w")  # noqa: SIM115 (a file handle does not pickle)


def test_the_checker_catches_an_unsound_bound():
    PLATFORMS.register("overcautious", Overcautious)
    try:
        with pytest.raises(CheckError, match="must be sound"):
            check_family(Overcautious, networks(), specs=[LOOSE], samples=1)
        check_family(roofline_family.Roofline, networks(), specs=[LOOSE], samples=1)
    finally:
        PLATFORMS._items.pop("overcautious")


@pytest.mark.parametrize(
    ("cls", "says"),
    [(Sloppy, r"add them to Sloppy.metrics"), (Unpicklable, "must pickle")],
)
def test_the_checker_catches_broken_families(cls, says):
    with pytest.raises(CheckError, match="register the family"):
        check_family(cls, networks(), samples=1)
    PLATFORMS.register(cls.name, cls)
    try:
        with pytest.raises(CheckError, match=says):
            check_family(cls, networks(), samples=1)
    finally:
        PLATFORMS._items.pop(cls.name)


def plugin_env(tmp_path):
    return {
        **os.environ,
        "COEXPLORE_PLUGINS": "roofline_family",
        "PYTHONPATH": os.pathsep.join([str(PLUGINS), os.environ.get("PYTHONPATH", "")]),
        "WANDB_MODE": "offline",
    }


def cli(tmp_path, *args):
    cmd = [sys.executable, "-m", "coexplore.cli.main", *args]
    proc = subprocess.run(
        cmd, env=plugin_env(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_platforms_command_lists_both(tmp_path):
    rows = {r["name"]: r for r in json.loads(cli(tmp_path, "platforms", "--json"))["platforms"]}
    assert set(rows) >= {"fpga-pipeline", "roofline"}
    assert rows["roofline"]["objectives"] == ["latency_s", "energy_j"]
    assert "peak_macs" in rows["roofline"]["hardware"]
    assert "parts" in rows["fpga-pipeline"]["hardware"]
    assert "roofline" in cli(tmp_path, "platforms")


def test_a_second_family_runs_a_whole_search(tmp_path):
    """Scenario → env → evaluator → agent → run log → report → W&B, on the roofline family."""
    scenario = {
        "description": "digits on a roofline device",
        "data": {"name": "digits", "seed": 0},
        "space": {"name": "chain", "depth": 3},
        "hardware": {"family": "roofline", "peak_macs": [1e8, 1e9], "bandwidth_gbs": [0.5, 4.0]},
        # 1 ms: most networks meet it on the fast design, some not even there (pruned); the
        # family's own metric takes a spec and an objective like any other
        "specs": {"latency_s": {"max": 1e-3}, "dram_bytes": {"max": 1e9}},
        "objectives": ["latency_s", "dram_bytes"],
        "reward": {"name": "mnas", "metric": "latency_s"},
        "slow_phase": {"train": {"epochs": 1}},
    }
    path = tmp_path / "roofline-digits.yaml"
    path.write_text(yaml.safe_dump(scenario))
    out = tmp_path / "run"
    args = ["search", "--env", str(path), "--agent", "random", "--episodes", "12"]
    result = json.loads(cli(tmp_path, *args, "--out", str(out), "--quiet", "--json"))
    assert result["episodes"] == 12
    records = [json.loads(line) for line in (out / "candidates.jsonl").read_text().splitlines()]
    assert len(records) == 12 and all(r["platform"] == "roofline" for r in records)
    assert all(len(r["tokens"]) == 3 * 3 + 2 for r in records)  # 2 hardware tokens
    trained = [r for r in records if not r["pruned"]]
    pruned = [r for r in records if r["pruned"]]
    for r in trained:
        assert set(r["metrics"]) >= {"latency_s", "energy_j", "area_mm2", "dram_bytes"}
        assert r["reward"] == pytest.approx(r["val_acc"] * r["reward_terms"]["factor"])
    assert trained and all(r["metrics"]["latency_s"] <= 1e-3 for r in trained)
    assert pruned and all(r["val_acc"] is None for r in pruned)
    by_bound = [r for r in pruned if r["failed_specs"][0]["reason"] == "roofline bound"]
    assert by_bound and all(r["hw_attempts"] == 0 for r in by_bound)  # even the fastest misses
    report = out / "report"
    for name in ("pareto_latency_s.png", "pareto_dram_bytes.png", "learning.png", "README.md"):
        assert (report / name).exists(), name
    text = (report / "README.md").read_text()
    assert "latency (ms)" in text and "DRAM traffic (kB)" in text and "GMAC/s" in text
    assert list((out / "wandb").glob("offline-run-*")), "an offline W&B run"
    summary = json.loads(cli(tmp_path, "report", str(out), "--json"))
    assert summary["objectives"] == ["latency_s", "dram_bytes"]


def test_a_plugin_family_prices_compressed_candidates(tmp_path):
    """The roofline family's ``compression`` capability, in a whole search with the compress
    oracle: the fast phase prices each candidate's planned compression (fewer DRAM bytes than
    the dense network), the oracle trains and compresses the same plan."""
    scenario = {
        "description": "compressed digits networks on a roofline device",
        "data": {"name": "digits", "seed": 0},
        "space": {"name": "chain", "depth": 2},
        "hardware": {"family": "roofline", "peak_macs": [1e9], "bandwidth_gbs": [1.0]},
        "specs": {"latency_s": {"max": 1.0}},
        "slow_phase": {"oracle": "compress", "train": {"epochs": 1}},
        "compression": {"ratio": 4, "prune_epochs": 1, "retrain_epochs": 1, "bits": 4},
    }
    path = tmp_path / "roofline-admm.yaml"
    path.write_text(yaml.safe_dump(scenario))
    out = tmp_path / "run"
    args = ["search", "--env", str(path), "--agent", "random", "--episodes", "2", "--seed", "1"]
    cli(tmp_path, *args, "--out", str(out), "--quiet", "--no-report")
    records = [json.loads(line) for line in (out / "candidates.jsonl").read_text().splitlines()]
    assert len(records) == 2
    from coexplore.scenario import load_scenario

    s = load_scenario(path)
    family = roofline_family.Roofline(s.hardware.options)
    choice = {"peak_macs": 1e9, "bandwidth_gbs": 1.0}
    for r in records:
        net = s.space.parse(r["arch"]).network((1, 8, 8), 10)
        dense = family.metrics_of(net, choice)
        planned = family.metrics_of(net, choice, s.compression.compression(net))
        assert r["metrics"]["dram_bytes"] == pytest.approx(planned.dram_bytes)
        assert planned.dram_bytes < dense.dram_bytes
        assert r["val_acc"] is not None and r["reward_terms"]  # trained, compressed, rewarded


def test_a_plugin_family_whose_choice_is_trained(tmp_path):
    """The ``trained-hardware`` capability in a whole search: the roofline-dtype family's
    number format is a token, its oracle trains each candidate in that format, and one
    architecture in two formats is two trainings."""
    scenario = {
        "description": "digits networks trained in their device's number format",
        "data": {"name": "digits", "seed": 0},
        "space": {"name": "chain", "depth": 2},
        "hardware": {"family": "roofline-dtype", "peak_macs": [1e9], "bandwidth_gbs": [1.0]},
        "specs": {"latency_s": {"max": 1.0}},
        "slow_phase": {"oracle": "train-dtype", "train": {"epochs": 1}},
    }
    path = tmp_path / "roofline-dtype.yaml"
    path.write_text(yaml.safe_dump(scenario))
    from coexplore.config import ConfigError
    from coexplore.scenario import load_scenario, make_evaluator

    plain = tmp_path / "plain.yaml"  # the train oracle would not train the format
    plain.write_text(yaml.safe_dump({**scenario, "slow_phase": {}}))
    with pytest.raises(ConfigError, match="train-dtype"):
        load_scenario(plain)
    ev = make_evaluator(load_scenario(path), cache=str(tmp_path / "cache.sqlite"))
    arch = ev.space.to_tokens(ev.space.parse("k3f24s1-k3f36s2|flatten"))
    tokens = [[*arch, 0, 0, 0], [*arch, 0, 0, 1]]
    fp32, bf16 = ev.evaluate_batch(tokens)
    assert (fp32.choice["dtype"], bf16.choice["dtype"]) == ("fp32", "bf16")
    assert not fp32.cache_hit and not bf16.cache_hit  # two trainings, each in its format
    trained = [ev.oracle.cache.get(ev.oracle.key(ev.candidate(t)))["precision"] for t in tokens]
    assert trained == ["fp32", "bf16"]
    assert bf16.metrics["dram_bytes"] < fp32.metrics["dram_bytes"]  # half the bytes per value
    out = tmp_path / "run"
    args = ["search", "--env", str(path), "--agent", "random", "--episodes", "3"]
    cli(tmp_path, *args, "--out", str(out), "--quiet", "--no-report")
    records = [json.loads(line) for line in (out / "candidates.jsonl").read_text().splitlines()]
    assert len(records) == 3 and all(r["val_acc"] is not None for r in records)


def with_small_predictor(s, tmp_path, rng):
    """The scenario with a predictor fitted here on 10 networks (quick measurements) that has
    measured the kernels of two random candidates, and those candidates' tokens."""
    from coexplore.data import dataset_shape
    from coexplore.latency.device_predictor import fit_device_predictor
    from coexplore.latency.lab import Lab
    from coexplore.latency.measure import MeasureConfig

    shape, classes = dataset_shape(s.data)
    lab = Lab(MeasureConfig(warmup=1, repeats=2, rounds=2))
    model = fit_device_predictor(s.space, shape, classes, 10, lab)
    choices = s.space.token_choices()
    tokens = [walk_tokens(choices, lambda p: s.space.allowed(p, shape[1]), rng) for _ in range(2)]
    model.learn_kernels([s.space.from_tokens(t).network(shape, classes) for t in tokens], lab)
    path = tmp_path / "small.predictor"
    model.save(path)
    hardware = dataclasses.replace(
        s.hardware, options=dataclasses.replace(s.hardware.options, predictor=str(path))
    )
    return dataclasses.replace(s, hardware=hardware), tokens


@pytest.mark.parametrize("name", sorted(scenario_files()))
def test_every_scenario_is_deterministic(name, tmp_path):
    """Same seed, same records: two fresh evaluators of a catalogue scenario (1-epoch
    training) give two random candidates the same records, timings aside."""

    s = get_scenario(name)
    train = dataclasses.replace(s.slow_phase.train, epochs=1)
    s = dataclasses.replace(s, slow_phase=dataclasses.replace(s.slow_phase, train=train))
    # a run directory of its own: the measured family's cache (shared by both) goes there
    s = dataclasses.replace(s, output_dir=str(tmp_path))
    rng = np.random.default_rng(0)
    if s.hardware.family == "predicted":  # its predictor file is fitted per machine
        s, tokens = with_small_predictor(s, tmp_path, rng)
    first = make_evaluator(s)
    n = len(first.sw_choices)

    def allowed(prefix):
        if len(prefix) < n:
            return first.space.allowed(prefix, first.input_shape[1])
        return first.hardware_space.allowed(prefix[n:])

    if s.hardware.family != "predicted":
        tokens = [walk_tokens(first.choices, allowed, rng) for _ in range(2)]
    try:
        a = first.evaluate_batch(tokens)
    except DatasetError as exc:  # cifar10-fpga: the CIFAR batches are the user's files
        pytest.skip(f"{name}: its data is not on this machine ({exc})")
    b = make_evaluator(s).evaluate_batch(tokens)
    assert record_differences(a, b) == []
