"""Spatial cost-model evaluations per second: the vectorised model against the scalar reference.

For each case (a layer on a template: the Timeloop reference layer, a ResNet-50 3×3 layer and a
BERT-base GEMM on eyeriss-like, the ResNet-50 layer on eyeriss) the script draws D mappings with
``MapSpace.sample`` (seeded; the random map space, valid and invalid mappings alike, as the
mapper's start phase sees them) and times three ways of evaluating them, in layer-mappings
per second:

- scalar: ``model_reference.evaluate_reference``, pure Python, one mapping per call (its
  ``LoopNest`` of plain ints is read out of the batch before the clock starts);
- numpy, one mapping per call: ``model.evaluate_batch`` on a batch of one (the one-row batches
  are sliced before the clock starts);
- vectorised: ``model.evaluate_batch`` on all D mappings in one call.

A second table sweeps the vectorised model's batch size: a pool of 300k mappings per case
(``--quick``: 30k) evaluated in calls of 1k, 10k, 100k and 300k mappings (sizes above the pool
left out), to show how the per-call overhead and memory traffic set the throughput (the mapper
evaluates its start phase in one call, then rounds of a few hundred to a few thousand).

Before any timing the script makes one large ``evaluate_batch`` call, so that every column is
timed in the allocator state of a long-running process (until glibc has freed one large
block, each temporary array over 128 KiB is mmap-ed and unmapped again: see
``bench/bench_engine.py``). Each figure is the best of ``--repeat`` timed runs (10x as many for
the single vectorised call). Before timing, the scalar and vectorised models must agree on every
sampled mapping (broken rules; cycles, per-level energy, MAC energy, per level and tensor reads
and writes, to a relative 1e-9); the script stops with an AssertionError if they do not. No
timing is asserted. ``--json`` prints the figures as one JSON object instead of the tables.

Run from the repository root::

    .venv/bin/python bench/bench_spatial.py            # a few minutes on 2 cores, ~1.5 GB
    .venv/bin/python bench/bench_spatial.py --quick    # fewer mappings, < 30 s
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
from timing import best_time  # bench/timing.py

from coexplore.platforms.spatial.arch import load_template
from coexplore.platforms.spatial.mapper import MapSpace
from coexplore.platforms.spatial.mapping import MappingBatch
from coexplore.platforms.spatial.model import RULES, evaluate_batch
from coexplore.platforms.spatial.model_reference import LoopNest, evaluate_reference
from coexplore.workloads.problem import Problem
from coexplore.workloads.suites import load_workload

REF_LAYER = Problem("timeloop_ref", R=3, S=3, P=112, Q=112, C=3, M=32, stride_h=2, stride_w=2)
CASES = (  # (label, template, workload or None for REF_LAYER, layer name)
    ("reference layer", "eyeriss-like", None, None),
    ("resnet50 s1b1_3x3", "eyeriss-like", "resnet50", "s1b1_3x3"),
    ("bert-base ffn1", "eyeriss-like", "bert-base", "ffn1"),
    ("resnet50 s1b1_3x3", "eyeriss", "resnet50", "s1b1_3x3"),  # glb bypass choices
)
SWEEP = (1_000, 10_000, 100_000, 300_000)  # mappings per evaluate_batch call


def problem_of(workload: str | None, layer: str | None) -> Problem:
    if workload is None:
        return REF_LAYER
    for problem in load_workload(workload).problems:
        if problem.name == layer:
            return problem
    raise KeyError(f"{workload} has no layer {layer}")


def check_agreement(template, problem, batch: MappingBatch, nests: list[LoopNest]) -> int:
    """The scalar and vectorised models must agree on every mapping; returns the valid count."""
    s = evaluate_batch(template, problem, batch)

    def close(got, want, what, i):
        assert math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-9), (
            f"{problem.name} mapping {batch.mapping(i, template).to_dict()}: {what} vectorised "
            f"{float(got)} != scalar {float(want)}"
        )

    for i, nest in enumerate(nests):
        ref = evaluate_reference(template, problem, nest)
        rules = tuple(r for bit, r in enumerate(RULES) if int(s.broken[i]) >> bit & 1)
        assert rules == ref.broken, f"mapping {i}: vectorised {rules} != scalar {ref.broken}"
        close(s.cycles[i], ref.cycles, "cycles", i)
        close(s.mac_energy_pj[i], ref.mac_energy_pj, "MAC energy", i)
        for li in range(len(template.levels)):
            close(s.level_energy_pj[i, li], ref.level_energy_pj[li], f"level {li} energy", i)
            for ti in range(3):
                close(s.reads[i, li, ti], ref.reads[li][ti], f"level {li} reads {ti}", i)
                close(s.writes[i, li, ti], ref.writes[li][ti], f"level {li} writes {ti}", i)
    return int(s.valid.sum())


def bench_case(label, template_name, workload, layer, n: int, repeat: int, rng) -> dict:
    template, problem = load_template(template_name), problem_of(workload, layer)
    batch = MapSpace(template, problem).sample(n, rng)
    nests = [LoopNest.of_row(batch, i) for i in range(n)]
    rows = [batch.take([i]) for i in range(n)]
    valid = check_agreement(template, problem, batch, nests)

    def scalar():
        for nest in nests:
            evaluate_reference(template, problem, nest)

    def numpy_one():
        for row in rows:
            evaluate_batch(template, problem, row)

    def vectorised():
        evaluate_batch(template, problem, batch)

    t_scalar = best_time(scalar, repeat)
    t_one = best_time(numpy_one, repeat)
    t_vec = best_time(vectorised, 10 * repeat)
    return {
        "case": label,
        "template": template_name,
        "layer": problem.to_dict(),
        "mappings": n,
        "valid": valid,
        "scalar": n / t_scalar,
        "one": n / t_one,
        "vec": n / t_vec,
    }


def batch_sweep(template_name, workload, layer, pool_size: int, sizes, repeat: int, rng) -> list:
    """Vectorised mappings/s on a pool of ``pool_size`` mappings, in calls of ``sizes``."""
    template, problem = load_template(template_name), problem_of(workload, layer)
    pool = MapSpace(template, problem).sample(pool_size, rng)
    out = []
    for size in sizes:
        chunks = [pool.take(slice(i, i + size)) for i in range(0, pool_size, size)]

        def run(chunks=chunks):
            for chunk in chunks:
                evaluate_batch(template, problem, chunk)

        out.append(pool_size / best_time(run, repeat))
    return out


def warm_up(pool_size: int, rng: np.random.Generator) -> None:
    """One large evaluate_batch call, so timing starts in a long-running process's state."""
    template = load_template(CASES[0][1])
    evaluate_batch(template, REF_LAYER, MapSpace(template, REF_LAYER).sample(pool_size, rng))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer mappings and repeats (< 30 s)")
    ap.add_argument("--mappings", type=int, help="mappings sampled per case (default 3000)")
    ap.add_argument("--repeat", type=int, help="timed runs per figure, best kept (default 3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = ap.parse_args()
    n = args.mappings or (500 if args.quick else 3000)
    repeat = args.repeat or (2 if args.quick else 3)
    pool_size = 30_000 if args.quick else 300_000
    sizes = sorted({*(s for s in SWEEP if s < pool_size), pool_size})
    rng = np.random.default_rng(args.seed)

    warm_up(pool_size, rng)
    cases = [bench_case(*case, n, repeat, rng) for case in CASES]
    sweep = [batch_sweep(*case[1:], pool_size, sizes, repeat, rng) for case in CASES]
    if args.json:
        out = {
            "mappings": n,
            "repeat": repeat,
            "seed": args.seed,
            "cases": cases,
            "sweep": {
                "pool": pool_size,
                "sizes": sizes,
                "rates": [
                    {"case": c[0], "template": c[1], "mappings_per_s": r}
                    for c, r in zip(CASES, sweep, strict=True)
                ],
            },
        }
        print(json.dumps(out, indent=1))
        return

    print(
        f"spatial cost model: {n} mappings per case from MapSpace.sample (seed {args.seed}); "
        f"layer-mappings evaluated per second, best of {repeat} runs ({10 * repeat} vectorised)"
    )
    print(
        "vectorised = all mappings in one evaluate_batch call; timed after one "
        f"{pool_size:,}-mapping warm-up call (see the module docstring)\n"
    )
    header = (
        f"{'case':<20} {'template':<13} {'valid':>7} {'scalar/s':>9} {'numpy 1/call/s':>14} "
        f"{'vectorised/s':>12} {'1/call/scalar':>13} {'vec/scalar':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in cases:
        print(
            f"{r['case']:<20} {r['template']:<13} {r['valid'] / r['mappings']:>7.1%} "
            f"{r['scalar']:>9,.0f} {r['one']:>14,.0f} {r['vec']:>12,.0f} "
            f"{r['one'] / r['scalar']:>12.2f}x {r['vec'] / r['scalar']:>9.0f}x"
        )
    print(
        f"\nscalar and vectorised models agree (broken rules, cycles, per-level energy, MAC "
        f"energy, reads and writes per level and tensor) on all {n * len(CASES)} mappings"
    )
    labels = [f"{s // 1000}k" for s in sizes]
    print(
        f"\nvectorised mappings/s by mappings per evaluate_batch call, on a pool of "
        f"{pool_size:,} mappings per case; best of {repeat} runs (x: against the scalar rate)"
    )
    header = f"{'case':<20} {'template':<13} " + " ".join(f"{s:>16}" for s in labels)
    print(header)
    print("-" * len(header))
    for r, rates in zip(cases, sweep, strict=True):
        cells = [f"{x:>9,.0f} ({x / r['scalar']:>3.0f}x)" for x in rates]
        print(f"{r['case']:<20} {r['template']:<13} " + " ".join(cells))


if __name__ == "__main__":
    main()
