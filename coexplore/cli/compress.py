"""``coexplore compress``: ADMM (or magnitude) pruning and quantisation of a model, with its
storage, MACs and FPGA costs (docs/compression.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from coexplore.cli.text import render
from coexplore.data import DATASETS


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    from coexplore.compress.plan import SCHEDULES
    from coexplore.compress.projections import STRUCTURES
    from coexplore.compress.run import METHODS

    p = sub.add_parser(
        "compress",
        help=summary,
        description="Train a model dense, prune it (ADMM or magnitude) to a ratio or a per-layer "
        "plan, retrain with the mask, optionally quantise the kept weights, and report accuracy, "
        "weights, storage (with and without indices), MACs and the FPGA engine's cycles and "
        "energy, dense against compressed. Every stage is kept in --out, so a rerun resumes.",
    )
    p.add_argument(
        "--model",
        default="lenet5",
        help="lenet5 (ADMM-NN's), preset:<name>, or <space>:<canonical> (default: lenet5)",
    )
    p.add_argument("--dataset", default="mnist5k", choices=list(DATASETS))
    p.add_argument(
        "--data-root",
        help="directory of the file-based datasets (mnist, ...); "
        "fashion-mnist defaults to /usr/share/datasets (apt-get install "
        "dataset-fashion-mnist)",
    )
    p.add_argument("--train-subset", type=int, help="train on this many images")
    p.add_argument("--method", choices=METHODS, default="admm")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--prune-ratio",
        type=float,
        metavar="R",
        help="dense / kept weights (with --schedule ops: dense / kept MACs)",
    )
    which.add_argument(
        "--per-layer",
        metavar="FILE",
        help="YAML/JSON: layer -> kept fraction, or -> {keep: f, bits: n}",
    )
    p.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default="size",
        help="how --prune-ratio is spread over the layers (default: size)",
    )
    p.add_argument("--structure", choices=STRUCTURES, default="element")
    p.add_argument("--quantize", action="store_true", help="quantise the kept weights")
    p.add_argument(
        "--bits",
        metavar="N|FILE",
        help="bits per kept weight: one integer, or a YAML/JSON file layer -> bits "
        "(default with --quantize: the per-layer file's bits, else 4)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dense-epochs", type=int, default=20)
    p.add_argument("--prune-epochs", type=int, default=20, help="ADMM (or its equal) epochs")
    p.add_argument("--retrain-epochs", type=int, default=20)
    p.add_argument("--quant-epochs", type=int, default=10, help="ADMM quantisation epochs")
    p.add_argument("--rho", type=float, default=0.1, help="ADMM penalty rho (default: 0.1)")
    p.add_argument(
        "--rho-growth",
        type=float,
        default=1.0,
        help="rho is multiplied by this after each ADMM iteration (default: 1)",
    )
    p.add_argument("--part", default="XC7Z020", help="FPGA part of the engine (default: XC7Z020)")
    p.add_argument("--precision", default="fixed16", help="engine precision (default: fixed16)")
    p.add_argument("--index-bits", type=int, default=4, help="sparse engine: bits per index")
    p.add_argument(
        "--overhead",
        type=float,
        default=1.22,
        help="sparse engine: irregularity overhead (default 1.22: break-even 2.22x)",
    )
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="run directory (default: runs/compress/<model>-<dataset>-s<seed>)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_compress)


def cmd_compress(args: argparse.Namespace) -> int:
    from coexplore.compress.api import CompressRequest, run_request

    request = CompressRequest(
        model=args.model,
        dataset=args.dataset,
        data_root=args.data_root,
        train_subset=args.train_subset,
        method=args.method,
        prune_ratio=args.prune_ratio,
        per_layer=args.per_layer,
        schedule=args.schedule,
        structure=args.structure,
        quantize=args.quantize,
        bits=args.bits,
        seed=args.seed,
        epochs=(args.dense_epochs, args.prune_epochs, args.retrain_epochs, args.quant_epochs),
        rho=args.rho,
        rho_growth=args.rho_growth,
        part=args.part,
        precision=args.precision,
        index_bits=args.index_bits,
        overhead=args.overhead,
        threads=args.threads,
    )
    out = args.out or str(Path("runs", "compress", request.default_dir()))
    log = (lambda _m: None) if args.json else (lambda m: print(m, file=sys.stderr))
    report = run_request(request, out, log=log, progress=not args.json)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    _print(report)
    return 0


def _print(r: dict[str, Any]) -> None:
    print(
        f"{r['model']} on {r['dataset']}, {r['method']}"
        + (" + quantisation" if r["quantize"] else "")
        + f", seed {r['seed']} (run directory {r['run_dir']})"
    )
    rows = [
        [
            ly["name"],
            ly["weights"],
            ly["kept"],
            f"{ly['ratio']:.1f}x",
            ly["bits"],
            f"{ly['break_even']:.2f}x",
            "sparse" if ly["sparse"] else "dense",
            ly["cycles_dense"],
            ly["cycles"],
        ]
        for ly in r["layers"]
    ]
    print(
        render(
            [
                "layer",
                "weights",
                "kept",
                "ratio",
                "bits",
                "break-even",
                "engine",
                "cycles dense",
                "cycles",
            ],
            rows,
        )
    )
    f = r["fpga"]
    summary = [
        ["accuracy (test)", f"{r['dense_acc']:.4f} dense -> {r['acc']:.4f}"],
        [
            "weights",
            f"{r['weights_dense']:,} -> {r['weights_kept']:,} ({r['weight_reduction']:.1f}x)",
        ],
        [
            "storage",
            f"{r['storage_bytes']:,.0f} B ({r['storage_reduction']:.0f}x), with "
            f"indices {r['storage_bytes_with_index']:,.0f} B "
            f"({r['storage_reduction_with_index']:.0f}x)",
        ],
        ["MACs", f"{r['macs_dense']:,} -> {r['macs']:,} ({r['mac_reduction']:.1f}x)"],
        [f"FPGA {f['part']} cycles", f"{f['cycles_dense']:,} -> {f['cycles']:,}"],
        [
            f"FPGA {f['part']} energy",
            f"{f['energy_dense_j'] * 1e6:.1f} -> {f['energy_j'] * 1e6:.1f} uJ",
        ],
        [
            "training",
            f"{r['train_wall_s']:.0f} s"
            + (f" (loaded: {', '.join(r['loaded'])})" if r["loaded"] else ""),
        ],
    ]
    print(render(["", "value"], summary))
