"""The run directory of a search and its append-only candidate log.

Layout of ``RUN_DIR``::

    run.json           what was searched: scenario (name and full snapshot), agent, seed, budget
    candidates.jsonl   one JSON record per finished episode, appended and flushed as it ends
    cache.sqlite       the slow phase's result cache (trained accuracies survive a crash)
    checkpoint.pkl     the agent's state and RNG states after its last update, for ``--resume``
    wandb/             the W&B run (offline unless asked otherwise)
    report/            what ``coexplore report`` writes

A line is a :class:`~coexplore.core.record.CandidateRecord` as JSON: the evaluation plus
``episode`` (0-based) and ``wall_s`` (seconds of search since the run started, summed over
resumed sessions). Lines written before records had a version still load (upgraded).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from coexplore.core.metrics import METRIC_INFO
from coexplore.core.record import TIMING_FIELDS, CandidateRecord

RUN_FILE = "run.json"
CANDIDATES_FILE = "candidates.jsonl"
CACHE_FILE = "cache.sqlite"
CHECKPOINT_FILE = "checkpoint.pkl"


class RunLog:
    """Appends candidate records to ``candidates.jsonl``, one flushed and fsynced line each.

    A line cut short by a crash (no trailing newline) is dropped when the log is reopened, so
    the file always holds whole records.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / CANDIDATES_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.records = read_records(run_dir)
        _truncate_partial_line(self.path)
        self._file = self.path.open("a", encoding="utf-8")

    def append(self, record: CandidateRecord) -> None:
        self._file.write(_line(record))
        self._file.flush()
        os.fsync(self._file.fileno())
        self.records.append(record)

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` records (atomically): a resumed agent that no longer repeats
        its logged past takes over the log from there."""
        self._file.close()
        self.records = self.records[:n]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(_line(r) for r in self.records))
        os.replace(tmp, self.path)
        self._file = self.path.open("a", encoding="utf-8")

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _line(record: CandidateRecord) -> str:
    """One record as a JSON line, keys in the record's own order: a family's details may be
    ordered (the spatial family's loops, outer to inner, are a mapping's key order), so sorting
    them would change what they say."""
    return json.dumps(record.to_json()) + "\n"


def _truncate_partial_line(path: Path) -> None:
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def read_records(run_dir: str | Path) -> list[CandidateRecord]:
    """Every whole record of a run's ``candidates.jsonl`` (a cut-off last line is skipped)."""
    path = Path(run_dir) / CANDIDATES_FILE
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.endswith("\n") and line.strip():
            records.append(record_from_json(json.loads(line)))
    return records


def record_from_json(data: dict[str, Any]) -> CandidateRecord:
    """A record from a run log line of any version (version 0, the FPGA-only lines written
    before platforms existed, upgraded by the FPGA family that wrote them). The families are
    loaded first: their metrics are declared with them."""
    from coexplore.platforms import load_platforms

    load_platforms()
    if data.get("version", 0) == 0:
        from coexplore.platforms.fpga_pipeline.fast_phase import upgrade_v0

        data = upgrade_v0(data)
    return CandidateRecord.from_json(data)


def better(metric: str, a: float, b: float) -> bool:
    """Whether ``a`` is a better value of ``metric`` than ``b``."""
    return a > b if METRIC_INFO[metric].maximize else a < b


def best_value(records: Iterable[CandidateRecord], metric: str) -> float | None:
    """The best value of ``metric`` among the feasible records."""
    best = None
    for r in records:
        best = _better_value(metric, best, r)
    return best


def _better_value(metric: str, best: float | None, record: CandidateRecord) -> float | None:
    value = record.metric(metric) if record.feasible else None
    if value is None or (best is not None and not better(metric, value, best)):
        return best
    return value


def best_candidate(
    records: Iterable[CandidateRecord], objective: str = "throughput_fps"
) -> CandidateRecord | None:
    """The candidate with the highest validation accuracy within specs (ties, and accuracies
    not measured: the better ``objective``, then the earlier episode); ``None`` when no
    candidate met the specs."""
    best = None
    for r in records:
        best = _better_candidate(objective, best, r)
    return best


def _better_candidate(
    objective: str, best: CandidateRecord | None, r: CandidateRecord
) -> CandidateRecord | None:
    """``best`` after seeing ``r`` (one step of :func:`best_candidate`)."""
    if not r.feasible:
        return best
    if best is None or _accuracy(r) > _accuracy(best):
        return r
    if _accuracy(r) == _accuracy(best):
        value, incumbent = r.metric(objective), best.metric(objective)
        if value is not None and (incumbent is None or better(objective, value, incumbent)):
            return r
    return best


def _accuracy(record: CandidateRecord) -> float:
    """The validation accuracy; −inf for one not measured (NaN: nothing trained), so such
    candidates tie and their objective decides."""
    return -math.inf if math.isnan(record.val_acc) else record.val_acc


def read_run(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / RUN_FILE
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a search run directory (no {RUN_FILE})")
    return json.loads(path.read_text(encoding="utf-8"))


def run_scenario(meta: dict[str, Any]):
    """The scenario a run directory's ``run.json`` snapshots (as run, overrides included)."""
    from coexplore.scenario import scenario_from_dict

    return scenario_from_dict(meta["scenario_data"], meta["scenario_source"])


class Summary:
    """Counts and running figures of a search, kept up to date one record at a time (what
    the progress bar, W&B and reports show): :meth:`stats` after :meth:`add` of each record
    equals :func:`summarize` of them all, at a constant cost per record."""

    def __init__(self, objectives: tuple[str, ...] = ("throughput_fps",)) -> None:
        self.objectives = tuple(objectives)
        self._tie = objectives[0] if objectives else "throughput_fps"
        self.counts = dict.fromkeys(("episodes", "pruned", "trained", "diverged", "cache_hits",
                                     "feasible"), 0)  # fmt: skip
        self.wall_s = 0.0
        self.best: CandidateRecord | None = None
        self.values: dict[str, float | None] = dict.fromkeys(self.objectives)

    def add(self, r: CandidateRecord) -> None:
        c = self.counts
        c["episodes"] += 1
        c["pruned"] += r.pruned
        if not r.pruned:
            c["trained"] += 1
            c["diverged"] += r.diverged
            c["cache_hits"] += r.cache_hit
        c["feasible"] += r.feasible
        self.wall_s = max(self.wall_s, r.wall_s or 0.0)
        self.best = _better_candidate(self._tie, self.best, r)
        for m in self.objectives:
            self.values[m] = _better_value(m, self.values[m], r)

    def stats(self) -> dict[str, Any]:
        return {
            **self.counts,
            "wall_s": self.wall_s,
            "best_val_acc": None if self.best is None else self.best.val_acc,
            **{f"best_{m}": v for m, v in self.values.items()},
            "best": self.best,
        }


def summarize(
    records: list[CandidateRecord], objectives: tuple[str, ...] = ("throughput_fps",)
) -> dict[str, Any]:
    """Counts and running figures of a search: what the progress bar, W&B and reports show."""
    summary = Summary(objectives)
    for r in records:
        summary.add(r)
    return summary.stats()


def record_differences(
    a: list[CandidateRecord], b: list[CandidateRecord], ignore: tuple[str, ...] = TIMING_FIELDS
) -> list[str]:
    """Where two runs' records differ, field by field (timings ignored): empty when the two
    searches are the same candidate for candidate, metric for metric. Values compare as JSON
    text, so a NaN equals a NaN."""
    out = [f"{len(a)} records against {len(b)}"] if len(a) != len(b) else []
    for i, (ra, rb) in enumerate(zip(a, b, strict=False)):
        ja, jb = ra.to_json(), rb.to_json()
        for key in sorted(set(ja) | set(jb)):
            if key not in ignore and _text(ja.get(key)) != _text(jb.get(key)):
                out.append(f"record {i}: {key}: {ja.get(key)!r} != {jb.get(key)!r}")
    return out


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
