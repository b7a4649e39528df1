"""Accuracy oracles: how the slow phase learns a candidate's accuracy.

Two implementations behind one interface, selected by name:

- ``train``: train the child network (:func:`coexplore.slow.trainer.train`) on a real dataset,
  through the persistent :class:`ResultCache` so no candidate is ever trained twice;
- ``table``: look the accuracy up in a user-provided CSV keyed by the canonical architecture
  string, the way NAS-Bench-201-style tabular benchmarks are used.
"""

from __future__ import annotations

import csv
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coexplore.config import ConfigError
from coexplore.data import DataConfig, Dataset, load_dataset
from coexplore.registry import Registry
from coexplore.slow.cache import CacheKey, ResultCache
from coexplore.slow.trainer import TrainCallback, TrainConfig, TrainResult, train
from coexplore.spaces.base import Architecture

if TYPE_CHECKING:
    from torch import nn


class OracleError(LookupError):
    """The oracle cannot give an accuracy for this architecture (e.g. not in the table)."""


@dataclass(frozen=True)
class Evaluation:
    """One candidate's accuracy, however it was obtained."""

    arch: str  # canonical string
    seed: int
    val_acc: float
    test_acc: float
    diverged: bool
    cache_hit: bool
    wall_s: float  # time this call took (near zero for a cache hit or a table lookup)
    details: dict[str, Any] = field(default_factory=dict)  # the TrainResult or the table row

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class AccuracyOracle(ABC):
    name: str

    @abstractmethod
    def evaluate(self, arch: Architecture, seed: int = 0) -> Evaluation:
        """The accuracy of ``arch``; picklable, so executors can run it in worker processes."""

    def evaluate_job(self, job: tuple[Architecture, int]) -> Evaluation:
        """``evaluate`` for an ``(arch, seed)`` pair, the form executors map over."""
        return self.evaluate(*job)


ORACLES: Registry[type[AccuracyOracle]] = Registry("accuracy oracle")


@ORACLES.decorator("train")
class TrainOracle(AccuracyOracle):
    """Train on real data; results keyed by (architecture, data, fidelity, config, seed).

    ``callbacks`` (:class:`TrainCallback`, in order) change the training, so their configs
    enter the key's config hash; without them the key is what it always was.
    ``keep_weights``: also keep each trained model's ``state_dict`` next to the cache, keyed
    like its entry (:meth:`ResultCache.weights_path`); ``details["weights_path"]`` reports the
    file (a cache hit loads nothing; None when the hit was trained without keeping weights),
    and :meth:`load_weights` rebuilds the trained model.
    """

    name = "train"

    def __init__(
        self,
        data: DataConfig | str,
        config: TrainConfig | None = None,
        cache: ResultCache | str | Path | None = None,
        callbacks: Sequence[TrainCallback] = (),
        keep_weights: bool = False,
    ) -> None:
        self.data = data if isinstance(data, DataConfig) else DataConfig(data)
        self.config = config or TrainConfig()
        self.cache = ResultCache(cache) if isinstance(cache, str | Path) else cache
        self.callbacks = tuple(callbacks)
        self.keep_weights = bool(keep_weights)
        if self.keep_weights and self.cache is None:
            raise ConfigError(
                "TrainOracle",
                "keep_weights",
                "False without a cache (weights live beside it)",
                True,
            )
        self.config.hash(self.callbacks)  # a callback whose config is not JSON fails here

    @cached_property
    def dataset(self) -> Dataset:
        return load_dataset(self.data)

    def key(self, arch: Architecture, seed: int) -> CacheKey:
        return CacheKey(
            arch.canonical, self.data.name, self.data.key(), self.config.hash(self.callbacks), seed
        )

    def evaluate(self, arch: Architecture, seed: int = 0) -> Evaluation:
        start = time.perf_counter()
        key = self.key(arch, seed)
        stored = self.cache.get(key) if self.cache is not None else None
        weights: Path | None = None
        if stored is not None:
            result, hit = TrainResult.from_dict(stored), True
            if self.keep_weights and self.cache.has_weights(key):
                weights = self.cache.weights_path(key)
        else:
            if self.keep_weights:
                result, model = train(
                    arch, self.dataset, self.config, seed, self.callbacks, return_model=True
                )
                # weights first: whoever sees the entry finds its checkpoint
                weights = self.cache.save_weights(key, model.state_dict())
            else:
                result = train(arch, self.dataset, self.config, seed, self.callbacks)
            hit = False
            if self.cache is not None:
                self.cache.put(key, result.to_dict(), wall_s=result.wall_s)
        details = result.to_dict()
        if self.keep_weights:
            details["weights_path"] = None if weights is None else str(weights)
        return Evaluation(
            arch=arch.canonical,
            seed=seed,
            val_acc=result.val_acc,
            test_acc=result.test_acc,
            diverged=result.diverged,
            cache_hit=hit,
            wall_s=time.perf_counter() - start,
            details=details,
        )

    def load_weights(self, arch: Architecture, seed: int = 0, device: Any = "cpu") -> nn.Module:
        """``arch``'s model with the weights kept for (arch, seed) under this oracle's key, in
        eval mode; FileNotFoundError when none were kept."""
        if self.cache is None:
            raise ConfigError("TrainOracle", "cache", "a result cache to load weights from")
        state = self.cache.load_weights(self.key(arch, seed), map_location=device)
        model = arch.module(self.dataset.input_shape, self.dataset.num_classes)
        model.load_state_dict(state)
        return model.to(device).eval()

    def __getstate__(self) -> dict[str, Any]:  # workers load the dataset themselves
        state = self.__dict__.copy()
        state.pop("dataset", None)
        return state


@ORACLES.decorator("table")
class TableOracle(AccuracyOracle):
    """Accuracy from a CSV with a column of canonical architecture strings.

    The CSV needs columns ``arch`` and ``val_acc``; ``test_acc`` is optional (NaN when absent);
    other columns are carried along in ``details``. Seeds are ignored: a table has one entry per
    architecture.
    """

    name = "table"

    def __init__(self, path: str | Path, arch_column: str = "arch") -> None:
        self.path = Path(path)
        self.arch_column = arch_column

    @cached_property
    def rows(self) -> dict[str, dict[str, str]]:
        try:
            with self.path.open(newline="") as fh:
                reader = csv.DictReader(fh)
                columns = reader.fieldnames or []
                for needed in (self.arch_column, "val_acc"):
                    if needed not in columns:
                        raise ConfigError(str(self.path), needed, f"a column (found {columns})")
                rows = {row[self.arch_column].strip(): row for row in reader}
        except OSError as exc:
            raise ConfigError(str(self.path), "<file>", "a readable CSV file", str(exc)) from None
        return rows

    def evaluate(self, arch: Architecture, seed: int = 0) -> Evaluation:
        start = time.perf_counter()
        row = self.rows.get(arch.canonical)
        if row is None:
            raise OracleError(
                f"architecture {arch.canonical!r} is not in {self.path} "
                f"({len(self.rows)} architectures, keyed by column {self.arch_column!r})"
            )
        try:
            val = float(row["val_acc"])
            test = float(row["test_acc"]) if row.get("test_acc") not in (None, "") else float("nan")
        except ValueError as exc:
            raise ConfigError(str(self.path), "val_acc/test_acc", "numbers", str(exc)) from None
        return Evaluation(
            arch=arch.canonical,
            seed=seed,
            val_acc=val,
            test_acc=test,
            diverged=False,
            cache_hit=False,
            wall_s=time.perf_counter() - start,
            details=dict(row),
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("rows", None)
        return state
