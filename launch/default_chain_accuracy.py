"""Accuracy of the default chain network on the embedded datasets (digits, mnist5k).

Trains the 6-layer chain below (docs/search-spaces.md#chain choices: 3×3 kernels, 24→64
filters, two stride-2 layers) for ``--epochs`` with the default trainer settings, over several
seeds, through the result cache (a rerun reuses finished trainings), and prints validation/test
accuracy per seed with mean ± standard deviation.

    .venv/bin/python launch/default_chain_accuracy.py [--epochs 10] [--seeds 3] [--cache PATH]
"""

from __future__ import annotations

import argparse
import statistics

from coexplore.core.candidate import Candidate
from coexplore.data import DataConfig
from coexplore.slow.oracles import TrainOracle
from coexplore.slow.trainer import TrainConfig
from coexplore.spaces import make_space

DEFAULT_CHAIN = "k3f24s1-k3f36s1-k3f48s2-k3f48s1-k3f64s2-k3f64s1|flatten"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--datasets", default="digits,mnist5k")
    ap.add_argument("--cache", default="runs/cache.sqlite")
    args = ap.parse_args()
    arch = make_space("chain").parse(DEFAULT_CHAIN)
    config = TrainConfig(epochs=args.epochs)
    print(
        f"{DEFAULT_CHAIN}, {args.epochs} epochs, SGD+cosine lr {config.lr}, "
        f"precision {config.precision}; cache {args.cache}"
    )
    print(f"{'dataset':<9} {'seed':>4} {'val_acc':>8} {'test_acc':>8} {'train s':>8} {'cached':>6}")
    for name in args.datasets.split(","):
        tests = []
        for seed in range(args.seeds):
            oracle = TrainOracle(DataConfig(name, seed=seed), config, args.cache)
            ev = oracle.evaluate(Candidate(arch, seed=seed))
            tests.append(ev.test_acc)
            print(
                f"{name:<9} {seed:>4} {ev.val_acc:>8.4f} {ev.test_acc:>8.4f} "
                f"{ev.details['wall_s']:>8.1f} {str(ev.cache_hit):>6}"
            )
        spread = statistics.stdev(tests) if len(tests) > 1 else 0.0
        print(
            f"{name:<9} test accuracy {statistics.mean(tests):.4f} ± {spread:.4f} "
            f"over {len(tests)} seeds (precision {ev.details['precision']})"
        )


if __name__ == "__main__":
    main()
