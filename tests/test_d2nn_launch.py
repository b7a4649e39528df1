"""launch/d2nn_multitask.py end to end at a tiny scale (shipped data only): every network and
sweep, the results section written between its markers with the rest of the page kept, and a
second call that trains nothing."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "launch" / "d2nn_multitask.py"
sys.path.insert(0, str(SCRIPT.parent))
from d2nn_multitask import BEGIN, END  # noqa: E402


def run(*args):
    cmd = [sys.executable, str(SCRIPT), "--quick", "--tasks", "mnist5k,digits", "--json", *args]
    return json.loads(
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600).stdout
    )


def test_the_comparison_writes_its_section_and_resumes(tmp_path):
    out, doc = tmp_path / "runs", tmp_path / "optics.md"
    doc.write_text(f"# Optics\n\nhand-written\n\n{BEGIN}\nold results\n{END}\n\n## After\n")
    summary = run("--out", str(out), "--doc", str(doc))
    names = {"single-mnist5k", "single-digits", "multi-3+2", "multi-4+1", "aware-3+2"}
    assert names | {"w0.05", "w0.2", "w0.35", "w0.65", "w0.8", "w0.95"} == set(summary["accuracy"])
    assert summary["hardware_cost"]["multi-3+2"]["layers"] == 3 + 2 * 2
    assert summary["hardware_cost"]["single-digits"]["layers"] == 5
    assert set(summary["goal"]) == {"multi-3+2", "multi-4+1"}
    text = doc.read_text()
    assert text.startswith("# Optics\n\nhand-written\n\n" + BEGIN)
    assert text.endswith(f"{END}\n\n## After\n") and "old results" not in text
    assert "### The task regulariser's trade-off" in text and "| phase (plain / aware) |" in text
    for png in ("masks", "tradeoff", "noise", "detectors_digits"):
        assert (tmp_path / "optics_figures" / f"{png}.png").exists()
    out = tmp_path / "runs-quick"  # --quick keeps its runs apart
    runs = sorted(out.rglob("run.json"))
    assert len(runs) == 11
    single = json.loads(next(r for r in runs if "single-digits" in str(r)).read_text())
    multi = json.loads(next(r for r in runs if "multi-3+2" in str(r)).read_text())
    assert single["epochs"] >= multi["epochs"]  # as many steps as the multi-task system's
    stamps = {f: f.stat().st_mtime_ns for f in out.rglob("*") if f.is_file()}
    again = run("--out", str(tmp_path / "runs"), "--doc", str(doc))
    assert again["accuracy"] == summary["accuracy"] and again["search"] == summary["search"]
    assert {f: f.stat().st_mtime_ns for f in out.rglob("*") if f.is_file()} == stamps
