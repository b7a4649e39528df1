"""The one error the data package raises: a ConfigError naming the file or field at fault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coexplore.config import ConfigError


class DatasetError(ConfigError):
    """A dataset cannot be loaded as configured: says which path or field, and what is expected.

    Config fields read like any ConfigError (``DataConfig: field 'resize' must be ...``); file
    problems read ``<path>: <problem>; expected <what>``, so the bad file comes first.
    """

    def __init__(
        self, source: str, field: str, allowed: str, got: Any = None, problem: str | None = None
    ) -> None:
        super().__init__(source, field, allowed, got)
        self.problem = problem
        if problem is not None:
            self.args = (f"{source}: {problem}; expected {allowed}",)

    def __reduce__(self) -> tuple[Any, ...]:  # picklable, so it crosses process boundaries
        return (type(self), (self.source, self.field, self.allowed, self.got, self.problem))


def file_error(path: str | Path, problem: str, expected: str) -> DatasetError:
    """A missing or malformed file (or directory) at ``path``."""
    return DatasetError(str(path), "<file>", expected, problem=problem)
