"""Persistent result cache of the slow phase: one SQLite file shared by many writer processes.

A trained candidate costs seconds to minutes, so the cache must never lose a finished result
and never return a partial one. Each ``put`` is one SQLite transaction (``INSERT OR IGNORE``:
the first writer of a key wins), so a reader sees a whole entry or none, and a writer killed
mid-put leaves the file as it was before that put. WAL journaling lets readers and the single
active writer proceed together; waiting writers queue on ``busy_timeout``.

Kept weights (optional) live next to the file, one checkpoint per entry named by the entry's
key id: ``<cache path>.weights/<CacheKey.id>.pt``, each written to a temporary file and moved
into place with ``os.replace``, so a reader finds a whole checkpoint or none.
"""

from __future__ import annotations

import csv
import hashlib
import json
import numbers
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

_T = TypeVar("_T")

SCHEMA_VERSION = 1
KEY_FIELDS = ("arch", "dataset", "fidelity", "config_hash", "seed")
EXPORT_FORMATS = ("jsonl", "csv")

_INSERT = (
    "INSERT OR IGNORE INTO results (id, arch, dataset, fidelity, config_hash, seed, result, "
    "diverged, wall_s, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

# Connections inherited across fork: SQLite forbids using them in the child, and closing them
# there could disturb the parent's locks, so the child only keeps them alive.
_INHERITED: list[sqlite3.Connection] = []

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id          TEXT PRIMARY KEY,
    arch        TEXT NOT NULL,
    dataset     TEXT NOT NULL,
    fidelity    TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    seed        INTEGER NOT NULL,
    result      TEXT NOT NULL,
    diverged    INTEGER NOT NULL,
    wall_s      REAL,
    created     REAL NOT NULL
)
"""


def hash_config(config: Mapping[str, Any]) -> str:
    """A stable sha256 hex of a JSON-able training config (key order does not matter)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class CacheKey:
    """What determines a trained result: the architecture, its data, fidelity, config and seed."""

    arch: str  # canonical architecture string
    dataset: str  # dataset name
    fidelity: str  # canonical data/fidelity key (e.g. DataConfig.key())
    config_hash: str  # hash of the training config (see hash_config)
    seed: int

    def __post_init__(self) -> None:
        for name in KEY_FIELDS[:4]:
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"CacheKey.{name} must be a str, got {getattr(self, name)!r}")
        if not isinstance(self.seed, numbers.Integral) or isinstance(self.seed, bool):
            raise TypeError(f"CacheKey.seed must be an int, got {self.seed!r}")
        object.__setattr__(self, "seed", int(self.seed))  # numpy ints hash like ints

    @property
    def id(self) -> str:
        """A stable sha256 hex of the five fields (the table's primary key)."""
        text = json.dumps([getattr(self, f) for f in KEY_FIELDS], separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ResultCache:
    """Results of trained candidates in one SQLite file; safe for concurrent processes.

    Each process (and each fork of it) opens its own connection lazily on first use.
    ``timeout_s`` is how long a put waits for another process's write to finish before
    ``sqlite3.OperationalError: database is locked`` is raised.
    """

    def __init__(self, path: str | os.PathLike, timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self.timeout_s = float(timeout_s)
        self.journal_mode: str | None = None
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    # -- connection ------------------------------------------------------------------------

    def _after_fork(self) -> None:
        """In a forked child, set the parent's connection aside and start afresh."""
        pid = os.getpid()
        if self._pid != pid:
            self._lock = threading.Lock()  # a lock copied by fork may be held by a dead thread
            if self._conn is not None:
                _INHERITED.append(self._conn)
            self._conn, self._pid = None, pid

    def _connection(self) -> sqlite3.Connection:
        """This process's connection, opened on first use (call with the lock held)."""
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, timeout=self.timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
            self._retrying(lambda: self._set_up(conn))
        except BaseException:
            conn.close()
            raise
        return conn

    def _set_up(self, conn: sqlite3.Connection) -> None:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal":  # switching needs the file to itself; once WAL, it stays WAL
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        self.journal_mode = mode
        # FULL: a put is fsynced before it returns, so a finished result survives even a
        # power loss or OS crash. NORMAL would survive kill -9 too (WAL stays consistent)
        # but may drop the last commits on power loss; one fsync (~ms) per result that
        # took seconds to minutes to train is a price worth paying.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(_SCHEMA)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        elif version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"{self.path}: cache schema {version} is newer than this coexplore "
                f"understands ({SCHEMA_VERSION})"
            )

    def _retrying(self, op: Callable[[], _T]) -> _T:
        """``op()``, retried for up to ``timeout_s`` while the file is locked.

        ``busy_timeout`` already makes reads and writes wait; this covers the locks SQLite
        does not wait on, such as several processes switching a new file to WAL at once.
        Every operation retried here is idempotent (reads, ``INSERT OR IGNORE``, set-up).
        """
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                return op()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(random.uniform(0.005, 0.05))

    def _fetch(self, sql: str, params: tuple = ()) -> list[tuple]:
        self._after_fork()
        with self._lock:
            conn = self._connection()
            return self._retrying(lambda: conn.execute(sql, params).fetchall())

    def close(self) -> None:
        """Close this process's connection (a later call reopens it)."""
        self._after_fork()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn = None

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:  # picklable: a worker process opens its own
        return {"path": self.path, "timeout_s": self.timeout_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["timeout_s"])

    def __repr__(self) -> str:
        return f"ResultCache({str(self.path)!r})"

    # -- entries ---------------------------------------------------------------------------

    def get(self, key: CacheKey) -> dict[str, Any] | None:
        """The stored result of ``key``, or None."""
        rows = self._fetch("SELECT result FROM results WHERE id = ?", (key.id,))
        return json.loads(rows[0][0]) if rows else None

    def put(self, key: CacheKey, result: Mapping[str, Any], wall_s: float | None = None) -> bool:
        """Store ``result`` under ``key`` in one transaction; True if newly stored.

        An existing entry is kept (first writer wins). ``wall_s`` is the training time the
        entry saves on a re-run. The result must be JSON-able (NaN is allowed).
        """
        if not isinstance(result, Mapping):
            raise TypeError(f"a cached result must be a mapping, got {type(result).__name__}")
        text = json.dumps(result)  # fails here, before the file is touched
        self._after_fork()
        row = (
            key.id,
            key.arch,
            key.dataset,
            key.fidelity,
            key.config_hash,
            key.seed,
            text,
            int(result.get("diverged") is True),
            None if wall_s is None else float(wall_s),
            time.time(),
        )
        with self._lock:
            conn = self._connection()
            cur = self._retrying(lambda: conn.execute(_INSERT, row))
            return cur.rowcount == 1

    # -- kept weights ----------------------------------------------------------------------

    @property
    def weights_dir(self) -> Path:
        """Where kept weights live: ``<cache path>.weights``."""
        return self.path.with_name(self.path.name + ".weights")

    def weights_path(self, key: CacheKey) -> Path:
        """The checkpoint file of ``key`` (whether or not it exists), named by ``key.id``."""
        return self.weights_dir / f"{key.id}.pt"

    def has_weights(self, key: CacheKey) -> bool:
        return self.weights_path(key).is_file()

    def save_weights(self, key: CacheKey, state_dict: Mapping[str, Any]) -> Path:
        """Write a model's ``state_dict`` as ``key``'s checkpoint, atomically; returns its path.

        Tensors are stored on the CPU. The file is written under a temporary name in the same
        directory, fsynced and moved into place with ``os.replace``: a reader (or a writer
        killed midway) never sees a partial checkpoint. A later save of the same key replaces
        the file (same key, same training, so the same weights on the same machine)."""
        import torch  # here, not at the top: the cache itself does not need torch

        state = {
            k: v.detach().cpu().contiguous() if isinstance(v, torch.Tensor) else v
            for k, v in state_dict.items()
        }
        path = self.weights_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with tmp.open("wb") as fh:
                torch.save(state, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return path

    def load_weights(self, key: CacheKey, map_location: Any = "cpu") -> dict[str, Any]:
        """``key``'s kept ``state_dict``; FileNotFoundError naming the file when there is none."""
        import torch

        path = self.weights_path(key)
        if not path.is_file():
            cached = self.path.is_file() and key in self  # never creates the cache file
            raise FileNotFoundError(
                f"no kept weights for {key.arch!r} (seed {key.seed}, config {key.config_hash}): "
                f"{path} does not exist; "
                + (
                    "the result is cached but was trained without keeping weights"
                    if cached
                    else "it was never trained with keep_weights=True"
                )
            )
        return torch.load(path, map_location=map_location, weights_only=True)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, CacheKey):
            return False
        return bool(self._fetch("SELECT 1 FROM results WHERE id = ?", (key.id,)))

    def __len__(self) -> int:
        return self._fetch("SELECT COUNT(*) FROM results")[0][0]

    def stats(self) -> dict[str, Any]:
        """Entries, per-dataset counts, diverged results, stored training time, file size."""
        rows = self._fetch(
            "SELECT dataset, COUNT(*), SUM(diverged), TOTAL(wall_s) FROM results "
            "GROUP BY dataset ORDER BY dataset"
        )
        wal = Path(f"{self.path}-wal")
        size = self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        return {
            "path": str(self.path),
            "entries": sum(r[1] for r in rows),
            "datasets": {r[0]: r[1] for r in rows},
            "diverged": sum(r[2] for r in rows),
            "wall_s": sum(r[3] for r in rows),
            "size_bytes": size,
            "journal_mode": self.journal_mode,
        }

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every entry in insertion order: id, the key fields, wall_s, created and result."""
        rows = self._fetch(
            "SELECT id, arch, dataset, fidelity, config_hash, seed, wall_s, created, result "
            "FROM results ORDER BY rowid"
        )
        names = ("id", *KEY_FIELDS, "wall_s", "created")
        for row in rows:
            yield {**dict(zip(names, row[:-1], strict=True)), "result": json.loads(row[-1])}

    def export(self, fh: IO[str], fmt: str = "jsonl") -> int:
        """Write every entry to ``fh``; returns the number written.

        jsonl: one object per entry (id, key fields, wall_s, created, result).
        csv: key fields, wall_s, then the scalar result fields flattened with dotted names
        (``metrics.top1``); a result field named like a key column gets a ``result.`` prefix.
        """
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(EXPORT_FORMATS)}")
        if fmt == "jsonl":
            entries = list(self.entries())
            fh.writelines(json.dumps(entry) + "\n" for entry in entries)
            return len(entries)
        fixed = ["id", *KEY_FIELDS, "wall_s", "created"]
        rows = []
        for entry in self.entries():
            flat = {k: v for k, v in entry.items() if k != "result"}
            for name, value in _flatten(entry["result"]):
                flat[f"result.{name}" if name in fixed else name] = value
            rows.append(flat)
        extra = sorted({k for r in rows for k in r} - set(fixed))
        writer = csv.DictWriter(fh, fieldnames=fixed + extra, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return len(rows)


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED: another connection holds the lock."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Scalar leaves of nested mappings as (dotted name, value); lists are left out."""
    for k, v in data.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping):
            yield from _flatten(v, f"{name}.")
        elif v is None or isinstance(v, str | int | float | bool):
            yield name, v
