"""Engine-model evaluations per second: the vectorised model against the scalar reference.

For each preset network (every layer, pooling and FC included) on one part in fixed16, the
script draws D designs uniformly from the stage's design space (``StageProblem.tilings`` ×
``StageProblem.splits``, seeded numpy rng) and times three ways of evaluating them:

- scalar: ``engine_reference.evaluate_reference``, pure Python, one ``EngineDesign`` per call
  (the ``EngineDesign`` objects are built before the clock starts);
- numpy, one design per call: ``engine.evaluate_batch`` on a (1, 7) row per call;
- vectorised: ``engine.evaluate_batch`` on all D rows in one call.

A second table sweeps the vectorised model's batch size: a pool of 4M design × layer cells is
evaluated in calls of 1k, 10k, 100k, 1M cells and one call of all of it (``--quick``: a 1M-cell
pool; the tuners use calls of ``tuners.CHUNK_CELLS``), to
show how the per-call overhead and memory traffic set the throughput. The vectorised column of
the first table (all D designs in one call) depends on D the same way.

Before any timing the script makes one large (``WARM_UP_CELLS``) ``evaluate_batch`` call. This
is not a cache warm-up: until glibc has freed one large block
(which raises its dynamic mmap threshold), every temporary array over 128 KiB is mmap-ed and
unmapped again, and each call pays thousands of page faults. On the 2-core dev box that alone
made the one-call vectorised rate at 5000 designs more than 2x slower, so every column is timed
in the state a long-running process is in.

Both numpy columns get a ``LayerTable`` built once before timing (as the tuners do), which
favours them slightly over passing the layer list; the table build time is printed separately.
Each figure is the best of ``--repeat`` timed runs (10x as many for the single vectorised call,
which takes milliseconds). Before timing, the scalar and vectorised models must agree on every
sampled design (total and per-layer cycles, per-layer bottleneck, DSP, BRAM, LUT and budget
violations); the script stops with an AssertionError if they do not. No timing is asserted.

Run from the repository root::

    .venv/bin/python bench/bench_engine.py            # about a minute on 2 cores
    .venv/bin/python bench/bench_engine.py --quick    # fewer designs, < 30 s
"""

from __future__ import annotations

import argparse

import numpy as np
from timing import best_time  # bench/timing.py

from coexplore.platforms.fpga_pipeline.engine import (
    BUDGETS,
    EngineDesign,
    LayerTable,
    evaluate_batch,
)
from coexplore.platforms.fpga_pipeline.engine_reference import evaluate_reference
from coexplore.platforms.fpga_pipeline.parts import get_part
from coexplore.platforms.fpga_pipeline.precision import PRECISIONS
from coexplore.platforms.fpga_pipeline.tuning.space import StageProblem
from coexplore.platforms.fpga_pipeline.tuning.tuners import CHUNK_CELLS
from coexplore.workloads import preset

CASES = (  # (network preset, part)
    ("lenet5", "XC7Z020"),
    ("alexnet", "XC7Z045"),
    ("vgg16", "XCZU9EG"),
    ("resnet18-chain", "XC7Z045"),
)
PRECISION = "fixed16"
SWEEP_CELLS = (1_000, 10_000, 100_000, 1_000_000)  # design × layer cells per call
WARM_UP_CELLS = 4_000_000  # one large call first, so every figure sees a warmed-up allocator


def check_agreement(layers, table, rows, designs, part, precision) -> None:
    """The scalar and vectorised models must give the same numbers for every design."""
    batch = evaluate_batch(table, rows, part, precision, per_layer=True)
    for i, d in enumerate(designs):
        ref = evaluate_reference(layers, d, part, precision)
        got = (int(batch.cycles[i]), int(batch.dsp[i]), int(batch.bram18k[i]), int(batch.lut[i]))
        want = (ref.cycles, ref.dsp, ref.bram18k, ref.lut)
        assert got == want, f"design {rows[i].tolist()}: vectorised {got} != scalar {want}"
        assert batch.layer_cycles[i].tolist() == ref.layer_cycles, f"{rows[i]}: layer cycles"
        assert batch.layer_bottleneck[i].tolist() == ref.layer_bottleneck, f"{rows[i]}: bottleneck"
        assert batch.violations(i) == ref.violations, f"design {rows[i].tolist()}: violations"


def bench_case(name: str, part_name: str, n_designs: int, repeat: int, rng) -> dict:
    net = preset(name)
    layers = tuple(net.layers)
    part, precision = get_part(part_name), PRECISIONS.get(PRECISION)
    problem = StageProblem(layers, part, precision)
    rows = sample(problem, n_designs, rng)
    designs = [EngineDesign.from_array(r) for r in rows]
    table_s = best_time(lambda: LayerTable.of(layers), repeat)
    table = LayerTable.of(layers)

    check_agreement(layers, table, rows, designs, part, precision)

    def scalar():
        for d in designs:
            evaluate_reference(layers, d, part, precision)

    def numpy_one():
        for i in range(n_designs):
            evaluate_batch(table, rows[i : i + 1], part, precision)

    def vectorised():
        evaluate_batch(table, rows, part, precision)

    t_scalar = best_time(scalar, repeat)
    t_one = best_time(numpy_one, repeat)
    t_vec = best_time(vectorised, 10 * repeat)
    return {
        "network": name,
        "part": part_name,
        "layers": len(layers),
        "designs": n_designs,
        "table_ms": table_s * 1e3,
        "scalar": n_designs / t_scalar,
        "one": n_designs / t_one,
        "vec": n_designs / t_vec,
    }


