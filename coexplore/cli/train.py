"""``coexplore train``: train one child network on a real dataset and report its accuracy."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from coexplore.cli.text import render
from coexplore.config import ConfigError, load_mapping
from coexplore.core.candidate import Candidate
from coexplore.data import DATASETS, DataConfig
from coexplore.slow.oracles import TrainOracle
from coexplore.slow.trainer import OPTIMIZERS, SCHEDULES, TRAIN_PRECISIONS, TrainConfig
from coexplore.spaces import SPACES, make_space


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    p = sub.add_parser(
        "train",
        help=summary,
        description="Train an architecture (its canonical string, or a file holding it) on a "
        "real dataset and report validation/test accuracy, epochs, wall time, parameters and "
        "MACs. With --cache the result is stored, and a repeated call returns it untrained.",
    )
    p.add_argument("--space", required=True, choices=list(SPACES), help="search space")
    p.add_argument(
        "--arch",
        required=True,
        metavar="ARCH",
        help="canonical string (chain: 'k3f24s1-k5f36s2|flatten'; nb201: "
        "'|nor_conv_3x3~0|+|...|') or a file holding it (text, or YAML/JSON with 'arch')",
    )
    p.add_argument("--dataset", required=True, choices=list(DATASETS), help="dataset")
    p.add_argument("--data-root", help="directory of the file-based datasets (mnist, cifar10…)")
    p.add_argument("--resize", type=int, help="resize images to this side (a fidelity knob)")
    p.add_argument("--train-subset", type=int, help="train on this many images (fidelity)")
    p.add_argument("--epochs", type=int, default=10, help="training epochs (default: 10)")
    p.add_argument("--batch-size", type=int, default=128, help="batch size (default: 128)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd")
    p.add_argument("--lr", type=float, default=0.05, help="learning rate (default: 0.05)")
    p.add_argument("--schedule", choices=SCHEDULES, default="cosine")
    p.add_argument(
        "--precision",
        choices=TRAIN_PRECISIONS,
        default="auto",
        help="auto: bf16 autocast + channels_last where it pays off",
    )
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and training")
    p.add_argument("--cache", metavar="PATH", help="result cache (SQLite) to read and write")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_train)


def read_arch(text: str) -> str:
    """The canonical string itself, or the contents of a file that holds it."""
    path = Path(text)
    if not path.is_file():
        return text
    if path.suffix in (".json", ".yaml", ".yml"):
        data = load_mapping(path)
        if "arch" not in data:
            raise ConfigError(str(path), "arch", "the canonical architecture string")
        return str(data["arch"])
    return path.read_text().strip()


def cmd_train(args: argparse.Namespace) -> int:
    space = make_space(args.space)
    try:
        arch = space.parse(read_arch(args.arch))
    except ValueError as exc:
        raise ConfigError(
            "--arch", "arch", f"an architecture of the {args.space} space", str(exc)
        ) from None
    data = DataConfig(
        args.dataset,
        data_root=args.data_root,
        seed=args.seed,
        resize=args.resize,
        train_subset=args.train_subset,
    )
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        lr=args.lr,
        schedule=args.schedule,
        precision=args.precision,
        threads=args.threads,
    )
    oracle = TrainOracle(data, config, args.cache)
    ev = oracle.evaluate(Candidate(arch, seed=args.seed))
    r = ev.details
    report = {
        "arch": ev.arch,
        "space": args.space,
        "dataset": args.dataset,
        "seed": args.seed,
        "val_acc": ev.val_acc,
        "test_acc": ev.test_acc,
        "epochs": r["epochs"],
        "wall_s": r["wall_s"],
        "diverged": ev.diverged,
        "params": r["params"],
        "macs": r["macs"],
        "precision": r["precision"],
        "device": r["device"],
        "loss_curve": r["loss_curve"],
        "cache_hit": ev.cache_hit,
        "data_key": data.key(),
        "train_config": config.hash(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    ds = oracle.dataset if not ev.cache_hit else None
    shape = f" {ds.input_shape}" if ds is not None else ""
    print(
        f"{ev.arch} on {args.dataset}{shape}, seed {args.seed}"
        + (" (from the cache)" if ev.cache_hit else "")
    )
    rows = [
        ["val_acc", ev.val_acc],
        ["test_acc", ev.test_acc],
        ["epochs", r["epochs"]],
        ["train wall s", r["wall_s"]],
        ["diverged", str(ev.diverged)],
        ["params", r["params"]],
        ["MACs/image", r["macs"]],
        ["precision", f"{r['precision']} on {r['device']}"],
        ["final train loss", r["loss_curve"][-1] if r["loss_curve"] else float("nan")],
    ]
    print(render(["metric", "value"], rows))
    return 0
