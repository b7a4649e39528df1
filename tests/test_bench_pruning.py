"""Smoke test of bench/bench_pruning.py: its quick variant, as JSON."""

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "bench_pruning.py"


def test_bench_pruning_quick_json():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=120,  # a guard against a hang: it takes ~15 s on 2 idle cores
    )
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    on, off = res["runs"]["prune"], res["runs"]["no_prune"]
    assert res["same_candidates"]
    assert on["episodes"] == off["episodes"] == res["candidates"] == 12
    assert res["trainings_avoided"] >= 0
    assert on["trainings"] + res["trainings_avoided"] == off["trainings"]
    assert off["pruned"] == 0
    assert res["same_best"]
    assert (on["best"] is None) == (off["best"] is None)
    if on["best"] is not None:
        assert on["best"]["tokens"] == off["best"]["tokens"]
