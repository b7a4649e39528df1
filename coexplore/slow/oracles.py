"""Accuracy oracles: how the slow phase learns a candidate's accuracy.

Implementations behind one interface, selected by name (``slow_phase.oracle``):

- ``train``: train the child network (:func:`coexplore.slow.trainer.train`) on a real dataset,
  through the persistent :class:`ResultCache` so no candidate is ever trained twice;
- ``table``: look the accuracy up in a table keyed by the canonical architecture string, the
  way NAS-Bench-201-style tabular benchmarks are used: a built-in one (NAS-Bench-201 on
  CIFAR-10, CIFAR-100, ImageNet16-120) or a user's CSV;
- ``compress`` (:mod:`coexplore.compress.oracle`): train, then compress the network as the
  scenario's ``compression:`` says, and report the compressed network's accuracy.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from coexplore.config import ConfigError
from coexplore.data import DataConfig, Dataset, load_dataset
from coexplore.registry import Registry
from coexplore.slow.cache import CacheKey, ResultCache
from coexplore.slow.trainer import TrainCallback, TrainConfig, TrainResult, train
from coexplore.spaces.base import Architecture

if TYPE_CHECKING:
    from torch import nn

    from coexplore.scenario import Scenario
    from coexplore.tables import ArchTable


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
    tasks: dict[str, dict[str, float]] | None = None  # per task, for a multi-task network

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class AccuracyOracle(ABC):
    """``accepts_hardware``: ``evaluate`` takes a third argument, the candidate's hardware
    choice, for a platform family whose choice is part of the trained model
    (``Platform.trained_with_hardware``); the evaluator then passes it."""

    name: str
    accepts_hardware: bool = False

    @classmethod
    def from_scenario(cls, scenario: Scenario, cache: str | None = None) -> AccuracyOracle:
        """The oracle a scenario's ``slow_phase`` asks for (``cache``: the result cache file);
        needed for an oracle registered in :data:`ORACLES`, not for one passed as an object."""
        raise NotImplementedError(f"the {cls.__name__} oracle cannot be built from a scenario")

    @abstractmethod
    def evaluate(self, arch: Architecture, seed: int = 0) -> Evaluation:
        """The accuracy of ``arch``; picklable, so executors can run it in worker processes."""

    def architectures(self) -> tuple[str, Collection[str]] | None:
        """The canonical architectures this oracle has answers for, with the setting that names
        them (``("table", rows)`` for a partial table of accuracies); None (the default): any.
        Searches keep to them (:class:`~coexplore.core.coverage.Coverage`)."""
        return None

    def evaluate_job(self, job: tuple) -> Evaluation:
        """``evaluate`` for an ``(arch, seed)`` pair (``(arch, seed, choice)`` for an oracle
        that ``accepts_hardware``), the form executors map over."""
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

    @classmethod
    def from_scenario(cls, scenario: Scenario, cache: str | None = None) -> TrainOracle:
        return cls(scenario.data, scenario.slow_phase.train, cache)

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
    """Accuracy looked up in a per-architecture table, keyed by the canonical string.

    ``table`` is a built-in name (:data:`coexplore.tables.ACCURACY_TABLES`: ``nb201-cifar10``,
    ``nb201-cifar100``, ``nb201-imagenet16``) or a CSV (optionally gzipped) with columns
    ``arch`` (``arch_column``) and ``val_acc``, and optionally ``test_acc``: fractions in
    [0, 1]; other columns are carried along in ``details``. Seeds are ignored: a table has one
    entry per architecture. The NAS-Bench-201 tables carry only test accuracy, so there the
    search signal ``val_acc`` is the test accuracy (``details["signal"]`` says which it is).
    """

    name = "table"

    def __init__(self, table: str | Path, arch_column: str = "arch") -> None:
        from coexplore.tables import ACCURACY_TABLES

        self.table = str(table)
        self.builtin = ACCURACY_TABLES.get(self.table) if self.table in ACCURACY_TABLES else None
        self.arch_column = self.builtin.arch_column if self.builtin else arch_column

    @classmethod
    def from_scenario(cls, scenario: Scenario, cache: str | None = None) -> TableOracle:
        return cls(scenario.slow_phase.table)

    @cached_property
    def columns(self) -> tuple[ArchTable, np.ndarray, np.ndarray]:
        """The table, its search signal and its test accuracy as fractions (NaN: none)."""
        from coexplore.tables import ACCURACY_TABLES, read_table

        if self.builtin is not None:
            table = self.builtin.table()
            acc = table.column(self.builtin.column) * self.builtin.scale
            return table, acc, acc
        if not self.table.endswith((".csv", ".csv.gz")) and not Path(self.table).exists():
            raise ConfigError(
                "slow_phase",
                "table",
                f"a CSV file or a built-in table ({', '.join(ACCURACY_TABLES)})",
                self.table,
            )
        table = read_table(self.table, self.arch_column)
        val = table.column("val_acc")
        test = np.full(len(table), np.nan)
        if "test_acc" in table.cells:
            test = table.column("test_acc")
        for name, values in (("val_acc", val), ("test_acc", test)):
            wrong = ~((values >= 0) & (values <= 1))
            if name == "test_acc":
                wrong &= ~np.isnan(values)  # nan: no test accuracy
            if wrong.any():
                bad = float(values[wrong][0])
                raise ConfigError(self.table, name, "accuracies as fractions in [0, 1]", bad)
        return table, val, test

    def architectures(self) -> tuple[str, Collection[str]] | None:
        """A user's table covers its rows (a built-in one covers its whole space)."""
        return None if self.builtin is not None else ("table", self.columns[0].archs)

    def evaluate(self, arch: Architecture, seed: int = 0) -> Evaluation:
        from coexplore.tables import NotInTableError

        start = time.perf_counter()
        table, val, test = self.columns
        try:
            i = table.position(arch.canonical)
        except NotInTableError as exc:
            raise OracleError(str(exc)) from None
        details = table.row(arch.canonical)
        details["signal"] = self.builtin.signal if self.builtin else "val"
        return Evaluation(
            arch=arch.canonical,
            seed=seed,
            val_acc=float(val[i]),
            test_acc=float(test[i]),
            diverged=False,
            cache_hit=False,
            wall_s=time.perf_counter() - start,
            details=details,
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("columns", None)
        return state
