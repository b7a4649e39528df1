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
from abc import abstractmethod
from collections.abc import Collection, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from coexplore.config import ConfigError
from coexplore.core.candidate import Candidate
from coexplore.core.oracle import AccuracyOracle, Evaluation, OracleError, OracleSettings
from coexplore.data import DataConfig, Dataset, load_dataset
from coexplore.registry import Registry
from coexplore.slow.cache import CacheKey, ResultCache
from coexplore.slow.trainer import TrainCallback, TrainConfig, TrainResult, train
from coexplore.spaces.base import Architecture

if TYPE_CHECKING:
    from torch import nn

    from coexplore.tables import ArchTable


ORACLES: Registry[type[AccuracyOracle]] = Registry("accuracy oracle")


class CachedOracle(AccuracyOracle):
    """An oracle whose answers are trainings kept in a :class:`ResultCache` (None: none kept):
    the cache is asked first, and a training's result is put there, so no candidate is ever
    trained twice. A subclass says what keys a training (:meth:`key`), how to run one
    (:meth:`train`: the JSON to keep) and what the stored JSON answers (:meth:`answer`)."""

    cache: ResultCache | None = None
    wall_key: ClassVar[str] = "wall_s"  # the stored training time

    @abstractmethod
    def key(self, candidate: Candidate) -> CacheKey: ...

    @abstractmethod
    def train(self, candidate: Candidate, key: CacheKey) -> dict[str, Any]: ...

    @abstractmethod
    def answer(
        self, candidate: Candidate, stored: dict[str, Any], hit: bool, wall_s: float
    ) -> Evaluation: ...

    def evaluate(self, candidate: Candidate) -> Evaluation:
        start = time.perf_counter()
        key = self.key(candidate)
        stored = self.cache.get(key) if self.cache is not None else None
        hit = stored is not None
        if not hit:
            stored = self.train(candidate, key)
            if self.cache is not None:
                self.cache.put(key, stored, wall_s=stored[self.wall_key])
        return self.answer(candidate, stored, hit, time.perf_counter() - start)


@ORACLES.decorator("train")
class TrainOracle(CachedOracle):
    """Train on real data; results keyed by (architecture, data, fidelity, config, seed).

    ``callbacks`` (:class:`TrainCallback`, in order) change the training, so their configs
    enter the key's config hash; without them the key is what it always was.
    ``keep_weights``: also keep each trained model's ``state_dict`` next to the cache, keyed
    like its entry (:meth:`ResultCache.weights_path`); ``details["weights_path"]`` reports the
    file (None when a cached result was trained without keeping weights), and
    :meth:`load_weights` rebuilds the trained model.
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
    def build(cls, settings: OracleSettings) -> TrainOracle:
        return cls(settings.data, settings.train, settings.cache)

    @cached_property
    def dataset(self) -> Dataset:
        return load_dataset(self.data)

    def key(self, candidate: Candidate) -> CacheKey:
        arch = candidate.arch
        return CacheKey(
            arch.canonical,
            self.data.name,
            self.data.key(),
            self.config.hash(self.callbacks),
            candidate.seed,
        )

    def train(self, candidate: Candidate, key: CacheKey) -> dict[str, Any]:
        arch, seed = candidate.arch, candidate.seed
        if not self.keep_weights:
            return train(arch, self.dataset, self.config, seed, self.callbacks).to_dict()
        result, model = train(
            arch, self.dataset, self.config, seed, self.callbacks, return_model=True
        )
        self.cache.save_weights(key, model.state_dict())  # first: whoever sees the entry finds it
        return result.to_dict()

    def answer(
        self, candidate: Candidate, stored: dict[str, Any], hit: bool, wall_s: float
    ) -> Evaluation:
        result = TrainResult.from_dict(stored)
        details = result.to_dict()
        if self.keep_weights:
            key = self.key(candidate)
            kept = self.cache.has_weights(key)
            details["weights_path"] = str(self.cache.weights_path(key)) if kept else None
        return Evaluation(
            arch=candidate.arch.canonical,
            seed=candidate.seed,
            val_acc=result.val_acc,
            test_acc=result.test_acc,
            diverged=result.diverged,
            cache_hit=hit,
            wall_s=wall_s,
            details=details,
        )

    def load_weights(self, arch: Architecture, seed: int = 0, device: Any = "cpu") -> nn.Module:
        """``arch``'s model with the weights kept for (arch, seed) under this oracle's key, in
        eval mode; FileNotFoundError when none were kept."""
        if self.cache is None:
            raise ConfigError("TrainOracle", "cache", "a result cache to load weights from")
        state = self.cache.load_weights(self.key(Candidate(arch, seed=seed)), map_location=device)
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
    lookup = True

    def __init__(self, table: str | Path, arch_column: str = "arch") -> None:
        from coexplore.tables import ACCURACY_TABLES

        self.table = str(table)
        self.builtin = ACCURACY_TABLES.get(self.table) if self.table in ACCURACY_TABLES else None
        self.arch_column = self.builtin.arch_column if self.builtin else arch_column

    @classmethod
    def build(cls, settings: OracleSettings) -> TableOracle:
        return cls(settings.table)

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

    def evaluate(self, candidate: Candidate) -> Evaluation:
        from coexplore.tables import NotInTableError

        start, arch = time.perf_counter(), candidate.arch
        table, val, test = self.columns
        try:
            i = table.position(arch.canonical)
        except NotInTableError as exc:
            raise OracleError(str(exc)) from None
        details = table.row(arch.canonical)
        details["signal"] = self.builtin.signal if self.builtin else "val"
        return Evaluation(
            arch=arch.canonical,
            seed=candidate.seed,
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


@ORACLES.decorator("none")
class NoTraining(AccuracyOracle):
    """Nothing trained: the architecture is a fixed workload (space ``workload``), the same for
    every candidate, so only its hardware is searched. Accuracy is not measured (NaN) and the
    reward is its hardware term alone."""

    name = "none"
    measures_accuracy = False

    @classmethod
    def build(cls, settings: OracleSettings) -> NoTraining:
        return cls()

    def evaluate(self, candidate: Candidate) -> Evaluation:
        nan = float("nan")
        arch = candidate.arch.canonical
        return Evaluation(arch, candidate.seed, nan, nan, False, False, 0.0)


# the oracles that live with the systems they train, imported at their first use
ORACLES.register_lazy("compress", "coexplore.compress.oracle:CompressOracle")
ORACLES.register_lazy("optics", "coexplore.platforms.diffractive.oracle:OpticsOracle")
