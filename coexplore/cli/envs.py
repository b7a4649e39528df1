"""``coexplore envs``: the scenario catalogue with its Gymnasium ids."""

from __future__ import annotations

import argparse
import json

from coexplore.cli.table import render
from coexplore.scenario import get_scenario, scenario_files


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "envs",
        help="list the scenarios (envs/*.yaml) and their Gymnasium ids",
        description="The environment catalogue: each scenario file is the Gymnasium id "
        "coexplore/<name>-v0 once coexplore is imported.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_envs)


def cmd_envs(args: argparse.Namespace) -> int:
    rows = []
    for name, path in scenario_files().items():
        s = get_scenario(name)
        rows.append(
            {
                "name": name,
                "id": s.gym_id,
                "description": s.description,
                "file": str(path),
                "dataset": s.data.name,
                "space": s.space.name,
                "parts": list(s.hardware.parts),
                "max_fpgas": s.hardware.max_fpgas,
                "specs": s.specs.to_dict(),
            }
        )
    if args.json:
        print(json.dumps({"envs": rows}, indent=2))
        return 0
    print(
        render(
            ["id", "dataset", "space", "FPGA pool", "specs", "description"],
            [
                [
                    r["id"],
                    r["dataset"],
                    r["space"],
                    f"{'/'.join(r['parts'])} (≤{r['max_fpgas']})",
                    ", ".join(f"{k}={v:g}" for k, v in r["specs"].items()),
                    r["description"],
                ]
                for r in rows
            ],
        )
    )
    return 0
