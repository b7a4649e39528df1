"""Pareto fronts, hypervolume and the run report (``coexplore report``)."""

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coexplore.cli.main import main
from coexplore.cli.report import best_line
from coexplore.config import load_mapping
from coexplore.scenario import scenario_path
from coexplore.search.pareto import front_records, hypervolume_2d, pareto_front
from coexplore.search.report import write_report
from coexplore.search.runlog import RUN_FILE, RunLog, record_from_json

PNG = b"\x89PNG\r\n\x1a\n"

# --- golden cases, worked by hand -------------------------------------------------------------


def test_front_both_maximised():
    points = [(1, 3), (2, 2), (3, 1), (1, 1), (2, 3)]
    assert pareto_front(points) == [4, 2]
    # [0,3]x[0,1] ∪ [0,2]x[0,3] = 3 + 6 - 2
    assert hypervolume_2d(points, (0, 0)) == 7


def test_front_mixed_directions():
    # accuracy (maximise) vs energy (minimise)
    points = [(0.9, 2.0), (0.8, 1.0), (0.95, 3.0), (0.85, 2.5), (0.7, 1.0)]
    assert pareto_front(points, (True, False)) == [1, 0, 2]
    # gains over (0.5, 4): (0.3, 3), (0.4, 2), (0.45, 1) -> 0.45*1 + 0.4*1 + 0.3*1
    assert hypervolume_2d(points, (0.5, 4.0), (True, False)) == pytest.approx(1.15)
    # energy first (minimise) vs accuracy: sorted by increasing energy
    swapped = [(y, x) for x, y in points]
    assert pareto_front(swapped, (False, True)) == [1, 0, 2]
    assert hypervolume_2d(swapped, (4.0, 0.5), (False, True)) == pytest.approx(1.15)


def test_front_duplicates_keep_the_first():
    assert pareto_front([(1, 1), (2, 2), (2, 2), (1, 1)]) == [1]
    assert pareto_front([(1, 2), (1, 2), (2, 1)]) == [0, 2]
    assert pareto_front([(1, 1), (1, 2)]) == [1]  # same x: the higher y dominates
    assert hypervolume_2d([(2, 2), (2, 2)], (0, 0)) == 4


def test_front_single_and_empty():
    assert pareto_front([(3, 4)]) == [0]
    assert hypervolume_2d([(3, 4)], (1, 1)) == 6
    assert hypervolume_2d([(3, 0.5)], (1, 1)) == 0  # worse than the reference in y
    assert hypervolume_2d([(1, 4)], (1, 1)) == 0  # equal to the reference in x
    assert pareto_front([]) == []
    assert hypervolume_2d([], (0, 0)) == 0


# --- properties -------------------------------------------------------------------------------

coords = st.integers(min_value=0, max_value=8)  # small range: many ties and duplicates
points_st = st.lists(st.tuples(coords, coords), max_size=25)
maximize_st = st.tuples(st.booleans(), st.booleans())


def at_least(a, b, maximize):
    """``a`` is as good as ``b`` in both coordinates."""
    return all((x >= y) if m else (x <= y) for x, y, m in zip(a, b, maximize, strict=True))


def dominates(a, b, maximize):
    return at_least(a, b, maximize) and a != b


@given(points_st, maximize_st)
def test_front_properties(points, maximize):
    front = pareto_front(points, maximize)
    assert [points[i][0] for i in front] == sorted(points[i][0] for i in front)
    for i in front:
        assert not any(dominates(p, points[i], maximize) for p in points)
        assert points.index(points[i]) == i  # the first of identical points
    for j in set(range(len(points))) - set(front):
        assert any(at_least(points[i], points[j], maximize) for i in front)


@given(points_st, maximize_st, st.tuples(coords, coords))
def test_hypervolume_properties(points, maximize, extra):
    reference = (4 * (not maximize[0]), 4 * (not maximize[1]))
    hv = hypervolume_2d(points, reference, maximize)
    front = [points[i] for i in pareto_front(points, maximize)]
    assert hypervolume_2d(front, reference, maximize) == pytest.approx(hv)
    assert hypervolume_2d([*points, extra], reference, maximize) >= hv - 1e-9


# --- the report of a run ----------------------------------------------------------------------


def record(episode, val_acc=None, fps=1000.0, energy=0.2, **extra):
    """A candidate record as the env wrote it before records had versions (trained unless
    ``pruned``): reading it back goes through the upgrade, as an old run directory does."""
    stage = {
        "part": "XC7Z020",
        "layers": [0, 1, 2],
        "design": dict.fromkeys(("tm", "tn", "tr", "tc"), 2),
    }
    stage["design"].update(ib=14, wb=98, ob=14)
    r = {
        "arch": f"k3f24s1-k5f36s{episode}|flatten",
        "space": "chain",
        "tokens": [episode],
        "parts_chosen": ["XC7Z020"],
        "parts": ["XC7Z020"],
        "hw_attempts": 1,
        "pruned": False,
        "failed_specs": [],
        "fast_s": 0.1,
        "slow_s": 1.0,
        "macs": 1000,
        "hardware": {"precision": "fixed16", "stages": [stage]},
        "metrics": {
            "throughput_fps": fps,
            "latency_ms": 1000 / fps,
            "energy_mj": energy,
            "gops_per_w": 10.0,
            "pipeline_efficiency": 1.0,
            "bottleneck_stage": 0,
            "valid": True,
            "violations": [],
            "transfer_ms": [],
            "stages": [{"cycles": 100, "dsp_util": 0.5, "bram_util": 0.25}],
        },
        "val_acc": val_acc,
        "test_acc": val_acc,
        "diverged": False,
        "cache_hit": False,
        "reward": 0.5,
        "r_acc": 0.5,
        "r_hw": 0.5,
        "episode": episode,
        "wall_s": 2.0 * (episode + 1),
    }
    r.update(extra)
    if r["pruned"]:
        for key in ("val_acc", "test_acc", "diverged", "r_acc", "r_hw"):
            del r[key]
        miss = {"spec": "min_throughput_fps", "limit": 3500, "value": fps, "miss_ratio": 0.97}
        r.update(reward=-1.0, slow_s=0.0, failed_specs=[miss])
    return record_from_json(r)


