"""Mappings of a loop nest onto a template: per level, temporal factors in loop order, spatial
factors on the fan-out's two axes, and the tensors kept (the rest bypass the level).

A mapping file names levels of the template (levels not named get factor 1 everywhere)::

    DRAM:        {temporal: {P: 8, Q: 2, M: 4}}            # loop order: outer to inner
    shared_glb:  {temporal: {P: 14, Q: 4}, spatial_x: {Q: 14}, spatial_y: {C: 3, S: 3}}
    weights_spad: {temporal: {R: 3}}
    psum_spad:   {temporal: {M: 8}}

``keep: [inputs, outputs]`` at a level with ``bypass: true`` leaves the other tensors out.
:class:`MappingBatch` holds many mappings as arrays for the vectorised model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coexplore.config import ConfigError, check_number, require_keys
from coexplore.platforms.spatial.arch import Template
from coexplore.workloads.problem import DIMS, TENSORS

KINDS = ("temporal", "spatial_x", "spatial_y")
# No layer has a loop this long; a larger factor overflows the model's int64 arithmetic.
MAX_FACTOR = 2**20
_FIELDS = ("temporal", "spatial_x", "spatial_y", "order", "keep")


@dataclass(frozen=True)
class LevelMapping:
    temporal: dict[str, int] = field(default_factory=dict)  # in loop order, outer to inner
    spatial_x: dict[str, int] = field(default_factory=dict)
    spatial_y: dict[str, int] = field(default_factory=dict)
    keep: tuple[str, ...] | None = None  # None: every tensor the level keeps

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: dict(getattr(self, k)) for k in KINDS if getattr(self, k)}
        if self.keep is not None:
            out["keep"] = list(self.keep)
        return out


@dataclass(frozen=True)
class Mapping:
    """One layer's mapping: a :class:`LevelMapping` per named level."""

    levels: dict[str, LevelMapping]

    def to_dict(self) -> dict[str, Any]:
        return {name: lm.to_dict() for name, lm in self.levels.items()}

    @classmethod
    def from_dict(cls, data: Any, source: str = "<mapping>", where: str = "") -> Mapping:
        """From ``{level: {temporal, spatial_x, spatial_y, keep}}``; errors name the field
        under ``where`` (``layers.fc1.`` in a file of several mappings)."""
        if not isinstance(data, dict):
            raise ConfigError(source, where.rstrip(".") or "<mapping>",
                              "a mapping of level name to its loops", data)  # fmt: skip
        levels = {}
        for name, spec in data.items():
            at = f"{where}{name}"
            spec = spec or {}
            if not isinstance(spec, dict):
                raise ConfigError(source, at, "a mapping {temporal, spatial_x, ...}", spec)
            require_keys(spec, source, set(), {*KINDS, "keep"}, prefix=at)
            parts = {}
            for kind in KINDS:
                factors = spec.get(kind) or {}
                if not isinstance(factors, dict):
                    raise ConfigError(source, f"{at}.{kind}", "a mapping of dim to factor", factors)
                for dim, f in factors.items():
                    if dim not in DIMS:
                        raise ConfigError(source, f"{at}.{kind}.{dim}", f"a dim of {DIMS}")
                    check_number(f, source, f"{at}.{kind}.{dim}", 1, MAX_FACTOR, integer=True)
                parts[kind] = {dim: int(f) for dim, f in factors.items()}
            keep = spec.get("keep")
            if keep is not None and (
                not isinstance(keep, list) or any(t not in TENSORS for t in keep)
            ):
                raise ConfigError(source, f"{at}.keep", f"a list from {list(TENSORS)}", keep)
            levels[str(name)] = LevelMapping(**parts, keep=None if keep is None else tuple(keep))
        return cls(levels)

    def batch(self, template: Template, source: str = "", where: str = "mapping.") -> MappingBatch:
        """This mapping as a batch of one (unknown level names are an error naming them, in
        ``source``, by default the template, under ``where``)."""
        names = [lv.name for lv in template.levels]
        for name in self.levels:
            if name not in names:
                raise ConfigError(source or template.name, f"{where}{name}", f"a level of {names}")
        b = MappingBatch.ones(template, 1)
        for li, level in enumerate(template.levels):
            lm = self.levels.get(level.name, LevelMapping())
            for kind in KINDS:
                for dim, f in getattr(lm, kind).items():
                    getattr(b, kind)[0, li, DIMS.index(dim)] = f
            listed = [DIMS.index(d) for d in lm.temporal]
            b.order[0, li] = listed + [d for d in range(len(DIMS)) if d not in listed]
            if lm.keep is not None:
                b.keep[0, li] = [t in lm.keep for t in TENSORS]
        return b


@dataclass
class MappingBatch:
    """``n`` mappings of one template as arrays (levels outer to inner, dims as :data:`DIMS`).

    ``temporal``, ``spatial_x``, ``spatial_y``: factors, int64 (n, L, D). ``order``: per level
    the dims outer to inner (a permutation), (n, L, D). ``keep``: (n, L, 3), by :data:`TENSORS`.
    """

    temporal: np.ndarray
    spatial_x: np.ndarray
    spatial_y: np.ndarray
    order: np.ndarray
    keep: np.ndarray

    def __len__(self) -> int:
        return len(self.temporal)

    @classmethod
    def ones(cls, template: Template, n: int) -> MappingBatch:
        levels, dims = len(template.levels), len(DIMS)
        keep = np.array([[t in lv.keeps for t in TENSORS] for lv in template.levels])
        return cls(
            temporal=np.ones((n, levels, dims), np.int64),
            spatial_x=np.ones((n, levels, dims), np.int64),
            spatial_y=np.ones((n, levels, dims), np.int64),
            order=np.broadcast_to(np.arange(dims), (n, levels, dims)).copy(),
            keep=np.broadcast_to(keep, (n, levels, len(TENSORS))).copy(),
        )

    def take(self, index: Any) -> MappingBatch:
        return MappingBatch(*(np.asarray(getattr(self, k))[index] for k in _FIELDS))

    def copy(self) -> MappingBatch:
        return MappingBatch(*(np.array(getattr(self, k), copy=True) for k in _FIELDS))

    @staticmethod
    def concat(batches: list[MappingBatch]) -> MappingBatch:
        return MappingBatch(*(np.concatenate([getattr(b, k) for b in batches]) for k in _FIELDS))

    def mapping(self, i: int, template: Template) -> Mapping:
        """Mapping ``i`` as a :class:`Mapping` (factor-1 loops left out)."""
        levels = {}
        for li, level in enumerate(template.levels):
            order = [int(d) for d in self.order[i, li]]
            parts = {
                kind: {
                    DIMS[d]: int(getattr(self, kind)[i, li, d])
                    for d in (order if kind == "temporal" else range(len(DIMS)))
                    if getattr(self, kind)[i, li, d] > 1
                }
                for kind in KINDS
            }
            kept = tuple(t for ti, t in enumerate(TENSORS) if self.keep[i, li, ti])
            keep = None if kept == tuple(t for t in TENSORS if t in level.keeps) else kept
            if any(parts.values()) or keep is not None:
                levels[level.name] = LevelMapping(**parts, keep=keep)
        return Mapping(levels)


__all__ = ["KINDS", "LevelMapping", "Mapping", "MappingBatch"]
