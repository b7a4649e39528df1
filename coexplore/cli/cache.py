"""``coexplore cache``: what the slow phase's result cache holds, and its export."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from coexplore.cli.text import render
from coexplore.config import ConfigError
from coexplore.slow.cache import EXPORT_FORMATS, ResultCache


def add_parser(sub: argparse._SubParsersAction, summary: str) -> None:
    cache = sub.add_parser(
        "cache",
        help=summary,
        description="Inspect the SQLite cache of trained-candidate results that the slow phase "
        "fills (it is safe to read while runs write to it): statistics, or every entry as "
        "JSON lines or CSV.",
    )
    cmds = cache.add_subparsers(dest="cache_command", required=True, metavar="COMMAND")

    stats = cmds.add_parser("stats", help="entries per dataset, diverged runs, training time")
    stats.add_argument("--cache", required=True, metavar="PATH", help="the cache file")
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.set_defaults(func=cmd_stats)

    export = cmds.add_parser(
        "export",
        help="write every entry as JSON lines or CSV",
        description="jsonl: one object per entry (id, key fields, wall_s, created, result). "
        "csv: key fields, wall_s, created and the scalar result fields (nested ones as "
        "dotted names).",
    )
    export.add_argument("--cache", required=True, metavar="PATH", help="the cache file")
    export.add_argument(
        "--format", default="jsonl", choices=EXPORT_FORMATS, help="output format (default: jsonl)"
    )
    export.add_argument("--out", metavar="FILE", help="write to FILE (default: stdout)")
    export.set_defaults(func=cmd_export)


def open_cache(path: str) -> ResultCache:
    """An existing cache file, or a ConfigError (reading must not create an empty cache)."""
    if not Path(path).is_file():
        raise ConfigError("--cache", "cache", "an existing result cache file", path)
    cache = ResultCache(path)
    try:
        len(cache)  # opens and checks the file
    except sqlite3.DatabaseError as exc:
        cache.close()
        raise ConfigError(path, "<file>", "a coexplore result cache (SQLite)", str(exc)) from None
    return cache


def cmd_stats(args: argparse.Namespace) -> int:
    with open_cache(args.cache) as cache:
        stats = cache.stats()
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    print(
        f"{stats['path']}: {stats['entries']:,} entries, {stats['diverged']:,} diverged, "
        f"{stats['wall_s']:,.1f} s ({stats['wall_s'] / 3600:.3g} h) of training stored, "
        f"{stats['size_bytes'] / 1e6:.3g} MB\n"
    )
    print(render(["dataset", "entries"], sorted(stats["datasets"].items())))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    with open_cache(args.cache) as cache:
        if args.out:
            with open(args.out, "w", newline="") as fh:
                n = cache.export(fh, args.format)
            print(f"wrote {n:,} entries to {args.out}", file=sys.stderr)
        else:
            cache.export(sys.stdout, args.format)
    return 0
