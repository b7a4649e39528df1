"""Search agents on NAS-Bench-201 against the tables' oracle optimum; writes docs/nb201.md.

Every agent searches the ``nb201-table`` scenario (accuracy and latency looked up, so a
candidate costs a millisecond) until it has queried ``--budget`` distinct architectures' accuracy,
for each seed, in five settings: unconstrained on CIFAR-10, CIFAR-100 and ImageNet16-120, and on
CIFAR-10 under a latency target on one GPU at batch 1 and one phone. A target is the 25%
quantile of the device's latencies over the 15,625 cells, fixed by that rule before any search.
Under a target, a cell over it is pruned by the fast phase and costs no query. The curve of a
run is its best test accuracy among the queried cells that meet the target, after each query.
Results go to ``OUT/<setting>/<agent>-s<seed>.json`` as they finish, so an interrupted benchmark
continues where it stopped.

    # the published docs/nb201.md: 5 agents x 5 settings x 20 seeds, 1,000 queries each
    .venv/bin/python launch/nb201_benchmark.py --doc docs/nb201.md --workers 2
    # a smoke test (2 seeds, 60 queries, ~1 min)
    .venv/bin/python launch/nb201_benchmark.py --quick
    # the latency targets and their feasible shares only
    .venv/bin/python launch/nb201_benchmark.py --targets
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from coexplore.config import load_mapping
from coexplore.core.markdown import md_table
from coexplore.scenario import apply_overrides, scenario_from_dict, scenario_path
from coexplore.tables import ACCURACY_TABLES, DEVICES

ENV = "nb201-table"
AGENTS = ("ppo", "maskable-ppo", "reinforce", "reinforce-paper", "rea", "random")
LEARNING = ("ppo", "maskable-ppo", "reinforce", "reinforce-paper")
LABELS = {
    "ppo": "PPO",
    "maskable-ppo": "MaskablePPO",
    "reinforce": "REINFORCE",
    "reinforce-paper": "REINFORCE (the paper's)",
    "rea": "regularised evolution",
    "random": "random search",
}
COLORS = {
    "ppo": "tab:red",
    "maskable-ppo": "tab:orange",
    "reinforce": "tab:purple",
    "reinforce-paper": "tab:pink",
    "rea": "tab:blue",
    "random": "tab:gray",
}
VARIANT_COLORS = ("tab:brown", "tab:olive", "tab:cyan", "tab:pink", "tab:green")
DEVICE_TARGETS = ("titan_rtx_1", "pixel2")  # one GPU at batch 1, one phone
QUANTILE = 0.25
CHECKPOINTS = (300, 1000)


def base(agent: str) -> str:
    """The registered agent of an ``--agents`` entry: ``ppo`` or a variant ``ppo:ent_coef=0.05``."""
    return agent.partition(":")[0]


def agent_params(agent: str) -> dict:
    """The hyperparameters of a variant (``name:key=value,key=value``, values in YAML)."""
    import yaml

    rest = agent.partition(":")[2]
    return {k: yaml.safe_load(v) for k, _, v in (kv.partition("=") for kv in rest.split(",") if kv)}


def label(agent: str) -> str:
    rest = agent.partition(":")[2]
    return LABELS[base(agent)] + (f" ({rest.replace(',', ', ')})" if rest else "")


def color(agent: str, agents: list[str]) -> str:
    if agent in COLORS:
        return COLORS[agent]
    variants = [a for a in agents if a not in COLORS]
    return VARIANT_COLORS[variants.index(agent) % len(VARIANT_COLORS)]


@dataclass(frozen=True)
class Setting:
    name: str
    label: str
    table: str  # built-in accuracy table
    device: str | None  # latency target on this device, or unconstrained
    acc_range: tuple[float, float]  # the reward's acc_min, acc_max: where the good cells lie

    def target_s(self) -> float | None:
        if self.device is None:
            return None
        d = DEVICES.get(self.device)
        return float(np.quantile(d.table().column(d.column), QUANTILE)) * 1e-3

    def overrides(self) -> list[str]:
        acc = ACCURACY_TABLES.get(self.table)
        out = [
            f"slow_phase.table={self.table}",
            f"data.name={acc.dataset}",
            f"reward.acc_min={self.acc_range[0]}",
            f"reward.acc_max={self.acc_range[1]}",
        ]
        if self.device is None:
            return [*out, "hardware.mode=none"]
        return [*out, f"hardware.device={self.device}", f"specs.latency_s.max={self.target_s()!r}"]

    def oracle(self) -> dict:
        """The best test accuracy of any cell (meeting the target), the feasible share."""
        acc = ACCURACY_TABLES.get(self.table)
        values = acc.table().column(acc.column) * acc.scale
        feasible = np.ones(len(values), dtype=bool)
        if self.device is not None:
            d = DEVICES.get(self.device)
            assert d.table().archs == acc.table().archs
            feasible = d.table().column(d.column) * 1e-3 <= self.target_s()
        best = int(np.flatnonzero(feasible)[np.argmax(values[feasible])])
        return {
            "best": float(values[best]),
            "arch": acc.table().archs[best],
            "feasible": float(feasible.mean()),
            "near": int((values[feasible] >= values[best] - 0.003).sum()),
            "neighbours_over": _neighbours_over(acc.table(), acc.table().archs[best], feasible),
        }


def _neighbours_over(table, arch: str, feasible: np.ndarray) -> int:
    """How many of ``arch``'s one-token neighbours (6 edges x 4 other operations) miss the
    target: the landscape around the optimum a one-token step sees."""
    from coexplore.spaces import make_space

    space = make_space("nb201")
    tokens = space.to_tokens(space.parse(arch))
    over = 0
    for t, choices in enumerate(space.token_choices()):
        for v in range(choices):
            if v != tokens[t]:
                other = space.from_tokens([*tokens[:t], v, *tokens[t + 1 :]])
                over += not feasible[table.position(other.canonical)]
    return over


SETTINGS = {
    s.name: s
    for s in (
        Setting("cifar10", "CIFAR-10", "nb201-cifar10", None, (0.8, 0.95)),
        Setting("cifar100", "CIFAR-100", "nb201-cifar100", None, (0.5, 0.75)),
        Setting("imagenet16", "ImageNet16-120", "nb201-imagenet16", None, (0.2, 0.5)),
        *(
            Setting(f"cifar10-{d}", f"CIFAR-10, {d}", "nb201-cifar10", d, (0.8, 0.95))
            for d in DEVICE_TARGETS
        ),
    )
}


def run_one(
    setting: str, agent: str, seed: int, budget: int, cap: int, patience: int, out: str
) -> dict:
    """One search until ``budget`` distinct accuracy queries, ``cap`` proposals within the
    target (pruned ones are free), or ``patience`` proposals in a row without a new query (the
    agent has converged)."""
    from coexplore.env.environment import CoExploreEnv
    from coexplore.search.agents import make_agent

    path = Path(out) / setting / f"{agent}-s{seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    source = scenario_path(ENV)
    data = apply_overrides(load_mapping(source), SETTINGS[setting].overrides())
    env = CoExploreEnv(scenario_from_dict(data, str(source)))
    queried: set[str] = set()
    curve: list[float] = []  # best test accuracy within the target after each query
    proposals, last_new, charged = [0], [0], [0]

    def on_record(record) -> None:
        proposals[0] += 1
        charged[0] += not record.pruned
        if record.pruned or record.arch in queried or len(curve) >= budget:
            return
        queried.add(record.arch)
        last_new[0] = proposals[0]
        best = curve[-1] if curve else float("-inf")
        curve.append(max(best, float(record.test_acc)))

    env.listeners.append(on_record)
    start = time.perf_counter()
    searcher = make_agent(base(agent), env, seed, **agent_params(agent))
    while len(curve) < budget and charged[0] < cap and proposals[0] - last_new[0] < patience:
        searcher.run(cap - charged[0])
    env.close()
    result = {
        "setting": setting,
        "agent": agent,
        "seed": seed,
        "curve": curve,
        "proposals": proposals[0],
        "charged": charged[0],
        "stopped": "budget"
        if len(curve) >= budget
        else "cap"
        if charged[0] >= cap
        else "converged",
        "wall_s": time.perf_counter() - start,
    }
    return save_result(path, result)


def save_result(path: Path, result: dict) -> dict:
    """Write a finished run's result atomically (an interrupted write leaves no file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(path)
    return result


