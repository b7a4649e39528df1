"""Weights & Biases tracking of a search: each candidate, the running best, the Pareto fronts.

Offline by default, with no network probe (DESIGN.md §6): ``WANDB_MODE`` and the W&B folders
are set in the environment *before* ``wandb`` starts, all inside the run directory. ``online``
syncs to the user's account (``wandb login`` first); ``disabled`` turns tracking off.
``wandb sync RUN_DIR/wandb/offline-run-*`` uploads an offline run later.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coexplore.search.runlog import best_candidate, feasible

WANDB_MODES = ("offline", "online", "disabled")


@dataclass(frozen=True)
class WandbConfig:
    mode: str = "offline"
    project: str = "coexplore"
    entity: str | None = None
    group: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)
    name: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in WANDB_MODES:
            raise ValueError(f"wandb mode must be one of {WANDB_MODES}, got {self.mode!r}")


def candidate_metrics(record: dict[str, Any]) -> dict[str, Any]:
    """The per-candidate numbers worth a chart (NaN-free: absent values are left out)."""
    m = record.get("metrics") or {}
    out: dict[str, Any] = {
        "candidate/reward": record["reward"],
        "candidate/pruned": int(record["pruned"]),
        "candidate/fast_s": record["fast_s"],
        "candidate/slow_s": record.get("slow_s", 0.0),
    }
    for key in ("throughput_fps", "latency_ms", "energy_mj", "gops_per_w"):
        if key in m:
            out[f"candidate/{key}"] = m[key]
    if feasible(record):
        out["candidate/val_acc"] = record["val_acc"]
        out["candidate/test_acc"] = record["test_acc"]
    return out


class WandbTracker:
    """One W&B run per search run; a resumed search continues the same run id."""

    def __init__(
        self, config: WandbConfig, run_dir: Path, run_id: str, run_config: dict[str, Any]
    ) -> None:
        self.config, self.run = config, None
        if config.mode == "disabled":
            return
        wandb_dir = Path(run_dir).resolve() / "wandb"
        wandb_dir.mkdir(parents=True, exist_ok=True)
        os.environ.update(
            WANDB_MODE=config.mode,
            WANDB_DIR=str(wandb_dir.parent),
            WANDB_CACHE_DIR=str(wandb_dir / ".cache"),
            WANDB_CONFIG_DIR=str(wandb_dir / ".config"),
            WANDB_DATA_DIR=str(wandb_dir / ".data"),
            WANDB_SILENT="true",
        )
        import wandb

        self.wandb = wandb
        # Under `wandb agent` the sweep names the run; elsewhere the run dir's id continues it.
        in_sweep = bool(os.environ.get("WANDB_SWEEP_ID"))
        self.run = wandb.init(
            project=config.project,
            entity=config.entity,
            group=config.group,
            tags=list(config.tags) or None,
            name=config.name,
            config=run_config,
            id=None if in_sweep else run_id,
            resume=None if in_sweep else "allow",
            dir=str(wandb_dir.parent),
            mode=config.mode,
        )

    @property
    def active(self) -> bool:
        return self.run is not None

    def log_candidate(self, record: dict[str, Any], progress: dict[str, Any]) -> None:
        """One candidate plus the search's running figures (``progress``), at step = episode."""
        if self.run is None:
            return
        data = candidate_metrics(record)
        data.update({f"search/{k}": v for k, v in progress.items() if v is not None})
        self.run.log(data, step=record["episode"])

    def log_fronts(self, records: list[dict[str, Any]], plots: dict[str, Path]) -> None:
        """The Pareto fronts as tables and plots, and the best candidate in the run summary."""
        if self.run is None:
            return
        from coexplore.search.pareto import OBJECTIVES, front_records

        wandb = self.wandb
        columns = ["episode", "arch", "parts", "val_acc", "throughput_fps", "energy_mj"]
        data: dict[str, Any] = {}
        for objective in OBJECTIVES:
            rows = [
                [
                    r["episode"],
                    r["arch"],
                    "+".join(r["parts"]),
                    r["val_acc"],
                    r["metrics"]["throughput_fps"],
                    r["metrics"]["energy_mj"],
                ]
                for r in front_records(records, objective)
            ]
            data[f"pareto/{objective}_table"] = wandb.Table(columns=columns, data=rows)
            if objective in plots:
                data[f"pareto/{objective}_plot"] = wandb.Image(str(plots[objective]))
        self.run.log(data)
        best = best_candidate(records)
        if best is not None:
            self.run.summary.update(
                {
                    "best/arch": best["arch"],
                    "best/parts": "+".join(best["parts"]),
                    "best/val_acc": best["val_acc"],
                    "best/test_acc": best["test_acc"],
                    "best/throughput_fps": best["metrics"]["throughput_fps"],
                    "best/energy_mj": best["metrics"]["energy_mj"],
                    "best/episode": best["episode"],
                }
            )

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None
