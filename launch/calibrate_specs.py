"""Calibrate a scenario's throughput spec: tuned throughput of random child networks.

Samples architectures of the chain space (``depth`` layers) or the NAS-Bench-201 space
(``--space nb201``; depth is then ignored), tunes each one's pipeline exactly on the given
parts (partition searched) and prints throughput percentiles. The ``envs/*.yaml`` specs sit
near the median, so the fast phase prunes a real share of candidates without training them.

    .venv/bin/python launch/calibrate_specs.py digits 6 XC7Z020,XC7A50T 20
    .venv/bin/python launch/calibrate_specs.py mnist5k 6 XC7Z020,XC7A50T 12
    .venv/bin/python launch/calibrate_specs.py cifar10 10 XC7Z020,XC7A50T 8
    .venv/bin/python launch/calibrate_specs.py cifar10 0 XC7Z020,XC7A50T 40 --space nb201

With ``--compress R`` (and ``--bits B``) each tuned design also prices the network compressed
R× (kept weights ∝ √weights per layer, B-bit weights) on the sparse engine, as the fast phase
of a scenario with ``compression:`` does (``envs/digits-admm-fpga.yaml``)::

    .venv/bin/python launch/calibrate_specs.py digits 6 XC7Z020,XC7A50T 100 --compress 10 --bits 4

With ``--template T`` the hardware is a spatial accelerator template instead (``parts`` is then
ignored, write ``-``): each candidate's layers are mapped on the template as it is, and the
latency and EDP percentiles are printed (the specs of ``envs/nb201-eyeriss.yaml``)::

    .venv/bin/python launch/calibrate_specs.py cifar10 0 - 40 --space nb201 --template eyeriss-like
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from coexplore.core.candidate import Candidate
from coexplore.data import SHAPES
from coexplore.platforms.fpga_pipeline.pipeline import evaluate_pipeline
from coexplore.platforms.fpga_pipeline.tuning.pipeline import tune_pipeline
from coexplore.spaces import ChainSpace, make_space


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", choices=sorted(SHAPES))
    ap.add_argument("depth", type=int)
    ap.add_argument("parts", help="comma-separated parts in pipeline order")
    ap.add_argument("samples", type=int)
    ap.add_argument("--space", choices=("chain", "nb201"), default="chain")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--template", help="a spatial accelerator template instead of FPGA parts")
    ap.add_argument("--compress", type=float, help="also price each network compressed R×")
    ap.add_argument("--bits", type=int, help="with --compress: bits of the kept weights")
    args = ap.parse_args()
    if args.template:
        return calibrate_spatial(args)
    (shape, classes), parts = SHAPES[args.dataset], args.parts.split(",")
    rng = np.random.default_rng(args.seed)
    chain = args.space == "chain"
    space = ChainSpace(depth=args.depth) if chain else make_space("nb201")
    spec = None
    if args.compress is not None:
        from coexplore.compress.oracle import CompressionSpec

        spec = CompressionSpec(ratio=args.compress, bits=args.bits)
    fps, compressed, start = [], [], time.perf_counter()
    for _ in range(args.samples):
        arch = space.sample(rng, input_size=shape[1]) if chain else space.sample(rng)
        network = arch.network(shape, classes)
        result = tune_pipeline(network, parts, None, tuner="exhaustive")
        fps.append(result.metrics.throughput_fps)
        if spec is not None:
            priced = evaluate_pipeline(network, result.hardware, spec.compression(network))
            compressed.append(priced.throughput_fps)
    q = [10, 25, 50, 75, 90]
    where = f"chain depth {args.depth}" if chain else "nb201"
    print(
        f"{args.dataset}, {where}, {parts}: throughput (images/s) "
        f"percentiles {'/'.join(map(str, q))} = {np.percentile(fps, q).round(0).tolist()}; "
        f"{(time.perf_counter() - start) / args.samples:.2f} s per candidate"
    )
    if spec is not None:
        bits = f", {args.bits}-bit weights" if args.bits else ""
        print(
            f"compressed {args.compress:g}x{bits}: throughput percentiles "
            f"{np.percentile(compressed, q).round(0).tolist()}"
        )


def calibrate_spatial(args: argparse.Namespace) -> None:
    from coexplore.core.specs import Specs
    from coexplore.platforms.spatial.family import SpatialAccelerator, SpatialHardware

    shape, classes = SHAPES[args.dataset]
    rng = np.random.default_rng(args.seed)
    space = ChainSpace(depth=args.depth) if args.space == "chain" else make_space("nb201")
    platform = SpatialAccelerator(SpatialHardware(template=args.template, search_hardware=False))
    latency, edp, start = [], [], time.perf_counter()
    for _ in range(args.samples):
        kwargs = {"input_size": shape[1]} if args.space == "chain" else {}
        network = space.sample(rng, **kwargs).network(shape, classes)
        metrics = platform.evaluate(Candidate(network=network), Specs(), None).metrics
        latency.append(metrics.latency_s)
        edp.append(metrics.edp_js)
    q = [10, 25, 50, 75, 90]
    print(
        f"{args.dataset}, {args.space}, {args.template}: percentiles {q} of latency (ms) "
        f"{(np.percentile(latency, q) * 1e3).round(3).tolist()}, of EDP (J·s) "
        f"{[float(f'{v:.3g}') for v in np.percentile(edp, q)]}; "
        f"{(time.perf_counter() - start) / args.samples:.3f} s per candidate"
    )


if __name__ == "__main__":
    main()
