"""Plug in your own agent: a per-token softmax policy with REINFORCE, on the registered env.

Any agent that speaks Gymnasium works: read ``action_masks()``, emit one token per step, learn
from the episode's reward (``info`` holds the whole candidate record). Run:

    .venv/bin/python launch/custom_agent.py --env coexplore/digits-fpga-v0 --episodes 30
"""

import argparse

import gymnasium as gym
import numpy as np

import coexplore  # noqa: F401  (registers the coexplore/* ids)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="coexplore/digits-fpga-v0")
    ap.add_argument("--episodes", type=int, default=30)
    ap.add_argument("--lr", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    env, rng = gym.make(args.env), np.random.default_rng(args.seed)
    n_tokens = len(env.unwrapped.choices)
    logits = np.zeros((n_tokens, env.action_space.n))  # one softmax per token position
    baseline, best = None, None
    for episode in range(args.episodes):
        env.reset(seed=args.seed + episode)
        grads, done = [], False
        while not done:
            t, mask = len(grads), env.unwrapped.action_masks()
            p = np.where(mask, np.exp(logits[t] - logits[t][mask].max()), 0.0)
            p /= p.sum()
            a = int(rng.choice(len(p), p=p))
            grads.append((t, np.eye(len(p))[a] - p))  # ∇ log π(a) w.r.t. the logits
            _, reward, done, _, info = env.step(a)
        baseline = reward if baseline is None else 0.9 * baseline + 0.1 * reward  # EMA
        for t, g in grads:
            logits[t] += args.lr * (reward - baseline) * g
        if not info["pruned"] and (best is None or reward > best[0]):
            best = (reward, info["arch"], info["choice"], info["val_acc"])
        print(
            f"episode {episode:3d} reward {reward:+.3f} pruned {info['pruned']!s:5} "
            f"{info['arch']} on {info['choice']}"
        )
    print("best:", best)


if __name__ == "__main__":
    main()
