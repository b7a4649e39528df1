"""``coexplore report``: the report of a search run directory."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from coexplore.cli.text import json_text


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    p = sub.add_parser(
        "report",
        help=summary,
        description="Read a search run directory (run.json + candidates.jsonl) and write "
        "DIR/report/: Pareto fronts of validation accuracy vs each objective of the scenario "
        "(its platform family's metrics, e.g. throughput and energy per image, or latency), "
        "learning curves (best so far, hypervolume, reward), top.csv and a README.md summary. "
        "Runs on a finished or an ongoing search.",
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
    """One line on the best design (a record's JSON), or why there is none."""
    if best is None:
        return "best: none (no candidate met the specs)"
    from coexplore.core.metrics import format_metric
    from coexplore.search.runlog import record_from_json
    from coexplore.search.tracking import hardware_label

    record = record_from_json(best)
    shown = ("throughput_fps", "latency_s", "energy_j")
    metrics = "  ".join(format_metric(m, record.metric(m)) for m in shown if record.metric(m))
    return (
        f"best: episode {record.episode}  {record.arch}  on {hardware_label(record)}  "
        f"val_acc {record.val_acc:.4f}  {metrics}"
    )


def design_lines(best: dict[str, Any] | None) -> list[str]:
    """The best candidate's line, then the family's lines on its design (FPGA: one per stage)."""
    lines = [best_line(best)]
    if best is not None:
        from coexplore.platforms import platform_class

        lines += platform_class(best["platform"]).design_lines(best["hardware"])
    return lines


def counts_line(summary: dict[str, Any]) -> str:
    n, pruned = summary["episodes"], summary["pruned"]
    share = f" ({pruned / n:.0%})" if n else ""
    return (
        f"{n} candidates: {pruned} pruned{share}, {summary['trained']} trained, "
        f"{summary['diverged']} diverged, {summary['cache_hits']} cache hits"
    )


def cmd_report(args: argparse.Namespace) -> int:
    from coexplore.search.report import REPORT_DIR, write_report

    summary = write_report(args.run_dir, top_k=args.top)
    if args.json:
        print(json_text(summary))
        return 0
    print(counts_line(summary))
    print("\n".join(design_lines(summary["best"])))
    print(f"report: {Path(args.run_dir) / REPORT_DIR / 'README.md'}")
    return 0
