"""Package attributes that load their submodule on first use (PEP 562).

A package whose ``__init__`` imports everything pays for its heaviest part (torch) on any import;
with ``__getattr__, __dir__, __all__ = lazy_exports(__name__, {name: submodule})`` a light
submodule imports alone, and ``from package import Name`` still works.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, where: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` for ``package``, whose name ``n`` lives in
    its submodule ``where[n]``."""
    names = sorted(where)

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{where[name]}"), name)

    def __dir__() -> list[str]:
        return names

    return __getattr__, __dir__, names
