"""``coexplore report``: the report of a search run directory."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from coexplore.search.report import REPORT_DIR, write_report


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write the report of a search run (Pareto plots, top candidates, README.md)",
        description="Read a search run directory (run.json + candidates.jsonl) and write "
        "DIR/report/: Pareto fronts of validation accuracy vs throughput and vs energy per "
        "image, the best accuracy so far, top.csv and a README.md summary. Runs on a finished "
        "or an ongoing search.",
    )
    p.add_argument("run_dir", metavar="DIR", help="the run directory of a search")
    p.add_argument(
        "--top",
        type=int,
        default=10,
        metavar="K",
        help="how many candidates top.csv and the README list (default: 10)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=cmd_report)


def best_line(best: dict[str, Any] | None) -> str:
    """One line on the best design, or why there is none."""
    if best is None:
        return "best: none (no candidate met the specs)"
    m = best["metrics"]
    return (
        f"best: episode {best['episode']}  {best['arch']}  on {'+'.join(best['parts'])}  "
        f"val_acc {best['val_acc']:.4f}  {m['throughput_fps']:,.0f} fps  "
        f"{m['latency_ms']:.4g} ms  {m['energy_mj']:.4g} mJ/image"
    )


def design_lines(best: dict[str, Any] | None) -> list[str]:
    """The best candidate's line, then one line per pipeline stage (part, layers, tiling)."""
    lines = [best_line(best)]
    if best is not None:
        for i, st in enumerate(best["hardware"]["stages"]):
            d = st["design"]
            tiling = ",".join(str(d[k]) for k in ("tm", "tn", "tr", "tc"))
            lines.append(
                f"  stage {i}: {st['part']}  layers {st['layers'][0]}-{st['layers'][-1]}  "
                f"<Tm,Tn,Tr,Tc> = <{tiling}>  ports Ib/Wb/Ob = {d['ib']}/{d['wb']}/{d['ob']}"
            )
    return lines


def counts_line(summary: dict[str, Any]) -> str:
    n, pruned = summary["episodes"], summary["pruned"]
    share = f" ({pruned / n:.0%})" if n else ""
    return (
        f"{n} candidates: {pruned} pruned{share}, {summary['trained']} trained, "
        f"{summary['diverged']} diverged, {summary['cache_hits']} cache hits"
    )


def cmd_report(args: argparse.Namespace) -> int:
    summary = write_report(args.run_dir, top_k=args.top)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(counts_line(summary))
    print("\n".join(design_lines(summary["best"])))
    print(f"report: {Path(args.run_dir) / REPORT_DIR / 'README.md'}")
    return 0