def _one_thread() -> None:
    """A worker's initializer: one torch thread each, so parallel runs never contend."""
    import torch

    torch.set_num_threads(1)


def at(curve: list[float], queries: int) -> float | None:
    """Best accuracy found with at most ``queries`` queries (a run that stopped earlier: its
    final best); None when it queried nothing."""
    return curve[min(queries, len(curve)) - 1] if curve else None


def mean_sd(values: list[float], scale: float = 100.0) -> str:
    values = [v * scale for v in values if v is not None]
    if not values:
        return "–"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {sd:.2f}"


def p_greater(a: list[float], b: list[float]) -> float | None:
    """One-sided Mann–Whitney p that ``a`` is stochastically greater than ``b``."""
    try:
        from scipy.stats import mannwhitneyu
    except ImportError:  # scipy comes with scikit-learn; without it, no p-values
        return None
    a, b = [v for v in a if v is not None], [v for v in b if v is not None]
    if len(a) < 2 or len(b) < 2:
        return None
    return float(mannwhitneyu(a, b, alternative="greater").pvalue)


def plot(results: dict, oracles: dict, path: Path, budget: int) -> Path:
    from coexplore.figures import new_figure, save_figure

    names = list(results)
    fig, axes = new_figure(ncols=len(names), width=4.0 * len(names), height=3.8)
    axes = np.atleast_1d(axes)
    for ax, setting in zip(axes, names, strict=True):
        for agent, runs in results[setting].items():
            curves = [r["curve"] for r in runs if r["curve"]]
            if not curves:
                continue
            # a run that stopped early keeps its best at every later budget (as in the tables)
            c = np.array([[at(cv, q) for q in range(1, budget + 1)] for cv in curves]) * 100
            x = np.arange(1, budget + 1)
            m, s = c.mean(axis=0), c.std(axis=0)
            c = color(agent, list(results[setting]))
            ax.plot(x, m, color=c, label=label(agent), lw=1.4)
            ax.fill_between(x, m - s, m + s, color=c, alpha=0.12)
        best = oracles[setting]["best"] * 100
        ax.axhline(best, color="k", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_ylim(best - 3, best + 0.3)
        ax.set_xlabel("distinct architectures queried")
        ax.set_title(SETTINGS[setting].label, fontsize=10)
    axes[0].set_ylabel("best test accuracy (%)")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle("Best so far: mean ± sd over seeds (dotted: the oracle optimum)")
    return save_figure(fig, path)


def render(args, results: dict, oracles: dict, figure: Path) -> tuple[str, dict]:
    cmd = "python launch/nb201_benchmark.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    n_seeds = len(args.seeds)
    lines = [
        "# NAS-Bench-201: search agents against the oracle",
        "",
        f"Generated by `{cmd.strip()}` (see the script's docstring; "
        f"{sum(len(r) for s in results.values() for r in s.values())} runs).",
        "",
        "Every agent searches the `nb201-table` scenario: NAS-Bench-201 cells whose accuracy "
        "and latency are looked up in the built-in tables (docs/tables.md), so a candidate "
        "costs about a millisecond and the oracle optimum is known. **The tables carry only "
        "test accuracy**: every search here is rewarded with test accuracy and every number is "
        "a test accuracy (%), which is fine for comparing searches, not for claiming an "
        "architecture's generalisation.",
        "",
        f"- Budget: **distinct architectures whose accuracy was queried** ({args.budget:,}), "
        f"{n_seeds} seeds ({args.seeds[0]}–{args.seeds[-1]}); a proposal repeating a queried "
        f"cell costs no query. A run also stops after {args.cap:,} proposals within the target "
        f"(repeats included), or when {args.patience:,} proposals in a row brought no new query "
        "(the agent has converged); the best it found then counts at every later budget.",
        f"- Under a latency target, a cell over it is pruned by the fast phase (its latency "
        "is looked up, its accuracy is not) and costs no query. A target is the "
        f"{QUANTILE:.0%} quantile of the device's latencies over all 15,625 cells.",
        "- Agents with their default hyperparameters (`coexplore search --help`): PPO and "
        "MaskablePPO (stable-baselines3 / sb3-contrib, 8 candidates per update), the paper's "
        "REINFORCE controller, regularised evolution (population 50, sample 10), random search. "
        "Reward: the scenario's (accuracy scaled between `acc_min` and `acc_max`, below).",
        "",
        "## The settings and their optimum",
        "",
    ]
    rows = []
    for name, o in oracles.items():
        s = SETTINGS[name]
        target = s.target_s()
        rows.append(
            [
                s.label,
                s.table,
                "none" if target is None else f"{s.device} ≤ {target * 1e3:.3f} ms",
                f"{o['feasible']:.1%}",
                f"{o['best'] * 100:.2f}",
                o["near"],
                f"{o['neighbours_over']}/24",
                f"{s.acc_range[0]}–{s.acc_range[1]}",
                f"`{o['arch']}`",
            ]
        )
    lines += [
        md_table(
            [
                "setting",
                "table",
                "latency target",
                "cells within it",
                "optimum (%)",
                "cells within 0.3",
                "its neighbours over the target",
                "reward acc range",
                "optimal cell",
            ],
            rows,
        ),
        "",
        "## Best test accuracy found",
        "",
        "Mean ± sd over seeds of the best test accuracy (%) among the queried cells within the "
        "target, after 300 and 1,000 queries; *gap* is the oracle optimum minus the mean; "
        "*optimum* counts the runs that found it; *proposals/query* is how many candidates the "
        "agent proposed per new query (repeats and pruned cells included).",
        "",
    ]
    goal: dict = {"within_0.3": {}, "beats_random": {}}
    learning = [a for a in args.agents if base(a) in LEARNING]
    for name, agents in results.items():
        best = oracles[name]["best"]
        rows = []
        for agent, runs in agents.items():
            row = [label(agent)]
            for q in CHECKPOINTS:
                values = [at(r["curve"], q) for r in runs]
                done = [v for v in values if v is not None]
                gap = (best - statistics.mean(done)) * 100 if done else None
                row += [mean_sd(values), "–" if gap is None else f"{gap:.2f}"]
            final = [r["curve"][-1] if r["curve"] else None for r in runs]
            row.append(f"{sum(v is not None and v >= best for v in final)}/{len(runs)}")
            props = [r["proposals"] / max(len(r["curve"]), 1) for r in runs]
            row.append(f"{statistics.mean(props):.1f}")
            row.append(f"{statistics.mean(r['wall_s'] for r in runs):.1f}")
            rows.append(row)
        headers = ["agent", "best @300", "gap", "best @1,000", "gap", "optimum", "proposals/query"]
        lines += [
            f"### {SETTINGS[name].label}",
            "",
            md_table([*headers, "wall (s)"], rows),
            "",
        ]
        if SETTINGS[name].device is not None:
            gaps = {
                a: best - statistics.mean(v for v in (at(r["curve"], 300) for r in runs) if v)
                for a, runs in agents.items()
                if a in learning
            }
            winner = min(gaps, key=gaps.get)
            goal["within_0.3"][name] = (winner, gaps[winner] * 100, gaps[winner] * 100 <= 0.3)
        for a in learning:
            if "random" not in agents:
                continue
            mine = [at(r["curve"], CHECKPOINTS[-1]) for r in agents[a]]
            theirs = [at(r["curve"], CHECKPOINTS[-1]) for r in agents["random"]]
            ok = [v for v in mine if v is not None] and [v for v in theirs if v is not None]
            if not ok:
                continue
            m = statistics.mean(v for v in mine if v is not None)
            t = statistics.mean(v for v in theirs if v is not None)
            goal["beats_random"][f"{name}/{a}"] = ((m - t) * 100, p_greater(mine, theirs))
    lines += [
        "## The goals",
        "",
        "1. *The best learning agent's mean best at 300 queries is within 0.3 points of the "
        "constrained optimum on CIFAR-10, under each target:*",
        "",
    ]
    for name, (winner, gap, ok) in goal["within_0.3"].items():
        verdict = "met" if ok else "**not met**"
        lines.append(f"   - {SETTINGS[name].label}: {label(winner)}, {gap:.2f} points: {verdict}.")
    lines += [
        "",
        f"2. *Every learning agent beats random search at {CHECKPOINTS[-1]:,} queries* (mean "
        "best; one-sided Mann–Whitney p over seeds):",
        "",
        md_table(
            ["setting", *[label(a) for a in learning]],
            [
                [
                    SETTINGS[name].label,
                    *[_versus(goal["beats_random"].get(f"{name}/{a}")) for a in learning],
                ]
                for name in results
            ],
        ),
        "",
        "## Figure",
        "",
        f"![best so far]({figure.relative_to(args.doc.parent)})",
        "",
    ]
    return "\n".join(lines), goal


def _versus(entry) -> str:
    if entry is None:
        return "–"
    diff, p = entry
    mark = "beats" if diff > 0 and (p is None or p < 0.05) else "does not beat"
    ptext = "" if p is None else f", p = {p:.3f}"
    return f"{mark} ({diff:+.2f}{ptext})"


MARKER = "<!-- discussion: hand-written below this line; the script keeps it -->"


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    ap.add_argument(
        "--agents",
        nargs="+",
        default=list(AGENTS),
        help=f"agents of {list(AGENTS)}, or variants with other hyperparameters: "
        "NAME:KEY=VALUE[,KEY=VALUE] (e.g. ppo:ent_coef=0.05)",
    )
    ap.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1")
    ap.add_argument("--budget", type=int, default=CHECKPOINTS[-1], help="distinct queries")
    ap.add_argument(
        "--cap", type=int, default=3_000, help="proposals within the target at most per run"
    )
    ap.add_argument(
        "--patience",
        type=int,
        default=500,
        help="stop after this many proposals in a row without a new query (converged)",
    )
    ap.add_argument("--workers", type=int, default=1, help="runs in parallel (one core each)")
    ap.add_argument("--out", default="runs/nb201-benchmark", help="where the runs are kept")
    ap.add_argument("--doc", default=None, help="markdown to write (default: OUT/nb201.md)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 2 seeds, 60 queries")
    ap.add_argument("--targets", action="store_true", help="print the settings' optima, exit")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.budget, args.cap, args.patience = 2, 60, 600, 200
        args.out = args.out + "-quick"
    args.seeds = list(range(args.seeds))
    for agent in args.agents:
        if base(agent) not in AGENTS:
            ap.error(f"unknown agent {base(agent)!r} in {agent!r}; known: {', '.join(AGENTS)}")
    args.doc = Path(args.doc) if args.doc else Path(args.out) / "nb201.md"
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    oracles = {name: SETTINGS[name].oracle() for name in args.settings}
    if args.targets:
        for name, o in oracles.items():
            t = SETTINGS[name].target_s()
            where = "unconstrained" if t is None else f"{SETTINGS[name].device} <= {t * 1e3:.3f} ms"
            print(f"{name}: {where}, {o['feasible']:.1%} of cells; optimum {o['best'] * 100:.3f}")
        return {"oracles": oracles}
    jobs = [
        (s, a, seed, args.budget, args.cap, args.patience, args.out)
        for s in args.settings
        for a in args.agents
        for seed in args.seeds
    ]
    from tqdm.auto import tqdm

    done = []
    if args.workers > 1:
        spawn = get_context("spawn")
        with ProcessPoolExecutor(args.workers, mp_context=spawn, initializer=_one_thread) as pool:
            futures = [pool.submit(run_one, *job) for job in jobs]
            for f in tqdm(futures, desc="nb201 runs", unit="run"):
                done.append(f.result())
    else:
        for job in tqdm(jobs, desc="nb201 runs", unit="run"):
            done.append(run_one(*job))
    results: dict = {s: {a: [] for a in args.agents} for s in args.settings}
    for r in done:
        results[r["setting"]][r["agent"]].append(r)
    img = args.doc.parent / (args.doc.stem + "_figures")
    figure = plot(results, oracles, img / "best_so_far.png", min(args.budget, CHECKPOINTS[-1]))
    text, goal = render(args, results, oracles, figure)
    old = args.doc.read_text() if args.doc.exists() else ""
    tail = old.split(MARKER, 1)[1] if MARKER in old else "\n"
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(text + "\n" + MARKER + tail)
    summary = {"oracles": oracles, "goal": goal, "doc": str(args.doc)}
    print(json.dumps(summary, indent=2, default=str) if args.json else f"wrote {args.doc}")
    return summary


if __name__ == "__main__":
    main()
