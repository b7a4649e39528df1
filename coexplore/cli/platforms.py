"""``coexplore platforms``: the platform families, their metrics, settings and tokens."""

from __future__ import annotations

import argparse
import json

from coexplore.cli.text import render


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    p = sub.add_parser(
        "platforms",
        help=summary,
        description="List the registered platform families: the metrics each reports (SI "
        "units), its default objectives, and the settings of its scenario sections hardware: "
        "and fast_phase:. Families of your own load from the modules in COEXPLORE_PLUGINS.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_platforms)


def cmd_platforms(args: argparse.Namespace) -> int:
    from coexplore.platforms import PLATFORMS, load_platforms

    load_platforms()
    rows = [cls.info() for _, cls in PLATFORMS.items()]
    if args.json:
        print(json.dumps({"platforms": rows}, indent=2, default=str))
        return 0
    print(
        render(
            ["family", "metrics", "objectives", "hardware settings", "description"],
            [
                [
                    r["name"],
                    ", ".join(r["metrics"]),
                    ", ".join(r["objectives"]),
                    ", ".join(r["hardware"]),
                    r["description"],
                ]
                for r in rows
            ],
        )
    )
    return 0
