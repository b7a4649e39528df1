"""Platform families behind one interface (registry ``PLATFORMS``).

``fpga-pipeline``, ``table``, ``spatial``, ``measured``, ``predicted`` and ``diffractive`` ship
with coexplore.
A family of your own is a module that registers a :class:`Platform` subclass in
``PLATFORMS``; list such modules in ``COEXPLORE_PLUGINS`` (comma-separated import names) and
every command, scenario and run directory finds them.
"""

from __future__ import annotations

import importlib
import os

from coexplore.core.platform import (
    FastResult,
    HardwareSpace,
    NoHardwareTokens,
    NoOptions,
    Platform,
)
from coexplore.platforms.base import DEFAULT_PLATFORM, PLATFORMS

BUILTIN = (
    "coexplore.platforms.fpga_pipeline.family",
    "coexplore.platforms.table.family",
    "coexplore.platforms.spatial.family",
    "coexplore.platforms.latency.family",
    "coexplore.platforms.diffractive.family",
)
PLUGINS_VARIABLE = "COEXPLORE_PLUGINS"


def load_platforms() -> None:
    """Import the built-in families and the plugin modules of ``COEXPLORE_PLUGINS``."""
    plugins = [m.strip() for m in os.environ.get(PLUGINS_VARIABLE, "").split(",") if m.strip()]
    for module in (*BUILTIN, *plugins):
        importlib.import_module(module)


def platform_class(name: str) -> type[Platform]:
    load_platforms()
    return PLATFORMS.get(name)


def check_family(cls: type[Platform], *args, **kwargs) -> None:
    """:func:`~coexplore.core.checkers.check_platform`, and that ``cls`` is registered."""
    from coexplore.core.checkers import CheckError, check_platform

    if cls.name not in PLATFORMS or PLATFORMS.get(cls.name) is not cls:
        raise CheckError(f"register the family: PLATFORMS.register({cls.name!r}, {cls.__name__})")
    check_platform(cls, *args, **kwargs)


__all__ = [
    "DEFAULT_PLATFORM",
    "PLATFORMS",
    "FastResult",
    "HardwareSpace",
    "NoHardwareTokens",
    "NoOptions",
    "Platform",
    "check_family",
    "load_platforms",
    "platform_class",
]
