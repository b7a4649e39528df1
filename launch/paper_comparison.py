"""Reproduce the co-exploration paper's comparison and write its section of docs/results.md.

Runs the five methods of :mod:`coexplore.search.comparison` (co-exploration, hardware-aware NAS
on fixed hardware, NAS then hardware, random search with pruning, co-exploration without
pruning) on one scenario, with equal budgets (candidates proposed) and the same seeds, then
writes the scenario's section of a markdown report (tables, overlaid Pareto fronts and
best-so-far curves as PNG, the paper's claims beside ours) between the markers
``<!-- begin: ENV -->`` and ``<!-- end: ENV -->``; the rest of the file is kept. An
interrupted grid continues where it stopped.

    # the published results: mnist5k-fpga, 3 seeds, 60 candidates a run: ~30 min on 2 CPU cores
    .venv/bin/python launch/paper_comparison.py --doc docs/results.md
    # with real CIFAR-10 accuracies (NAS-Bench-201's table, no training): nb201-fpga
    .venv/bin/python launch/paper_comparison.py --env nb201-fpga --fidelity none \\
        --seeds 0 1 2 3 4 5 6 7 8 9 --episodes 300 --doc docs/results.md
    # a smoke test (digits-fpga, tiny budget, ~1 min)
    .venv/bin/python launch/paper_comparison.py --quick
    # the paper's setting, for users with CIFAR-10 files and a GPU
    .venv/bin/python launch/paper_comparison.py --env cifar10-fpga --set data.data_root=DIR \\
        --episodes 300 --fidelity none --doc runs/paper-cifar10/results.md
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
from pathlib import Path

from coexplore.core.metrics import axis_label
from coexplore.data import dataset_shape
from coexplore.figures import new_figure, save_figure
from coexplore.scenario import get_scenario, scenario_from_dict
from coexplore.search.comparison import (
    at_accuracy,
    best_so_far,
    design_hardware,
    design_in_order,
    measure,
    methods,
    reached,
    trained,
)
from coexplore.search.pareto import pareto_front
from coexplore.search.runlog import best_candidate, read_records, read_run
from coexplore.search.runner import SearchConfig, ensure_run
from coexplore.search.tracking import WandbConfig

# The network the fixed hardware is designed for, per search space: the chain space's default
# network (docs/search-spaces.md#chain); for NAS-Bench-201 its ResNet cell (Dong & Yang 2020).
REFERENCES = {
    "chain": "k3f24s1-k3f36s1-k3f48s2-k3f48s1-k3f64s2-k3f64s1|flatten",
    "nb201": "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|",
}
FIDELITY = ("slow_phase.train.epochs=2",)  # what fits 5 methods x 3 seeds in an hour on 2 cores
COLORS = {
    "coexplore": "tab:red",
    "hw-nas-fixed": "tab:blue",
    "sequential": "tab:green",
    "random": "tab:gray",
    "no-pruning": "tab:orange",
}


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="mnist5k-fpga", help="scenario name or file")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--episodes", type=int, default=60, help="candidates per run (the budget)")
    ap.add_argument("--agent", default="reinforce-paper", help="controller of the learning methods")
    ap.add_argument(
        "--reference", default=None, help="network the fixed hardware is for (default: per space)"
    )
    ap.add_argument(
        "--fidelity",
        default=",".join(FIDELITY),
        help="comma-separated scenario overrides for every run ('none' for the scenario's own)",
    )
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument(
        "--target",
        type=float,
        help="accuracy target (default: the lowest of the methods' mean best accuracy)",
    )
    ap.add_argument("--out", default=None, help="root of the run dirs (default: runs/paper-ENV)")
    ap.add_argument("--doc", default=None, help="markdown to write (default: OUT/results.md)")
    ap.add_argument("--quick", action="store_true", help="smoke test: digits-fpga, tiny budget")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    if args.quick:
        args.env, args.seeds, args.episodes = "digits-fpga", [0, 1], 6
        args.fidelity = "slow_phase.train.epochs=1"
    args.fidelity = () if args.fidelity == "none" else tuple(args.fidelity.split(","))
    if args.reference is None:
        args.reference = REFERENCES[get_scenario(args.env).space.name]
    stem = Path(args.env).stem + ("-quick" if args.quick else "")
    args.stem = stem
    args.out = Path(args.out or f"runs/paper-{stem}")
    args.doc = Path(args.doc) if args.doc else args.out / "results.md"
    return args


def run_method(method, seed: int, args) -> dict:
    """One run, its records with hardware (designed afterwards for the sequential method), the
    method's best design and the time it took to get it."""
    out = args.out / f"{method.name}-s{seed}"
    cfg = SearchConfig(
        env=args.env,
        agent=method.agent,
        episodes=args.episodes,
        seed=seed,
        out=str(out),
        overrides=tuple(args.fidelity) + tuple(args.overrides) + method.overrides,
        wandb=WandbConfig(mode="disabled"),
    )
    ensure_run(cfg, progress=not args.quiet, report=False)
    records = read_records(out)
    if method.name != "sequential":
        return {"records": records, "best": best_candidate(records), "extra_s": 0.0}
    meta = read_run(out)
    scenario = scenario_from_dict(meta["scenario_data"], meta["scenario_source"])
    shape, classes = dataset_shape(scenario.data)
    designed = [design_hardware(r, scenario, shape, classes) for r in records]
    chosen = design_in_order(records, designed)
    return {
        "records": designed,
        "best": chosen["best"],
        "extra_s": chosen["design_s"],
        "designs": chosen["designs"],
    }


