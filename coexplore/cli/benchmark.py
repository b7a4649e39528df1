"""``coexplore benchmark``: agents × scenarios × seeds at equal trainings, against random search."""

from __future__ import annotations

import argparse
import shlex
import sys

from coexplore.cli.search import add_set_option
from coexplore.cli.text import json_text
from coexplore.config import ConfigError


def _names(text: str) -> tuple[str, ...]:
    """A comma-separated list; an agent's ``:key=value,key=value`` stays with its agent."""
    out: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if out and "=" in part and ":" not in part and "=" in out[-1].rpartition(":")[2]:
            out[-1] += "," + part  # the next key=value of the agent before
        else:
            out.append(part)
    return tuple(out)


def _budgets(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N[,N...], got {text!r}") from None


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    from coexplore.search.agents import AGENTS  # names only: no torch

    p = sub.add_parser(
        "benchmark",
        help=summary,
        description="Run every agent on every scenario for the same seeds and the same "
        "trainings budget (distinct candidates sent to the slow phase), each run a normal "
        "search run directory under OUT/<scenario>/<agent>/s<seed> (a finished run is read "
        "back, an interrupted one resumed). Reports each agent's best accuracy within specs "
        "after 10%%, 30%% and all of the budget (mean ± 95%% CI over seeds), regret to the "
        "scenario's optimum where it can be computed (a lookup oracle: every candidate "
        "evaluated once, cached in OUT/optima), hypervolumes, distinct candidates, proposals "
        "per training, wall time, and a paired test against random search with Holm's "
        "correction. Writes OUT/benchmark.md, OUT/benchmark.json and OUT/benchmark_curves.png.",
        epilog=f"agents: {', '.join(AGENTS)}; a variant NAME:KEY=VALUE[,KEY=VALUE] "
        "(e.g. ppo:ent_coef=0.05); or your own Agent subclass by import path, "
        "my_pkg.my_agent:MyAgent or path/to/agent.py:MyAgent (see launch/custom_agent.py). "
        "Example: coexplore benchmark --env nb201-table --agents random,rea,reinforce,ppo "
        "--seeds 10 --trainings 300 --out runs/bench",
    )
    p.add_argument("--env", required=True, help="scenarios, comma-separated (names or YAML files)")
    p.add_argument(
        "--agents",
        required=True,
        help="agents, comma-separated; random search is the baseline of the tests and is "
        "added when left out",
    )
    p.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 per agent (default 10)")
    p.add_argument("--trainings", type=int, default=300, help="trainings per run (default 300)")
    p.add_argument(
        "--at",
        type=_budgets,
        default=(),
        metavar="N[,N...]",
        help="the budgets of the tables (default: 10%%, 30%% and 100%% of --trainings)",
    )
    p.add_argument("--episodes", type=int, help="a cap on proposals per run (default: none)")
    p.add_argument(
        "--patience",
        type=int,
        help="stop a run as converged after this many proposals without a new training "
        "(default 1000)",
    )
    add_set_option(p, "override a field of every scenario (repeatable)")
    p.add_argument("--out", default="runs/benchmark", help="where the runs and results go")
    p.add_argument(
        "--executor",
        choices=("sequential", "process", "ray"),
        default="process",
        help="how the runs are spread: process (default: this machine's cores), ray, or sequential",
    )
    p.add_argument("--workers", type=int, help="runs at a time (default: the cores)")
    p.add_argument("--address", help="a Ray cluster to run on (implies --executor ray)")
    p.add_argument(
        "--wandb-mode",
        choices=("offline", "online", "disabled"),
        default="offline",
        help="one W&B run for the benchmark in OUT/wandb (default offline); the searches "
        "themselves are not tracked",
    )
    p.add_argument("--wandb-group", help="W&B group (default: OUT's name)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.set_defaults(func=cmd_benchmark)


def cmd_benchmark(args: argparse.Namespace) -> int:
    from coexplore.search.benchmark import BASELINE, BenchmarkConfig, run_benchmark
    from coexplore.search.tracking import WandbConfig

    agents = _names(args.agents)
    if BASELINE not in agents:
        agents = (BASELINE, *agents)
    if args.episodes is not None and args.episodes < 1:
        raise ConfigError("benchmark", "--episodes", "an integer >= 1", args.episodes)
    if args.patience is not None and args.patience < 1:
        raise ConfigError("benchmark", "--patience", "an integer >= 1", args.patience)
    config = BenchmarkConfig(
        envs=_names(args.env),
        agents=agents,
        seeds=args.seeds,
        trainings=args.trainings,
        at=args.at,
        episodes=args.episodes,
        patience=args.patience,
        overrides=tuple(args.overrides),
        out=args.out,
        executor=args.executor,
        workers=args.workers,
        address=args.address,
        wandb=WandbConfig(mode=args.wandb_mode, group=args.wandb_group),
        command="coexplore benchmark " + " ".join(shlex.quote(a) for a in sys.argv[2:]),
    )
    try:
        results = run_benchmark(config, progress=not args.quiet)
    except KeyboardInterrupt:
        print(
            "\ninterrupted: every finished run is in OUT; the same command continues",
            file=sys.stderr,
        )
        return 130
    if args.json:
        keys = ("env", "agent", "seeds", "trainings", "best_mean", "best_ci95", "optimum",
                "regret_mean", "p_vs_random", "verdict", "distinct_mean", "trainings_mean",
                "proposals_per_training", "wall_s_mean", "stopped", "at")  # fmt: skip
        rows = [{k: r[k] for k in keys} for r in results["results"]]
        print(json_text({"results": rows, "out": config.out}))
        return 0
    for r in results["results"]:
        regret = "" if r["regret_mean"] is None else f", regret {100 * r['regret_mean']:.2f}"
        versus = "" if r["verdict"] is None else f", vs random: {r['verdict']}"
        if r["p_vs_random"] is not None:
            versus += f" (p = {r['p_vs_random']:.3g}, Holm)"
        ci = r["best_ci95"]
        ci_text = "" if ci != ci else f" ± {100 * ci:.2f}"  # NaN for one seed
        print(
            f"{r['env']}  {r['agent']}: best {100 * r['best_mean']:.2f}{ci_text}{regret}"
            f"{versus}; {r['proposals_per_training']:.1f} proposals/training"
        )
    print(f"results: {config.out}/benchmark.md")
    return 0
