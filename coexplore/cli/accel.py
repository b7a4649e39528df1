"""``coexplore accel``: spatial accelerator templates, evaluating mappings, co-design search."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from coexplore.cli.text import render
from coexplore.config import ConfigError
from coexplore.platforms.spatial.network import DEFAULT_MAPPER_BUDGET
from coexplore.workloads import PRESETS
from coexplore.workloads.suites import WORKLOADS

CODESIGN_ENV = "eyeriss-codesign"  # coexplore.search.codesign's, without importing it here
NETS = (
    f"a workload ({', '.join(WORKLOADS)}), a network preset ({', '.join(PRESETS)}) "
    "or a network file"
)


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    accel = sub.add_parser(
        "accel",
        help=summary,
        description="Spatial accelerators (a PE array with scratchpads, a global buffer, DRAM) "
        "and the loop mapping of every layer: list the templates, evaluate a network on given "
        "mappings, or search hardware parameters and mappings together under the template's "
        "silicon budget (constrained Bayesian optimisation and baselines). Model: docs/spatial.md.",
    )
    cmds = accel.add_subparsers(dest="accel_command", required=True, metavar="COMMAND")

    t = cmds.add_parser("templates", help="list the built-in templates and their design spaces")
    t.add_argument("--json", action="store_true", help="print one JSON object")
    t.set_defaults(func=cmd_templates)

    w = cmds.add_parser("workloads", help="list the workload presets (networks as loop nests)")
    w.add_argument("--json", action="store_true", help="print one JSON object")
    w.set_defaults(func=cmd_workloads)

    ev = cmds.add_parser(
        "evaluate",
        help="a network on a template: cycles, energy, EDP and access counts per layer",
        description="Evaluate every layer of a network on a template. With --mapping, on the "
        "mappings of that file (as `accel search --out` writes it, with the design point it "
        "found, or one mapping for every layer); without, on the mapper's best mapping per "
        "layer. An invalid mapping is reported with the budgets it breaks.",
    )
    _common(ev)
    ev.add_argument("--mapping", metavar="FILE", help="mapping file (YAML/JSON)")
    ev.add_argument("--detail", action="store_true", help="access counts per level and tensor")
    ev.set_defaults(func=cmd_evaluate)

    se = cmds.add_parser(
        "search",
        help="search hardware parameters and mappings for the lowest EDP",
        description="Search the template's design space (PE array, scratchpads, buffer, "
        "bandwidth; budget: the template's own area) with every layer mapped by the mapper "
        "for each design point, and compare with the template as it is. The search is the "
        f"{CODESIGN_ENV} scenario for this template and workload (`coexplore search --env "
        f"{CODESIGN_ENV}` runs it with any agent): a run directory with the run log, resume, "
        "W&B and a report.",
    )
    _common(se)
    se.add_argument(
        "--search",
        default="cbo",
        metavar="AGENT",
        help="the searcher: cbo (constrained BO), bo, tpe, random, or any agent of "
        "`coexplore search` (default cbo)",
    )
    se.add_argument("--budget", type=int, default=50, help="design points to evaluate")
    se.add_argument(
        "--max-latency",
        default="baseline",
        metavar="L",
        help="latency limit, known only after evaluation: 'baseline' (no slower than the "
        "template as it is), 'none', or cycles (default baseline)",
    )
    se.add_argument("--out", metavar="FILE", help="write the best design's mapping file here")
    se.add_argument(
        "--run-dir",
        metavar="DIR",
        help="the search's run directory (default runs/accel-<net>-<search>-s<seed>)",
    )
    se.add_argument("--resume", action="store_true", help="continue the search in --run-dir")
    se.set_defaults(func=cmd_search)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--template",
        default="eyeriss-like",
        metavar="T",
        help="a built-in template (accel templates) or a template YAML file",
    )
    p.add_argument("--net", required=True, metavar="NET", help=NETS)
    p.add_argument("--batch", type=int, default=1, help="inputs per pass (default 1)")
    p.add_argument(
        "--mapper-budget",
        type=int,
        default=DEFAULT_MAPPER_BUDGET,
        metavar="M",
        help=f"model evaluations per layer (default {DEFAULT_MAPPER_BUDGET})",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_templates(args: argparse.Namespace) -> int:
    from coexplore.platforms.spatial.arch import builtin_templates, load_template
    from coexplore.platforms.spatial.space import template_space

    out = []
    for name in builtin_templates():
        t = load_template(name)
        space = template_space(t) if t.space else None
        out.append(
            {
                "name": name,
                "description": t.description,
                "source": t.source,
                "pes": t.pes,
                "area_mm2": t.area_mm2,
                "levels": [lv.name for lv in t.levels],
                "space": {p.name: list(p.choices) for p in space.params} if space else None,
                "budget": space.budget.to_dict() if space else None,
                "space_points": space.size() if space else None,
                "points_within_budget": len(space.feasible_points()) if space else None,
            }
        )
    if args.json:
        print(json.dumps({"templates": out}, indent=2))
        return 0
    rows = [[t["name"], t["pes"], t["area_mm2"] or "–", " > ".join(t["levels"])] for t in out]
    print(render(["template", "PEs", "area mm²", "levels (outer to inner)"], rows))
    return 0


def cmd_workloads(args: argparse.Namespace) -> int:
    from coexplore.workloads.suites import WORKLOADS, load_workload

    out = []
    for name in WORKLOADS:
        w = load_workload(name)
        doc = (WORKLOADS.get(name).__doc__ or "").strip().splitlines()[0]
        out.append({"name": name, "unique_layers": len(w.layers), "layers": w.layer_count,
                    "macs": w.macs, "description": doc})  # fmt: skip
    if args.json:
        print(json.dumps({"workloads": out}, indent=2))
        return 0
    rows = [[w["name"], w["unique_layers"], w["layers"], w["macs"] / 1e6, w["description"]]
            for w in out]  # fmt: skip
    print(render(["workload", "unique", "layers", "M MACs", "description"], rows))
    print("Every chain network preset and network file is a workload too.")
    return 0


def _plain(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=float))


def cmd_evaluate(args: argparse.Namespace) -> int:
    from coexplore.accel.evaluate import evaluate_report
    from coexplore.platforms.spatial.network import read_mapping_file

    mappings = hardware = None
    if args.mapping:
        mappings, hardware = read_mapping_file(args.mapping)
    report = evaluate_report(
        args.template,
        args.net,
        mappings,
        hardware,
        args.mapper_budget,
        args.seed,
        args.detail,
        args.batch,
        args.mapping or "<mapping>",
    )
    if args.json:
        print(json.dumps(_plain(report), indent=2))
        return 0 if report["valid"] else 1
    rows = [
        [ly["name"], ly["count"], ly["valid"], ly["cycles"], ly["energy_j"] * 1e6]
        for ly in report["layers"]
    ]
    print(render(["layer", "count", "valid", "cycles", "energy µJ"], rows))
    for ly in report["layers"]:
        for v in ly.get("violations", []):
            print(f"{ly['name']}: {v}", file=sys.stderr)
    print(
        f"\n{report['workload']} on {report['template']}: {report['cycles']:,.0f} cycles, "
        f"{report['energy_j'] * 1e3:.4g} mJ, EDP {report['edp']:.4g} J·cycle"
    )
    return 0 if report["valid"] else 1


def cmd_search(args: argparse.Namespace) -> int:
    from coexplore.search.agents import AGENTS
    from coexplore.search.codesign import Codesign, codesign_summary
    from coexplore.search.runner import run_search

    if args.search not in AGENTS:
        raise ConfigError("accel search", "--search", f"one of {list(AGENTS)}", args.search)
    if args.budget < 1:
        raise ConfigError("accel search", "--budget", "an integer >= 1", args.budget)
    codesign = Codesign(args.template, args.net, args.batch, args.mapper_budget, args.max_latency)
    run_dir = args.run_dir or f"runs/accel-{Path(args.net).stem}-{args.search}-s{args.seed}"
    config, baseline, clock = codesign.config(args.search, args.budget, args.seed, run_dir)
    quiet = args.json or not sys.stderr.isatty()
    result = run_search(config, resume=args.resume, progress=not quiet)
    report = {
        "template": args.template,
        "net": args.net,
        "search": args.search,
        "seed": args.seed,
        "budget": args.budget,
        "mapper_budget": args.mapper_budget,
        **codesign_summary(result.run_dir, baseline, clock),
    }
    if args.out and report.get("mapping_file"):
        path = Path(args.out)
        text = (
            json.dumps(_plain(report["mapping_file"]), indent=2)
            if path.suffix == ".json"
            else yaml.safe_dump(_plain(report["mapping_file"]), sort_keys=False)
        )
        path.write_text(text)
    if args.json:
        print(json.dumps(_plain(report), indent=2))
        return 0 if report["valid"] else 1
    print(
        f"{report['search']} on {report['net']} / {report['template']}: "
        f"{report['evaluations']} design points, {report['invalid_evaluations']} invalid, "
        f"{report['infeasible_evaluations']} infeasible, {report['wall_s']:.1f} s "
        f"(run directory {report['out']})"
    )
    print(
        f"baseline (the template as it is): EDP {report['baseline_edp']:.4g} J·cycle, "
        f"{report['baseline_cycles']:,.0f} cycles"
    )
    if report["valid"]:
        print(
            f"best: EDP {report['edp']:.4g} J·cycle ({report['edp_vs_baseline']:.3f}× the "
            f"baseline), {report['cycles']:,.0f} cycles, {report['area_mm2'] or 0:.4g} mm²"
        )
        print("design: " + ", ".join(f"{k}={v}" for k, v in report["design"].items()))
        if args.out:
            print(f"mapping file: {args.out}")
    else:
        print("no feasible design found")
    return 0 if report["valid"] else 1
