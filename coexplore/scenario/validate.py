"""Type-check a mapping against a dataclass's annotations, with errors that name the field.

A config field may be annotated ``int``, ``float`` (finite), ``str``, ``bool``, ``None``,
``Any``, a union (``X | None``), ``Literal[...]``, ``list[T]``, ``tuple[T, ...]``, a
fixed-length ``tuple[A, B]``, ``dict[K, V]`` or another config dataclass (given as a mapping,
built field by field); any other class is checked with ``isinstance``. Any other generic is a
programming error (``TypeError``), so a new kind of annotation cannot pass unchecked.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from typing import Any

from coexplore.config import ConfigError, resolve_paths

_SCALARS = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "true or false",
    type(None): "null",
}


def _kind(tp: Any) -> str:
    """The rule that checks ``tp``: any, union, literal, sequence, fixed, mapping, config, class."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return "any"
    if origin in (typing.Union, types.UnionType):
        return "union"
    if origin is typing.Literal:
        return "literal"
    if origin is list or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
        return "sequence"
    if origin is tuple and args and Ellipsis not in args:
        return "fixed"
    if origin is dict and len(args) == 2:
        return "mapping"
    if origin is None and dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return "config"
    if origin is None and isinstance(tp, type):
        return "class"
    raise TypeError(
        f"a config field annotated {tp!r} cannot be checked (coexplore.scenario.validate)"
    )


def describe(tp: Any) -> str:
    """What ``tp`` allows, in words (the ``allowed`` of a :class:`ConfigError`)."""
    kind, args = _kind(tp), typing.get_args(tp)
    if kind == "any":
        return "any value"
    if kind == "union":
        return " or ".join(describe(a) for a in args)
    if kind == "literal":
        return f"one of {list(args)}"
    if kind == "sequence":
        return f"a list (items: {describe(args[0])})"
    if kind == "fixed":
        return f"a list of {len(args)} items ({', '.join(describe(a) for a in args)})"
    if kind == "mapping":
        return f"a mapping (keys: {describe(args[0])}; values: {describe(args[1])})"
    if kind == "config":
        return f"a mapping of {tp.__name__} settings ({', '.join(sorted(_fields(tp, {})[0]))})"
    return _SCALARS.get(tp, tp.__name__)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        return False


def matches(value: Any, tp: Any) -> bool:
    """Whether ``value`` (as read from YAML or JSON) is of type ``tp``."""
    kind, args = _kind(tp), typing.get_args(tp)
    if kind == "any":
        return True
    if kind == "union":
        return any(matches(value, a) for a in args)
    if kind == "literal":
        return any(type(value) is type(a) and value == a for a in args)
    if kind in ("sequence", "fixed"):
        if not isinstance(value, list | tuple):
            return False
        if kind == "sequence":
            return all(matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(map(matches, value, args))
    if kind == "mapping":
        return isinstance(value, dict) and all(
            matches(k, args[0]) and matches(v, args[1]) for k, v in value.items()
        )
    if kind == "config":
        return isinstance(value, tp) or _problem(tp, value, {}) is None
    if tp is bool:
        return isinstance(value, bool)
    if tp in (int, float) and isinstance(value, bool):
        return False
    if tp is float:
        return isinstance(value, int | float) and _finite(value)
    if tp is type(None):
        return value is None
    return isinstance(value, tp)


def _convert(value: Any, tp: Any, source: str, where: str) -> Any:
    """A matching value in the annotation's own form: lists become tuples where it says
    tuple, mappings become config dataclasses where it names one."""
    kind, args = _kind(tp), typing.get_args(tp)
    if kind == "union":
        arm = next(a for a in args if matches(value, a))
        return _convert(value, arm, source, where)
    if kind in ("sequence", "fixed"):
        inner = args if kind == "fixed" else [args[0]] * len(value)
        items = [
            _convert(v, a, source, f"{where}[{i}]")
            for i, (v, a) in enumerate(zip(value, inner, strict=True))
        ]
        return items if typing.get_origin(tp) is list else tuple(items)
    if kind == "mapping":
        return {k: _convert(v, args[1], source, f"{where}.{k}") for k, v in value.items()}
    if kind == "config" and isinstance(value, dict):
        return build(tp, value, source, where)
    return value


def _fields(cls: type, fixed: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The fields of ``cls`` a mapping may set (all but ``fixed``), and those it must set."""
    init = [f for f in dataclasses.fields(cls) if f.init and f.name not in fixed]
    required = {
        f.name
        for f in init
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    return {f.name for f in init}, required


def _problem(cls: type, data: Any, fixed: dict[str, Any]) -> tuple[str | None, str, Any] | None:
    """The first thing wrong with ``data`` as ``cls``'s settings: (field path, None for the
    whole mapping; allowed; got)."""
    if not isinstance(data, dict):
        return None, "a mapping of field names to values", data
    known, required = _fields(cls, fixed)
    for key in sorted(required - data.keys()):
        return key, "present (it is required)", None
    for key in sorted(set(data) - known, key=str):
        return str(key), f"one of the known fields: {sorted(known)}", None
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        config = _config_of(hints[key])
        if config is not None and isinstance(value, dict):
            inner = _problem(config, value, {})
            if inner is not None:
                return (key if inner[0] is None else f"{key}.{inner[0]}", *inner[1:])
        elif not matches(value, hints[key]):
            return key, describe(hints[key]), value
    return None


def _config_of(tp: Any) -> type | None:
    """The config dataclass ``tp`` names (itself, or the one arm of ``X | None``), if any."""
    arms = typing.get_args(tp) if _kind(tp) == "union" else (tp,)
    configs = [a for a in arms if _kind(a) == "config"]
    return configs[0] if len(configs) == 1 else None


def build(cls: type, data: Any, source: str, section: str, **fixed: Any) -> Any:
    """``cls(**data)`` after checking keys and types; any error names ``section.field`` (and
    ``section.field.subfield`` in a field that is itself a config dataclass)."""
    problem = _problem(cls, data, fixed)
    if problem is not None:
        field, allowed, got = problem
        raise ConfigError(source, section if field is None else f"{section}.{field}", allowed, got)
    hints = typing.get_type_hints(cls)
    args = {k: _convert(v, hints[k], source, f"{section}.{k}") for k, v in data.items()}
    # relative paths: the scenario file's directory (a source that is no file: as written)
    base = os.path.dirname(os.path.abspath(source)) if os.path.isfile(source) else None
    args = resolve_paths(cls, args, base)
    try:
        return cls(**args, **fixed)
    except ConfigError as err:
        raise ConfigError(source, f"{section}.{err.field}", err.allowed, err.got) from None
    except (ValueError, KeyError) as err:
        raise ConfigError(source, section, "valid settings", str(err)) from None


def check(value: Any, tp: Any, source: str, field: str) -> Any:
    """``value`` in the form of annotation ``tp`` (lists as tuples where it says tuple), or a
    ConfigError naming ``field`` and what ``tp`` allows."""
    if not matches(value, tp):
        raise ConfigError(source, field, describe(tp), value)
    return _convert(value, tp, source, field)


def section(data: Any, source: str, name: str) -> dict[str, Any]:
    """A copy of a section that must be a mapping of field names (left out or null: empty)."""
    return dict(check({} if data is None else data, dict[str, Any], source, name))
