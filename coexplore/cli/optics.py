"""``coexplore optics``: train a single- or multi-task D2NN on an optical system, and sweep the
noise of every component on a trained one (docs/optics.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from coexplore.cli.text import render


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    p = sub.add_parser(
        "optics",
        help=summary,
        description="Diffractive optical networks: phase masks separated by free-space "
        "propagation (angular spectrum, band-limited), read out by detector regions; one "
        "system serving several tasks through shared and task-specific layers.",
    )
    cmds = p.add_subparsers(dest="optics_command", required=True, metavar="COMMAND")
    t = cmds.add_parser("train", help="train a D2NN (one task) or a multi-task D2NN")
    t.add_argument(
        "--system", default="slm-visible", help="a preset (slm-visible, lin-thz) or a YAML file"
    )
    t.add_argument("--tasks", default="mnist5k", help="datasets, comma-separated (one per task)")
    t.add_argument(
        "--shared",
        type=int,
        default=None,
        help="shared layers (default: the system's layers, one task; 3, several)",
    )
    t.add_argument(
        "--specific",
        type=int,
        default=None,
        help="task-specific layers per task (default: 0, one task; 2, several)",
    )
    t.add_argument(
        "--task-weight", type=float, default=0.5, help="weight of the first task's loss (two tasks)"
    )
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--lr", type=float, default=0.05)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--train-subset", type=int, default=None, help="training images per task")
    t.add_argument("--test-subset", type=int, default=None, help="test images per task")
    t.add_argument("--data-root", default=None, help="directory of file-based datasets")
    t.add_argument(
        "--noise-aware",
        default=None,
        metavar="KIND=MAX[,KIND=MAX]",
        help="train under noise up to these levels",
    )
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default=None, help="run directory (default: runs/optics/...)")
    t.add_argument("--json", action="store_true", help="print one JSON object")
    t.set_defaults(func=cmd_train)
    n = cmds.add_parser("noise", help="accuracy against the noise level of every component")
    n.add_argument("--run", required=True, help="a run directory of `coexplore optics train`")
    n.add_argument("--kinds", default=None, help="comma-separated kinds (default: all)")
    n.add_argument("--repeats", type=int, default=3, help="noise realisations per level")
    n.add_argument("--json", action="store_true", help="print one JSON object")
    n.set_defaults(func=cmd_noise)


def _levels(text: str | None) -> dict[str, float]:
    if not text:
        return {}
    out = {}
    for item in text.split(","):
        kind, _, value = item.partition("=")
        out[kind.strip()] = float(value)
    return out


def _build(run: dict[str, Any]):
    """The run's network (one task with no specific layers: a single-task D2NN)."""
    from coexplore.optics import MultiTaskD2NN, OpticalSystem

    system = OpticalSystem(**run["system"])
    return MultiTaskD2NN(system, run["tasks"], run["shared"], run["specific"])


def _data(run: dict[str, Any]):
    from coexplore.optics.multitask import load_task

    d = run["data"]
    return {
        t: load_task(t, d["data_root"], d["train_subset"], d["test_subset"], run["seed"])
        for t in run["tasks"]
    }


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from coexplore.data import dataset_shape
    from coexplore.data.config import DataConfig
    from coexplore.optics import OpticalSystem, noise_aware, train_multitask
    from coexplore.optics.multitask import accuracy
    from coexplore.optics.noise import Noise

    system = OpticalSystem.load(args.system)
    names = [t.strip() for t in args.tasks.split(",") if t.strip()]
    several = len(names) > 1
    shared = args.shared if args.shared is not None else (3 if several else system.layers)
    specific = args.specific if args.specific is not None else (2 if several else 0)
    tasks = {t: dataset_shape(DataConfig(t, data_root=args.data_root))[1] for t in names}
    maxima = _levels(args.noise_aware)
    Noise(maxima)  # checks the kinds and levels
    run = {
        "system": system.to_dict(),
        "tasks": tasks,
        "shared": shared,
        "specific": specific,
        "task_weight": args.task_weight,
        "epochs": args.epochs,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "noise_aware": maxima,
        "seed": args.seed,
        "data": {
            "data_root": args.data_root,
            "train_subset": args.train_subset,
            "test_subset": args.test_subset,
        },
    }
    torch.manual_seed(args.seed)
    model = _build(run)
    data = _data(run)
    train_multitask(
        model,
        data,
        task_weight=args.task_weight,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        noise=noise_aware(maxima, args.seed) if maxima else None,
    )
    acc = {t: accuracy(model, data[t].x_test, data[t].y_test, t) for t in names}
    out = Path(args.out or f"runs/optics/{system.name}-{'+'.join(names)}-s{args.seed}")
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "model.pt")
    from coexplore.optics.plots import plot_detectors, plot_masks

    plots = {"masks": str(plot_masks(model, out / "masks.png"))}
    for t in names:
        plots[f"detectors_{t}"] = str(
            plot_detectors(model, data[t].x_test[:4], t, out / f"detectors_{t}.png")
        )
    result = {
        **run,
        "accuracy": acc,
        "hardware_cost": model.hardware_cost(),
        "plots": plots,
        "out": str(out),
    }
    (out / "run.json").write_text(json.dumps(result, indent=2))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        rows = [[t, f"{100 * a:.2f}"] for t, a in acc.items()]
        print(render(["task", "test accuracy (%)"], rows))
        cost = result["hardware_cost"]
        print(", ".join(f"{k}: {v}" for k, v in cost.items()) + f"; run: {out}")
    return 0


def cmd_noise(args: argparse.Namespace) -> int:
    import torch

    from coexplore.config import ConfigError
    from coexplore.optics.multitask import noise_curves
    from coexplore.optics.noise import DEFAULT_LEVELS

    path = Path(args.run) / "run.json"
    if not path.exists():
        raise ConfigError(args.run, "--run", "a run directory of `coexplore optics train`")
    run = json.loads(path.read_text())
    model = _build(run)
    model.load_state_dict(torch.load(Path(args.run) / "model.pt", weights_only=True))
    kinds = [k.strip() for k in args.kinds.split(",")] if args.kinds else list(DEFAULT_LEVELS)
    for k in kinds:
        if k not in DEFAULT_LEVELS:
            raise ConfigError("--kinds", k, f"one of {', '.join(DEFAULT_LEVELS)}")
    curves = noise_curves(model, _data(run), {k: DEFAULT_LEVELS[k] for k in kinds}, args.repeats)
    from coexplore.optics.plots import plot_noise

    figure = plot_noise({"": curves}, Path(args.run) / "noise.png")
    result = {"run": args.run, "accuracy": run["accuracy"], "curves": curves, "plot": str(figure)}
    (Path(args.run) / "noise.json").write_text(json.dumps(result, indent=2))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    rows = []
    for kind, per_task in curves.items():
        for task, curve in per_task.items():
            rows.append(
                [kind, task, *(f"{c['level']:g}: {100 * c['accuracy']:.1f}" for c in curve)]
            )
    print(render(["noise", "task", *[f"level {i}" for i in range(5)]], rows))
    return 0
