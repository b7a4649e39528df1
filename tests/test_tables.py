"""Tabular benchmarks: the shipped NAS-Bench-201 tables, the table oracle by name, the table
platform (built-in devices and user CSVs), the nb201 scenarios and their Gymnasium ids."""

import csv
import gzip
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml
from gymnasium.utils.env_checker import check_env

import coexplore  # noqa: F401  (registers the Gymnasium ids)
from coexplore.cli.main import main
from coexplore.config import ConfigError
from coexplore.core.candidate import Candidate
from coexplore.core.specs import Specs
from coexplore.env.environment import CoExploreEnv
from coexplore.platforms.table.family import TableHardware, TablePlatform
from coexplore.scenario import get_scenario, load_scenario, make_evaluator
from coexplore.slow.oracles import OracleError, TableOracle
from coexplore.spaces import make_space
from coexplore.tables import ACCURACY_TABLES, DEVICES, NotInTableError, read_table

SPACE = make_space("nb201")
BEST_CIFAR10 = 6111  # the benchmark's CIFAR-10 optimum (its README)


def cell(index: int) -> str:
    return ACCURACY_TABLES.get("nb201-cifar10").table().archs[index]


def test_the_shipped_tables_hold_every_cell_in_benchmark_order():
    acc = ACCURACY_TABLES.get("nb201-cifar10").table()
    lat = DEVICES.get("pixel2").table()
    assert len(acc) == len(lat) == 15_625
    assert acc.archs == lat.archs  # one row order: the benchmark's index
    assert np.array_equal(acc.column("arch_idx"), np.arange(15_625))
    assert {SPACE.parse(a).canonical for a in acc.archs} == set(acc.archs)  # our strings
    c10 = acc.column("cifar10_test_acc")
    assert int(np.argmax(c10)) == BEST_CIFAR10 and c10.max() == pytest.approx(94.373, abs=1e-3)
    assert c10.mean() == pytest.approx(87.06, abs=0.01)
    assert (c10 < 11).sum() == pytest.approx(341, abs=10)  # the disconnected cells, near 10%
    assert len(DEVICES) == 23 and {d.kind for _, d in DEVICES.items()} == {"gpu", "cpu", "phone"}
    assert sorted({d.batch for _, d in DEVICES.items()}) == [1, 32, 256]


def test_the_table_oracle_knows_the_builtin_tables_by_name():
    oracle = TableOracle("nb201-cifar10")
    ev = oracle.evaluate(Candidate(SPACE.parse(cell(BEST_CIFAR10)), seed=3))
    assert ev.val_acc == ev.test_acc == pytest.approx(0.94373, abs=1e-5)
    assert ev.details["signal"] == "test" and ev.details["arch_idx"] == BEST_CIFAR10
    c100 = TableOracle("nb201-cifar100").evaluate(Candidate(SPACE.parse(cell(0))))
    assert c100.val_acc == pytest.approx(0.52913333, abs=1e-7)  # row 0 of the file
    im = TableOracle("nb201-imagenet16").evaluate(Candidate(SPACE.parse(cell(1))))
    assert im.test_acc == pytest.approx(0.44033333, abs=1e-7)
    with pytest.raises(ConfigError, match="nb201-cifar10"):
        TableOracle("nb201-cifar1O").evaluate(Candidate(SPACE.parse(cell(0))))


def test_a_user_accuracy_table_must_hold_fractions_and_the_cell(tmp_path):
    path = tmp_path / "acc.csv.gz"
    with gzip.open(path, "wt", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["arch", "val_acc"])
        w.writerow([cell(0), 85.9])
    with pytest.raises(ConfigError, match="fractions"):
        TableOracle(path).evaluate(Candidate(SPACE.parse(cell(0))))
    path.write_bytes(gzip.compress(f"arch,val_acc\n{cell(0)},0.859\n".encode()))
    oracle = TableOracle(path)
    assert oracle.evaluate(Candidate(SPACE.parse(cell(0)))).val_acc == 0.859
    assert np.isnan(oracle.evaluate(Candidate(SPACE.parse(cell(0)))).test_acc)  # no test column
    with pytest.raises(OracleError, match=r"'arch' must be one of the table's 1 architectures"):
        oracle.evaluate(Candidate(SPACE.parse(cell(1))))


