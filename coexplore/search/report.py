"""The report of a search run: Pareto plots per objective, learning curves, the top candidates
and a markdown summary, written to ``RUN_DIR/report/`` (see :mod:`coexplore.search.runlog`).

The objectives are the scenario's (``objectives:``, else its platform family's defaults), so a
report of an FPGA run shows accuracy × throughput and × energy, another family's its own.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from itertools import accumulate
from pathlib import Path
from typing import Any

import numpy as np

from coexplore.core.markdown import md_table
from coexplore.core.metrics import METRIC_INFO, axis_label, display_value
from coexplore.core.record import CandidateRecord
from coexplore.figures import new_figure, save_figure
from coexplore.search.pareto import front_records, hv_reference, hypervolume, plot_front
from coexplore.search.runlog import (
    read_records,
    read_run,
    record_from_json,
    run_scenario,
    summarize,
)
from coexplore.search.tracking import hardware_label

REPORT_DIR = "report"
REWARD_WINDOW = 20  # episodes of the reward's moving average
RUN_KEYS = (
    "scenario",
    "gym_id",
    "agent",
    "agent_params",
    "seed",
    "episodes",
    "trainings",
    "patience",
    "mode",
    "specs",
    "coexplore_version",
    "created",
    "scenario_source",
)


def columns(objectives: Sequence[str]) -> tuple[str, ...]:
    return ("episode", "arch", "hardware", "val_acc", "test_acc", *objectives, "reward")


def candidate_row(record: CandidateRecord, objectives: Sequence[str]) -> dict[str, Any]:
    """The columns of ``top.csv`` for one candidate (metrics in SI units)."""
    row = {
        "episode": record.episode,
        "arch": record.arch,
        "hardware": hardware_label(record),
        "val_acc": record.val_acc,
        "test_acc": record.test_acc,
        "reward": record.reward,
    }
    row.update({m: record.metric(m) for m in objectives})
    return {k: row[k] for k in columns(objectives)}


def top_records(
    records: Sequence[CandidateRecord], k: int, objective: str | None = None
) -> list[CandidateRecord]:
    """The ``k`` feasible candidates of highest validation accuracy (ties: the better
    ``objective``, then the earlier episode)."""
    ok = [r for r in records if r.feasible]

    def key(r: CandidateRecord):
        value = r.metric(objective) if objective else None
        sign = -1.0 if objective and METRIC_INFO[objective].maximize else 1.0
        return (-r.val_acc, np.inf if value is None else sign * value, r.episode)

    return sorted(ok, key=key)[:k]


def learning_curves(
    records: Sequence[CandidateRecord], objectives: Sequence[str], specs: Any = None
) -> dict[str, list]:
    """Per episode: best feasible accuracy so far, best value so far of each objective, the
    hypervolume of accuracy × each objective so far, the reward and its moving average."""
    curves: dict[str, list] = {"episode": [r.episode for r in records]}
    acc = [r.val_acc if r.feasible else -np.inf for r in records]
    curves["best_val_acc"] = [None if a == -np.inf else a for a in accumulate(acc, max)]
    for m in objectives:
        maximize = METRIC_INFO[m].maximize
        sign = 1.0 if maximize else -1.0
        values = [
            sign * r.metric(m) if r.feasible and r.metric(m) is not None else -np.inf
            for r in records
        ]
        curves[f"best_{m}"] = [None if v == -np.inf else sign * v for v in accumulate(values, max)]
        reference = hv_reference(m, specs)
        curves[f"hypervolume_{m}"] = [
            hypervolume(records[: i + 1], m, reference) for i in range(len(records))
        ]
    rewards = np.array([r.reward for r in records], dtype=float)
    curves["reward"] = rewards.tolist()
    cumulative = np.concatenate([[0.0], np.cumsum(rewards)])
    starts = np.maximum(np.arange(len(rewards)) + 1 - REWARD_WINDOW, 0)
    ends = np.arange(len(rewards)) + 1
    curves["reward_avg"] = ((cumulative[ends] - cumulative[starts]) / (ends - starts)).tolist()
    return curves


def plot_learning(curves: dict[str, list], objectives: Sequence[str], path: str | Path) -> Path:
    """What the search learned, against the episode: best-so-far accuracy and objectives,
    hypervolume, and the controller's reward with its moving average."""
    panels = 2 + len(objectives)
    fig, axes = new_figure(ncols=panels, width=4.2 * panels, height=3.8)
    x = curves["episode"]

    def step(ax, ys, label, color="tab:blue"):
        pts = [(a, b) for a, b in zip(x, ys, strict=True) if b is not None]
        if pts:
            ax.step(*zip(*pts, strict=True), where="post", color=color, label=label)

    step(axes[0], curves["best_val_acc"], "best so far")
    axes[0].set_ylabel("validation accuracy (feasible)")
    for ax, m in zip(axes[1 : 1 + len(objectives)], objectives, strict=True):
        step(ax, [display_value(m, v) for v in curves[f"best_{m}"]], "best so far")
        ax.set_ylabel(axis_label(m))
        hv = curves[f"hypervolume_{m}"]
        if any(v for v in hv if v is not None):
            twin = ax.twinx()
            step(twin, hv, "hypervolume", color="tab:orange")
            twin.set_ylabel(f"hypervolume (acc × {m})", color="tab:orange")
    ax = axes[-1]
    ax.scatter(x, curves["reward"], s=8, color="0.7", label="reward")
    ax.plot(x, curves["reward_avg"], color="tab:green", label=f"mean of last {REWARD_WINDOW}")
    ax.set_ylabel("reward")
    ax.legend(loc="lower right")
    for ax in axes:
        ax.set_xlabel("episode")
        ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_best_so_far(records: Sequence[CandidateRecord], path: str | Path) -> Path:
    """Write a PNG of the best feasible validation accuracy so far, against the episode and
    against search time."""
    ok = [r for r in records if r.feasible]
    fig, axes = new_figure(ncols=2, width=10.0, height=4.0)
    for ax, key, label in zip(
        axes, ("episode", "wall_s"), ("episode", "search time (s)"), strict=True
    ):
        if ok:
            xs = [getattr(r, key) for r in ok]
            ys = [r.val_acc for r in ok]
            ax.scatter(xs, ys, s=12, color="0.65", label="feasible candidate")
            ax.step(
                xs, list(accumulate(ys, max)), where="post", color="tab:blue", label="best so far"
            )
            ax.legend(loc="lower right")
        else:
            ax.text(0.5, 0.5, "no feasible candidates", ha="center", transform=ax.transAxes)
        ax.set_xlabel(label)
        ax.set_ylabel("validation accuracy")
        ax.grid(alpha=0.3)
    return save_figure(fig, path)


