"""The paper comparison: its methods, its measures (hand-made records) and the launch script."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from coexplore.config import load_mapping
from coexplore.core.metrics import Metrics
from coexplore.core.record import CandidateRecord
from coexplore.core.specs import SpecFailure
from coexplore.scenario import apply_overrides, scenario_from_dict, scenario_path
from coexplore.search.comparison import best_so_far, design_in_order, measure, methods, reached

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = "k3f24s1-k3f36s1-k3f48s2-k3f48s1-k3f64s2-k3f64s1|flatten"


def rec(episode, acc=None, pruned=False, fps=1000.0, fails=False):
    """A record as the env writes it, reduced to what the measures read."""
    failure = SpecFailure("spec", "too slow", "throughput_fps", "min", 2000.0, fps, 0.5)
    return CandidateRecord(
        arch=f"a{episode}",
        space="chain",
        tokens=[episode],
        platform="fpga-pipeline",
        choice=["XC7Z020"],
        hardware=None if pruned else {"stages": []},
        metrics=None if pruned else Metrics(throughput_fps=fps, energy_j=1e-4),
        details={"parts": ["XC7Z020"], "pipeline": None if pruned else {"gops_per_w": 5.0}},
        pruned=pruned,
        failed_specs=[failure] if fails else [],
        hw_attempts=1,
        fast_s=0.5,
        macs=1000,
        reward=0.0,
        val_acc=None if pruned else acc,
        test_acc=None if pruned else acc,
        episode=episode,
        wall_s=10.0 * (episode + 1),
    )


def test_methods_are_valid_scenario_overrides():
    path = scenario_path("digits-fpga")
    ms = methods(REFERENCE)
    assert list(ms) == ["coexplore", "hw-nas-fixed", "sequential", "random", "no-pruning"]
    modes = {}
    for name, m in ms.items():
        s = scenario_from_dict(apply_overrides(load_mapping(path), list(m.overrides)), str(path))
        modes[name] = (s.hardware.mode, s.fast_phase.prune, m.agent)
    assert modes["hw-nas-fixed"][0] == "fixed" and modes["sequential"][0] == "none"
    assert modes["no-pruning"][1] is False and modes["random"][2] == "random"
    assert modes["coexplore"] == ("explore", True, "reinforce-paper")


def test_an_nb201_reference_survives_the_overrides():
    """NB201 strings start with '|', a YAML block marker: the override keeps them as text."""
    path = scenario_path("nb201-fpga")
    resnet = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
    overrides = methods(resnet)["hw-nas-fixed"].overrides
    s = scenario_from_dict(apply_overrides(load_mapping(path), list(overrides)), str(path))
    assert s.hardware.reference == resnet
    raw = apply_overrides(load_mapping(path), [f"hardware.reference={resnet}"])  # unquoted
    assert raw["hardware"]["reference"] == resnet


def test_reached_counts_trainings_until_the_target_within_specs():
    records = [
        rec(0, 0.9),
        rec(1, pruned=True),
        rec(2, 0.97, fails=True),
        rec(3, 0.96),
        rec(4, 0.99),
    ]
    assert reached(records, 0.95) == {"trainings": 3, "wall_s": 40.0, "episode": 3}
    assert reached(records, 0.995) is None


def test_design_in_order_stops_at_the_first_network_that_meets_the_specs():
    records = [rec(0, 0.90), rec(1, 0.99), rec(2, 0.95), rec(3, 0.97)]
    designed = [rec(0, 0.90), rec(1, 0.99, fails=True), rec(2, 0.95), rec(3, 0.97, fails=True)]
    chosen = design_in_order(records, designed)
    assert chosen["best"].episode == 2 and chosen["designs"] == 3  # 0.99, 0.97, then 0.95
    assert chosen["design_s"] == pytest.approx(1.5)
    assert design_in_order(records, [rec(i, 0.9, fails=True) for i in range(4)])["best"] is None


def test_measures_and_best_so_far():
    records = [rec(0, 0.9, fps=2000.0), rec(1, pruned=True), rec(2, 0.95, fps=1000.0)]
    m = measure(records, records[2])
    assert m["trainings"] == 2 and m["pruned"] == 1 and m["best_val_acc"] == 0.95
    assert m["hypervolume"] == pytest.approx(2000 * 0.9 + 1000 * (0.95 - 0.9))
    assert [b for _, _, b in best_so_far(records)] == [0.9, 0.95]


def test_quick_comparison_writes_the_report(tmp_path):
    """launch/paper_comparison.py --quick: every method runs, its section of the markdown and
    its PNGs appear, and the rest of the file is kept."""
    other = "<!-- begin: other (generated) -->\nold other section\n<!-- end: other -->"
    (tmp_path / "results.md").write_text(f"# Title\n\nhand-written intro\n\n{other}\n\nnotes\n")
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "launch" / "paper_comparison.py"),
            "--quick",
            "--quiet",
            "--json",
            "--out",
            str(tmp_path / "runs"),
            "--doc",
            str(tmp_path / "results.md"),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    result = json.loads(out)
    assert set(result["figures"]) == {
        "coexplore",
        "hw-nas-fixed",
        "sequential",
        "random",
        "no-pruning",
    }
    assert all(len(f["candidates"]) == 2 for f in result["figures"].values())  # two seeds
    assert all(c == 6 for f in result["figures"].values() for c in f["candidates"])
    doc = (tmp_path / "results.md").read_text()
    assert "The paper's claims beside ours" in doc and "+35.24%" in doc
    assert (tmp_path / "results_figures" / "digits-fpga-quick_pareto_fronts.png").exists()
    assert (tmp_path / "results_figures" / "digits-fpga-quick_best_so_far.png").exists()
    assert doc.startswith("# Title\n\nhand-written intro\n\n" + other + "\n\nnotes\n")
    assert "<!-- begin: digits-fpga-quick " in doc and doc.endswith(
        "<!-- end: digits-fpga-quick -->\n"
    )
    assert "## Scenario `digits-fpga`" in doc


def test_repeats_and_cache_hits_cost_no_training():
    records = [
        rec(0, 0.9),
        rec(1, 0.95),
        dataclasses.replace(rec(0, 0.9), episode=2),
        dataclasses.replace(rec(3, 0.9), cache_hit=True),
    ]
    assert measure(records, records[1])["trainings"] == 2
    assert reached(records, 0.95)["trainings"] == 2