def network(index: int):
    return SPACE.parse(cell(index)).network((3, 32, 32), 10)


def test_builtin_devices_golden():
    """Row 0 of nb201_latency_help.csv.gz: Pixel 2 9 ms; Titan RTX, batch 256: 10.65186024 ms."""
    phone = TablePlatform(TableHardware(device="pixel2"))
    r = phone.evaluate(Candidate(network=network(0)), Specs(), None)
    assert r.metrics.latency_s == pytest.approx(0.009)
    assert r.metrics.throughput_fps == pytest.approx(1 / 0.009)
    assert r.hardware == {"table": "pixel2", "batch": 1} and not r.failed_specs
    gpu = TablePlatform(TableHardware(device="titan_rtx_256"))
    m = gpu.evaluate(Candidate(network=network(0)), Specs(), None).metrics
    assert m.latency_s == pytest.approx(10.65186024e-3)
    assert m.throughput_fps == pytest.approx(256 / 10.65186024e-3)  # a batch per pass
    assert phone.reported_metrics() == ("latency_s", "throughput_fps")
    tight = Specs.from_config({"latency_s": {"max": 0.005}})
    (failure,) = phone.evaluate(Candidate(network=network(0)), tight, None).failed_specs
    assert failure.metric == "latency_s" and failure.value == pytest.approx(0.009)
    c = Candidate(network=network(0))
    assert phone.evaluate_fixed(c, phone.reference(c, tight), tight).pruned


def test_latency_specs_prune_exactly_the_slow_cells():
    """Property: a cell meets a latency spec on the table platform iff its measured latency is
    within it, for random cells and limits."""
    d = DEVICES.get("samsung_a50")
    column = d.table().column(d.column)
    platform = TablePlatform(TableHardware(device="samsung_a50"))
    rng = np.random.default_rng(0)
    for index in rng.integers(15_625, size=25):
        limit = float(rng.uniform(5, 40))
        specs = Specs.from_config({"latency_s": {"max": limit * 1e-3}})
        result = platform.evaluate(Candidate(network=network(int(index))), specs, None)
        assert result.pruned == (column[index] > limit)


def write_csv(path, header, rows):
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_a_user_hardware_table(tmp_path):
    """Columns named with units (latency_ms, energy_mj) are read in SI; power and EDP follow."""
    path = write_csv(
        tmp_path / "fpga.csv",
        ["arch", "latency_ms", "energy_mj", "note"],
        [[cell(0), 2.0, 4.0, "a"], [cell(1), 8.0, 1.0, "b"]],
    )
    platform = TablePlatform(TableHardware(table=str(path)))
    m = platform.evaluate(Candidate(network=network(1)), Specs(), None).metrics
    assert (m.latency_s, m.energy_j) == pytest.approx((0.008, 0.001))
    assert m.throughput_fps == pytest.approx(125.0)
    assert m.power_w == pytest.approx(0.001 * 125.0) and m.edp_js == pytest.approx(0.001 * 0.008)
    metrics = ("latency_s", "throughput_fps", "energy_j", "power_w", "edp_js")
    assert platform.reported_metrics() == metrics
    with pytest.raises(NotInTableError, match=r"fpga\.csv: field 'arch' must be one of the tab"):
        platform.evaluate(Candidate(network=network(2)), Specs(), None)
    # HW-NAS-Bench-style names, mapped; a batch of 32 per measured pass
    path = write_csv(tmp_path / "hw.csv", ["arch_str", "fpga_latency"], [[cell(0), 4.0]])
    cfg = TableHardware(
        table=str(path), arch_column="arch_str", columns={"latency_ms": "fpga_latency"}, batch=32
    )
    m = TablePlatform(cfg).evaluate(Candidate(network=network(0)), Specs(), None).metrics
    assert (m.latency_s, m.throughput_fps) == pytest.approx((0.004, 8000.0))


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({}, "exactly one"),
        ({"device": "pixel2", "table": "x.csv"}, "exactly one"),
        ({"device": "pixel3"}, "pixel2"),
        ({"device": "pixel2", "batch": 4}, "built-in device"),
        ({"table": "x.csv", "columns": {"latency": "lat"}}, "latency_ms"),
        ({"table": "x.csv", "columns": {"latency_ms": "a", "latency_s": "b"}}, "one column"),
    ],
)
def test_table_hardware_settings_are_checked(config, says):
    with pytest.raises(ConfigError, match=says):
        TableHardware(**config)