def common_accuracy(runs: dict) -> float:
    """The default target: the lowest of the methods' mean best accuracy within specs, a level
    every method reaches on average (runs without any design within specs count as 0)."""
    return min(
        statistics.mean(r["best"].val_acc if r["best"] else 0.0 for r in seeds)
        for seeds in runs.values()
    )


def time_to_target(name: str, run: dict, target: float) -> dict | None:
    if name != "sequential":
        return reached(run["records"], target)
    best = run["best"]  # known only after all trainings and the designs in accuracy order
    if best is None or best.val_acc < target:
        return None
    records = run["records"]
    return {
        "trainings": sum(trained(records)),
        "wall_s": max(r.wall_s for r in records) + run["extra_s"],
    }


def mean_sd(values, fmt: str) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{format(statistics.mean(values), fmt)} ± {format(sd, fmt)}"


def mean(values):
    values = [v for v in values if v is not None]
    return statistics.mean(values) if values else None


def plot_fronts(runs: dict, path: Path, labels: dict, floor: float) -> Path:
    """Accuracy vs throughput fronts, each method's runs pooled over seeds, above ``floor``
    (the fronts of accuracy-blind designs run down to chance accuracy)."""
    fig, ax = new_figure()
    for name, seeds in runs.items():
        ok = [r for run in seeds for r in run["records"] if r.feasible]
        if not ok:
            continue
        pts = [(r.metrics.throughput_fps, r.val_acc) for r in ok]
        front = [pts[i] for i in pareto_front(pts)]
        ax.scatter(*zip(*pts, strict=True), s=8, alpha=0.25, color=COLORS[name])
        ax.step(
            *zip(*front, strict=True),
            where="post",
            marker="o",
            ms=4,
            color=COLORS[name],
            label=labels[name],
        )
    ax.set_ylim(floor, None)
    ax.set_xlabel(axis_label("throughput_fps"))
    ax.set_ylabel("validation accuracy")
    ax.set_title("Pareto fronts within specs (all seeds pooled)")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_best_so_far(runs: dict, path: Path, labels: dict, target: float) -> Path:
    fig, axes = new_figure(ncols=2, width=11.0, height=4.2)
    for name, seeds in runs.items():
        for k, run in enumerate(seeds):
            curve = best_so_far(run["records"])
            if name == "sequential":  # its designs exist only after the last training
                last = max(r.wall_s for r in run["records"]) + run["extra_s"]
                b = run["best"].val_acc if run["best"] else float("nan")
                curve = [(curve[-1][0], last, b)] if curve else []
            if not curve:
                continue
            t, w, b = zip(*curve, strict=True)
            for ax, x in zip(axes, (t, w), strict=True):
                ax.step(
                    x,
                    b,
                    where="post",
                    color=COLORS[name],
                    alpha=0.8,
                    marker="o" if name == "sequential" else None,
                    label=labels[name] if k == 0 else None,
                )
    for ax, xl in zip(axes, ("trainings", "search wall time (s)"), strict=True):
        ax.axhline(target, color="k", ls=":", lw=1)
        ax.set_xlabel(xl)
        ax.set_ylabel("best validation accuracy within specs")
    axes[0].legend(fontsize=8)
    fig.suptitle("Best so far, one line per seed (dotted: the target)")
    return save_figure(fig, path)