def write_run(run_dir, records):
    path = scenario_path("digits-fpga")
    run = {"scenario": "digits-fpga", "agent": "random", "seed": 3, "specs": {"x": 1}}
    run.update(scenario_data=load_mapping(path), scenario_source=str(path))
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / RUN_FILE).write_text(json.dumps(run))
    with RunLog(run_dir) as log:
        for r in records:
            log.append(r)
    return run_dir


RECORDS = [
    record(0, 0.90, fps=1000, energy=0.2),
    record(1, fps=100, pruned=True),
    record(2, 0.95, fps=800, energy=0.3),  # the best
    record(3, 0.10, fps=5000, energy=0.01, diverged=True),
    record(4, 0.85, fps=1500, energy=0.1, cache_hit=True),
    record(5, 0.80, fps=900, energy=0.25),  # on neither front
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = write_run(tmp_path_factory.mktemp("run"), RECORDS)
    return run_dir, write_report(run_dir, top_k=3)


def test_front_records():
    assert [r.episode for r in front_records(RECORDS, "throughput_fps")] == [2, 0, 4]
    assert [r.episode for r in front_records(RECORDS, "energy_j")] == [4, 0, 2]


def test_report_summary(run):
    run_dir, summary = run
    counts = {k: summary[k] for k in ("episodes", "pruned", "trained", "diverged", "cache_hits")}
    assert counts == {"episodes": 6, "pruned": 1, "trained": 5, "diverged": 1, "cache_hits": 1}
    assert summary["feasible"] == 4
    assert summary["best"]["episode"] == 2
    assert [r["episode"] for r in summary["top"]] == [2, 0, 4]
    assert [r["episode"] for r in summary["fronts"]["throughput_fps"]] == [2, 0, 4]
    assert [r["episode"] for r in summary["fronts"]["energy_j"]] == [4, 0, 2]
    # (fps, acc): 1500*0.85 + 1000*0.05 + 800*0.05
    assert summary["hypervolume"]["throughput_fps"] == pytest.approx(1365.0)
    # energy is minimised: measured from the spec's limit, and digits-fpga has none on energy
    assert summary["hypervolume"]["energy_j"] is None
    json.dumps(summary)


def test_report_files(run):
    run_dir, summary = run
    out = run_dir / "report"
    names = {
        "pareto_throughput_fps.png",
        "pareto_energy_j.png",
        "learning.png",
        "best_so_far.png",
        "top.csv",
    }
    assert {p.name for p in out.iterdir()} == names | {"README.md"}
    assert sorted(summary["files"]) == sorted(str(out / n) for n in names | {"README.md"})
    for name in names - {"top.csv"}:
        assert (out / name).read_bytes().startswith(PNG)
    with (out / "top.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["episode"] for r in rows] == ["2", "0", "4"]
    assert rows[0]["hardware"] == "XC7Z020" and float(rows[0]["throughput_fps"]) == 800
    assert float(rows[0]["energy_j"]) == pytest.approx(0.3e-3)  # SI units in the CSV
    readme = (out / "README.md").read_text()
    assert RECORDS[2].arch.replace("|", "\\|") in readme
    assert "energy per input (mJ)" in readme and "What the search learned" in readme
    assert "digits-fpga" in readme and "1 (17%)" in readme
    for name in names - {"top.csv"}:
        assert f"]({name})" in readme


def test_cli_report_json(run, capsys):
    run_dir, _ = run
    assert main(["report", str(run_dir), "--json", "--top", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["best"]["episode"] == 2 and len(summary["top"]) == 2


def test_cli_report_text(run, capsys):
    run_dir, _ = run
    assert main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "6 candidates: 1 pruned" in out and "best: episode 2" in out
    assert str(run_dir / "report" / "README.md") in out


@pytest.mark.parametrize("records", [[], [record(0, pruned=True), record(1, 0.1, diverged=True)]])
def test_report_without_feasible_candidates(tmp_path, records):
    run_dir = write_run(tmp_path / "run", records)
    summary = write_report(run_dir)
    assert summary["best"] is None and summary["top"] == []
    assert summary["hypervolume"]["throughput_fps"] == 0
    assert "No candidate met the specs" in (run_dir / "report" / "README.md").read_text()
    assert len(summary["files"]) == 6 and all(Path(p).is_file() for p in summary["files"])
    assert best_line(None) == "best: none (no candidate met the specs)"


def test_not_a_run_dir(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        write_report(tmp_path)
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("coexplore: error:") and "nowhere" in err
    assert not (tmp_path / "report").exists()
