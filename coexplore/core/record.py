"""``CandidateRecord``: everything known about one evaluated candidate, built in one place.

One record per proposal is one line of a run's ``candidates.jsonl``: readable JSON with a
``version``. Version 0 is the FPGA-only line written before platforms existed (no version key);
the run log's reader (:func:`coexplore.search.runlog.record_from_json`) upgrades it, so older
run directories still load for ``report`` and ``--resume``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from coexplore.core.metrics import Metrics
from coexplore.core.specs import SpecFailure

RECORD_VERSION = 1
TIMING_FIELDS = ("fast_s", "slow_s", "wall_s")  # differ between two runs of the same search


@dataclass(frozen=True)
class CandidateRecord:
    arch: str  # canonical architecture string
    space: str
    tokens: list[int]  # the agent's tokens, software then hardware
    platform: str  # platform family
    choice: Any  # the hardware the agent chose (the family's JSON form)
    hardware: dict[str, Any] | None  # the tuned design (the family's JSON form)
    metrics: Metrics | None  # SI units; None when no design was found or in accuracy-only NAS
    details: dict[str, Any] | None  # the family's full report of the design
    pruned: bool  # stopped by the fast phase, never trained
    failed_specs: list[SpecFailure]
    hw_attempts: int
    fast_s: float
    macs: int
    reward: float
    reward_terms: dict[str, float] = field(default_factory=dict)
    val_acc: float | None = None
    test_acc: float | None = None
    diverged: bool = False
    cache_hit: bool = False
    slow_s: float = 0.0
    tasks: dict[str, dict[str, float]] | None = None  # a multi-task candidate's, per task
    episode: int | None = None
    wall_s: float | None = None
    repeat: bool = False  # answered from an earlier proposal of the same candidate
    version: int = RECORD_VERSION

    @property
    def feasible(self) -> bool:
        """Met the specs on its hardware and was trained to a finite accuracy."""
        return (
            not self.pruned
            and not self.failed_specs
            and self.metrics is not None
            and not self.diverged
            and self.val_acc is not None
        )

    def metric(self, name: str) -> float | None:
        return None if self.metrics is None else self.metrics.get(name)

    def evaluation(self) -> CandidateRecord:
        """The record without what belongs to one proposal (episode, wall time, repeat)."""
        return replace(self, episode=None, wall_s=None, repeat=False)

    def proposal(self, episode: int, wall_s: float, repeat: bool = False) -> CandidateRecord:
        extra = {"fast_s": 0.0, "slow_s": 0.0} if repeat else {}
        return replace(self, episode=episode, wall_s=wall_s, repeat=repeat, **extra)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["metrics"] = None if self.metrics is None else self.metrics.to_dict()
        d["failed_specs"] = [f.to_dict() for f in self.failed_specs]
        if d["tasks"] is None:  # single-task records keep their fields
            del d["tasks"]
        return d

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CandidateRecord:
        data = dict(data)
        version = data.get("version", 0)
        if version > RECORD_VERSION:
            raise ValueError(f"record version {version} is newer than this coexplore reads")
        if version != RECORD_VERSION:  # the run log's reader upgrades it
            raise ValueError(f"record version {version}: read it with runlog.record_from_json")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown record fields {unknown}; known: {sorted(known)}")
        data["metrics"] = None if data["metrics"] is None else Metrics.from_dict(data["metrics"])
        data["failed_specs"] = [SpecFailure.from_dict(f) for f in data["failed_specs"]]
        return cls(**data)
