"""Same search, same records: seeded searches run by an earlier commit and by this tree.

    .venv/bin/python bench/same_records.py --base 21eba7e --env digits-fpga --episodes 200
    .venv/bin/python bench/same_records.py --compare runs/a runs/b
    .venv/bin/python bench/same_records.py --suite --base redesign-base --out /work/same-records
    .venv/bin/python bench/same_records.py --suite --cases demo-ppo,d2nn-digits --base ... --out ...

With ``--base REV`` the script checks REV out into a git worktree (``OUT/base-src``, kept when
``--out`` is given), runs the same ``coexplore search`` there (this venv, REV's code on
PYTHONPATH) and in the head (this tree, or ``--head REV`` checked out into ``OUT/head-src``),
then compares the two ``candidates.jsonl`` record for record, every field but the timings. The
head's code reads both (old record formats through its upgrade, so metrics compare in SI units).
Extra arguments after ``--`` go to both searches (e.g. ``-- --set slow_phase.train.epochs=1``).

``--suite`` does that for every case of :data:`CASES` (or those of ``--cases``): the base run
of a case goes to ``OUT/base/CASE`` once and is kept (run again only when its commit or command
changed or it did not finish), the head run to ``OUT/head/CASE`` afresh each time. One line per
case, then a summary. Exit status 1 on any difference (or a search that failed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

QUIET = ["--wandb-mode", "disabled", "--no-report", "--quiet"]


# name: the arguments of its `coexplore search` (with QUIET and --out)
CASES = {
    name: args.split()
    for name, args in {
        "digits-fpga-random": "--env digits-fpga --agent random --episodes 8 --seed 5",
        "nb201-fpga-random": "--env nb201-fpga --agent random --episodes 40 --seed 1",
        "nb201-eyeriss-random": "--env nb201-eyeriss --agent random --episodes 10 --seed 0",
        "nb201-edgetpu-random": "--env nb201-edgetpu --agent random --episodes 30 --seed 2",
        "nb201-table-random": "--env nb201-table --agent random --episodes 40 --seed 3",
        # what `make demo` runs
        "demo-ppo": "--env digits-fpga --agent ppo --episodes 200 --seed 0",
        # the scenario's agent (docs/optics.md) with a population small enough that it mutates;
        # 1 epoch instead of 3 (~40 s a candidate on a loaded 2-core machine)
        "d2nn-digits": "--env d2nn-digits --agent rea --episodes 5 --seed 0"
        " --agent-param population=3 --set slow_phase.train.epochs=1",
        # as docs/compression.md runs it
        "digits-admm-fpga": "--env digits-admm-fpga --agent random --episodes 4 --seed 0",
        "nb201-table-rea": "--env nb201-table --agent rea --episodes 60 --seed 4"
        " --agent-param population=10 --agent-param sample_size=3",
        # HSCoNAS's evolution and shrinking, with hardware tokens and on a latency table
        "nb201-fpga-hsconas": "--env nb201-fpga --agent hsconas --episodes 60 --seed 0",
        "nb201-table-hsconas": "--env nb201-table --agent hsconas --episodes 60 --seed 0",
    }.items()
}


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()


def checkout(rev: str, path: Path) -> Path:
    """A worktree of ``rev`` at ``path`` (reused when it already holds that commit)."""
    commit = git("rev-parse", f"{rev}^{{commit}}")
    if not path.exists():
        git("worktree", "add", "--detach", str(path), commit)
    elif git("-C", str(path), "rev-parse", "HEAD") != commit:
        sys.exit(f"{path} holds another commit than {rev} ({commit[:7]}): remove it first")
    return path


def search(src: Path, out: Path, args: list[str]) -> float:
    """Run one search with ``src``'s code into ``out``; its wall time in seconds."""
    cmd = [sys.executable, "-m", "coexplore.cli.main", "search", *args, "--out", str(out), *QUIET]
    print(f"[{src}] {' '.join(cmd[3:])}", flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=src, env={**os.environ, "PYTHONPATH": str(src)}, check=True)
    return time.perf_counter() - start


def read(run_dir: Path) -> list:
    """A run's records, read by the head's code (first on ``sys.path``, see :func:`main`) with
    every path into a checkout's package cut to ``coexplore/…``: a table platform's record names
    the table file it read, and the two sides run from two checkouts."""
    from coexplore.core.record import CandidateRecord
    from coexplore.search.runlog import read_records

    text = (json.dumps(r.to_json()) for r in read_records(run_dir))
    cut = (re.sub(r'"[^"]*/coexplore/', '"coexplore/', t) for t in text)
    return [CandidateRecord.from_json(json.loads(t)) for t in cut]


