"""``coexplore search``: a complete co-exploration run, with progress bar, log, W&B and report."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import yaml

from coexplore.cli.report import counts_line, design_lines
from coexplore.cli.text import json_text
from coexplore.config import ConfigError


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, yaml.safe_load(value)


def add_set_option(p: argparse.ArgumentParser, help: str) -> None:
    """``--set SECTION.FIELD=VALUE`` (repeatable), into ``args.overrides``."""
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help=help,
    )


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    from coexplore.search.agents import AGENTS, DEFAULT_AGENT  # names only: no torch

    agents = ", ".join(f"{a} (default)" if a == DEFAULT_AGENT else a for a in AGENTS)
    p = sub.add_parser(
        "search",
        help=summary,
        description="Run a co-exploration search: the agent proposes candidates (a child network "
        "plus, where the scenario's platform family has hardware tokens, a hardware design) on "
        "the scenario's env; the fast phase tunes the hardware and prunes what cannot meet the "
        "specs; survivors are trained (slow phase) and rewarded. Every candidate is appended to "
        "OUT/candidates.jsonl and logged to W&B (offline by default); at the end OUT/report/ "
        "holds the Pareto plots and a summary. A killed search continues with --resume.",
        epilog=f"agents: {agents}. "
        "Example: coexplore search --env digits-fpga --agent ppo --episodes 120 --seed 0",
    )
    p.add_argument("--env", help="scenario name (see `coexplore envs`) or scenario YAML file")
    p.add_argument(
        "--agent",
        metavar="AGENT",
        help=f"search agent (default: {DEFAULT_AGENT}; see the list below), or your own by "
        "import path: my_pkg.my_agent:MyAgent or path/to/agent.py:MyAgent",
    )
    p.add_argument(
        "--episodes",
        type=int,
        help="proposals in all (default: 100, or no limit with --trainings)",
        default=None,
    )
    p.add_argument(
        "--trainings",
        type=int,
        metavar="N",
        help="distinct trainings in all: candidates sent to the slow phase (pruned ones and "
        "repeats cost none); the search stops at whichever budget comes first",
    )
    p.add_argument(
        "--patience",
        type=int,
        metavar="K",
        help="stop as converged after K proposals in a row without a new training (default "
        "1000 with --trainings)",
    )
    p.add_argument("--seed", type=int, help="seed of the agent (default: 0)")
    p.add_argument("--out", help="run directory (default: runs/<scenario>-<agent>-s<seed>)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the search in --out (or the default directory) where it stopped; "
        "--episodes may raise its budget",
    )
    p.add_argument(
        "--agent-param",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="agent hyperparameter, e.g. learning_rate=3.0e-4 (repeatable; YAML values, "
        "checked against the agent's types and ranges before the run starts); overrides the "
        "scenario's agents: section",
    )
    add_set_option(p, "override a scenario field, e.g. reward.alpha=0.5 (repeatable)")
    w = p.add_argument_group("Weights & Biases")
    w.add_argument(
        "--wandb-mode",
        choices=("offline", "online", "disabled"),
        default="offline",
        help="offline (default: files in OUT/wandb, no network), online, or disabled",
    )
    w.add_argument("--wandb-project", default="coexplore", help="W&B project (default: coexplore)")
    w.add_argument("--wandb-entity", help="W&B entity (user or team)")
    w.add_argument("--wandb-group", help="W&B group, e.g. one per experiment")
    w.add_argument("--wandb-tags", default="", help="comma-separated W&B tags")
    w.add_argument("--wandb-name", help="W&B run name")
    p.add_argument("--no-report", action="store_true", help="do not write OUT/report/ at the end")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=cmd_search)


def _config(args: argparse.Namespace):
    from coexplore.search.agents import DEFAULT_AGENT
    from coexplore.search.runlog import read_run
    from coexplore.search.runner import SearchConfig, default_out
    from coexplore.search.tracking import WandbConfig

    wandb = WandbConfig(
        mode=args.wandb_mode,
        project=args.wandb_project,
        entity=args.wandb_entity,
        group=args.wandb_group,
        tags=tuple(t for t in args.wandb_tags.split(",") if t),
        name=args.wandb_name,
    )
    given = {"env": args.env, "agent": args.agent, "seed": args.seed}
    if args.resume:
        out = args.out
        if out is None:
            if args.env is None:
                raise ConfigError("search", "--out", "given with --resume (or --env, ...)")
            out = default_out(args.env, args.agent or DEFAULT_AGENT, args.seed or 0)
        run = read_run(out)
        for key, value in given.items():
            if value is not None and value != run[key]:
                raise ConfigError(
                    str(out), f"--{key}", f"the run's own ({run[key]!r}) or left out", value
                )
        if args.agent_param or args.overrides:
            raise ConfigError(str(out), "--agent-param/--set", "left out with --resume")
        return SearchConfig(
            env=run["env"],
            agent=run["agent"],
            episodes=args.episodes or run["episodes"],
            trainings=args.trainings or run.get("trainings"),
            patience=args.patience or run.get("patience"),
            seed=run["seed"],
            out=out,
            wandb=wandb,
        )
    return SearchConfig(
        env=args.env or "digits-fpga",
        agent=args.agent or DEFAULT_AGENT,
        episodes=args.episodes or (None if args.trainings else 100),
        trainings=args.trainings,
        patience=args.patience,
        seed=args.seed or 0,
        out=args.out,
        agent_params=dict(args.agent_param),
        overrides=tuple(args.overrides),
        wandb=wandb,
    )


def cmd_search(args: argparse.Namespace) -> int:
    from coexplore.search.runner import PATIENCE, run_search

    config = _config(args)
    try:
        result = run_search(
            config, resume=args.resume, progress=not args.quiet, report=not args.no_report
        )
    except KeyboardInterrupt:
        print(
            "\ninterrupted: every finished candidate is in the run directory; "
            "continue with `coexplore search --resume --out DIR`",
            file=sys.stderr,
        )
        return 130
    if args.json:
        print(json_text(result.to_dict()))
        return 0
    print(counts_line(result.to_dict()) + f" in {result.wall_s:.0f} s")
    per = result.episodes / result.trainings if result.trainings else float("nan")
    why = {
        "converged": f" (no new training in {config.patience or PATIENCE} proposals)",
        "exhausted": " (the agent had nothing left to propose)",
    }.get(result.stopped, "")
    print(f"{result.trainings} trainings, {per:.1f} proposals per training; "
          f"stopped: {result.stopped}{why}")  # fmt: skip
    print("\n".join(design_lines(result.to_dict()["best"])))
    if result.report is not None:
        print(f"report: {result.run_dir / 'report' / 'README.md'}")
    print(f"run: {result.run_dir}")
    return 0
