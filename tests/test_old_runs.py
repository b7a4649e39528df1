"""Run directories written before the core redesign (issue 28; the commit tagged
``redesign-base``) keep working: their records load with every old field as it was written,
``coexplore report`` reports them as the old code did, and a search resumes from one.
tests/data/old-runs/README.md says how each directory was made."""

import json
import shutil
from pathlib import Path

import pytest

from coexplore.cli.main import main
from coexplore.search.runlog import read_records, read_run

OLD_RUNS = Path(__file__).parent / "data" / "old-runs"
RUNS = sorted(p.name for p in OLD_RUNS.iterdir() if p.is_dir())
QUIET = ["--quiet", "--wandb-mode", "disabled", "--no-report"]


def copy_run(name: str, tmp_path: Path) -> Path:
    """A copy to work on: the fixtures stay as the old code wrote them."""
    return Path(shutil.copytree(OLD_RUNS / name, tmp_path / name))


def kept(new: dict, old: dict) -> dict:
    """``new``'s values of ``old``'s keys but the record version: a record format may grow and
    take a new version, but what an old line says must read the same."""
    return {key: new.get(key) for key in old if key != "version"}


def test_the_old_runs_cover_tables_tasks_and_compression():
    platforms = {r.platform for name in RUNS for r in read_records(OLD_RUNS / name)}
    assert {"table", "diffractive", "fpga-pipeline"} <= platforms
    assert any(r.tasks for r in read_records(OLD_RUNS / "d2nn-digits"))
    assert read_run(OLD_RUNS / "digits-admm-fpga")["scenario_data"]["compression"]


@pytest.mark.parametrize("name", RUNS)
def test_old_records_load_with_every_field_as_written(name):
    text = (OLD_RUNS / name / "candidates.jsonl").read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    records = read_records(OLD_RUNS / name)
    assert len(records) == len(lines) == read_run(OLD_RUNS / name)["episodes"]
    for record, old in zip(records, lines, strict=True):
        assert kept(record.to_json(), old) == kept(old, old)


@pytest.mark.parametrize("name", RUNS)
def test_old_runs_report_as_the_old_code_did(name, tmp_path, capsys):
    """``coexplore report --json`` gives the summary the old code gave (paths aside)."""
    run_dir = copy_run(name, tmp_path)
    assert main(["report", str(run_dir), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    expected = json.loads((OLD_RUNS / f"{name}.report.json").read_text())
    best, want = summary.pop("best"), expected.pop("best")
    assert kept(summary, expected) == expected
    assert best == want or kept(best, want) == kept(want, want)
    assert (run_dir / "report" / "README.md").is_file()


def test_an_old_run_resumes_from_its_checkpoint(tmp_path):
    """An old evolution run (12 candidates, its population in checkpoint.pkl) continues to 20:
    the old lines stay as they were, and the search is the one a straight run of 20 makes."""
    run_dir = copy_run("nb201-table-rea", tmp_path)
    log = run_dir / "candidates.jsonl"
    before, old = log.read_text(), read_records(run_dir)
    assert main(["search", "--resume", "--out", str(run_dir), "--episodes", "20", *QUIET]) == 0
    resumed = read_records(run_dir)
    assert log.read_text().startswith(before) and resumed[: len(old)] == old
    assert [r.episode for r in resumed] == list(range(20))

    meta, straight = read_run(run_dir), tmp_path / "straight"
    cmd = ["search", "--env", meta["env"], "--agent", meta["agent"], "--seed", str(meta["seed"])]
    cmd += [f"--agent-param={key}={value}" for key, value in meta["agent_params"].items()]
    assert main([*cmd, "--episodes", "20", "--out", str(straight), *QUIET]) == 0
    assert [(r.tokens, r.pruned, r.reward) for r in resumed] == [
        (r.tokens, r.pruned, r.reward) for r in read_records(straight)
    ]
