"""Tuner quality and time against the exhaustive optimum, one stage (all its layers on one part).

For each (network, part, precision) of the suite the script tunes the stage with
``exhaustive`` (exact, once: it ignores the budget and the seed), then for seeds 0..N-1 with

- ``tpe`` (hyperopt TPE) and ``random`` (hyperopt random search) at the same ``--budget``: both
  propose tilings in the same space with the same exact inner solve (largest fitting Tm values x
  every port split), so the budget, distinct tilings, means the same for both and the
  comparison shows what TPE's model buys.

A stage's throughput is proportional to 1/cycles, so a run's quality is
``exhaustive cycles / tuner cycles`` of the fastest valid design found (1.0 = optimal, 0 when
the tuner finds no valid design). Per network it prints the space size, the exhaustive time and
cycles, and per tuner the min/mean quality over seeds, mean designs evaluated, mean wall time
and the fraction of seeds reaching >= 98%; then an overall summary. Space construction
(``StageProblem.tilings``) is done before the clocks start. Nothing is asserted about timing.

``--pipeline`` adds a small section: ``tune_pipeline`` on lenet5 over XC7Z020 → XC7A50T with the
partition searched (``cuts=None``), comparing tuners' throughput, evaluations and wall time.

Run from the repository root::

    .venv/bin/python bench/bench_tuners.py                # about a minute on 2 cores
    .venv/bin/python bench/bench_tuners.py --pipeline     # plus the pipeline section
    .venv/bin/python bench/bench_tuners.py --quick        # no vgg16, 2 seeds, budget 50: < 30 s
"""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Callable

import numpy as np

from coexplore.platforms.fpga_pipeline.parts import get_part
from coexplore.platforms.fpga_pipeline.precision import PRECISIONS
from coexplore.platforms.fpga_pipeline.tuning.front import StageFront
from coexplore.platforms.fpga_pipeline.tuning.pipeline import DEFAULT_BUDGET, tune_pipeline
from coexplore.platforms.fpga_pipeline.tuning.space import StageProblem
from coexplore.platforms.fpga_pipeline.tuning.tuners import SEARCHES, TUNERS
from coexplore.workloads import LayerKind, Network, preset

GOOD = 0.98  # a run "reaches" the optimum at >= 98% of its throughput
DEFAULT_TPE_BUDGET = 200


def conv_only(name: str) -> Callable[[], Network]:
    return lambda: preset(name).subset({LayerKind.CONV})


SUITE = (  # (label, network, part, precision)
    ("lenet5", lambda: preset("lenet5"), "XC7Z020", "fixed16"),
    ("lenet5", lambda: preset("lenet5"), "XC7A50T", "fixed8"),
    ("alexnet-2tower conv", conv_only("alexnet-2tower"), "XC7VX485T", "fp32"),
    ("alexnet conv", conv_only("alexnet"), "XC7Z045", "fixed16"),
    ("resnet18-chain", lambda: preset("resnet18-chain"), "XC7Z045", "fixed16"),
    ("vgg16", lambda: preset("vgg16"), "XCZU9EG", "fixed16"),
)
QUICK_SKIP = {"vgg16"}  # its exhaustive search alone takes ~15 s on 2 cores


def timed(fn: Callable, *args) -> tuple:
    """(fn(*args), wall seconds)."""
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def run_tuner(name: str, problem: StageProblem, budget: int, seed: int) -> tuple:
    """(StageFront, wall seconds) of one tuner run with ``np.random.default_rng(seed)``."""
    tune = SEARCHES.get(name) or TUNERS.get(name)  # the searches themselves, never handed over
    return timed(tune, problem, budget, np.random.default_rng(seed))


def quality(best_cycles: int, front: StageFront) -> float:
    return 0.0 if front.empty else best_cycles / float(front.cycles[0])


def bench_stage(problem: StageProblem, budget: int, seeds: range) -> tuple[dict, dict]:
    """(exhaustive result, {tuner label: list of per-seed (quality, evaluations, seconds)})."""
    exact, t_exact = run_tuner("exhaustive", problem, budget, 0)
    assert not exact.empty, "the suite's stages all have a valid design"
    best = int(exact.cycles[0])
    runs: dict[str, list[tuple[float, int, float]]] = {}
    for name in ("tpe", "random"):
        label = f"{name} (budget {budget})"
        for seed in seeds:
            front, t = run_tuner(name, problem, budget, seed)
            runs.setdefault(label, []).append((quality(best, front), front.evaluations, t))
    return {"cycles": best, "seconds": t_exact, "evaluations": exact.evaluations}, runs


