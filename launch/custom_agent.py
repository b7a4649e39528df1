"""Bring your own agent: a per-token softmax policy trained with REINFORCE, benchmarked.

An agent is an :class:`~coexplore.search.agents.Agent` subclass: ``run(episodes)`` drives the
Gymnasium env (read ``action_masks()``, one token per step, the reward at the candidate's end,
``info`` holding the whole candidate record) and returns how many episodes it finished;
``state_dict`` / ``load_state_dict`` make a run resumable; ``defaults`` / ``limits`` declare its
hyperparameters (checked like the built-in agents'). Name it by import path and it runs where
the built-in ones do, with no registration:

    coexplore search --env nb201-table --agent launch/custom_agent.py:SoftmaxPolicy --trainings 100
    coexplore benchmark --env nb201-table --agents random,launch/custom_agent.py:SoftmaxPolicy \
        --seeds 10 --trainings 300 --out runs/bench-custom

This script runs the second from Python (``--seeds``, ``--trainings``, ``--out``).
"""

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from coexplore.search.agents import Agent
from coexplore.search.agents.base import POSITIVE, UNIT


class SoftmaxPolicy(Agent):
    """One softmax over each token position's choices; REINFORCE with a moving-average
    baseline, one update per candidate."""

    name = "softmax-policy"
    defaults = {"learning_rate": 0.5, "baseline_decay": 0.9}
    limits = {"learning_rate": POSITIVE, "baseline_decay": UNIT}

    def __init__(self, env, seed: int = 0, **params: Any) -> None:
        super().__init__(env, seed, **params)
        self.choices = list(env.get_wrapper_attr("choices"))
        self.logits = np.zeros((len(self.choices), max(self.choices)))
        self.rng = np.random.default_rng(seed)
        self.baseline: float | None = None

    def run(self, episodes: int) -> int:
        for _ in range(episodes):
            self.env.reset()
            grads, done, reward = [], False, 0.0
            while not done:
                t = len(grads)
                mask = self.env.get_wrapper_attr("action_masks")()[: self.choices[t]]
                z = np.where(mask, self.logits[t, : len(mask)], -np.inf)
                p = np.exp(z - z.max())
                p /= p.sum()
                a = int(self.rng.choice(len(p), p=p))
                grads.append((t, np.eye(len(p))[a] - p))  # d log pi(a) / d logits
                _, reward, done, _, _ = self.env.step(a)
            b = reward if self.baseline is None else self.baseline
            for t, g in grads:
                self.logits[t, : len(g)] += self.params["learning_rate"] * (reward - b) * g
            decay = self.params["baseline_decay"]
            self.baseline = reward if self.baseline is None else decay * b + (1 - decay) * reward
        return episodes

    def state_dict(self) -> dict[str, Any]:
        return {
            "logits": self.logits.copy(),
            "rng": self.rng.bit_generator.state,
            "baseline": self.baseline,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.logits = state["logits"].copy()
        self.rng.bit_generator.state = state["rng"]
        self.baseline = state["baseline"]


def main(argv=None) -> dict:
    from coexplore.search.benchmark import BenchmarkConfig, run_benchmark

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="nb201-table")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trainings", type=int, default=300)
    ap.add_argument("--out", default="runs/bench-custom")
    args = ap.parse_args(argv)
    mine = f"{Path(__file__).resolve()}:SoftmaxPolicy"
    config = BenchmarkConfig(
        envs=(args.env,),
        agents=("random", mine),
        seeds=args.seeds,
        trainings=args.trainings,
        out=args.out,
    )
    results = run_benchmark(config)
    for r in results["results"]:
        verdict = "" if r["verdict"] is None else f"; against random: {r['verdict']}"
        print(f"{Path(r['agent']).name}: best {100 * r['best_mean']:.2f}{verdict}")
    print(f"results: {args.out}/benchmark.md")
    return results


if __name__ == "__main__":
    main()
