"""launch/latency_predictor.py --quick: runs end to end and writes a page, keeping the
discussion below its marker."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "launch" / "latency_predictor.py"


def test_quick_run_writes_the_page_and_keeps_the_discussion(tmp_path):
    doc = tmp_path / "latency.md"
    doc.write_text("old\n<!-- discussion -->\nhand-written text\n")
    subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--doc", str(doc)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    text = doc.read_text()
    assert text.startswith("# Latency") and "old" not in text.split("<!-- discussion -->")[0]
    assert text.endswith("<!-- discussion -->\nhand-written text\n")
    assert "| chain |" in text and "| 1080ti_1 |" in text and "Against the goal" in text


def test_repeatability_bench_reports_every_variant():
    import json

    bench = SCRIPT.parents[1] / "bench" / "bench_latency_repeatability.py"
    out = subprocess.run(
        [sys.executable, str(bench), "--networks", "3", "--json",
         "--variants", "default,one-instance,denormals"],
        check=True, capture_output=True, text=True, timeout=300,
    ).stdout  # fmt: skip
    r = json.loads(out)
    assert r["networks"] == 3 and set(r) >= {"default", "one-instance", "denormals"}
    assert all(0 <= r[v]["within_10pct"] <= 1 and r[v]["median_ratio"] > 0 for v in
               ("default", "one-instance", "denormals"))  # fmt: skip
