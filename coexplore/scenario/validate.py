"""Type-check a mapping against a dataclass's annotations, with errors that name the field."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from coexplore.config import ConfigError


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if origin in (tuple, list):
        return f"a list of {_describe(typing.get_args(tp)[0])}"
    return {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true or false",
        type(None): "null",
    }.get(tp, getattr(tp, "__name__", str(tp)))


def _matches(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(tp))
    if origin in (tuple, list):
        inner = typing.get_args(tp)[0]
        return isinstance(value, list | tuple) and all(_matches(v, inner) for v in value)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is type(None):
        return value is None
    return isinstance(value, tp)


def build(cls: type, data: Any, source: str, section: str, **fixed: Any) -> Any:
    """``cls(**data)`` after checking keys and types; any error names ``section.field``."""
    if not isinstance(data, dict):
        raise ConfigError(source, section, "a mapping of field names to values", data)
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.init} - set(fixed)
    required = {
        f.name
        for f in dataclasses.fields(cls)
        if f.init
        and f.name in known
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    }
    for key in sorted(required - data.keys()):
        raise ConfigError(source, f"{section}.{key}", "present (it is required)")
    for key in sorted(set(data) - known):
        raise ConfigError(source, f"{section}.{key}", f"one of the known fields: {sorted(known)}")
    for key, value in data.items():
        if not _matches(value, hints[key]):
            raise ConfigError(source, f"{section}.{key}", _describe(hints[key]), value)
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    try:
        return cls(**args, **fixed)
    except ConfigError as err:
        raise ConfigError(source, f"{section}.{err.field}", err.allowed, err.got) from None
    except (ValueError, KeyError) as err:
        raise ConfigError(source, section, "valid settings", str(err)) from None
