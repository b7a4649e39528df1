"""Each agent on each scenario over several seeds, at an equal budget: a comparison table.

For every (scenario, agent, seed) a full search runs in ``OUT/<scenario>-<agent>-s<seed>``
(an interrupted grid continues where it stopped: finished runs are read back, unfinished ones
resumed). The table gives, mean ± sd over seeds: best validation/test accuracy within specs,
the throughput and energy of that design, the pruned share, trainings and wall time. It is
printed and written to ``OUT/summary.md`` and ``OUT/summary.json``.

    # ppo against random on the default scenario, 3 seeds (the README's comparison)
    .venv/bin/python launch/compare_agents.py --agents ppo random --seeds 0 1 2 --episodes 120
    # every agent on each scenario (mnist5k-fpga trains ~20 s a candidate on 2 cores)
    .venv/bin/python launch/compare_agents.py --envs digits-fpga mnist5k-fpga --agents all
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from coexplore.search.agents import AGENTS
from coexplore.search.pareto import hypervolume
from coexplore.search.runlog import read_records, summarize
from coexplore.search.runner import SearchConfig, ensure_run
from coexplore.search.tracking import WandbConfig


def one_run(env: str, agent: str, seed: int, args: argparse.Namespace) -> dict:
    cfg = SearchConfig(
        env=env,
        agent=agent,
        episodes=args.episodes,
        seed=seed,
        out=str(Path(args.out) / f"{Path(env).stem}-{agent}-s{seed}"),
        wandb=WandbConfig(mode=args.wandb_mode, group=args.wandb_group, tags=(agent, env)),
    )
    records = read_records(ensure_run(cfg, progress=not args.quiet))
    return {**summarize(records), "hypervolume": hypervolume(records, "throughput_fps")}


def mean_sd(values: list[float], fmt: str) -> str:
    if not values:
        return "–"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{format(statistics.mean(values), fmt)} ± {format(sd, fmt)}"


def row(env: str, agent: str, runs: list[dict]) -> dict:
    best = [r["best"] for r in runs if r["best"] is not None]
    return {
        "env": env,
        "agent": agent,
        "seeds": len(runs),
        "found": len(best),
        "val_acc": [b.val_acc for b in best],
        "test_acc": [b.test_acc for b in best],
        "throughput_fps": [b.metrics.throughput_fps for b in best],
        "energy_mj": [b.metrics.energy_j * 1e3 for b in best],
        "pruned_share": [r["pruned"] / r["episodes"] for r in runs],
        "trained": [r["trained"] for r in runs],
        "wall_s": [r["wall_s"] for r in runs],
        "hypervolume": [r["hypervolume"] for r in runs],
    }


def markdown(rows: list[dict], episodes: int) -> str:
    head = (
        "| scenario | agent | seeds | best val acc | its test acc | its throughput (fps) "
        "| its energy (mJ/img) | hypervolume (acc × fps) | pruned | trainings | wall (s) |\n|"
        + "---|"
        * 11
    )
    lines = [f"Budget: {episodes} candidates per run; mean ± sd over seeds.\n", head]
    for r in rows:
        lines.append(
            f"| {r['env']} | {r['agent']} | {r['found']}/{r['seeds']} "
            f"| {mean_sd(r['val_acc'], '.4f')} | {mean_sd(r['test_acc'], '.4f')} "
            f"| {mean_sd(r['throughput_fps'], ',.0f')} | {mean_sd(r['energy_mj'], '.4f')} "
            f"| {mean_sd(r['hypervolume'], ',.0f')} "
            f"| {mean_sd(r['pruned_share'], '.0%')} | {mean_sd(r['trained'], '.1f')} "
            f"| {mean_sd(r['wall_s'], '.0f')} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--envs", nargs="+", default=["digits-fpga"], help="scenario names or files")
    ap.add_argument("--agents", nargs="+", default=["ppo", "random"], help="agent names, or all")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--episodes", type=int, default=120, help="candidates per run")
    ap.add_argument("--out", default="runs/compare", help="root of the run directories")
    ap.add_argument("--wandb-mode", default="offline", choices=("offline", "online", "disabled"))
    ap.add_argument("--wandb-group", default="compare-agents")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args()
    agents = list(AGENTS) if args.agents == ["all"] else args.agents
    rows = []
    for env in args.envs:
        for agent in agents:
            runs = [one_run(env, agent, seed, args) for seed in args.seeds]
            rows.append(row(env, agent, runs))
    text = markdown(rows, args.episodes)
    print(text)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "summary.md").write_text(text)
    (Path(args.out) / "summary.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