def print_runs(runs: dict[str, list[tuple[float, int, float]]], indent: str = "  ") -> None:
    print(
        f"{indent}{'tuner':<24} {'q min':>6} {'q mean':>6} {'designs':>9} {'time s':>7} "
        f"{'>=98%':>6}"
    )
    for label, rs in runs.items():
        q = np.array([r[0] for r in rs])
        print(
            f"{indent}{label:<24} {q.min():>6.3f} {q.mean():>6.3f} "
            f"{np.mean([r[1] for r in rs]):>9,.0f} {np.mean([r[2] for r in rs]):>7.2f} "
            f"{np.mean(q >= GOOD):>6.0%}"
        )


def pipeline_section(budget: int, seeds: range) -> None:
    net, parts = preset("lenet5"), ["XC7Z020", "XC7A50T"]
    print(
        f"\npipeline: tune_pipeline(lenet5, {parts}, cuts=None) fixed16, partition searched; "
        f"budget {budget}, seeds {seeds.start}..{seeds.stop - 1}"
    )
    exact = tune_pipeline(net, parts, None, tuner="exhaustive")
    fps = exact.metrics.throughput_fps
    cut = exact.hardware.stages[1].start
    print(
        f"  exhaustive: {fps:,.1f} fps, cut before layer {cut}, "
        f"{exact.evaluations:,} designs, {exact.wall_s:.2f} s"
    )
    print(f"  {'tuner':<24} {'fps/exh min':>11} {'mean':>6} {'designs':>9} {'time s':>7}")
    rows: dict[str, list] = {}
    for name in ("tpe", "random"):
        for s in seeds:
            result = tune_pipeline(net, parts, None, tuner=name, budget=budget, seed=s)
            rows.setdefault(f"{name} (budget {budget})", []).append(result)
    for label, rs in rows.items():
        q = np.array([r.metrics.throughput_fps / fps for r in rs])
        print(
            f"  {label:<24} {q.min():>11.3f} {q.mean():>6.3f} "
            f"{np.mean([r.evaluations for r in rs]):>9,.0f} "
            f"{np.mean([r.wall_s for r in rs]):>7.2f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip vgg16, 2 seeds, budget 50")
    ap.add_argument(
        "--budget", type=int, help=f"distinct tilings per run (default {DEFAULT_TPE_BUDGET})"
    )
    ap.add_argument("--seeds", type=int, help="seeds 0..N-1 (default 5)")
    ap.add_argument("--pipeline", action="store_true", help="add the lenet5 pipeline section")
    args = ap.parse_args()
    budget = args.budget or (50 if args.quick else DEFAULT_TPE_BUDGET)
    seeds = range(args.seeds or (2 if args.quick else 5))
    importlib.import_module("hyperopt")  # keep the import out of the first tpe timing

    print(
        f"tpe/random budget {budget} distinct tilings (the CLI's default, DEFAULT_BUDGET, is "
        f"{DEFAULT_BUDGET}); seeds {seeds.start}..{seeds.stop - 1}; q = quality = exhaustive "
        f"cycles / tuner cycles"
    )
    totals: dict[str, list] = {}
    exhaustive_s: list[float] = []
    for label, make_net, part, precision in SUITE:
        if args.quick and label in QUICK_SKIP:
            continue
        net = make_net()
        problem = StageProblem(tuple(net.layers), get_part(part), PRECISIONS.get(precision))
        _, t_space = timed(getattr, problem, "size")
        exact, runs = bench_stage(problem, budget, seeds)
        exhaustive_s.append(exact["seconds"])
        print(
            f"\n{label} on {part}, {precision}: {len(net)} layers, space {problem.size:,} designs "
            f"({len(problem.tilings):,} tilings x {len(problem.splits)} port splits, built in "
            f"{t_space * 1e3:.0f} ms)"
        )
        print(
            f"  exhaustive: {exact['cycles']:,} cycles, {exact['evaluations']:,} designs, "
            f"{exact['seconds']:.2f} s"
        )
        print_runs(runs)
        for k, rs in runs.items():
            totals.setdefault(k, []).extend(rs)

    print(f"\noverall, {sum(len(v) for v in totals.values()) // len(totals)} (network, seed) runs:")
    print_runs(totals)
    n_nets = len(exhaustive_s)
    print(
        f"  exhaustive: {np.mean(exhaustive_s):.2f} s per network, once each "
        f"({sum(exhaustive_s):.2f} s for the {n_nets} networks)"
    )
    reach = ", ".join(f"{np.mean([r[0] >= GOOD for r in rs]):.0%} {k}" for k, rs in totals.items())
    worst = " / ".join(f"{min(r[0] for r in rs):.3f}" for rs in totals.values())
    print(f"summary: runs reaching >= 98% of the optimum: {reach}; worst quality {worst}")

    if args.pipeline:
        pipeline_section(budget, seeds)


if __name__ == "__main__":
    main()
