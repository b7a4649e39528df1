"""The report of a search run: Pareto plots, best-so-far curves, the top candidates and a
markdown summary, written to ``RUN_DIR/report/`` (see :mod:`coexplore.search.runlog`)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from itertools import accumulate
from pathlib import Path
from typing import Any

from coexplore.search.pareto import (
    OBJECTIVES,
    front_records,
    new_figure,
    plot_front,
    save_figure,
    throughput_hypervolume,
)
from coexplore.search.runlog import feasible, read_records, read_run, summarize

REPORT_DIR = "report"
ROW_METRICS = ("throughput_fps", "latency_ms", "energy_mj", "gops_per_w")
COLUMNS = ("episode", "arch", "parts", "val_acc", "test_acc", *ROW_METRICS, "reward")
RUN_KEYS = (
    "scenario",
    "gym_id",
    "agent",
    "agent_params",
    "seed",
    "episodes",
    "mode",
    "specs",
    "coexplore_version",
    "created",
    "scenario_source",
)
DESIGN_KEYS = ("tm", "tn", "tr", "tc", "ib", "wb", "ob")


def candidate_row(record: dict[str, Any]) -> dict[str, Any]:
    """The columns of ``top.csv`` for one candidate (parts joined by ``+``)."""
    metrics = record.get("metrics") or {}
    row = {**record, **{k: metrics.get(k) for k in ROW_METRICS}}
    row["parts"] = "+".join(record.get("parts") or [])
    return {k: row.get(k) for k in COLUMNS}


def top_records(records: Sequence[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """The ``k`` feasible candidates of highest validation accuracy (ties: higher throughput,
    then the earlier episode)."""
    ok = [r for r in records if feasible(r)]
    ok.sort(key=lambda r: (-r["val_acc"], -r["metrics"]["throughput_fps"], r["episode"]))
    return ok[:k]


def plot_best_so_far(records: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write a PNG of the best feasible validation accuracy so far, against the episode and
    against search time."""
    ok = [r for r in records if feasible(r)]
    fig, axes = new_figure(ncols=2, width=10.0, height=4.0)
    for ax, key, label in zip(
        axes, ("episode", "wall_s"), ("episode", "search time (s)"), strict=True
    ):
        if ok:
            xs = [r[key] for r in ok]
            ys = [r["val_acc"] for r in ok]
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


def write_csv(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, dict | list):
        return f"`{json.dumps(value)}`" if value else "–"
    return "–" if value is None else str(value).replace("|", "\\|")


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table; floats to 4 significant digits, lists and dicts as inline JSON."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _rows_table(rows: Sequence[dict[str, Any]]) -> str:
    return md_table(COLUMNS, [list(r.values()) for r in rows])


def _layers(layers: Sequence[int]) -> str:
    if layers and list(layers) == list(range(layers[0], layers[-1] + 1)):
        return f"{layers[0]}–{layers[-1]}" if len(layers) > 1 else str(layers[0])
    return ", ".join(map(str, layers))


def _stages_table(record: dict[str, Any]) -> str:
    stages = (record.get("hardware") or {}).get("stages", [])
    measured = (record.get("metrics") or {}).get("stages", [{}] * len(stages))
    headers = ["stage", "part", "layers", *DESIGN_KEYS, "cycles", "DSP util", "BRAM util"]
    rows = [
        [
            i,
            s["part"],
            _layers(s["layers"]),
            *(s["design"].get(k) for k in DESIGN_KEYS),
            m.get("cycles"),
            m.get("dsp_util"),
            m.get("bram_util"),
        ]
        for i, (s, m) in enumerate(zip(stages, measured, strict=False))
    ]
    return md_table(headers, rows)


def _best_section(best: dict[str, Any] | None) -> list[str]:
    if best is None:
        return ["## Best design", "", "No candidate met the specs: there is no best design."]
    metrics = {k: v for k, v in (best.get("metrics") or {}).items() if k != "stages"}
    facts = [
        ("architecture", f"`{best['arch']}`"),
        ("episode", best.get("episode")),
        ("FPGAs", " + ".join(best.get("parts") or [])),
        ("precision", (best.get("hardware") or {}).get("precision")),
        ("validation accuracy", best["val_acc"]),
        ("test accuracy", best.get("test_acc")),
        ("reward", best.get("reward")),
    ]
    return [
        "## Best design",
        "",
        md_table(["", ""], facts),
        "",
        "Pipeline stages (tiling `tm, tn, tr, tc`; buffers `ib, wb, ob`):",
        "",
        _stages_table(best),
        "",
        "Metrics:",
        "",
        md_table(["metric", "value"], list(metrics.items())),
    ]


def _run_value(value: Any) -> Any:
    if isinstance(value, dict) and "name" in value:  # a scenario snapshot
        return value["name"]
    return value


def render_readme(run: dict[str, Any], summary: dict[str, Any]) -> str:
    """The markdown summary of a run: config, counts, best design, tables and plots."""
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
        *_best_section(summary["best"]),
        "",
        f"## Top {len(summary['top'])} by validation accuracy",
        "",
        _rows_table(summary["top"]) if summary["top"] else "No feasible candidates.",
        "",
        "![best so far](best_so_far.png)",
    ]
    for name, obj in OBJECTIVES.items():
        front = summary["fronts"][name]
        lines += [
            "",
            f"## Pareto front: validation accuracy vs {obj.label}",
            "",
            _rows_table(front) if front else "No feasible candidates.",
            "",
            f"![accuracy vs {name}](pareto_{name}.png)",
        ]
    hv = summary["hypervolume"]["throughput"]
    lines += ["", f"Hypervolume of (val_acc, throughput_fps) from (0, 0): {hv:.6g}", ""]
    return "\n".join(lines)


def write_report(run_dir: str | Path, top_k: int = 10) -> dict[str, Any]:
    """Write ``RUN_DIR/report/`` (plots, ``top.csv``, ``README.md``) and return a JSON-able
    summary. Raises FileNotFoundError when ``run_dir`` is not a run directory."""
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    records = read_records(run_dir)
    out = run_dir / REPORT_DIR
    out.mkdir(exist_ok=True)
    fronts = {name: front_records(records, name) for name in OBJECTIVES}
    summary: dict[str, Any] = {
        "run_dir": str(run_dir),
        **summarize(records),
        "top": [candidate_row(r) for r in top_records(records, top_k)],
        "fronts": {name: [candidate_row(r) for r in front] for name, front in fronts.items()},
        "hypervolume": {"throughput": throughput_hypervolume(records)},
    }
    files = [plot_front(records, name, out / f"pareto_{name}.png") for name in OBJECTIVES]
    files.append(plot_best_so_far(records, out / "best_so_far.png"))
    files.append(write_csv(summary["top"], out / "top.csv"))
    readme = out / "README.md"
    readme.write_text(render_readme(run, summary), encoding="utf-8")
    summary["files"] = [str(p) for p in [*files, readme]]
    return summary