def claims(figures: dict) -> list[tuple[str, str, str, str]]:
    """(claim, paper, ours, reproduced?) of the paper's headline against HW-aware NAS."""
    co, hw, nop = figures["coexplore"], figures["hw-nas-fixed"], figures["no-pruning"]

    def ratio(a, b):
        return None if a is None or b is None or b == 0 else a / b

    thr = ratio(mean(co["fps_at_target"]), mean(hw["fps_at_target"]))
    eff = ratio(mean(co["gops_per_w_at_target"]), mean(hw["gops_per_w_at_target"]))
    acc = None
    if mean(co["best_val_acc"]) is not None and mean(hw["best_val_acc"]) is not None:
        acc = mean(co["best_val_acc"]) - mean(hw["best_val_acc"])
    t_hw = ratio(mean(hw["wall_to_target"]), mean(co["wall_to_target"]))
    t_np = ratio(mean(nop["wall_s"]), mean(co["wall_s"]))

    def pct(x):
        return "–" if x is None else f"{(x - 1) * 100:+.1f}%"

    def yes(cond):
        return "–" if cond is None else ("yes" if cond else "no")

    return [
        (
            "accuracy of the best design within specs",
            "the same (ImageNet)",
            "–" if acc is None else f"{acc * 100:+.2f} points",
            yes(None if acc is None else acc >= -0.01),  # not worse by more than 1 point
        ),
        (
            "throughput at the target accuracy",
            "+35.24%",
            pct(thr),
            yes(None if thr is None else thr > 1),
        ),
        (
            "energy efficiency (GOPS/W) at the target accuracy",
            "+54.05%",
            pct(eff),
            yes(None if eff is None else eff > 1),
        ),
        (
            "search time to the target vs HW-aware NAS",
            "136× less",
            "–" if t_hw is None else f"{t_hw:.2f}× less",
            yes(None if t_hw is None else t_hw > 1),
        ),
        (
            "search time vs training every candidate",
            "(source of the 136×)",
            "–" if t_np is None else f"{t_np:.2f}× less",
            yes(None if t_np is None else t_np > 1),
        ),
    ]


