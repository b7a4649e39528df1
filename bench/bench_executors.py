"""Trainings per second through the slow phase's executors, side by side in one run.

    .venv/bin/python bench/bench_executors.py [--env mnist5k-fpga] [--candidates 8] [--epochs 1]

The same random candidates of the scenario (hardware left out: ``hardware.mode=none``, so
only trainings count) are evaluated as one batch by a ``CandidateEvaluator`` with each executor,
each with a fresh result cache: ``sequential`` (this process, torch's own thread count),
``process`` with 2 workers × 1 thread, ``ray`` with 2 workers × 1 thread: trainings run at
``slow_phase.train.threads=null``, the process's own count, not the fixed default of 2.
Executor start-up (pool spawn, ``ray.init``) is timed apart. Prints trainings/s and the ratio
to sequential, and whether the executors' accuracies agree (trainings at other thread counts
differ in float rounding: docs/machine-notes.md#threads).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coexplore.config import load_mapping  # noqa: E402
from coexplore.core.evaluator import CandidateEvaluator  # noqa: E402
from coexplore.scenario import (  # noqa: E402
    apply_overrides,
    make_evaluator,
    scenario_from_dict,
    scenario_path,
)

SETTINGS = {  # executor -> (workers, trainer threads)
    "sequential": (None, None),
    "process": (2, None),
    "ray": (2, None),
}


def warm(_: int) -> int:
    """Import torch and the trainer in a worker (spawned workers start bare)."""
    import coexplore.slow.trainer  # noqa: F401

    return 0


def evaluator(env: str, executor: str, epochs: int, run_dir: Path) -> CandidateEvaluator:
    workers, _ = SETTINGS[executor]
    overrides = [
        "hardware.mode=none",
        f"slow_phase.train.epochs={epochs}",
        f"slow_phase.executor={executor}",
        "slow_phase.train.threads=null",  # each process's own count (workers: cores // 2)
        f"slow_phase.workers={'null' if workers is None else workers}",
    ]
    path = scenario_path(env)
    scenario = scenario_from_dict(apply_overrides(load_mapping(path), overrides), str(path))
    cache = str(run_dir / f"{executor}.sqlite")
    return make_evaluator(scenario, cache=cache, run_dir=str(run_dir))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", default="mnist5k-fpga")
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    names = [n for n in SETTINGS if n != "ray" or importlib.util.find_spec("ray")]
    run_dir = Path(tempfile.mkdtemp(prefix="bx-", dir="/tmp"))  # short: Ray's socket paths
    results, rows = {}, []
    for name in names:
        ev = evaluator(args.env, name, args.epochs, run_dir)
        rng = np.random.default_rng(args.seed)
        tokens = []
        for _ in range(args.candidates):
            t: list[int] = []
            while len(t) < len(ev.choices):
                t.append(int(rng.choice(ev.space.allowed(t, ev.input_shape[1]))))
            tokens.append(t)
        start = time.perf_counter()
        if ev.parallel:  # start the pool / Ray and import torch there before the clock
            ev._pool().map(warm, list(range(2 * SETTINGS[name][0])))
        startup = time.perf_counter() - start
        start = time.perf_counter()
        records = ev.evaluate_batch(tokens)
        wall = time.perf_counter() - start
        ev.close()
        results[name] = [(r.arch, r.val_acc) for r in records]
        threads = torch.get_num_threads() if name == "sequential" else 1
        rows.append((name, SETTINGS[name][0] or 1, threads, startup, wall, len(records) / wall))
    base = rows[0][5]
    print(
        f"{args.env}: {args.candidates} trainings of {args.epochs} epoch(s), same candidates "
        f"for every executor ({torch.get_num_threads()} torch threads in this process)"
    )
    print("| executor | workers × threads | start-up s | batch s | trainings/s | vs sequential |")
    print("|---|---|---|---|---|---|")
    for name, workers, threads, startup, wall, rate in rows:
        print(
            f"| {name} | {workers} × {threads} | {startup:.1f} | {wall:.1f} | {rate:.3f} "
            f"| {rate / base:.2f}× |"
        )
    parallel = [n for n in names if n != "sequential"]
    same = all(results[n] == results[parallel[0]] for n in parallel)
    print(f"parallel executors agree with each other: {same}")
    agree = sum(a == b for a, b in zip(results["sequential"], results[parallel[0]], strict=True))
    print(f"accuracies equal to sequential's: {agree}/{args.candidates}")


if __name__ == "__main__":
    main()
