"""The ``coexplore`` command line.

Each command's module is imported only when that command runs (or its help is asked for), so
``coexplore --help`` and ``coexplore hw ...`` start without torch, wandb or stable-baselines3.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from coexplore import __version__
from coexplore.platforms.fpga_pipeline.parts import register_part_file

# command -> (module defining ``add_parser(sub, help)`` and the command's functions, one line)
COMMANDS = {
    "hw": (
        "coexplore.cli.hw",
        "FPGA accelerator models (family fpga-pipeline): parts, evaluate a design, tune a design",
    ),
    "accel": (
        "coexplore.cli.accel",
        "spatial accelerators (family spatial): templates, evaluate mappings, co-design search",
    ),
    "train": ("coexplore.cli.train", "train one child network of a search space on a dataset"),
    "compress": (
        "coexplore.cli.compress",
        "ADMM pruning and quantisation of a model: accuracy, storage, MACs, FPGA costs",
    ),
    "latency": (
        "coexplore.cli.latency",
        "latency on this machine: measure, fit a predictor, score it (here or on a table)",
    ),
    "optics": (
        "coexplore.cli.optics",
        "diffractive optical networks: train a single- or multi-task D2NN, sweep its noise",
    ),
    "cache": ("coexplore.cli.cache", "the result cache of trained candidates: statistics, export"),
    "envs": ("coexplore.cli.envs", "list the scenarios (envs/*.yaml) and their Gymnasium ids"),
    "platforms": (
        "coexplore.cli.platforms",
        "list the platform families (hardware side of co-design)",
    ),
    "search": (
        "coexplore.cli.search",
        "co-explore networks and hardware on a scenario (any platform family) with an agent",
    ),
    "benchmark": (
        "coexplore.cli.benchmark",
        "agents x scenarios x seeds at equal trainings: anytime curves, regret, tests vs random",
    ),
    "report": (
        "coexplore.cli.report",
        "write the report of a search run (Pareto plots, top candidates, README.md)",
    ),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or with ``only`` one command's full parser and a one-line entry for
    each other command (``only=""``: one-line entries only)."""
    parser = argparse.ArgumentParser(
        prog="coexplore", description=description() if not only else None
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
    for name, (module, line) in COMMANDS.items():
        if only is None or only == name:
            importlib.import_module(module).add_parser(sub, line)
        else:
            sub.add_parser(name, help=line)
    return parser


def description() -> str:
    """The top-level help's paragraph. The platform families come from their registry (built-in
    and ``COEXPLORE_PLUGINS``), so a new family is named without an edit here; their modules are
    torch-free, and loaded only when this help can be shown (no command given)."""
    from coexplore.platforms import PLATFORMS, load_platforms

    load_platforms()
    return (
        "Hardware/software co-exploration of neural networks and the hardware that runs them. "
        f"Platform families: {', '.join(PLATFORMS)} (see `coexplore platforms`)."
    )


def command_of(argv: list[str]) -> str:
    """The command named in ``argv`` ("" if none): the first word that is not an option."""
    words = iter(argv)
    for word in words:
        if word == "--part-file":
            next(words, None)
        elif not word.startswith("-"):
            return word if word in COMMANDS else ""
    return ""


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions reported as one line (exit status 2) rather than a traceback: bad input,
    unknown names, infeasible problems, missing data. (An oracle error can only come from its
    module, so it is looked up only once that module is loaded.)"""
    errors: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError)
    oracles = sys.modules.get("coexplore.slow.oracles")
    return errors + ((oracles.OracleError,) if oracles else ())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(command_of(argv)).parse_args(argv)
    try:
        for path in args.part_file:
            register_part_file(path, overwrite=True)
        return args.func(args)
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except Exception as exc:
        if not isinstance(exc, user_errors()):
            raise
        print(f"coexplore: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
