"""Weights & Biases tracking of a search: each candidate, the running best, the Pareto fronts.

Offline by default, with no network probe (docs/machine-notes.md#wandb): ``WANDB_MODE`` and the
W&B folders are set in the environment *before* ``wandb`` starts, all inside the run directory.
``online`` syncs to the user's account (``wandb login`` first); ``disabled`` turns tracking off.
``wandb sync RUN_DIR/wandb/offline-run-*`` uploads an offline run later.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coexplore.core.record import CandidateRecord
from coexplore.search.runlog import best_candidate

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


def candidate_metrics(record: CandidateRecord) -> dict[str, Any]:
    """The per-candidate numbers worth a chart, metrics in SI units (absent ones left out)."""
    out: dict[str, Any] = {
        "candidate/reward": record.reward,
        "candidate/pruned": int(record.pruned),
        "candidate/fast_s": record.fast_s,
        "candidate/slow_s": record.slow_s,
    }
    if record.metrics is not None:
        out.update({f"candidate/{k}": v for k, v in record.metrics.to_dict().items()})
    if record.feasible:
        out["candidate/val_acc"] = record.val_acc
        out["candidate/test_acc"] = record.test_acc
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

    def log_candidate(self, record: CandidateRecord, progress: dict[str, Any]) -> None:
        """One candidate plus the search's running figures (``progress``), at step = episode."""
        if self.run is None:
            return
        data = candidate_metrics(record)
        data.update({f"search/{k}": v for k, v in progress.items() if v is not None})
        self.run.log(data, step=record.episode)

    def log_fronts(
        self, records: list[CandidateRecord], objectives: tuple[str, ...], plots: dict[str, Path]
    ) -> None:
        """The Pareto fronts as tables and plots, and the best candidate in the run summary."""
        if self.run is None:
            return
        from coexplore.search.pareto import front_records

        wandb = self.wandb
        columns = ["episode", "arch", "hardware", "val_acc", *objectives]
        data: dict[str, Any] = {}
        for objective in objectives:
            rows = [
                [
                    r.episode,
                    r.arch,
                    hardware_label(r),
                    r.val_acc,
                    *(r.metric(m) for m in objectives),
                ]
                for r in front_records(records, objective)
            ]
            data[f"pareto/{objective}_table"] = wandb.Table(columns=columns, data=rows)
            if objective in plots:
                data[f"pareto/{objective}_plot"] = wandb.Image(str(plots[objective]))
        self.run.log(data)
        best = best_candidate(records, *objectives[:1])
        if best is not None:
            summary = {
                "best/arch": best.arch,
                "best/hardware": hardware_label(best),
                "best/val_acc": best.val_acc,
                "best/test_acc": best.test_acc,
                "best/episode": best.episode,
            }
            summary.update({f"best/{k}": v for k, v in best.metrics.to_dict().items()})
            self.run.summary.update(summary)

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None


def hardware_label(record: CandidateRecord) -> str:
    """A short label of a record's hardware, from its platform family (e.g. FPGA parts)."""
    from coexplore.platforms import platform_class

    return platform_class(record.platform).describe(record.choice, record.hardware, record.details)
