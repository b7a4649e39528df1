"""launch/hsconas_comparison.py: both settings end to end at a tiny scale; the runs are kept,
so a second call only renders; the discussion below the marker survives."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "launch" / "hsconas_comparison.py"
MARKER = "<!-- discussion: hand-written below this line; the script keeps it -->"


def run(*args):
    cmd = [sys.executable, str(SCRIPT), "--seeds", "2", "--json", *args]
    return json.loads(
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600).stdout
    )


def test_comparison_runs_both_settings_and_resumes(tmp_path):
    out, doc = tmp_path / "runs", tmp_path / "hsconas.md"
    doc.write_text(f"old\n{MARKER}\nhand-written text\n")
    args = ["--out", str(out), "--doc", str(doc), "--fit", "20", "--cpu-budget", "3"]
    args += ["--nb201-budget", "30", "--methods", "hsconas", "evolution", "random-shrink"]
    summary = run(*args)
    assert set(summary["targets"]) == {"cpu", "nb201"}
    assert len(summary["goal"]) == 6  # hsconas against evolution at every target
    files = sorted(out.rglob("*-s*.json"))
    assert len(files) == 2 * 3 * 2 + 2 * 3 * 3  # cpu: 2 methods; nb201: 3, 2 seeds each
    for f in files:
        r = json.loads(f.read_text())
        assert len(r["curve"]) <= (3 if r["setting"] == "cpu" else 30)
        assert r["best"] is None or r["best"]["latency_s"] <= r["target_s"]
    text = doc.read_text()
    assert text.startswith("# HSCoNAS") and text.endswith(f"{MARKER}\nhand-written text\n")
    assert "pick meets the target measured" in text and "## Space shrinking" in text
    assert (tmp_path / "hsconas_figures" / "best_so_far.png").exists()
    stamps = {f: f.stat().st_mtime_ns for f in files}
    run(*args, "--no-spot-check")
    assert {f: f.stat().st_mtime_ns for f in files} == stamps  # nothing run again


def test_targets_are_quantiles_of_the_whole_space(tmp_path):
    out = run("--targets", "--settings", "nb201", "--out", str(tmp_path))
    q = out["targets"]["nb201"]
    assert list(q) == ["q10", "q25", "q50"] and q["q10"] < q["q25"] < q["q50"]
