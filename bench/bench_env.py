"""The environment's fast phase on random candidates: candidates/s and the share pruned.

Draws random masked token sequences of a scenario (what a uniform agent proposes), and runs
each candidate through the environment's fast phase only (tuning, specs, hardware re-attempts;
no training), timing it. Prints the pruned share, candidates per second, and the time of kept
vs pruned candidates (a pruned one has tried ``hw_attempts`` hardware designs).

    .venv/bin/python bench/bench_env.py [--env digits-fpga] [--candidates 60] [--seed 0]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np

from coexplore.core.candidate import Candidate  # noqa: E402
from coexplore.env import CoExploreEnv


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="digits-fpga")
    ap.add_argument("--candidates", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    env = CoExploreEnv(args.env)
    platform = env.evaluator.platform
    rng = np.random.default_rng(args.seed)
    kept, pruned = [], []
    start = time.perf_counter()
    for _ in range(args.candidates):
        env.reset()
        while len(env._tokens) < len(env.choices):
            env._tokens.append(int(rng.choice(np.flatnonzero(env.action_masks()))))
        arch, parts = env.decode(env._tokens)
        network = arch.network(env.input_shape, env.num_classes)
        seeded = np.random.default_rng([env.scenario.data.seed, *env._tokens])  # as the evaluator
        fast = platform.evaluate(Candidate(arch, network, parts), env.scenario.specs, seeded)
        (pruned if fast.pruned else kept).append((fast.wall_s, fast.attempts))
    total = time.perf_counter() - start
    n = args.candidates
    print(
        f"{args.env}: {n} random candidates, fast phase only ({platform.name}, "
        f"{dataclasses.asdict(platform.fast) or 'no settings'}), "
        f"spec {env.scenario.specs.to_dict()}"
    )
    print(f"  pruned: {len(pruned)}/{n} = {len(pruned) / n:.0%}")
    print(f"  candidates/s: {n / total:.2f} ({total / n:.3g} s each)")
    for label, rows in (("kept", kept), ("pruned", pruned)):
        if rows:
            print(
                f"  {label:<6}: mean {statistics.mean(r[0] for r in rows):.2f} s, "
                f"mean hardware designs tried {statistics.mean(r[1] for r in rows):.1f}"
            )


if __name__ == "__main__":
    main()