def test_a_user_table_with_wrong_columns_names_what_it_needs(tmp_path):
    path = write_csv(tmp_path / "bad.csv", ["arch", "lat"], [[cell(0), 1.0]])
    with pytest.raises(ConfigError, match=r"<columns>.*latency_ms"):
        TablePlatform(TableHardware(table=str(path))).reported_metrics()
    mapped = TableHardware(table=str(path), columns={"latency_ms": "latency"})
    with pytest.raises(ConfigError, match=r"latency.*needed: \['latency'\].*got \['lat'\]"):
        TablePlatform(mapped).reported_metrics()
    no_arch = write_csv(tmp_path / "noarch.csv", ["name", "latency_ms"], [[cell(0), 1.0]])
    with pytest.raises(ConfigError, match="'arch'"):
        read_table(no_arch)
    twice = write_csv(tmp_path / "twice.csv", ["arch", "latency_ms"], [[cell(0), 1], [cell(0), 2]])
    with pytest.raises(ConfigError, match="one row per architecture"):
        read_table(twice)
    text = write_csv(tmp_path / "text.csv", ["arch", "latency_ms"], [[cell(0), "fast"]])
    with pytest.raises(ConfigError, match="a column of numbers"):
        TablePlatform(TableHardware(table=str(text))).reported_metrics()


def scenario_data(name: str) -> dict:
    return yaml.safe_load(Path(get_scenario(name).source).read_text())


def user_scenario(tmp_path, **changes):
    """nb201-table on a user CSV of two metrics for every cell (latency from Pixel 2)."""
    d = DEVICES.get("pixel2")
    latency = d.table().column(d.column)
    rows = [[a, ms, ms / 10] for a, ms in zip(d.table().archs, latency, strict=True)]
    table = write_csv(tmp_path / "mine.csv", ["arch", "latency_ms", "energy_mj"], rows)
    data = scenario_data("nb201-table")
    data["hardware"] = {"family": "table", "table": str(table)}
    data["objectives"] = ["latency_s", "energy_j"]
    data.update(changes)
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_scenario_on_a_user_table(tmp_path):
    scenario = load_scenario(user_scenario(tmp_path))
    assert scenario.objectives == ("latency_s", "energy_j")
    evaluator = make_evaluator(scenario)
    record = evaluator.evaluate(SPACE.to_tokens(SPACE.parse(cell(0))))
    assert record.metrics.energy_j == pytest.approx(0.0009) and not record.pruned
    with pytest.raises(ConfigError, match="area_mm2"):
        load_scenario(user_scenario(tmp_path, objectives=["area_mm2"]))
    env = CoExploreEnv(scenario)
    check_env(env, skip_render_check=True)


def test_a_builtin_table_names_its_dataset(tmp_path):
    data = scenario_data("nb201-table")
    data["slow_phase"]["table"] = "nb201-cifar100"
    path = tmp_path / "wrong.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"data.name.*'cifar100'"):
        load_scenario(path)