def write_csv(rows: Sequence[dict[str, Any]], objectives: Sequence[str], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns(objectives))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _rows_table(rows: Sequence[dict[str, Any]], objectives: Sequence[str]) -> str:
    headers = [axis_label(c) if c in METRIC_INFO else c for c in columns(objectives)]
    shown = [
        [display_value(k, v) if k in METRIC_INFO else v for k, v in row.items()] for row in rows
    ]
    return md_table(headers, shown)


def _best_section(best: CandidateRecord | None) -> list[str]:
    if best is None:
        return ["## Best design", "", "No candidate met the specs: there is no best design."]
    from coexplore.platforms import platform_class

    family = platform_class(best.platform)
    facts = [
        ("architecture", f"`{best.arch}`"),
        ("episode", best.episode),
        ("platform", best.platform),
        ("hardware", hardware_label(best)),
        ("validation accuracy", best.val_acc),
        ("test accuracy", best.test_acc),
        ("reward", best.reward),
    ]
    metrics = [(axis_label(k), display_value(k, v)) for k, v in (best.metrics.to_dict().items())]
    return [
        "## Best design",
        "",
        md_table(["", ""], facts),
        "",
        family.design_markdown(best.hardware, best.details),
        "",
        "Metrics:",
        "",
        md_table(["metric", "value"], metrics),
    ]


