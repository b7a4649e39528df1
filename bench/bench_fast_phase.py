"""The FPGA fast phase: the exact tuner against the plain enumeration it replaced, side by side.

Three parts, each run in this one process, reference first (it pays any warm-up):

1. **Pipelines.** ``tune_partition`` (the partition searched) on each problem of the table
   below with ``tuner="reference"`` (every design of every (part, layer range) stage, as
   before) and with the default ``auto`` (here: exact), the latter twice (a process's first
   call also pays for its first large allocations). Prints the wall times, the speed-up,
   and whether the two results are identical (designs, partition and every metric, bit for
   bit). The reference takes ~10 min on the 3-FPGA NAS-Bench-201 problem; it runs with
   ``--full`` only (else that row shows the exact tuner alone).
2. **A digits-fpga candidate stream.** The environment's fast phase (tuning, specs, hardware
   re-attempts) on ``--candidates`` random candidates, reference then auto: median and mean per
   candidate, speed-up, identical results.
3. **Start-up.** ``coexplore --help`` and ``coexplore hw parts`` in fresh processes (median of
   3), and whether torch, wandb or stable-baselines3 got imported.

Timing only: nothing here is asserted except that the results agree (exit status 1 if not).

    .venv/bin/python bench/bench_fast_phase.py             # about 3 minutes on 2 idle cores
    .venv/bin/python bench/bench_fast_phase.py --full      # plus the long reference row
    .venv/bin/python bench/bench_fast_phase.py --quick     # small problems only: ~20 s
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import time

import numpy as np

from coexplore.core.candidate import Candidate  # noqa: E402
from coexplore.platforms.fpga_pipeline.tuning.pipeline import NoFeasibleDesign, tune_partition
from coexplore.spaces.chain import ChainSpace
from coexplore.spaces.nb201 import NB201Space
from coexplore.workloads import preset


def chain14():
    """A 14-conv chain on 32×32 inputs, strides 1 (a random member of the paper's space)."""
    arch = ChainSpace(depth=14, strides=(1,)).sample(np.random.default_rng(0), 32)
    return arch.network((3, 32, 32), 10)


def nb201():
    """A random NAS-Bench-201 network on CIFAR-sized inputs (56 layers)."""
    return NB201Space().sample(np.random.default_rng(0)).network((3, 32, 32), 10)


PROBLEMS = (  # (label, network, parts, long reference, in --quick)
    ("lenet5", lambda: preset("lenet5"), ["XC7Z020", "XC7A50T"], False, True),
    ("alexnet", lambda: preset("alexnet"), ["XC7Z045"], False, False),
    ("resnet18-chain", lambda: preset("resnet18-chain"), ["XC7Z020", "XC7Z045"], False, False),
    ("14-conv 32x32 chain", chain14, ["XC7Z020", "XC7Z020", "XC7A50T", "XC7A50T"], False, False),
    ("NAS-Bench-201 net", nb201, ["XC7Z045"], False, True),
    ("NAS-Bench-201 net", nb201, ["XC7Z020", "XC7Z045", "XC7A50T"], True, False),
)


def outcome(result) -> tuple:
    if isinstance(result, Exception):
        return (type(result).__name__,)
    return (result.hardware.to_dict(), result.metrics.to_dict())


def timed_tune(net, parts, tuner: str):
    t0 = time.perf_counter()
    try:
        result = tune_partition(net, parts, tuner=tuner)
    except NoFeasibleDesign as exc:
        result = exc
    return result, time.perf_counter() - t0


def bench_pipelines(quick: bool, full: bool) -> tuple[list[dict], bool]:
    rows, same = [], True
    for label, make, parts, long_ref, in_quick in PROBLEMS:
        if quick and not in_quick:
            continue
        net = make()
        ref, ref_s = timed_tune(net, parts, "reference") if full or not long_ref else (None, None)
        new, new_s = timed_tune(net, parts, "auto")
        _, again_s = timed_tune(net, parts, "auto")  # warm: the process has run it once
        agree = None if ref is None else outcome(ref) == outcome(new)
        same &= agree is not False
        rows.append(
            {
                "network": label,
                "layers": len(net),
                "parts": ",".join(parts),
                "reference_s": ref_s,
                "exact_s": new_s,
                "exact_again_s": again_s,
                "speedup": None if ref_s is None else ref_s / new_s,
                "identical": agree,
                "throughput_fps": getattr(getattr(new, "metrics", None), "throughput_fps", None),
            }
        )
        print_row(rows[-1])
    return rows, same


def print_row(r: dict) -> None:
    ref = "skipped (--full)" if r["reference_s"] is None else f"{r['reference_s']:9.2f} s"
    speed = "" if r["speedup"] is None else f"{r['speedup']:7.0f}x"
    print(
        f"  {r['network']:<20} {r['layers']:>3} layers  {r['parts']:<32} reference {ref}  "
        f"exact {r['exact_s']:7.3f} s (again {r['exact_again_s']:.3f} s)  {speed}  "
        f"identical: {r['identical']}",
        flush=True,
    )


def bench_stream(n: int) -> tuple[dict, bool]:
    from coexplore.env import CoExploreEnv

    env = CoExploreEnv("digits-fpga")
    platform = env.evaluator.platform
    rng = np.random.default_rng(0)
    candidates = []
    for _ in range(n):
        env.reset()
        while len(env._tokens) < len(env.choices):
            env._tokens.append(int(rng.choice(np.flatnonzero(env.action_masks()))))
        arch, parts = env.decode(env._tokens)
        candidates.append((arch.network(env.input_shape, env.num_classes), parts, env._tokens[:]))
    out: dict = {"candidates": n}
    results = {}
    for tuner in ("reference", "auto"):
        platform.fast = dataclasses.replace(platform.fast, tuner=tuner)
        times, results[tuner] = [], []
        for net, parts, tokens in candidates:
            seeded = np.random.default_rng([env.scenario.data.seed, *tokens])
            t0 = time.perf_counter()
            fast = platform.evaluate(
                Candidate(network=net, choice=parts), env.scenario.specs, seeded
            )
            times.append(time.perf_counter() - t0)
            results[tuner].append((fast.hardware, fast.metrics, fast.failed_specs, fast.attempts))
        out[tuner] = {
            "median_ms": statistics.median(times) * 1e3,
            "mean_ms": statistics.mean(times) * 1e3,
        }
    out["speedup_median"] = out["reference"]["median_ms"] / out["auto"]["median_ms"]
    out["identical"] = results["reference"] == results["auto"]
    print(
        f"  digits-fpga fast phase, {n} random candidates (up to "
        f"{platform.fast.hw_attempts} hardware designs each): reference median "
        f"{out['reference']['median_ms']:.1f} ms (mean {out['reference']['mean_ms']:.1f}), "
        f"exact median {out['auto']['median_ms']:.1f} ms (mean {out['auto']['mean_ms']:.1f}), "
        f"{out['speedup_median']:.0f}x, identical: {out['identical']}",
        flush=True,
    )
    return out, out["identical"]


STARTUP = (
    "import runpy, sys, json; sys.argv = ['coexplore', *json.loads(sys.argv[1])]\n"
    "try:\n    runpy.run_module('coexplore.cli.main', run_name='__main__')\n"
    "except SystemExit:\n    pass\n"
    "heavy = [m for m in ('torch', 'wandb', 'stable_baselines3') if m in sys.modules]\n"
    "print(json.dumps(heavy), file=sys.stderr)"
)


def bench_startup() -> list[dict]:
    rows = []
    for argv in (["--help"], ["hw", "parts"]):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", STARTUP, json.dumps(argv)], capture_output=True, text=True
            )
            times.append(time.perf_counter() - t0)
        heavy = json.loads(proc.stderr.strip().splitlines()[-1])
        rows.append(
            {
                "command": " ".join(["coexplore", *argv]),
                "median_s": statistics.median(times),
                "heavy": heavy,
            }
        )
        r = rows[-1]
        print(f"  {r['command']:<22} {r['median_s']:.2f} s  heavy imports: {heavy or 'none'}")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="also the ~10 min reference row")
    ap.add_argument("--quick", action="store_true", help="small problems, 20 candidates")
    ap.add_argument("--candidates", type=int, default=None, help="digits-fpga candidates (60)")
    ap.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = ap.parse_args()
    n = args.candidates or (20 if args.quick else 60)
    print("pipelines, partition searched (tune_partition):")
    pipelines, ok1 = bench_pipelines(args.quick, args.full)
    print("fast phase per candidate:")
    stream, ok2 = bench_stream(n)
    print("start-up (fresh process):")
    startup = bench_startup()
    if args.json:
        print(json.dumps({"pipelines": pipelines, "stream": stream, "startup": startup}, indent=1))
    return 0 if ok1 and ok2 else 1


if __name__ == "__main__":
    sys.exit(main())