def test_nb201_table_prunes_slow_cells_and_rewards_the_fast_ones_for_accuracy():
    evaluator = make_evaluator("nb201-table")
    limit = evaluator.specs.limit("latency_s")
    d = DEVICES.get("pixel2")
    latency = d.table().column(d.column) * 1e-3
    slow, fast = int(np.argmax(latency > limit)), int(np.argmax(latency <= limit))
    over = evaluator.evaluate(SPACE.to_tokens(SPACE.parse(cell(slow))))
    assert over.pruned and over.val_acc is None and over.reward == -1.0
    ok = evaluator.evaluate(SPACE.to_tokens(SPACE.parse(cell(fast))))
    acc = TableOracle("nb201-cifar10").evaluate(Candidate(SPACE.parse(cell(fast)))).val_acc
    assert not ok.pruned and ok.val_acc == acc
    assert ok.reward == pytest.approx(2 * (acc - 0.8) / 0.15 - 1)  # alpha 1: accuracy alone


@pytest.mark.parametrize("name", ["nb201-table", "nb201-fpga"])
def test_the_nb201_gym_ids_pass_check_env(name):
    env = gym.make(f"coexplore/{name}-v0")
    check_env(env.unwrapped, skip_render_check=True)
    env.reset(seed=0)
    done, info = False, {}
    while not done:
        mask = env.unwrapped.action_masks()
        _, _, done, _, info = env.step(int(np.flatnonzero(mask)[0]))
    assert (
        info["space"] == "nb201"
        and info["arch"] in ACCURACY_TABLES.get("nb201-cifar10").table().index
    )
    env.close()


def test_nb201_fpga_takes_the_accuracy_from_the_table():
    evaluator = make_evaluator("nb201-fpga")
    light, heavy = cell(0), cell(BEST_CIFAR10)  # 1x1 convs and pools; 3x3 convs on 5 edges
    for arch, pruned in ((light, False), (heavy, True)):  # on XC7Z020 -> XC7A50T, >= 160 fps
        record = evaluator.evaluate([*SPACE.to_tokens(SPACE.parse(arch)), 0, 1])
        assert record.pruned == pruned and record.metrics.throughput_fps > 0
    assert record.val_acc is None  # pruned: never looked up
    record = evaluator.evaluate([*SPACE.to_tokens(SPACE.parse(light)), 0, 1])
    assert record.val_acc == pytest.approx(0.8586333, abs=1e-6)  # row 0 of the table
    assert record.details["parts"]  # the pipeline the fast phase kept


