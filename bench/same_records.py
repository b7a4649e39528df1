"""Same search, same records: a seeded search run by an earlier commit and by this tree.

    .venv/bin/python bench/same_records.py --base 21eba7e --env digits-fpga --episodes 200
    .venv/bin/python bench/same_records.py --compare runs/a runs/b

With ``--base REV`` the script checks REV out into a temporary git worktree, runs the same
``coexplore search`` there (this venv, REV's code on PYTHONPATH) and here, then compares the two
``candidates.jsonl`` record for record, every field but the timings (old record formats are
read through the upgrade, so metrics compare in SI units). Exit status 1 on any difference.
Extra arguments after ``--`` go to both searches (e.g. ``-- --set slow_phase.train.epochs=1``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coexplore.search.runlog import read_records, record_differences  # noqa: E402


def search(src: Path, out: Path, args: argparse.Namespace, extra: list[str]) -> None:
    cmd = [sys.executable, "-m", "coexplore.cli.main", "search", "--env", args.env]
    cmd += ["--agent", args.agent, "--episodes", str(args.episodes), "--seed", str(args.seed)]
    cmd += ["--out", str(out), "--wandb-mode", "disabled", "--no-report", "--quiet", *extra]
    env = {**os.environ, "PYTHONPATH": str(src)}
    print(f"[{src}] {' '.join(cmd[3:])}", flush=True)
    subprocess.run(cmd, cwd=src, env=env, check=True)


def main() -> int:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", help="the commit to compare against")
    ap.add_argument("--compare", nargs=2, metavar="DIR", help="compare two run directories")
    ap.add_argument("--env", default="digits-fpga")
    ap.add_argument("--agent", default="ppo")
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="keep the two runs here (default: a temp dir)")
    args = ap.parse_args(argv)
    if args.compare:
        a, b = (Path(d) for d in args.compare)
    else:
        if not args.base:
            ap.error("give --base REV or --compare DIR DIR")
        work = Path(args.out or tempfile.mkdtemp(prefix="same-records-"))
        base_src = work / "base-src"
        if not base_src.exists():
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(base_src), args.base],
                cwd=ROOT,
                check=True,
            )
        a, b = work / "base", work / "head"
        try:
            search(base_src, a, args, extra)
            search(ROOT, b, args, extra)
        finally:
            if not args.out:  # a temporary worktree: unregister it again
                cmd = ["git", "worktree", "remove", "--force", str(base_src)]
                subprocess.run(cmd, cwd=ROOT, check=False)
    ra, rb = read_records(a), read_records(b)
    diffs = record_differences(ra, rb)
    for line in diffs[:40]:
        print(line)
    fields = len(ra[0].to_json()) if ra else 0
    verdict = "DIFFERENT" if diffs else "identical"
    print(f"{a} vs {b}: {len(ra)} and {len(rb)} records, {fields} fields each: {verdict}")
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
