"""Loading and validating user files (YAML or JSON) with errors that name file, field and rule."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A user file or argument is wrong: says where, which field, and what is allowed."""

    def __init__(self, source: str, field: str, allowed: str, got: Any = None) -> None:
        field = str(field)  # (a key of a user's mapping may be a number, true or null)
        self.source, self.field, self.allowed, self.got = source, field, allowed, got
        detail = f" (got {got!r})" if got is not None else ""
        super().__init__(f"{source}: field '{field}' must be {allowed}{detail}")

    def __reduce__(self):  # picklable, so errors travel back from worker processes
        return type(self), (self.source, self.field, self.allowed, self.got)


def load_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON file whose top level is a mapping."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:  # (a NUL in the name, or not UTF-8)
        raise ConfigError(str(path), "<file>", "a readable file (UTF-8 text)", str(exc)) from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:  # (YAML's dates raise ValueError: 2024-13-01)
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
    if not isinstance(data, dict):
        raise ConfigError(source, prefix or "<top level>", "a mapping of field names to values")
    required, optional = set(required), set(optional)
    where = f"{prefix}." if prefix else ""
    for key in sorted(required - data.keys()):
        raise ConfigError(source, f"{where}{key}", "present (it is required)")
    unknown = sorted(set(data) - required - optional, key=str)  # (YAML keys may be numbers)
    if unknown:
        allowed = ", ".join(sorted(required | optional))
        raise ConfigError(source, f"{where}{unknown[0]}", f"one of the known fields: {allowed}")


def check_number(
    value: Any,
    source: str,
    field: str,
    low: float | None = None,
    high: float | None = None,
    *,
    integer: bool = False,
    above: bool = False,
    allowed: str | None = None,
) -> Any:
    """``value`` if it is a finite number (an integer with ``integer``; 4.0 counts as 4) at
    least ``low`` (more than ``low`` with ``above``) and at most ``high``; else a ConfigError
    naming ``field`` and the rule (or ``allowed``, its words). Integers come back as ``int``."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and isinstance(value, float):
        ok = math.isfinite(value) and (not integer or value.is_integer())
    if ok and low is not None:
        ok = value > low if above else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        rule = [f"{'>' if above else '>='} {low:g}"] if low is not None else []
        rule += [f"<= {high:g}"] if high is not None else []
        kind = "an integer" if integer else "a number"
        allowed = allowed or " ".join([kind, " and ".join(rule)]).strip()
        raise ConfigError(source, field, allowed, value)
    return int(value) if integer else value


# Path fields of settings dataclasses say what they hold in their metadata, so one rule resolves
# them all (``field(default=None, metadata=INPUT_FILE)``):
INPUT_FILE = {"path": "input"}  # a file to read, or a built-in name (nb201-cifar10, slm-visible)
INPUT_DIR = {"path": "dir"}  # a directory to read
OUTPUT_FILE = {"path": "output"}  # a file written (a measurement cache): the run directory's


def is_path(value: str) -> bool:
    """Whether a setting that takes a file or a built-in name holds a file: it has a suffix
    (``.csv``, ``.yaml``), a path separator or a leading ``~``; built-in names have none."""
    return value.startswith("~") or "/" in value or os.sep in value or bool(Path(value).suffix)


def resolve_paths(cls: type, values: dict[str, Any], base: str | Path | None) -> dict[str, Any]:
    """``values`` of dataclass ``cls`` with its relative input paths made relative to ``base``
    (a scenario file's directory), ``~`` expanded in every path; output paths stay relative
    (:func:`rebase_outputs` places them). ``base`` None: only ``~`` is expanded."""
    out = dict(values)
    for f in dataclasses.fields(cls):
        kind, value = f.metadata.get("path"), out.get(f.name)
        if kind is None or not isinstance(value, str) or not value:
            continue
        if kind == "input" and not is_path(value):
            continue  # a built-in name
        path = Path(value).expanduser()
        if kind != "output" and base is not None and not path.is_absolute():
            path = Path(base) / path
        out[f.name] = str(path)
    return out


def rebase_outputs(options: Any, base: str | Path | None) -> Any:
    """``options`` (a settings dataclass) with its relative output paths placed under ``base``
    (a search's run directory). With no ``base`` (an env made in Python without a run
    directory) a relative output is not written: it becomes None."""
    if not dataclasses.is_dataclass(options):
        return options
    changes = {}
    for f in dataclasses.fields(options):
        value = getattr(options, f.name)
        output = f.metadata.get("path") == "output" and isinstance(value, str) and value
        if output and not Path(value).is_absolute():
            changes[f.name] = None if base is None else str(Path(base) / value)
    return dataclasses.replace(options, **changes) if changes else options


def json_safe(value: Any) -> Any:
    """``value`` (dicts, lists, tuples, numbers, numpy scalars) as standard JSON takes it: a
    NaN or infinite number (an accuracy not measured) becomes None, a tuple a list."""
    if hasattr(value, "item") and not isinstance(value, list | dict | tuple):
        value = value.item()  # a numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
