"""The time the fast phase's pruning saves: the same random search with pruning on and off.

The ``random`` agent's proposals do not depend on rewards, so with the same seed it proposes
the same candidates whether the fast phase prunes or not. Runs two such searches side by side
on a scenario, one as is (pruning on) and one with ``fast_phase.prune=false`` (candidates that
miss the specs are trained anyway), each in a fresh run directory, and compares trainings,
wall time (split into fast- and slow-phase time) and the best candidate within specs (which
must agree: pruning only removes candidates that cannot meet the specs). The pruning run goes
first, so it also pays any first-use warm-up in the process: the speed-up shown is conservative.

    .venv/bin/python bench/bench_pruning.py [--env mnist5k-fpga] [--candidates 60] [--seed 0]
        [--set slow_phase.train.epochs=2 ...] [--out DIR] [--quick] [--json]

``--quick``: digits-fpga, 12 candidates, ``slow_phase.train.epochs=1`` and ``threads=1`` (about
15 s on 2 idle cores).
Exits 1 when the two runs did not propose the same candidates.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from coexplore.search.runlog import best_candidate, read_records
from coexplore.search.runner import SearchConfig, run_search
from coexplore.search.tracking import WandbConfig

NO_PRUNE = "fast_phase.prune=false"
# one torch thread: as fast on 2 idle cores, and far less slowed down by a job beside it
QUICK = {
    "env": "digits-fpga",
    "candidates": 12,
    "overrides": ["slow_phase.train.epochs=1", "slow_phase.train.threads=1"],
}


def run_figures(run_dir: Path) -> dict[str, Any]:
    """Counts and times of one finished search, from its log.

    A candidate proposed again (same tokens) is answered from the env's records, not redone:
    it counts as a repeat, and its logged times are not added again."""
    records = read_records(run_dir)
    seen: set[tuple[int, ...]] = set()
    fresh = []
    for r in records:
        key = tuple(r.tokens)
        if key not in seen:
            seen.add(key)
            fresh.append(r)
    kept = [r for r in fresh if not r.pruned]
    best = best_candidate(records)
    return {
        "out": str(run_dir),
        "episodes": len(records),
        "repeats": len(records) - len(fresh),
        "pruned": len(fresh) - len(kept),
        "trainings": sum(not r.cache_hit for r in kept),
        "cache_hits": sum(r.cache_hit for r in kept),
        "wall_s": records[-1].wall_s if records else 0.0,
        "fast_s": sum(r.fast_s for r in fresh),
        "slow_s": sum(r.slow_s for r in fresh),
        "tokens": [r.tokens for r in records],
        "best": None
        if best is None
        else {
            "episode": best.episode,
            "arch": best.arch,
            "parts": best.details["parts"],
            "tokens": best.tokens,
            "val_acc": best.val_acc,
            "throughput_fps": best.metrics.throughput_fps,
        },
    }


def compare(env: str, candidates: int, seed: int, overrides: list[str], out: Path) -> dict:
    runs = {}
    for label, extra in (("prune", []), ("no_prune", [NO_PRUNE])):
        config = SearchConfig(
            env=env,
            agent="random",
            episodes=candidates,
            seed=seed,
            out=str(out / label),
            overrides=tuple(overrides + extra),
            wandb=WandbConfig(mode="disabled"),
        )
        run_search(config, progress=False, report=False)
        runs[label] = run_figures(out / label)
    on, off = runs["prune"], runs["no_prune"]
    same_candidates = on.pop("tokens") == off.pop("tokens")
    avoided = off["trainings"] - on["trainings"]
    key = ("episode", "tokens")
    same_best = (on["best"] is None) == (off["best"] is None) and (
        on["best"] is None or all(on["best"][k] == off["best"][k] for k in key)
    )
    ratio = off["wall_s"] / on["wall_s"] if on["wall_s"] > 0 else None
    share = avoided / off["trainings"] if off["trainings"] else 0.0
    summary = (
        f"pruning avoided {avoided} of {off['trainings']} trainings ({share:.0%}) and cut the "
        f"search's wall time by {'-' if ratio is None else f'{ratio:.2f}'}× with "
        + ("the same best candidate" if same_best else "a DIFFERENT best candidate")
    )
    return {
        "env": env,
        "candidates": candidates,
        "seed": seed,
        "overrides": overrides,
        "same_candidates": same_candidates,
        "runs": runs,
        "trainings_avoided": avoided,
        "trainings_avoided_share": share,
        "wall_ratio": ratio,
        "same_best": same_best,
        "summary": summary,
    }


def _best_line(best: dict[str, Any] | None) -> str:
    if best is None:
        return "none within specs"
    return (
        f"#{best['episode']} {best['arch']} on {'+'.join(best['parts'])}: "
        f"val_acc {best['val_acc']:.4f}, {best['throughput_fps']:,.0f} images/s"
    )


def print_table(res: dict[str, Any]) -> None:
    on, off = res["runs"]["prune"], res["runs"]["no_prune"]
    sets = f", --set {' '.join(res['overrides'])}" if res["overrides"] else ""
    print(f"{res['env']}: random agent, seed {res['seed']}, {res['candidates']} candidates{sets}")
    same = "yes" if res["same_candidates"] else "NO"
    print(f"  same candidates proposed in both runs: {same}")
    rows = [
        ("pruned", "pruned", "{}"),
        ("trainings", "trainings", "{}"),
        ("cache hits", "cache_hits", "{}"),
        ("repeats", "repeats", "{}"),
        ("wall time (s)", "wall_s", "{:.1f}"),
        ("  fast phase (s)", "fast_s", "{:.1f}"),
        ("  slow phase (s)", "slow_s", "{:.1f}"),
    ]
    print(f"  {'':<18}{'pruning':>12}{'no pruning':>12}")
    for label, k, fmt in rows:
        print(f"  {label:<18}{fmt.format(on[k]):>12}{fmt.format(off[k]):>12}")
    print(
        f"  trainings avoided: {res['trainings_avoided']} of {off['trainings']} "
        f"({res['trainings_avoided_share']:.0%})"
    )
    ratio = res["wall_ratio"]
    print(f"  wall time no pruning / pruning: {'-' if ratio is None else f'{ratio:.2f}'}×")
    print(f"  best within specs, pruning:    {_best_line(on['best'])}")
    print(f"  best within specs, no pruning: {_best_line(off['best'])}")
    print(f"  same best candidate: {'yes' if res['same_best'] else 'NO'}")
    print(res["summary"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default=None, help="scenario name or file (default mnist5k-fpga)")
    ap.add_argument("--candidates", type=int, default=None, help="per run (default 60)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="scenario override for both runs (repeatable)",
    )
    ap.add_argument("--out", default=None, help="parent of the two run directories (default: tmp)")
    ap.add_argument(
        "--quick", action="store_true", help="digits-fpga, 12 candidates, 1 epoch, 1 thread"
    )
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = ap.parse_args()
    env = args.env or (QUICK["env"] if args.quick else "mnist5k-fpga")
    candidates = args.candidates or (QUICK["candidates"] if args.quick else 60)
    overrides = (QUICK["overrides"] if args.quick else []) + args.overrides

    if args.out is None:
        with tempfile.TemporaryDirectory(prefix="bench_pruning-") as tmp:
            res = compare(env, candidates, args.seed, overrides, Path(tmp))
    else:
        res = compare(env, candidates, args.seed, overrides, Path(args.out))

    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print_table(res)
    if not res["same_candidates"]:
        print(
            "ERROR: the two runs did not propose the same candidates: the comparison is void",
            file=sys.stderr,
        )
        return 1
    if not res["same_best"]:
        print("WARNING: the two runs' best candidates within specs differ", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