def render(args, labels, figures, target, files, fixed, scenario) -> str:
    cmd = "python launch/paper_comparison.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    lines = [
        f"## Scenario `{args.env}`: {scenario.description}",
        "",
        f"Generated by `{cmd.strip()}` (see the script's docstring).",
        "",
        f"- Scenario `{args.env}`; overrides for every run: "
        f"`{', '.join(args.fidelity + tuple(args.overrides)) or 'none'}`.",
        f"- Budget: **{args.episodes} candidates proposed per run**, seeds {args.seeds}; "
        f"controller `{args.agent}` for the learning methods; mean ± sd over seeds.",
        f"- Fixed hardware of the HW-aware NAS baseline: tuned for `{args.reference}`: {fixed}.",
        f"- Target accuracy: **{target:.4f}** (validation, within specs; by default the lowest of "
        "the methods' mean best accuracy: a level every method reaches on average).",
        "- Mean ± sd over seeds; a run with no design at the target is left out of a mean.",
        *_table_note(scenario),
        "",
        "**The best design within specs** (highest validation accuracy) of each run, and the "
        "hypervolume of the accuracy × throughput front:",
        "",
        "| method | best val acc | its test acc | throughput (fps) | GOPS/W | energy (mJ/img) "
        "| hypervolume (acc × fps) |",
        "|" + "---|" * 7,
    ]
    for name, f in figures.items():
        lines.append(
            f"| {labels[name]} | {mean_sd(f['best_val_acc'], '.4f')} "
            f"| {mean_sd(f['best_test_acc'], '.4f')} | {mean_sd(f['throughput_fps'], ',.0f')} "
            f"| {mean_sd(f['gops_per_w'], '.2f')} | {mean_sd(f['energy_mj'], '.4f')} "
            f"| {mean_sd(f['hypervolume'], ',.0f')} |"
        )
    lines += [
        "",
        f"**At the target accuracy ({target:.4f})**: the fastest and the most energy-efficient "
        "design within specs whose network reaches it, and what the search spent:",
        "",
        "| method | throughput at target (fps) | GOPS/W at target | reached | trainings to target "
        "| wall to target (s) | trainings | pruned | wall (s) |",
        "|" + "---|" * 9,
    ]
    for name, f in figures.items():
        n_reach = sum(v is not None for v in f["wall_to_target"])
        lines.append(
            f"| {labels[name]} | {mean_sd(f['fps_at_target'], ',.0f')} "
            f"| {mean_sd(f['gops_per_w_at_target'], '.2f')} | {n_reach}/{len(f['wall_s'])} "
            f"| {mean_sd(f['trainings_to_target'], '.1f')} "
            f"| {mean_sd(f['wall_to_target'], ',.0f')} | {mean_sd(f['trainings'], '.1f')} "
            f"| {mean_sd(f['pruned'], '.1f')} | {mean_sd(f['wall_s'], ',.0f')} |"
        )
    lines += [
        "",
        "Wall time is the search's own (fast + slow phase); for *NAS, then hardware* it adds the "
        "hardware designs made in order of accuracy after the last training, and its target can "
        "only be reached then. Best designs per run:",
        "",
        "| method | seed | best network | FPGAs | val acc | throughput (fps) | GOPS/W |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, f in figures.items():
        for seed, arch, parts, acc, fps, eff in zip(
            args.seeds,
            f["best_arch"],
            f["best_parts"],
            f["best_val_acc"],
            f["throughput_fps"],
            f["gops_per_w"],
            strict=True,
        ):
            if arch is None:
                lines.append(f"| {labels[name]} | {seed} | none within specs | | | | |")
            else:
                arch = arch.replace("|", "\\|")  # NB201 strings hold the table's separator
                lines.append(
                    f"| {labels[name]} | {seed} | `{arch}` | {'+'.join(parts)} | {acc:.4f} "
                    f"| {fps:,.0f} | {eff:.2f} |"
                )
    lines += [
        "",
        "### The paper's claims beside ours",
        "",
        "| claim (co-exploration vs HW-aware NAS) | paper | here | same direction |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in claims(figures)],
        "",
        "### Figures",
        "",
        *[f"![{p.stem}]({p.relative_to(args.doc.parent)})" for p in files],
        "",
    ]
    return "\n".join(lines)


def _table_note(scenario) -> list[str]:
    """What a table oracle changes in the reading: no training, one accuracy per network."""
    if scenario.slow_phase.oracle != "table":
        return []
    return [
        f"- Accuracies are looked up in `{scenario.slow_phase.table}` (no training): where the "
        "table has only test accuracy (NAS-Bench-201), *val acc* and *test acc* are the same "
        "number, the search's signal. Wall time is then the fast phase and the search alone; "
        "what pruning saves shows in the trainings (table lookups) it avoids.",
    ]


def write_section(doc: Path, env: str, text: str) -> None:
    """Put ``text`` between ``env``'s markers in ``doc`` (appended when it has none yet),
    keeping everything else in the file."""
    begin = f"<!-- begin: {env} (generated by launch/paper_comparison.py; edits are lost) -->"
    end = f"<!-- end: {env} -->"
    old = doc.read_text() if doc.exists() else "# Co-exploration against its baselines\n"
    head, found, rest = old.partition(f"<!-- begin: {env} ")
    if found:
        _, _, tail = rest.partition(end)
    else:
        head, tail = old.rstrip("\n") + "\n\n", "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(f"{head}{begin}\n\n{text}\n{end}{tail}")


def main(argv=None) -> dict:
    args = parse_args(argv)
    ms = methods(args.reference, args.agent)
    labels = {name: m.label for name, m in ms.items()}
    runs = {name: [run_method(m, seed, args) for seed in args.seeds] for name, m in ms.items()}
    target = args.target if args.target is not None else common_accuracy(runs)
    figures = {}
    for name, seeds in runs.items():
        rows = []
        for run in seeds:
            f = measure(run["records"], run["best"])
            f["wall_s"] += run["extra_s"]
            # the sequential flow delivers one design: the first that met the specs
            designs = [run["best"]] if name == "sequential" and run["best"] else run["records"]
            f.update(at_accuracy(designs, target))
            hit = time_to_target(name, run, target)
            f["trainings_to_target"] = None if hit is None else hit["trainings"]
            f["wall_to_target"] = None if hit is None else hit["wall_s"]
            rows.append(f)
        figures[name] = {k: [r[k] for r in rows] for k in rows[0]}
    meta = read_run(args.out / f"hw-nas-fixed-s{args.seeds[0]}")
    scenario = scenario_from_dict(meta["scenario_data"], meta["scenario_source"])
    fixed_run = runs["hw-nas-fixed"][0]["records"]
    hw = next((r.hardware for r in fixed_run if r.hardware), None)
    fixed = (
        "–"
        if hw is None
        else " → ".join(
            f"{s['part']} (layers {s['layers'][0]}–{s['layers'][-1]}, "
            f"<Tm,Tn,Tr,Tc> = <{s['design']['tm']},{s['design']['tn']},{s['design']['tr']},"
            f"{s['design']['tc']}>)"
            for s in hw["stages"]
        )
    )
    fixed += f"; specs {scenario.specs.to_dict()}"
    img = args.doc.parent / (args.doc.stem + "_figures")
    img.mkdir(parents=True, exist_ok=True)
    env = args.stem  # the scenario's name (-quick for --quick)
    floor = max(0.0, target - 0.1)
    files = [
        plot_fronts(runs, img / f"{env}_pareto_fronts.png", labels, floor=floor),
        plot_best_so_far(runs, img / f"{env}_best_so_far.png", labels, target),
    ]
    write_section(args.doc, env, render(args, labels, figures, target, files, fixed, scenario))
    result = {"target": target, "figures": figures, "doc": str(args.doc), "claims": claims(figures)}
    if args.json:
        print(json.dumps(result, indent=2, default=float))
    else:
        print(f"wrote {args.doc}")
    return result


if __name__ == "__main__":
    main()
