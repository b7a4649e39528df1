"""`coexplore benchmark`: the statistics (hand-computed), agent specs, the known optimum (against
the tables directly), runs that resume, executor-independent results, a user's agent by path."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from coexplore.config import ConfigError
from coexplore.search.benchmark import (
    BenchmarkConfig,
    at_budget,
    known_optimum,
    parse_agent,
    run_benchmark,
)
from coexplore.stats import holm, mean_ci, paired_test, verdict

ROOT = Path(__file__).resolve().parents[1]
CUSTOM = f"{ROOT / 'launch' / 'custom_agent.py'}:SoftmaxPolicy"


# --- statistics ---------------------------------------------------------------------------------
def test_mean_ci_by_hand():
    # mean 2, sd 1, sem 1/sqrt(3), t(0.975, 2) = 4.302653
    mean, half = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert half == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert math.isnan(mean_ci([5.0])[1]) and mean_ci([5.0])[0] == 5.0
    assert all(math.isnan(x) for x in mean_ci([]))


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, max(0.03, 2*0.03), max(0.06, 1*0.04)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    out = holm([0.02, float("nan"), 0.01])  # NaN: not a test, not counted
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.02)


def test_paired_test_by_hand():
    # six positive differences of distinct size: exact two-sided p = 2 / 2**6
    assert paired_test([2, 3, 4, 5, 6, 7], [1, 1, 1, 1, 1, 1]) == pytest.approx(2 / 64)
    assert paired_test([1, 2, 3], [1, 2, 3]) == 1.0
    assert math.isnan(paired_test([1.0], [0.0]))
    with pytest.raises(ValueError, match="different sizes"):
        paired_test([1, 2], [1, 2, 3])


def test_verdict_only_where_the_test_separates():
    assert verdict(0.3, 0.01) == "ahead"
    assert verdict(-0.3, 0.01) == "behind"
    assert verdict(0.3, 0.2) == "level"
    assert verdict(0.3, float("nan")) == "level"


def test_at_budget_keeps_the_last_best():
    assert at_budget([0.1, 0.5, 0.7], 2) == 0.5
    assert at_budget([0.1, 0.5, 0.7], 10) == 0.7  # stopped early: its best counts later
    assert at_budget([], 3) == 0.0  # found nothing


# --- agent specs --------------------------------------------------------------------------------
def test_agent_specs():
    spec = parse_agent("ppo:ent_coef=0.05,episodes_per_update=16")
    assert (spec.name, spec.params) == ("ppo", {"ent_coef": 0.05, "episodes_per_update": 16})
    custom = parse_agent(CUSTOM + ":learning_rate=0.2")
    assert custom.name == CUSTOM and custom.params == {"learning_rate": 0.2}
    assert parse_agent("random").params == {}
    with pytest.raises(ConfigError, match="registered agent"):
        parse_agent("nope")
    with pytest.raises(ConfigError, match="learning_rate"):
        parse_agent(CUSTOM + ":learning_rate=-1")
    with pytest.raises(ConfigError, match="Agent subclass"):
        parse_agent(f"{ROOT / 'launch' / 'custom_agent.py'}:main")
    with pytest.raises(ConfigError, match="importing"):
        parse_agent("no_such_module_here:Agent")


# --- the known optimum --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def optima(tmp_path_factory):
    return tmp_path_factory.mktemp("optima")


def test_known_optimum_matches_the_tables(optima):
    """Every nb201-table candidate through the evaluator gives the optimum the tables give
    directly: the best CIFAR-10 accuracy among cells within 12 ms on the Pixel 2."""
    from coexplore.tables import ACCURACY_TABLES, DEVICES

    acc, dev = ACCURACY_TABLES.get("nb201-cifar10"), DEVICES.get("pixel2")
    values = acc.table().column(acc.column) * acc.scale
    assert dev.table().archs == acc.table().archs
    within = dev.table().column(dev.column) * 1e-3 <= 0.012
    found = known_optimum("nb201-table", (), optima)
    assert found["candidates"] == 15_625
    assert found["feasible"] == int(within.sum())
    assert found["optimum"] == pytest.approx(float(values[within].max()))
    assert known_optimum("nb201-table", (), optima) == found  # cached
    assert len(list(optima.glob("nb201-table-*.json"))) == 1


def test_known_optimum_in_slices_over_processes(optima, tmp_path):
    """The candidates evaluated in slices by two worker processes give the same optimum and
    hypervolume as one process (each candidate's evaluation is seeded by itself)."""
    from coexplore.slow.executors import make_executor

    with make_executor("process", workers=2) as ex:
        parallel = known_optimum("nb201-table", (), tmp_path, ex)
    assert parallel == json.loads(json.dumps(known_optimum("nb201-table", (), optima)))


def test_a_trained_scenario_has_no_known_optimum(tmp_path):
    assert known_optimum("digits-fpga", (), tmp_path) is None


# --- runs ---------------------------------------------------------------------------------------
def _config(tmp_path, optima, **changes):
    settings = dict(
        envs=("nb201-table",),
        agents=("random", "rea", CUSTOM),
        seeds=3,
        trainings=20,
        out=str(tmp_path / "bench"),
        executor="sequential",
        optima=str(optima),
    )
    return BenchmarkConfig(**{**settings, **changes})


def test_benchmark_runs_compares_and_resumes(tmp_path, optima):
    config = _config(tmp_path, optima)
    results = run_benchmark(config, progress=False)
    rows = {r["agent"]: r for r in results["results"]}
    assert set(rows) == {"random", "rea", CUSTOM}
    optimum = results["envs"]["nb201-table"]["optimum"]["optimum"]
    for agent, r in rows.items():
        assert r["seeds"] == 3 and r["trainings_mean"] == 20
        assert r["optimum"] == optimum
        assert r["regret_mean"] == pytest.approx(optimum - r["best_mean"])
        assert 0 <= r["best_mean"] <= optimum
        assert r["stopped"] == {"trainings": 3}
        assert list(r["at"]) == ["2", "6", "20"]
        assert r["at"]["20"]["mean"] == pytest.approx(r["best_mean"])
        curve = results["curves"][f"nb201-table|{agent}"]["mean"]
        assert len(curve) == 20 and all(np.diff(curve) >= 0)
    assert rows["random"]["p_vs_random"] is None
    for agent in ("rea", CUSTOM):  # two comparisons, Holm over both
        r = rows[agent]
        assert r["p_raw"] <= r["p_vs_random"] <= min(1.0, 2 * r["p_raw"]) + 1e-12
        assert r["verdict"] in ("ahead", "behind", "level")
    out = Path(config.out)
    assert (out / "benchmark.md").read_text().count("| `") == 6  # results + hypervolume rows
    assert (out / "benchmark_curves.png").stat().st_size > 0
    assert json.loads((out / "benchmark.json").read_text())["results"]
    # each run is a normal run directory that `coexplore report` reads
    run = out / "nb201-table" / "rea" / "s1"
    meta = json.loads((run / "run.json").read_text())
    assert meta["trainings_done"] == 20 and len(meta["training_episodes"]) == 20
    # the same command again reads the runs back: nothing rerun, the same results
    before = {p: p.stat().st_mtime_ns for p in out.glob("nb201-table/*/s*/candidates.jsonl")}
    again = run_benchmark(config, progress=False)
    assert again["results"] == results["results"]
    assert {p: p.stat().st_mtime_ns for p in before} == before
    # a larger budget resumes each run where it stopped
    more = run_benchmark(_config(tmp_path, optima, trainings=30), progress=False)
    grown = {r["agent"]: r for r in more["results"]}
    assert grown["random"]["trainings_mean"] == grown["rea"]["trainings_mean"] == 30
    for r in more["results"]:  # or the agent converged on the way (said so)
        assert r["trainings_mean"] == 30 or "converged" in r["stopped"]


def test_results_do_not_depend_on_the_executor(tmp_path, optima):
    """The same seeds give the same runs whether they run one by one or in two processes."""
    settings = dict(agents=("random", "rea"), seeds=2, trainings=12)
    seq = run_benchmark(_config(tmp_path / "a", optima, **settings), progress=False)
    par = run_benchmark(
        _config(tmp_path / "b", optima, executor="process", workers=2, **settings),
        progress=False,
    )
    drop = ("wall_s_mean",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in seq["results"]] == [
        {k: v for k, v in r.items() if k not in drop} for r in par["results"]
    ]


def test_a_run_dir_of_another_search_is_refused(tmp_path, optima):
    run_benchmark(_config(tmp_path, optima, agents=("random",), seeds=1, trainings=5), False)
    other = _config(tmp_path, optima, agents=("random",), seeds=1, trainings=5,
                    overrides=("reward.alpha=0.5",))  # fmt: skip
    with pytest.raises(ConfigError, match="another search"):
        run_benchmark(other, progress=False)


def test_a_benchmark_is_one_offline_wandb_run(tmp_path, optima):
    from coexplore.search.tracking import WandbConfig

    config = _config(tmp_path, optima, agents=("random", "rea"), seeds=2, trainings=5,
                     wandb=WandbConfig(mode="offline"))  # fmt: skip
    run_benchmark(config, progress=False)
    runs = list((Path(config.out) / "wandb").glob("offline-run-*-bench-*"))
    assert len(runs) == 1 and any(runs[0].glob("*.wandb"))
    assert not list(Path(config.out).glob("nb201-table/*/s*/wandb"))  # the searches: untracked


def test_bad_config_is_refused():
    with pytest.raises(ConfigError, match="seeds"):
        BenchmarkConfig(envs=("nb201-table",), agents=("random",), seeds=0)
    with pytest.raises(ConfigError, match="at"):
        BenchmarkConfig(envs=("nb201-table",), agents=("random",), trainings=10, at=(20,))


# --- the command line ---------------------------------------------------------------------------
def _cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "coexplore.cli.main", "benchmark", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )


def test_cli_json(tmp_path, optima):
    known_optimum("nb201-table", (), optima)  # computed once for the module, then copied
    shutil.copytree(optima, tmp_path / "b" / "optima")
    done = _cli("--env", "nb201-table", "--agents", "rea", "--seeds", "2", "--trainings", "8",
                "--out", str(tmp_path / "b"), "--executor", "sequential", "--json",
                "--wandb-mode", "disabled", "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["results"]
    assert [r["agent"] for r in rows] == ["random", "rea"]  # the baseline added
    keys = {"env", "agent", "seeds", "trainings", "best_mean", "best_ci95", "optimum",
            "regret_mean", "p_vs_random", "distinct_mean"}  # fmt: skip
    assert all(keys <= set(r) for r in rows)


def test_cli_bad_agent_is_a_clear_error(tmp_path):
    done = _cli("--env", "nb201-table", "--agents", "nope", "--out", str(tmp_path / "b"))
    assert done.returncode == 2
    assert "field 'agent' must be a registered agent" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "b").exists()
