"""How repeatable a latency measurement is: the same networks measured twice, side by side
for the default protocol and for variants that drop one of its safeguards.

For each variant, ``--networks`` distinct architectures of the space are measured in two
separate runs (new modules each run), and the share of networks whose two medians agree
within ±5% and ±10% is printed, with the 95th percentile of the disagreement. Variants:

- ``default``: a fresh instance every round, subnormal floats flushed (the protocol of
  :mod:`coexplore.latency.measure`);
- ``one-instance``: one instance per run, timed in every round;
- ``denormals``: subnormal floats not flushed.

    .venv/bin/python bench/bench_latency_repeatability.py --space chain \
        --variants default,denormals
    .venv/bin/python bench/bench_latency_repeatability.py --space ibn \
        --variants default,one-instance

Run it alone: another process on the cores is measured too.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from coexplore.latency.experiment import sample_distinct
from coexplore.latency.lab import CHUNK
from coexplore.latency.measure import MeasureConfig, measure_modules
from coexplore.spaces import make_space

VARIANTS = ("default", "one-instance", "denormals")


def measure_once(archs, shape, config: MeasureConfig, fresh: bool) -> np.ndarray:
    modules = {
        a.canonical: ((lambda a=a: a.module(shape, 10)) if fresh else a.module(shape, 10), shape)
        for a in archs
    }
    names, out = list(modules), {}
    for i in range(0, len(names), CHUNK):
        out.update(measure_modules({n: modules[n] for n in names[i : i + CHUNK]}, config, i))
    return np.array([out[a.canonical].median_s for a in archs])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="chain")
    ap.add_argument("--networks", type=int, default=40)
    ap.add_argument("--variants", default="default,one-instance,denormals")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    shape = (1, 28, 28)
    archs = sample_distinct(make_space(args.space), args.networks, args.seed, shape[1])
    results = {}
    for variant in args.variants.split(","):
        if variant not in VARIANTS:
            ap.error(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
        config = MeasureConfig(flush_denormals=variant != "denormals")
        fresh = variant != "one-instance"
        a, b = (measure_once(archs, shape, config, fresh) for _ in range(2))
        err = np.abs(a / b - 1)
        results[variant] = {
            "within_5pct": float(np.mean(err <= 0.05)),
            "within_10pct": float(np.mean(err <= 0.10)),
            "p95_disagreement": float(np.percentile(err, 95)),
            "median_ratio": float(np.median(b / a)),  # a whole run slower or faster
            "median_ms": float(np.median(a) * 1e3),
        }
    if args.json:
        print(json.dumps({"space": args.space, "networks": len(archs), **results}, indent=2))
        return
    print(f"{args.space}, {len(archs)} networks measured twice (28x28, batch 1, 1 thread)")
    print(
        f"{'variant':14s} {'within 5%':>10s} {'within 10%':>11s} {'p95 disagreement':>17s} "
        f"{'median ratio':>13s}"
    )
    for v, r in results.items():
        print(
            f"{v:14s} {r['within_5pct']:10.0%} {r['within_10pct']:11.0%} "
            f"{r['p95_disagreement']:17.1%} {r['median_ratio']:13.3f}"
        )


if __name__ == "__main__":
    main()
