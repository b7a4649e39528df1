"""``coexplore hw``: the FPGA catalogue, design evaluation and design tuning."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from coexplore.cli.text import render
from coexplore.config import ConfigError
from coexplore.core.specs import Specs
from coexplore.platforms.fpga_pipeline.fast_phase import metrics_from_pipeline
from coexplore.platforms.fpga_pipeline.parts import PARTS, get_part
from coexplore.platforms.fpga_pipeline.pipeline import (
    HardwareDesign,
    PipelineMetrics,
    evaluate_pipeline,
    read_design_file,
)
from coexplore.platforms.fpga_pipeline.precision import PRECISIONS
from coexplore.platforms.fpga_pipeline.sparse import read_compression_file
from coexplore.platforms.fpga_pipeline.tuning.pipeline import DEFAULT_BUDGET, tune_pipeline
from coexplore.platforms.fpga_pipeline.tuning.tuners import TUNERS
from coexplore.workloads import PRESETS, Network, load_network


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    hw = sub.add_parser(
        "hw",
        help=summary,
        description="Analytical FPGA models (Zhang et al. FPGA'15 engines in a multi-FPGA "
        "pipeline): list the part catalogue, evaluate a hardware design on a network, or "
        "tune the engine designs and the layer partition for the highest throughput.",
    )
    cmds = hw.add_subparsers(dest="hw_command", required=True, metavar="COMMAND")

    parts = cmds.add_parser("parts", help="list the FPGA part catalogue")
    parts.add_argument("--json", action="store_true", help="print one JSON object")
    parts.set_defaults(func=cmd_parts)

    net_help = f"a preset ({', '.join(PRESETS)}) or a network file (YAML/JSON)"
    ev = cmds.add_parser(
        "evaluate",
        help="evaluate a hardware design file on a network",
        description="Evaluate a hardware design (the 'hardware' object that `hw tune --json` "
        "prints, or a file with precision and stages) and report every metric and budget.",
    )
    ev.add_argument("--net", required=True, metavar="NET", help=net_help)
    ev.add_argument("--design", required=True, metavar="FILE", help="hardware design YAML/JSON")
    ev.add_argument(
        "--compression",
        metavar="FILE",
        help="a compressed network: YAML/JSON {density: {layer: f}, weight_bits: {layer: n}, "
        "index_bits, overhead}, or a `coexplore compress --json` report; each layer then runs "
        "on the sparse engine where that is not slower",
    )
    _add_specs(ev)
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.set_defaults(func=cmd_evaluate)

    tune = cmds.add_parser(
        "tune",
        help="tune engine designs (and the partition) for a network on a list of parts",
        description="Find the engine design of every pipeline stage that maximises throughput "
        "within every budget (tie-break: energy per image), on the parts given in pipeline "
        "order; with --partition auto also the best contiguous split of the layers.",
    )
    tune.add_argument("--net", required=True, metavar="NET", help=net_help)
    tune.add_argument(
        "--parts", required=True, metavar="P1,P2,...", help="parts in pipeline order, one per stage"
    )
    tune.add_argument(
        "--partition",
        default="auto",
        metavar="auto|i,j,...",
        help="'auto' searches the split; otherwise the layer indices where stages 2, 3, ... "
        "start (default: auto)",
    )
    tune.add_argument(
        "--tuner",
        default="auto",
        choices=list(TUNERS),
        help="design tuner (default: auto: exact wherever that is cheaper than tpe)",
    )
    tune.add_argument(
        "--budget",
        type=int,
        default=DEFAULT_BUDGET,
        help=f"tpe/random: distinct tilings tried per stage problem (default: {DEFAULT_BUDGET})",
    )
    tune.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    tune.add_argument(
        "--precision",
        default="fixed16",
        choices=list(PRECISIONS),
        help="arithmetic of every engine (default: fixed16)",
    )
    tune.add_argument(
        "--link-gbps",
        type=float,
        default=None,
        help="inter-FPGA link in Gb/s (default: the slower board's link)",
    )
    _add_specs(tune)
    tune.add_argument("--out", metavar="FILE", help="also write the tuned design to FILE (JSON)")
    tune.add_argument("--json", action="store_true", help="print one JSON object")
    tune.set_defaults(func=cmd_tune)


def _add_specs(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("specs (optional; failures are reported, not fatal)")
    g.add_argument("--min-fps", type=float, help="minimum throughput, images/s")
    g.add_argument("--max-latency-ms", type=float, help="maximum latency, ms")
    g.add_argument("--max-energy-mj", type=float, help="maximum energy per image, mJ")
    g.add_argument("--max-fpgas", type=int, help="maximum number of FPGAs")


def _specs(args: argparse.Namespace) -> Specs:
    legacy = {
        "min_throughput_fps": args.min_fps,
        "max_latency_ms": args.max_latency_ms,
        "max_energy_mj": args.max_energy_mj,
        "max_fpgas": args.max_fpgas,
    }
    return Specs.from_config(legacy, "hw")


def cmd_parts(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps({"parts": [p.to_dict() for _, p in PARTS.items()]}, indent=2))
        return 0
    rows = [
        [
            p.name,
            p.family,
            p.board,
            p.dsp,
            p.bram18k,
            p.lut,
            p.clock_mhz,
            p.dram_gbps,
            p.dram_bits_per_cycle,
            p.link_gbps,
            p.static_w,
        ]
        for _, p in PARTS.items()
    ]
    print(
        render(
            [
                "part",
                "family",
                "board",
                "DSP",
                "BRAM18K",
                "LUT",
                "MHz",
                "DRAM GB/s",
                "bits/cycle",
                "link Gb/s",
                "static W",
            ],
            rows,
        )
    )
    estimated = sorted({f for _, p in PARTS.items() for f in p.estimates()})
    print(f"\nEstimates (marked in each part file's sources): {', '.join(estimated)}.")
    print("Sources: `coexplore hw parts --json`. Add a part: --part-file FILE.yaml.")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    network = load_network(args.net)
    compression = None
    if args.compression:
        compression = read_compression_file(args.compression, network)
    hardware = read_design_file(args.design, network)
    metrics = evaluate_pipeline(network, hardware, compression)
    report = _report(network, hardware, metrics, _specs(args))
    if compression is not None:
        report["compression"] = compression.to_dict()
    _emit(args, report, network, hardware, metrics, header="evaluated")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    network = load_network(args.net)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not parts:
        raise ConfigError("--parts", "parts", "a comma-separated list of part names")
    for p in parts:
        get_part(p)
    if args.partition == "auto":
        cuts = None
    else:
        try:
            cuts = [int(x) for x in args.partition.split(",") if x.strip()]
        except ValueError:
            raise ConfigError(
                "--partition", "partition", "'auto' or layer indices like 3,7", args.partition
            ) from None
    result = tune_pipeline(
        network,
        parts,
        cuts,
        link=args.link_gbps,
        precision=args.precision,
        tuner=args.tuner,
        budget=args.budget,
        seed=args.seed,
        progress=not args.json and sys.stderr.isatty(),
    )
    report = _report(network, result.hardware, result.metrics, _specs(args))
    report.update(
        tuner=result.tuner,
        method=result.method,
        evaluations=result.evaluations,
        stage_tunes=result.stage_tunes,
        wall_s=result.wall_s,
        seed=args.seed,
    )
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result.hardware.to_dict(), fh, indent=2)
    header = (
        f"tuned with {result.tuner}"
        + (" (solved exactly)" if result.method == "exact" and result.tuner != "exhaustive" else "")
        + f": {result.evaluations:,} designs evaluated over "
        f"{result.stage_tunes} stage problems in {result.wall_s:.1f} s"
    )
    _emit(args, report, network, result.hardware, result.metrics, header=header)
    return 0


def _report(
    network: Network, hardware: HardwareDesign, metrics: PipelineMetrics, specs: Specs
) -> dict[str, Any]:
    return {
        "network": network.name,
        "gop_per_image": network.ops / 1e9,
        **metrics.to_dict(),
        "specs": specs.to_dict(),
        "spec_violations": [f.to_dict() for f in specs.check(metrics_from_pipeline(metrics))],
        "hardware": hardware.to_dict(),
    }


def _emit(
    args, report, network: Network, hardware: HardwareDesign, metrics: PipelineMetrics, header: str
) -> None:
    if args.json:
        print(json.dumps(report, indent=2, default=float))
        return
    chain = " -> ".join(s.part for s in hardware.stages)
    print(
        f"{network.name} ({network.ops / 1e9:.4g} GOP/image) on {chain}, {hardware.precision}; "
        f"{header}"
    )
    status = "valid" if metrics.valid else "INVALID (over budget)"
    print(
        f"throughput {metrics.throughput_fps:,.1f} images/s | latency {metrics.latency_ms:.4g} ms"
        f" | energy {metrics.energy_mj:.4g} mJ/image | {metrics.gops_per_w:.3g} GOPS/W"
        f" | pipeline efficiency {metrics.pipeline_efficiency:.2f} | {status}\n"
    )
    rows = []
    for i, s in enumerate(metrics.stages):
        d = s.design
        rows.append(
            [
                i,
                s.part,
                f"{s.layers[0]}-{s.layers[-1]}",
                d.tm,
                d.tn,
                d.tr,
                d.tc,
                d.ib,
                d.wb,
                d.ob,
                f"{s.dsp_used} ({s.dsp_util:.0%})",
                f"{s.bram18k_used} ({s.bram_util:.0%})",
                s.cycles,
                s.time_s * 1e3,
                s.bottleneck + (" <- pipeline bottleneck" if i == metrics.bottleneck_stage else ""),
            ]
        )
    print(
        render(
            [
                "stage",
                "part",
                "layers",
                "Tm",
                "Tn",
                "Tr",
                "Tc",
                "Ib",
                "Wb",
                "Ob",
                "DSP",
                "BRAM18K",
                "cycles",
                "ms",
                "bottleneck",
            ],
            rows,
        )
    )
    if metrics.transfer_ms:
        print(
            "transfers between stages (ms): " + ", ".join(f"{x:.4g}" for x in metrics.transfer_ms)
        )
    rows = []
    for i, s in enumerate(metrics.stages):
        for j, idx in enumerate(s.layers):
            ly = network.layers[idx]
            rows.append(
                [
                    idx,
                    ly.name,
                    ly.kind.value,
                    i,
                    ly.macs,
                    s.layer_cycles[j],
                    ly.macs / s.layer_cycles[j] if ly.macs else 0.0,
                    s.layer_bottleneck[j],
                ]
            )
    print()
    print(
        render(
            ["layer", "name", "kind", "stage", "MACs", "cycles", "MACs/cycle", "bottleneck"], rows
        )
    )
    for v in metrics.violations:
        print(f"over budget: stage {v['stage']} {v['budget']} {v['used']} > {v['available']}")
    for v in report["spec_violations"]:
        print(f"spec failed: {v['reason']} ({v['miss_ratio']:.1%} off)")
