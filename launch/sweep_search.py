"""One search with swept hyperparameters: the program of ``launch/sweep.yaml``.

Under ``wandb agent`` it receives ``--alpha``, ``--agent``, ``--learning_rate``, ``--episodes``
and logs online into the sweep. With ``--grid SWEEP.yaml`` it runs the sweep's parameter grid
locally and offline instead (``values`` lists as they are; a ``min``/``max`` distribution as
3 log-spaced points), one run directory per point under ``--out``.
"""

from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path

import numpy as np
import yaml

from coexplore.search.runner import SearchConfig, run_search
from coexplore.search.tracking import WandbConfig


def grid(sweep_file: str) -> list[dict]:
    """The parameter points of a sweep file, as a Cartesian product."""
    params = yaml.safe_load(Path(sweep_file).read_text())["parameters"]
    axes = {}
    for name, spec in params.items():
        if "values" in spec:
            axes[name] = list(spec["values"])
        elif "value" in spec:
            axes[name] = [spec["value"]]
        else:
            axes[name] = [float(v) for v in np.geomspace(spec["min"], spec["max"], 3)]
    return [dict(zip(axes, point, strict=True)) for point in itertools.product(*axes.values())]


def search(point: dict, args: argparse.Namespace, mode: str) -> None:
    name = "-".join(f"{k}{v:.3g}" if isinstance(v, float) else f"{k}{v}" for k, v in point.items())
    cfg = SearchConfig(
        env=args.env,
        agent=point["agent"],
        episodes=int(args.episodes or point.get("episodes", 120)),
        seed=args.seed,
        out=str(Path(args.out) / name),
        agent_params={"learning_rate": point["learning_rate"]},
        overrides=(f"reward.alpha={point['alpha']}",),
        wandb=WandbConfig(mode=mode, group="sweep", name=name),
    )
    result = run_search(cfg, progress=not args.quiet)
    best = result.best
    print(name, "best val_acc", None if best is None else round(best.val_acc, 4))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", metavar="SWEEP.yaml", help="run the sweep's grid locally, offline")
    ap.add_argument("--env", default="digits-fpga")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/sweep")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--alpha", type=float, default=0.7)
    ap.add_argument("--agent", default="ppo")
    ap.add_argument("--learning_rate", type=float, default=1e-3)
    ap.add_argument("--episodes", type=int, default=None)
    ap.add_argument(
        "--wandb-mode",
        choices=("offline", "online", "disabled"),
        help="default: online under `wandb agent`, else offline",
    )
    args = ap.parse_args()
    if args.grid:
        for point in grid(args.grid):
            search(point, args, mode=args.wandb_mode or "offline")
        return
    point = {"alpha": args.alpha, "agent": args.agent, "learning_rate": args.learning_rate}
    # Under `wandb agent` the run joins the sweep online; by hand it stays offline.
    auto = "online" if os.environ.get("WANDB_SWEEP_ID") else "offline"
    search(point, args, mode=args.wandb_mode or auto)


if __name__ == "__main__":
    main()