def compare(a: Path, b: Path) -> tuple[list, list, list[str]]:
    """The records of two run directories and every difference between them (timings aside)."""
    from coexplore.search.runlog import record_differences

    ra, rb = read(a), read(b)
    return ra, rb, record_differences(ra, rb)


def run_suite(names: list[str], base: Path, head: Path, work: Path) -> int:
    """Each case's base run (once, kept) and head run (afresh), compared; 1 if any differs."""
    stamp = {"rev": git("-C", str(base), "rev-parse", "HEAD")}
    verdicts = {}
    for name in names:
        a, b = work / "base" / name, work / "head" / name
        marker = a / "same_records.json"  # written when the base run finished: what it ran
        want = json.dumps({**stamp, "args": CASES[name]}, sort_keys=True)
        times = {}
        try:
            if not marker.exists() or marker.read_text() != want:
                shutil.rmtree(a, ignore_errors=True)
                times["base"] = search(base, a, CASES[name])
                marker.write_text(want)
            shutil.rmtree(b, ignore_errors=True)
            times["head"] = search(head, b, CASES[name])
            ra, rb, diffs = compare(a, b)
            counts, verdict = f"{len(ra)}/{len(rb)}", "DIFFERENT" if diffs else "identical"
        except (subprocess.CalledProcessError, ValueError) as e:  # a search or a reader failed
            counts, diffs, verdict = "-", [str(e)], "FAILED"
        verdicts[name] = verdict
        took = " ".join(f"{side} {s:.0f}s" for side, s in times.items())
        print(f"{name:22} {counts:>9} records  {verdict:9} {took}  {'; '.join(diffs[:3])}")
    bad = [n for n, v in verdicts.items() if v != "identical"]
    print(
        f"{len(names)} cases: {len(names) - len(bad)} identical"
        + (f", not: {', '.join(bad)}" if bad else "")
    )
    return 1 if bad else 0


def report(a: Path, b: Path) -> int:
    """Print the first differences and the verdict of one comparison; its exit status."""
    ra, rb, diffs = compare(a, b)
    for line in diffs[:40]:
        print(line)
    fields = len(ra[0].to_json()) if ra else 0
    verdict = "DIFFERENT" if diffs else "identical"
    print(f"{a} vs {b}: {len(ra)} and {len(rb)} records, {fields} fields each: {verdict}")
    return 1 if diffs else 0


def main() -> int:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", help="the commit to compare against")
    ap.add_argument("--head", help="a commit to run as the head (default: this tree)")
    ap.add_argument("--compare", nargs=2, metavar="DIR", help="compare two run directories")
    ap.add_argument("--suite", action="store_true", help="run the cases of CASES")
    ap.add_argument("--cases", help=f"comma-separated, of: {','.join(CASES)} (default: all)")
    ap.add_argument("--env", default="digits-fpga")
    ap.add_argument("--agent", default="ppo")
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="keep the runs here (default: a temp dir)")
    args = ap.parse_args(argv)
    if not (args.base or args.compare):
        ap.error("give --base REV or --compare DIR DIR")
    names = args.cases.split(",") if args.cases else list(CASES)
    if unknown := set(names) - set(CASES):
        ap.error(f"unknown cases {sorted(unknown)}; known: {', '.join(CASES)}")
    work = Path(args.out or tempfile.mkdtemp(prefix="same-records-"))
    worktrees = [
        checkout(rev, work / f"{side}-src")
        for side, rev in [("base", args.base), ("head", args.head)]
        if rev
    ]
    head = worktrees[-1] if args.head else ROOT
    sys.path.insert(0, str(head))  # the head's code reads the records of both sides
    try:
        if args.compare:
            return report(*(Path(d) for d in args.compare))
        base = worktrees[0]
        if args.suite:
            return run_suite(names, base, head, work)
        search_args = ["--env", args.env, "--agent", args.agent, "--episodes", str(args.episodes)]
        search_args += ["--seed", str(args.seed), *extra]
        a, b = work / "base", work / "head"
        search(base, a, search_args)
        search(head, b, search_args)
        return report(a, b)
    finally:
        if not args.out:  # temporary worktrees: unregister them again
            for path in worktrees:
                cmd = ["git", "worktree", "remove", "--force", str(path)]
                subprocess.run(cmd, cwd=ROOT, check=False)


if __name__ == "__main__":
    raise SystemExit(main())
