"""The demo search's wall time with trainings at the process's threads and at a fixed count.

    .venv/bin/python bench/bench_executor_threads.py [--rounds 4] [--episodes 200] [--threads N]

``make demo``'s search (``coexplore search --env digits-fpga --agent ppo --episodes 200
--seed 0 --quiet --wandb-mode disabled --no-report``, sequential executor) runs alternately,
each into a fresh run directory, old first in even rounds and new first in odd ones (old,
new, new, old, ...), so that drift and the position in a round cancel out: ``old`` with
``--set slow_phase.train.threads=null`` (trainings at the process's own thread count, torch's
default of one per core: the behaviour before trainings fixed theirs), ``new`` at the default
count (``slow_phase.train.threads``, 2), or at ``--threads N``. Interleaving spreads other
load on the machine over both. Prints each run's wall time and time in training, the
ratio new / old of each round with its median, min and max, whether each setting's runs agree
record for record (they must: the same seed and settings give the same search), and how many
fields differ between old and new (none where the process's count is the fixed one).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coexplore.search.runlog import read_records, record_differences  # noqa: E402

OLD = ["--set", "slow_phase.train.threads=null"]


def search(out: Path, args: argparse.Namespace, extra: list[str]) -> float:
    """Run the demo's search into ``out``; its wall time in seconds."""
    cmd = [sys.executable, "-m", "coexplore.cli.main", "search", "--env", args.env]
    cmd += ["--agent", "ppo", "--episodes", str(args.episodes), "--seed", "0", "--out", str(out)]
    cmd += ["--quiet", "--wandb-mode", "disabled", "--no-report", *extra]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, timeout=3600, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--env", default="digits-fpga")
    ap.add_argument("--threads", type=int, help="the new side's count (default: the default)")
    args = ap.parse_args()
    new = [] if args.threads is None else ["--set", f"slow_phase.train.threads={args.threads}"]
    settings = {"old": OLD, "new": new}
    work = Path(tempfile.mkdtemp(prefix="bench-threads-"))
    walls: dict[str, list[float]] = {name: [] for name in settings}
    print(f"{args.env}, ppo, {args.episodes} episodes; torch's default here: "
          f"{torch.get_num_threads()} threads; new: {' '.join(new) or 'the default'}; "
          f"runs in {work}")  # fmt: skip
    print("| round | setting | wall s | training s | trained |")
    print("|---|---|---|---|---|")
    for r in range(args.rounds):
        for name in ("old", "new") if r % 2 == 0 else ("new", "old"):
            extra = settings[name]
            out = work / f"{name}-{r}"
            walls[name].append(search(out, args, extra))
            records = read_records(out)
            slow = sum(rec.slow_s for rec in records)
            trained = sum(not rec.pruned and not rec.repeat for rec in records)
            print(f"| {r} | {name} | {walls[name][-1]:.1f} | {slow:.1f} | {trained} |", flush=True)
    ratios = [new / old for old, new in zip(walls["old"], walls["new"], strict=True)]
    print(
        f"\nnew / old wall time per round: {', '.join(f'{x:.3f}' for x in ratios)}; median "
        f"{statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})"
    )
    for name in settings:
        first = read_records(work / f"{name}-0")
        same = all(
            not record_differences(first, read_records(work / f"{name}-{r}"))
            for r in range(1, args.rounds)
        )
        print(f"{name}: its {args.rounds} runs agree record for record: {same}")
    diffs = record_differences(read_records(work / "old-0"), read_records(work / "new-0"))
    print(f"old vs new: {len(diffs)} differing fields (trainings at other thread counts)")


if __name__ == "__main__":
    main()