def sample(problem: StageProblem, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` design rows drawn uniformly from the problem's tilings × port splits."""
    return problem.design_rows(
        rng.integers(len(problem.tilings), size=n), rng.integers(len(problem.splits), size=n)
    )


def batch_sweep(name: str, part_name: str, pool_cells: int, sizes, repeat: int, rng) -> list:
    """Vectorised evals/s on a pool of ``pool_cells`` cells, evaluated in calls of ``sizes``."""
    layers = tuple(preset(name).layers)
    problem = StageProblem(layers, get_part(part_name), PRECISIONS.get(PRECISION))
    pool = sample(problem, pool_cells // len(layers), rng)
    table, part, precision = problem.table, problem.part, problem.precision
    out = []
    for cells in sizes:
        step = max(1, cells // len(layers))

        def run(step=step):
            for i in range(0, len(pool), step):
                evaluate_batch(table, pool[i : i + step], part, precision)

        out.append(len(pool) / best_time(run, repeat))
    return out


def warm_up(rng: np.random.Generator) -> None:
    """One tuner-sized evaluate_batch call, so timing starts in a tuner's allocator state."""
    layers = tuple(preset(CASES[0][0]).layers)
    problem = StageProblem(layers, get_part(CASES[0][1]), PRECISIONS.get(PRECISION))
    rows = sample(problem, WARM_UP_CELLS // len(layers), rng)
    evaluate_batch(problem.table, rows, problem.part, problem.precision)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer designs and repeats (< 30 s)")
    ap.add_argument("--designs", type=int, help="designs sampled per network (default 5000)")
    ap.add_argument("--repeat", type=int, help="timed runs per figure, best kept (default 3)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    n_designs = args.designs or (1000 if args.quick else 5000)
    repeat = args.repeat or (2 if args.quick else 3)
    rng = np.random.default_rng(args.seed)

    warm_up(rng)
    print(
        f"engine model, {PRECISION}: {n_designs} designs per network drawn uniformly from the "
        f"StageProblem space (seed {args.seed}); best of {repeat} runs ({10 * repeat} vectorised)"
    )
    print(
        "vectorised = all designs in one evaluate_batch call; numpy columns use a LayerTable "
        "built once before timing (its build time is shown); timed after one "
        f"{WARM_UP_CELLS:,}-cell warm-up call (see the module docstring)\n"
    )
    header = (
        f"{'network':<15} {'part':<10} {'layers':>6} {'designs':>7} {'scalar/s':>10} "
        f"{'numpy 1/call/s':>14} {'vectorised/s':>12} {'vec/scalar':>10} {'table ms':>8}"
    )
    print(header)
    print("-" * len(header))
    speedups = []
    for name, part_name in CASES:
        r = bench_case(name, part_name, n_designs, repeat, rng)
        speedups.append(r["vec"] / r["scalar"])
        print(
            f"{r['network']:<15} {r['part']:<10} {r['layers']:>6} {r['designs']:>7} "
            f"{r['scalar']:>10,.0f} {r['one']:>14,.0f} {r['vec']:>12,.0f} "
            f"{speedups[-1]:>9.0f}x {r['table_ms']:>8.2f}"
        )
    print(
        f"\nscalar and vectorised models agree (cycles, per-layer cycles and bottlenecks, "
        f"{', '.join(BUDGETS[:3])}, violations) "
        f"on all {n_designs * len(CASES)} sampled designs"
    )
    print(
        f"vectorised/scalar speed-up: {min(speedups):.0f}x to {max(speedups):.0f}x "
        f"(geometric mean {np.exp(np.mean(np.log(speedups))):.0f}x)"
    )

    pool_cells = 1_000_000 if args.quick else 4_000_000
    cells = sorted({*(c for c in SWEEP_CELLS if c < pool_cells), pool_cells})
    labels = [f"{c // 1000}k" if c < 10**6 else f"{c / 10**6:g}M" for c in cells]
    print(
        f"\nvectorised evals/s by cells (designs x layers) per call, on a pool of {pool_cells:,} "
        f"cells per network (tuners.CHUNK_CELLS = {CHUNK_CELLS:,}); best of {repeat} runs"
    )
    header = f"{'network':<15} " + " ".join(f"{s:>10}" for s in labels)
    print(header)
    print("-" * len(header))
    for name, part_name in CASES:
        rates = batch_sweep(name, part_name, pool_cells, cells, repeat, rng)
        print(f"{name:<15} " + " ".join(f"{r:>10,.0f}" for r in rates))


if __name__ == "__main__":
    main()
