"""Loading and validating user files (YAML or JSON) with errors that name file, field and rule."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A user file or argument is wrong: says where, which field, and what is allowed."""

    def __init__(self, source: str, field: str, allowed: str, got: Any = None) -> None:
        self.source, self.field, self.allowed, self.got = source, field, allowed, got
        detail = f" (got {got!r})" if got is not None else ""
        super().__init__(f"{source}: field '{field}' must be {allowed}{detail}")

    def __reduce__(self):  # picklable, so errors travel back from worker processes
        return type(self), (self.source, self.field, self.allowed, self.got)


def load_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON file whose top level is a mapping."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), "<file>", "a readable file", str(exc)) from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(str(path), "<file>", "valid YAML or JSON", str(exc)) from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), "<top level>", "a mapping of field names to values")
    return data


def require_keys(
    data: dict[str, Any],
    source: str,
    required: Iterable[str],
    optional: Iterable[str] = (),
    prefix: str = "",
) -> None:
    """Reject missing required keys and unknown keys, naming the allowed ones."""
    required, optional = set(required), set(optional)
    where = f"{prefix}." if prefix else ""
    for key in sorted(required - data.keys()):
        raise ConfigError(source, f"{where}{key}", "present (it is required)")
    unknown = sorted(set(data) - required - optional)
    if unknown:
        allowed = ", ".join(sorted(required | optional))
        raise ConfigError(source, f"{where}{unknown[0]}", f"one of the known fields: {allowed}")