def _run_value(value: Any) -> Any:
    if isinstance(value, dict) and "name" in value:  # a scenario snapshot
        return value["name"]
    return value


def render_readme(run: dict[str, Any], summary: dict[str, Any]) -> str:
    """The markdown summary of a run: config, counts, best design, tables and plots."""
    objectives = summary["objectives"]
    n = summary["episodes"]
    share = f"{summary['pruned'] / n:.0%}" if n else "–"
    count_rows = [
        ("episodes", n),
        ("pruned (not trained)", f"{summary['pruned']} ({share})"),
        ("trained", summary["trained"]),
        ("diverged", summary["diverged"]),
        ("cache hits", summary["cache_hits"]),
        ("feasible (met the specs, trained)", summary["feasible"]),
    ]
    if run.get("trainings_done") is not None:  # written by the runner when a search stops
        done = run["trainings_done"]
        per = f"{n / done:.1f}" if done else "–"
        count_rows += [
            ("distinct trainings (what the search paid for)", done),
            ("proposals per training", per),
            ("stopped", run.get("stopped", "–")),
        ]
    best = summary["best"]
    lines = [
        f"# Search report: {_run_value(run.get('scenario', '?'))}",
        "",
        "## Run",
        "",
        md_table(["", ""], [(k, _run_value(run[k])) for k in RUN_KEYS if k in run]),
        "",
        "## Candidates",
        "",
        md_table(["", ""], count_rows),
        "",
        *_best_section(None if best is None else record_from_json(best)),
        "",
        "## What the search learned",
        "",
        "Best-so-far accuracy and objectives, their hypervolume, and the controller's reward "
        f"(mean of the last {REWARD_WINDOW} episodes), against the episode:",
        "",
        "![learning curves](learning.png)",
        "",
        f"## Top {len(summary['top'])} by validation accuracy",
        "",
        _rows_table(summary["top"], objectives) if summary["top"] else "No feasible candidates.",
        "",
        "![best so far](best_so_far.png)",
    ]
    for m in objectives:
        front = summary["fronts"][m]
        lines += [
            "",
            f"## Pareto front: validation accuracy vs {axis_label(m)}",
            "",
            _rows_table(front, objectives) if front else "No feasible candidates.",
            "",
            f"![accuracy vs {m}](pareto_{m}.png)",
        ]
        hv = summary["hypervolume"][m]
        if hv is not None:
            lines += ["", f"Hypervolume of (val_acc, {m}): {hv:.6g}"]
    return "\n".join([*lines, ""])


def write_report(run_dir: str | Path, top_k: int = 10) -> dict[str, Any]:
    """Write ``RUN_DIR/report/`` (plots, ``top.csv``, ``README.md``) and return a JSON-able
    summary. Raises FileNotFoundError when ``run_dir`` is not a run directory."""
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    scenario = run_scenario(run)
    objectives = scenario.objectives
    records = read_records(run_dir)
    out = run_dir / REPORT_DIR
    out.mkdir(exist_ok=True)
    stats = summarize(records, objectives)
    best = stats.pop("best")
    primary = objectives[0] if objectives else None
    summary: dict[str, Any] = {
        "run_dir": str(run_dir),
        **stats,
        "best": None if best is None else best.to_json(),
        "objectives": list(objectives),
        "top": [candidate_row(r, objectives) for r in top_records(records, top_k, primary)],
        "fronts": {
            m: [candidate_row(r, objectives) for r in front_records(records, m)] for m in objectives
        },
        "hypervolume": {
            m: hypervolume(records, m, hv_reference(m, scenario.specs)) for m in objectives
        },
    }
    curves = learning_curves(records, objectives, scenario.specs)
    files = [plot_front(records, m, out / f"pareto_{m}.png") for m in objectives]
    files.append(plot_learning(curves, objectives, out / "learning.png"))
    files.append(plot_best_so_far(records, out / "best_so_far.png"))
    files.append(write_csv(summary["top"], objectives, out / "top.csv"))
    readme = out / "README.md"
    readme.write_text(render_readme(run, summary), encoding="utf-8")
    summary["files"] = [str(p) for p in [*files, readme]]
    return summary
