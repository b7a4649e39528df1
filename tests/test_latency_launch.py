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
