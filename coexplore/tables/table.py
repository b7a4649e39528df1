"""``ArchTable``: a CSV (plain or gzipped) with one row per architecture, read once.

The one reader behind every lookup: the ``table`` accuracy oracle, the ``table`` platform, the
built-in NAS-Bench-201 tables and a user's own files. Rows are keyed by the canonical
architecture string (what a search space's ``Architecture.canonical`` writes); columns whose
every value is a number become float arrays, the others stay text.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from coexplore.config import ConfigError


class NotInTableError(ConfigError, LookupError):
    """An architecture the table has no row for (a search keeps to a table's rows:
    :class:`~coexplore.core.coverage.Coverage`; this is for a candidate named directly)."""


@dataclass(frozen=True, eq=False)
class ArchTable:
    """Rows of a per-architecture table: ``archs[i]``, and column ``name``'s cell ``i`` in
    ``cells[name][i]`` (text; :meth:`column` gives a numeric column as floats, converted once)."""

    source: str  # the file, for messages
    arch_column: str
    archs: tuple[str, ...]
    cells: dict[str, tuple[str, ...]] = field(repr=False)
    index: dict[str, int] = field(repr=False)
    _numeric: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.archs)

    @property
    def names(self) -> list[str]:
        """The columns besides the architecture column, in file order."""
        return list(self.cells)

    def position(self, arch: str) -> int:
        """The row of ``arch``; a clear error naming it (and the file) when there is none."""
        try:
            return self.index[arch]
        except KeyError:
            raise NotInTableError(
                self.source,
                self.arch_column,
                f"one of the table's {len(self)} architectures (this one is not in it)",
                arch,
            ) from None

    def column(self, name: str) -> np.ndarray:
        """Column ``name`` as float64; an error naming the column when it is missing or holds a
        cell that is not a number."""
        if name not in self._numeric:
            self.require([name])
            try:
                self._numeric[name] = np.array(self.cells[name], dtype=np.float64)
            except ValueError:
                bad = next(c for c in self.cells[name] if isinstance(_cell(c), str))
                raise ConfigError(self.source, name, "a column of numbers", bad) from None
        return self._numeric[name]

    def value(self, arch: str, column: str) -> float:
        return float(self.column(column)[self.position(arch)])

    def row(self, arch: str) -> dict[str, Any]:
        """Every cell of ``arch``'s row, numbers as floats."""
        i = self.position(arch)
        return {name: _cell(values[i]) for name, values in self.cells.items()}

    def require(self, names: Sequence[str]) -> None:
        """Fail, naming the columns needed and those found, unless every one is a column."""
        for name in names:
            if name not in self.cells:
                raise ConfigError(
                    self.source, name, f"a column (needed: {list(names)})", self.names
                )


def _cell(text: str) -> float | str:
    """A cell as a number where it is one, else its text."""
    try:
        return float(text)
    except ValueError:
        return text


def read_table(path: str | Path, arch_column: str = "arch") -> ArchTable:
    """The table in ``path`` (``.gz`` is decompressed), cached per file and modification time."""
    path = Path(path)
    try:
        stamp = os.stat(path).st_mtime_ns
    except (OSError, ValueError) as exc:  # (ValueError: a NUL in the name)
        raise ConfigError(str(path), "<file>", "a readable CSV file", str(exc)) from None
    return _read(str(path), stamp, arch_column)


@lru_cache(maxsize=16)
def _read(path: str, stamp: int, arch_column: str) -> ArchTable:
    try:
        raw = Path(path).read_bytes()
        if path.endswith(".gz"):
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8-sig")
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        allowed = "a readable CSV file (UTF-8, optionally .gz)"
        raise ConfigError(path, "<file>", allowed, str(exc)) from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ConfigError(path, "<header>", "a header row naming the columns")
    header = [h.strip() for h in rows[0]]
    if arch_column not in header:
        raise ConfigError(path, arch_column, "a column of architecture strings", header)
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    for n, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise ConfigError(path, f"row {n}", f"{len(header)} cells like the header", len(r))
    columns = zip(*body, strict=True) if body else [()] * len(header)
    cells = {name: tuple(c.strip() for c in col) for name, col in zip(header, columns, strict=True)}
    archs = cells.pop(arch_column)
    index = {a: i for i, a in enumerate(archs)}
    if len(index) != len(archs):
        dup = next(a for i, a in enumerate(archs) if index[a] != i)
        raise ConfigError(path, arch_column, "one row per architecture", dup)
    return ArchTable(path, arch_column, archs, cells, index)
