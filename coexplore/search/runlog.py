"""The run directory of a search and its append-only candidate log.

Layout of ``RUN_DIR``::

    run.json           what was searched: scenario (name and full snapshot), agent, seed, budget
    candidates.jsonl   one JSON record per finished episode, appended and flushed as it ends
    cache.sqlite       the slow phase's result cache (trained accuracies survive a crash)
    checkpoint.pkl     the agent's state and RNG states after its last update, for ``--resume``
    wandb/             the W&B run (offline unless asked otherwise)
    report/            what ``coexplore report`` writes

A record is the env's ``info`` (see :class:`coexplore.env.CoExploreEnv`) plus ``episode`` (0-based)
and ``wall_s`` (seconds of search since the run started, summed over resumed sessions).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

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

    def append(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, sort_keys=True) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.records.append(record)

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` records (atomically): a resumed agent that no longer repeats
        its logged past takes over the log from there."""
        self._file.close()
        self.records = self.records[:n]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in self.records))
        os.replace(tmp, self.path)
        self._file = self.path.open("a", encoding="utf-8")

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _truncate_partial_line(path: Path) -> None:
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def read_records(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every whole record of a run's ``candidates.jsonl`` (a cut-off last line is skipped)."""
    path = Path(run_dir) / CANDIDATES_FILE
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.endswith("\n") and line.strip():
            records.append(json.loads(line))
    return records


def feasible(record: dict[str, Any]) -> bool:
    """Met the specs on its hardware and was trained to a finite accuracy."""
    return (
        not record["pruned"]
        and not record["failed_specs"]
        and record.get("metrics") is not None
        and not record.get("diverged")
        and record.get("val_acc") is not None
    )


def best_candidate(records: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The candidate with the highest validation accuracy within specs (ties: higher
    throughput, then the earlier episode); ``None`` when no candidate met the specs."""
    best = None
    for r in records:
        if not feasible(r):
            continue
        key = (r["val_acc"], r["metrics"]["throughput_fps"])
        if best is None or key > (best["val_acc"], best["metrics"]["throughput_fps"]):
            best = r
    return best


def read_run(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / RUN_FILE
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a search run directory (no {RUN_FILE})")
    return json.loads(path.read_text(encoding="utf-8"))


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and running figures of a search: what the progress bar, W&B and reports show."""
    trained = [r for r in records if not r["pruned"]]
    ok = [r for r in records if feasible(r)]
    best = best_candidate(ok)
    return {
        "episodes": len(records),
        "pruned": len(records) - len(trained),
        "trained": len(trained),
        "diverged": sum(bool(r.get("diverged")) for r in trained),
        "cache_hits": sum(bool(r.get("cache_hit")) for r in trained),
        "feasible": len(ok),
        "wall_s": max((r["wall_s"] for r in records), default=0.0),
        "best_val_acc": None if best is None else best["val_acc"],
        "best_throughput_fps": max((r["metrics"]["throughput_fps"] for r in ok), default=None),
        "best": best,
    }