def test_search_cli_on_nb201_table(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["search", "--env", "nb201-table", "--agent", "rea", "--episodes", "60", "--seed", "1"]
    argv += ["--out", str(out), "--json", "--quiet", "--wandb-mode", "disabled"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["episodes"] == 60 and result["pruned"] > 0
    assert result["best"]["val_acc"] > 0.9


def partial_scenario(tmp_path, rows: list[str], accuracy_rows: list[str] | None = None):
    """nb201-table on a user latency CSV of ``rows`` only (Pixel 2's numbers), and optionally
    a user accuracy CSV of ``accuracy_rows``; paths relative to the scenario's directory."""
    d = DEVICES.get("pixel2")
    latency = d.table().column(d.column)
    index = d.table().index
    ms = [latency[index[a]] if a in index else 1.0 for a in rows]
    write_csv(tmp_path / "lat.csv", ["arch_str", "lat"], list(zip(rows, ms, strict=True)))
    data = scenario_data("nb201-table")
    data["specs"] = {"latency_s": {"max": 0.05}}  # within reach of any 50 cells
    data["hardware"] = {
        "family": "table",
        "table": "lat.csv",
        "arch_column": "arch_str",
        "columns": {"latency_ms": "lat"},  # docs/tables.md's example
    }
    if accuracy_rows is not None:
        acc = TableOracle("nb201-cifar10")
        values = [[a, acc.evaluate(Candidate(SPACE.parse(a))).val_acc] for a in accuracy_rows]
        write_csv(tmp_path / "acc.csv", ["arch", "val_acc"], values)
        data["slow_phase"] = {"oracle": "table", "table": "acc.csv"}
    path = tmp_path / "partial.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def reachable(env: CoExploreEnv, prefix: list[int] | None = None) -> set[tuple[int, ...]]:
    """Every token list the env's masks let an agent complete (depth-first)."""
    prefix = prefix or []
    if len(prefix) == len(env.choices):
        return {tuple(prefix)}
    return set().union(*(reachable(env, [*prefix, v]) for v in env.possible(prefix)))


def test_a_partial_table_restricts_the_masks_to_its_rows(tmp_path):
    """50 NAS-Bench-201 cells of 15,625 (and one row that is no cell): the masks reach exactly
    the 50; a built-in table restricts nothing."""
    rows = [cell(i) for i in np.random.default_rng(3).choice(15_625, 50, replace=False)]
    env = CoExploreEnv(load_scenario(partial_scenario(tmp_path, [*rows, "not-a-cell"])))
    assert env.coverage is not None and len(env.coverage) == 50
    assert env.coverage.outside == ("not-a-cell",)
    assert reachable(env) == {tuple(SPACE.to_tokens(SPACE.parse(a))) for a in rows}
    statement = env.coverage.statement()
    assert "hardware.table covers 50 of at most 15,625" in statement and "not-a-cell" in statement
    check_env(env, skip_render_check=True)
    least = env.least_work()
    assert env.evaluator.candidate(least).arch.canonical in rows  # the target check keeps to it
    assert CoExploreEnv("nb201-table").coverage is None


def test_two_partial_tables_keep_the_search_to_their_common_rows(tmp_path):
    rows = [cell(i) for i in range(0, 40)]
    path = partial_scenario(tmp_path, rows[:30], accuracy_rows=rows[10:])
    env = CoExploreEnv(load_scenario(path))
    assert env.coverage.sources == ("hardware.table", "slow_phase.table")
    assert reachable(env) == {tuple(SPACE.to_tokens(SPACE.parse(a))) for a in rows[10:30]}


@pytest.mark.parametrize("agent", ["random", "rea", "hsconas", "ppo", "maskable-ppo"])
def test_every_agent_searches_a_partial_table_within_its_rows(tmp_path, capsys, agent):
    """A search on a 50-row user table used to fail mid-way with a NotInTableError
    traceback. Now it says its coverage and proposes only the table's rows."""
    rows = [cell(i) for i in np.random.default_rng(4).choice(15_625, 50, replace=False)]
    out = tmp_path / "run"
    argv = ["search", "--env", str(partial_scenario(tmp_path, rows)), "--agent", agent]
    argv += ["--episodes", "24", "--out", str(out), "--json", "--quiet", "--wandb-mode"]
    argv += ["disabled", "--no-report"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["coverage"] == {
        "sources": ["hardware.table"],
        "covered": 50,
        "space_bound": 15_625,
        "outside_space": 0,
    }
    assert "note: hardware.table covers 50 of at most 15,625 architectures" in captured.err
    records = [json.loads(line) for line in (out / "candidates.jsonl").read_text().splitlines()]
    assert len(records) == 24 and {r["arch"] for r in records} <= set(rows)


def test_a_table_of_no_architecture_of_the_space_stops_before_the_search(tmp_path, capsys):
    path = partial_scenario(tmp_path, ["conv3x3-relu", "conv1x1-relu"])
    out = tmp_path / "run"
    argv = ["search", "--env", str(path), "--agent", "random", "--episodes", "5"]
    argv += ["--out", str(out), "--quiet", "--wandb-mode", "disabled"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "field 'hardware.table' must be a table of architectures of the nb201 space" in err
    assert "'conv3x3-relu'" in err and "Traceback" not in err
    assert not out.exists()  # nothing left behind: the same --out works once fixed
