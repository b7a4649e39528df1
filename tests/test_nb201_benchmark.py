"""launch/nb201_benchmark.py: runs are seeded and kept, the doc and its figure are written."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
spec = importlib.util.spec_from_file_location(
    "nb201_benchmark", ROOT / "launch" / "nb201_benchmark.py"
)
bench = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = bench  # dataclasses look their module up
spec.loader.exec_module(bench)


def test_the_targets_follow_their_rule():
    s = bench.SETTINGS["cifar10-pixel2"]
    assert s.target_s() == pytest.approx(0.012)  # the 25% quantile of Pixel 2's whole ms
    o = s.oracle()
    assert o["feasible"] == pytest.approx(0.298, abs=1e-3) and o["best"] == pytest.approx(
        0.9351, abs=1e-4
    )
    assert bench.SETTINGS["cifar10"].oracle()["best"] == pytest.approx(0.94373, abs=1e-5)


def test_a_run_is_seeded_counts_distinct_queries_and_is_kept(tmp_path):
    a = bench.run_one("cifar10-pixel2", "rea", 3, 80, 400, 100, str(tmp_path / "a"))
    b = bench.run_one("cifar10-pixel2", "rea", 3, 80, 400, 100, str(tmp_path / "b"))
    assert a["curve"] == b["curve"] and len(a["curve"]) == 80 and a["stopped"] == "budget"
    assert a["curve"] == sorted(a["curve"])  # best so far never falls
    assert a["proposals"] > a["charged"] >= 80  # pruned cells are free, queries are distinct
    assert max(a["curve"]) <= bench.SETTINGS["cifar10-pixel2"].oracle()["best"]
    kept = tmp_path / "a" / "cifar10-pixel2" / "rea-s3.json"
    assert json.loads(kept.read_text())["curve"] == a["curve"]
    kept.write_text(json.dumps({**a, "proposals": -1}))
    assert (
        bench.run_one("cifar10-pixel2", "rea", 3, 80, 400, 100, str(tmp_path / "a"))["proposals"]
        == -1
    )  # a finished run is read back, not redone


def test_quick_benchmark_writes_the_doc(tmp_path):
    doc = tmp_path / "nb201.md"
    doc.write_text(
        "old\n<!-- discussion: hand-written below this line; the script keeps it -->\nmine\n"
    )
    agents = ["ppo", "rea:population=10,sample_size=3", "random"]  # a variant with its params
    argv = ["--quick", "--settings", "cifar10", "cifar10-pixel2", "--agents", *agents]
    summary = bench.main([*argv, "--out", str(tmp_path / "runs"), "--doc", str(doc)])
    text = doc.read_text()
    assert "## The goals" in text and "regularised evolution" in text and text.endswith("mine\n")
    assert "test accuracy" in text and (tmp_path / "nb201_figures" / "best_so_far.png").exists()
    assert set(summary["goal"]["within_0.3"]) == {"cifar10-pixel2"}
    assert set(summary["goal"]["beats_random"]) == {"cifar10/ppo", "cifar10-pixel2/ppo"}
    assert "regularised evolution (population=10, sample_size=3)" in text
    kept = json.loads((tmp_path / "runs-quick" / "cifar10" / f"{agents[1]}-s0.json").read_text())
    assert kept["agent"] == agents[1]
    with pytest.raises(SystemExit):
        bench.parse_args(["--agents", "dqn:lr=1"])
