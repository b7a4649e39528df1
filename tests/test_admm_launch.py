"""launch/admm_lenet5.py: the sweep runs, keeps its reports, and writes its page and figure."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
spec = importlib.util.spec_from_file_location("admm_lenet5", ROOT / "launch" / "admm_lenet5.py")
launch = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = launch
spec.loader.exec_module(launch)


def test_quick_sweep_writes_the_page_and_keeps_the_discussion(tmp_path):
    out, doc = tmp_path / "runs", tmp_path / "compression.md"
    doc.write_text("old page\n<!-- discussion -->\nhand-written text\n")
    argv = ["--quick", "--out", str(out), "--doc", str(doc), "--threads", "1"]
    assert launch.main(argv) == 0
    page = doc.read_text()
    assert "old page" not in page and page.endswith("<!-- discussion -->\nhand-written text\n")
    for label in launch.LABELS.values():
        assert f"| {label} | 20x |" in page and f"| {label} | 85x |" in page
    assert "**Against the goals:**" in page and "ADMM ahead of magnitude" in page
    assert (tmp_path / "compression_figures" / "accuracy_mnist5k.png").stat().st_size > 0
    reports = sorted(p.name for p in (out.parent / "runs-quick" / "mnist5k" / "s0").glob("*.json"))
    assert reports == sorted(f"{run}-{r}x.json" for run in launch.RUNS for r in (20, 85))
    # a rerun reads the kept reports: same page, nothing trained
    mtimes = {p: p.stat().st_mtime_ns for p in (out.parent / "runs-quick").rglob("*.pt")}
    assert launch.main(argv) == 0
    assert doc.read_text() == page
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes


def test_seed_specs():
    assert launch.parse_seeds("0,1") == {None: [0, 1]}
    assert launch.parse_seeds("mnist5k=0,1,2/fashion-mnist=0") == {
        "mnist5k": [0, 1, 2],
        "fashion-mnist": [0],
    }
