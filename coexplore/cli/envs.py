"""``coexplore envs``: the scenario catalogue with its Gymnasium ids."""

from __future__ import annotations

import argparse
import dataclasses
import json

from coexplore.cli.text import render
from coexplore.scenario import get_scenario, scenario_files


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    p = sub.add_parser(
        "envs",
        help=summary,
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
                "platform": s.hardware.family,
                "hardware": dataclasses.asdict(s.hardware.options),
                "specs": s.specs.to_dict(),
                "reward": s.reward.name,
                "objectives": list(s.objectives),
                "hardware_tokens": s.platform().tokens_info()
                if s.hardware.mode == "explore"
                else [],
            }
        )
    if args.json:
        print(json.dumps({"envs": rows}, indent=2))
        return 0
    print(
        render(
            ["id", "dataset", "space", "platform", "specs", "reward", "description"],
            [
                [
                    r["id"],
                    r["dataset"],
                    r["space"],
                    r["platform"],
                    ", ".join(
                        f"{m} {b} {v:g}"
                        for m, bound in r["specs"].items()
                        for b, v in bound.items()
                    ),
                    r["reward"],
                    r["description"],
                ]
                for r in rows
            ],
        )
    )
    return 0
