"""``coexplore latency``: measure networks on this machine, and score the latency predictor on
networks it never saw, here or on a device of the NAS-Bench-201 tables (docs/latency.md)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from coexplore.cli.text import render
from coexplore.data import SHAPES
from coexplore.latency import CORRECTIONS


def _measure_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="torch threads, pinned to as many cores")
    p.add_argument("--warmup", type=int, default=10, help="untimed passes per instance")
    p.add_argument("--repeats", type=int, default=5, help="timed passes per round")
    p.add_argument(
        "--rounds", type=int, default=10, help="interleaved rounds, a fresh instance each"
    )
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--cache", help="SQLite file of measurements (reused on this device only)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _fit_options(p: argparse.ArgumentParser) -> None:
    """What fitting a predictor takes (fit and evaluate), then the measurement settings."""
    p.add_argument("--dataset", default="mnist5k", choices=sorted(SHAPES), help="input shape")
    p.add_argument("--fit", type=int, default=150, help="networks to fit on (default: 150)")
    p.add_argument("--correction", choices=CORRECTIONS, default="ridge")
    p.add_argument("--seed", type=int, default=0)
    _measure_options(p)


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    p = sub.add_parser(
        "latency",
        help=summary,
        description="Latency of child networks on this machine (measured with pinned threads, "
        "warm-up, interleaved rounds and outlier rejection, a noise figure with every number), "
        "and the latency predictor (per-kernel sum corrected by a model learned on whole "
        "networks) scored with nn-Meter's metric on networks it was not fitted on.",
    )
    cmds = p.add_subparsers(dest="latency_command", required=True, metavar="COMMAND")
    m = cmds.add_parser("measure", help="measure architectures of a space on this machine")
    m.add_argument("--space", default="chain", help="chain, ibn or nb201 (default: chain)")
    m.add_argument("--dataset", default="mnist5k", choices=sorted(SHAPES), help="input shape")
    m.add_argument("arch", nargs="*", help="canonical strings (default: --samples random ones)")
    m.add_argument("--samples", type=int, default=5)
    m.add_argument("--seed", type=int, default=0)
    _measure_options(m)
    m.set_defaults(func=cmd_measure)

    f = cmds.add_parser(
        "fit",
        help="measure networks of a space here and write a predictor file",
        description="Sample --fit distinct architectures of --space, measure them and their "
        "layer kernels on this machine, fit the predictor and write it to --out (the "
        "predicted platform family reads it: hardware: {family: predicted, predictor: FILE}).",
    )
    f.add_argument("--space", default="chain", help="chain or ibn (default: chain)")
    f.add_argument(
        "--env",
        help="take the space and input shape from this scenario instead of --space/--dataset",
    )
    f.add_argument("--out", required=True, help="the predictor file to write")
    f.add_argument(
        "--all-kernels",
        action="store_true",
        help="also measure every kernel of the whole space (small spaces), so that searching "
        "it never measures (hardware.measure_new_kernels: false) and predictions repeat",
    )
    _fit_options(f)
    f.set_defaults(func=cmd_fit)

    e = cmds.add_parser(
        "evaluate",
        help="fit the predictor on some networks and score it on others",
        description="On this machine (--space): sample --fit + --test distinct architectures, "
        "measure them and their layer kernels, fit on the first --fit, score on the rest. On "
        "a NAS-Bench-201 device table (--table DEVICE): fit on --fit random cells, score on "
        "all others.",
    )
    which = e.add_mutually_exclusive_group(required=True)
    which.add_argument("--space", help="measure here: chain or ibn")
    which.add_argument("--table", metavar="DEVICE", help="a built-in device (coexplore platforms)")
    e.add_argument("--test", type=int, default=150, help="networks to score (--space only)")
    _fit_options(e)
    e.set_defaults(func=cmd_evaluate)


def _config(args: argparse.Namespace):
    from coexplore.latency.measure import MeasureConfig

    return MeasureConfig.of(args)


def cmd_measure(args: argparse.Namespace) -> int:
    from coexplore.latency.device import fingerprint
    from coexplore.latency.experiment import sample_distinct
    from coexplore.latency.lab import Lab
    from coexplore.spaces import make_space

    space = make_space(args.space)
    shape, classes = SHAPES[args.dataset]
    if args.arch:
        archs = [space.parse(a) for a in args.arch]
    else:
        archs = sample_distinct(space, args.samples, args.seed, shape[1])
    lab = Lab(_config(args), args.cache)
    measured = lab.networks(archs, shape, classes, progress=not args.json)
    out = {
        "device": fingerprint(args.device),
        "settings": lab.config.key(),
        "networks": [{"arch": a.canonical, **measured[a.canonical].to_dict()} for a in archs],
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    rows = [
        [n["arch"], n["median_s"] * 1e3, f"{n['noise']:.1%}", f"{n['round_spread']:.1%}"]
        for n in out["networks"]
    ]
    print(render(["architecture", "median ms", "noise", "round spread"], rows))
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    from coexplore.latency.device_predictor import fit_device_predictor
    from coexplore.latency.lab import Lab
    from coexplore.spaces import make_space

    if args.env:
        from coexplore.data import dataset_shape
        from coexplore.scenario import get_scenario

        scenario = get_scenario(args.env)
        space, (shape, classes) = scenario.space, dataset_shape(scenario.data)
    else:
        space, (shape, classes) = make_space(args.space), SHAPES[args.dataset]
    lab = Lab(_config(args), args.cache)
    model = fit_device_predictor(
        space, shape, classes, args.fit, lab, args.seed, args.correction, progress=not args.json
    )
    if args.all_kernels:
        model.learn_space(space, classes, lab, progress=not args.json)
    model.save(args.out)
    out = {
        "out": args.out,
        "space": model.space,
        "input_shape": list(model.input_shape),
        "n_fit": model.predictor.n_fit,
        "kernels": len(model.kernels),
        "rel_sd": model.predictor.rel_sd,
        "device": model.device,
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(
            f"wrote {args.out}: {out['n_fit']} networks, {out['kernels']} kernels, "
            f"cross-validated relative error sd {out['rel_sd']:.1%}"
        )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from coexplore.latency.experiment import device_experiment, table_experiment

    if args.table:
        result: dict[str, Any] = table_experiment(args.table, args.fit, args.seed, args.correction)
    else:
        from coexplore.latency.lab import Lab
        from coexplore.spaces import make_space

        shape, classes = SHAPES[args.dataset]
        lab = Lab(_config(args), args.cache)
        result = device_experiment(
            make_space(args.space),
            shape,
            classes,
            args.fit,
            args.test,
            lab,
            seed=args.seed,
            correction=args.correction,
            progress=not args.json,
        )
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    rows = [
        [k, f"{result[k]:.1%}" if k.startswith("within") else result[k]]
        for k in ("within_5pct", "within_10pct", "rmse_ms", "spearman", "n_fit", "n_test")
    ]
    print(render(["metric", "value"], rows))
    return 0
