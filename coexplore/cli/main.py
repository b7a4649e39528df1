"""The ``coexplore`` command line."""

from __future__ import annotations

import argparse
import sys

from coexplore import __version__
from coexplore.cli import cache, envs, hw, platforms, report, search, train
from coexplore.config import ConfigError
from coexplore.platforms.fpga_pipeline.parts import register_part_file
from coexplore.platforms.fpga_pipeline.tuning.pipeline import NoFeasibleDesign
from coexplore.registry import UnknownNameError
from coexplore.slow.oracles import OracleError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coexplore",
        description="Hardware/software co-exploration of neural networks and FPGA accelerators.",
    )
    parser.add_argument("--version", action="version", version=f"coexplore {__version__}")
    parser.add_argument(
        "--part-file",
        action="append",
        default=[],
        metavar="FILE",
        help="add an FPGA part from a YAML file (repeatable; see `coexplore hw parts`)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    hw.add_parser(sub)
    train.add_parser(sub)
    cache.add_parser(sub)
    envs.add_parser(sub)
    platforms.add_parser(sub)
    search.add_parser(sub)
    report.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        for path in args.part_file:
            register_part_file(path, overwrite=True)
        return args.func(args)
    except (
        ConfigError,
        UnknownNameError,
        NoFeasibleDesign,
        OracleError,
        ValueError,
        FileNotFoundError,
    ) as exc:
        print(f"coexplore: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
