"""Calibrate a scenario's throughput spec: tuned throughput of random child networks.

Samples chain architectures, tunes each one's pipeline exhaustively on the given parts
(partition searched) and prints throughput percentiles. The ``envs/*.yaml`` specs sit near the
median, so the fast phase prunes a real share of candidates without training them.

    .venv/bin/python launch/calibrate_specs.py digits 6 XC7Z020,XC7A50T 20
    .venv/bin/python launch/calibrate_specs.py mnist5k 6 XC7Z020,XC7A50T 12
    .venv/bin/python launch/calibrate_specs.py cifar10 10 XC7Z020,XC7A50T 8
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from coexplore.platforms.fpga_pipeline.tuning.pipeline import tune_pipeline
from coexplore.spaces import ChainSpace

SHAPES = {
    "digits": (1, 8, 8),
    "mnist5k": (1, 28, 28),
    "mnist": (1, 28, 28),
    "fashion-mnist": (1, 28, 28),
    "cifar10": (3, 32, 32),
    "cifar100": (3, 32, 32),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", choices=sorted(SHAPES))
    ap.add_argument("depth", type=int)
    ap.add_argument("parts", help="comma-separated parts in pipeline order")
    ap.add_argument("samples", type=int)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    shape, parts = SHAPES[args.dataset], args.parts.split(",")
    classes = 100 if args.dataset == "cifar100" else 10
    space, rng = ChainSpace(depth=args.depth), np.random.default_rng(args.seed)
    fps, start = [], time.perf_counter()
    for _ in range(args.samples):
        arch = space.sample(rng, input_size=shape[1])
        result = tune_pipeline(arch.network(shape, classes), parts, None, tuner="exhaustive")
        fps.append(result.metrics.throughput_fps)
    pct = np.percentile(fps, [10, 25, 50, 75, 90]).round(0)
    print(
        f"{args.dataset}, chain depth {args.depth}, {parts}: throughput (images/s) "
        f"percentiles 10/25/50/75/90 = {pct.tolist()}; "
        f"{(time.perf_counter() - start) / args.samples:.2f} s per candidate"
    )


if __name__ == "__main__":
    main()
