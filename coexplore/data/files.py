"""Finding a dataset's files under ``data_root`` and reading them, raw or gzip-compressed."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Sequence
from pathlib import Path

from coexplore.data.errors import DatasetError, file_error


def expected_files(names: Sequence[str], gz: bool) -> str:
    """How the error messages list the files a dataset needs."""
    return ", ".join(names) + (" (raw or .gz)" if gz else "")


def find_files(
    data_root: str | None, dataset: str, subdirs: Sequence[str], names: Sequence[str], gz: bool
) -> dict[str, Path]:
    """The path of each of ``names``, all from one directory: the first of ``data_root/<subdir>``
    (in the order given) or ``data_root`` itself that holds every file. With ``gz``, ``name.gz``
    stands in for a missing ``name``."""
    expected = expected_files(names, gz)
    if data_root is None:
        raise DatasetError(
            "DataConfig", "data_root", f"a directory holding the {dataset} files: {expected}"
        )
    root = Path(data_root).expanduser()
    if not root.is_dir():
        raise file_error(root, "no such directory", f"a directory holding {expected}")
    candidates = [root / sub for sub in subdirs if (root / sub).is_dir()] + [root]
    best: tuple[Path, dict[str, Path]] | None = None
    for directory in candidates:
        found = {n: p for n in names if (p := _find(directory, n, gz)) is not None}
        if len(found) == len(names):
            return found
        if best is None or len(found) > len(best[1]):
            best = (directory, found)
    assert best is not None
    directory, found = best
    missing = next(n for n in names if n not in found)
    others = [str(c) for c in candidates if c != directory]
    also = f" (also looked in {', '.join(others)})" if others else ""
    shown = f"{missing}(.gz)" if gz else missing
    raise file_error(directory, f"missing {shown}{also}", expected)


def _find(directory: Path, name: str, gz: bool) -> Path | None:
    for candidate in [directory / name] + ([directory / f"{name}.gz"] if gz else []):
        if candidate.is_file():
            return candidate
    return None


def read_bytes(path: Path, expected: str) -> bytes:
    """The contents of ``path``, decompressed when it ends in ``.gz``."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise file_error(path, f"unreadable ({exc})", expected) from None
