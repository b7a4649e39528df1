"""Mapper quality against its budget: how close ``search_mappings`` gets to the best known mapping.

For the first eight unique layers of ResNet-50 and the five GEMMs of BERT-base on the
Eyeriss-like template, the reference is the best EDP of three mapper runs with 30,000 model
evaluations each (seeds 100–102). The script then runs the mapper with each ``--budgets`` value
on ``--seeds`` seeds and prints, per budget, the ratio of the EDP found to the reference
(median, 90th percentile, worst) and the wall time per layer. No timing is asserted.

    .venv/bin/python bench/bench_mapper.py            # about a minute on 2 cores
    .venv/bin/python bench/bench_mapper.py --quick    # fewer layers and seeds
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from coexplore.platforms.spatial.arch import load_template
from coexplore.platforms.spatial.mapper import search_mappings
from coexplore.workloads.suites import load_workload


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budgets", default="300,1000,3000,10000")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    template = load_template("eyeriss-like")
    layers = load_workload("resnet50").problems[:8] + load_workload("bert-base").problems
    if args.quick:
        layers, args.seeds = layers[:4], 2
    reference = {}
    for p in layers:
        runs = [
            search_mappings(template, p, 30_000, np.random.default_rng(100 + s)) for s in range(3)
        ]
        reference[p.name] = min(r.value for r in runs)
    rows = []
    for budget in (int(b) for b in args.budgets.split(",")):
        ratios, start = [], time.perf_counter()
        for p in layers:
            for seed in range(args.seeds):
                found = search_mappings(template, p, budget, np.random.default_rng(seed))
                ratios.append(found.value / reference[p.name])
        wall = (time.perf_counter() - start) / (len(layers) * args.seeds)
        r = np.array(ratios)
        rows.append({"budget": budget, "median": float(np.median(r)),
                     "p90": float(np.quantile(r, 0.9)), "worst": float(r.max()),
                     "ms_per_layer": wall * 1e3})  # fmt: skip
    if args.json:
        print(json.dumps({"layers": len(layers), "seeds": args.seeds, "rows": rows}, indent=2))
        return
    print(f"{len(layers)} layers x {args.seeds} seeds on eyeriss-like; EDP found / best known")
    print(f"{'budget':>8} {'median':>8} {'p90':>8} {'worst':>8} {'ms/layer':>9}")
    for row in rows:
        print(f"{row['budget']:>8} {row['median']:>8.3f} {row['p90']:>8.3f} {row['worst']:>8.3f} "
              f"{row['ms_per_layer']:>9.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
