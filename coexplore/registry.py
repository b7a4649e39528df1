"""A name → object registry: adding a cost model, tuner, preset or space is one entry."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError, ValueError):
    """Raised for a name that is not registered; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Registry(Generic[T]):
    """Maps names to objects of one kind. Lookups of unknown names list the known ones."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._lazy: dict[str, str] = {}  # name -> "module:attribute", imported on first get

    def register(self, name: str, item: T, *, overwrite: bool = False) -> T:
        if name in self and not overwrite:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._lazy.pop(name, None)
        self._items[name] = item
        return item

    def register_lazy(self, name: str, target: str) -> None:
        """Register ``"module:attribute"``, imported at the first :meth:`get` of ``name``: the
        names are then known without importing anything (the CLI's help lists them fast)."""
        if name in self:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._lazy[name] = target

    def decorator(self, name: str) -> Callable[[T], T]:
        """``@registry.decorator("name")`` registers the decorated object under ``name``."""

        def wrap(item: T) -> T:
            return self.register(name, item)

        return wrap

    def get(self, name: str) -> T:
        if name in self._lazy:
            module, _, attribute = self._lazy[name].partition(":")
            self._items[name] = getattr(importlib.import_module(module), attribute)
            del self._lazy[name]
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(self) or "(none)"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._items or name in self._lazy)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted([*self._items, *self._lazy]))

    def __len__(self) -> int:
        return len(self._items) + len(self._lazy)

    def items(self) -> list[tuple[str, T]]:
        return [(name, self.get(name)) for name in self]
