"""The ``optics`` accuracy oracle: train the multi-task D2NN a candidate's layout names.

A candidate of the ``diffractive`` family is (training, layout): the ``d2nn`` space's task
weight and the family's per-plane choices. This oracle builds that network on the family's
optical system, trains every task with the task regulariser (:func:`train_multitask`: Adam on
the weighted sum of the tasks' cross-entropies, ``slow_phase.train``'s epochs, batch size and
learning rate), and reports the mean over tasks of the validation and test accuracy, each
task's in ``details``. Each task reads its dataset with the scenario's ``data:`` settings
(seed, validation share; ``train_subset`` caps each task's training images), images
unnormalised in [0, 1] (light amplitudes). Results
go through the slow phase's :class:`ResultCache`, keyed by task weight and layout, tasks,
their data, the system and the training config, so no candidate is trained twice. A network
whose weights stop being finite is recorded as diverged.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from coexplore.config import ConfigError
from coexplore.core.candidate import TRAINED_HARDWARE, Candidate
from coexplore.core.oracle import Evaluation, OracleSettings
from coexplore.data import DataConfig, load_dataset
from coexplore.slow.cache import CacheKey, ResultCache
from coexplore.slow.oracles import CachedOracle
from coexplore.slow.trainer import TrainConfig, torch_threads

if TYPE_CHECKING:
    from coexplore.platforms.diffractive.family import DiffractiveHardware


class OpticsOracle(CachedOracle):
    name = "optics"
    capabilities = frozenset({TRAINED_HARDWARE})

    def __init__(
        self,
        hardware: DiffractiveHardware,
        data: DataConfig,
        config: TrainConfig | None = None,
        cache: ResultCache | str | None = None,
    ) -> None:
        self.hardware, self.data = hardware, data
        self.config = config or TrainConfig(optimizer="adam")
        if self.config.optimizer != "adam":
            raise ConfigError(
                "slow_phase.train", "optimizer", "adam (the optics oracle trains with Adam)",
                self.config.optimizer,
            )  # fmt: skip
        self.cache = ResultCache(cache) if isinstance(cache, str) else cache

    @classmethod
    def build(cls, settings: OracleSettings) -> OpticsOracle:
        """(The scenario checks that the family is the diffractive one, exploring.)"""
        return cls(settings.hardware, settings.data, settings.train, settings.cache)

    def task_config(self, task: str) -> DataConfig:
        """How ``task`` is read: the scenario's data settings, unnormalised, every image (the
        subset is cut after, so a smaller task uses all of its own)."""
        return replace(self.data, name=task, normalize=False, train_subset=None)

    @cached_property
    def fidelity(self) -> str:
        """The tasks' data and the optical system, as one cache-key string."""
        system = self.hardware.optical_system().to_dict()
        digest = hashlib.sha256(json.dumps(system, sort_keys=True).encode()).hexdigest()[:12]
        data = "+".join(replace(self.data, name=t).key() for t in self.hardware.tasks)
        return f"{data}|system={digest}"

    @staticmethod
    def layout(candidate: Candidate) -> list[str]:
        choice = candidate.choice
        if not isinstance(choice, dict) or "layout" not in choice:
            raise ConfigError("optics oracle", "hardware", "the diffractive family's choice")
        return choice["layout"]

    def key(self, candidate: Candidate) -> CacheKey:
        return CacheKey(
            f"{candidate.arch.canonical}|{','.join(self.layout(candidate))}",
            "+".join(self.hardware.tasks),
            self.fidelity,
            self.config.hash(),
            candidate.seed,
        )

    def train(self, candidate: Candidate, key: CacheKey) -> dict[str, Any]:
        with torch_threads(self.config.threads):  # the floats depend on the count
            return self._train(candidate.arch, candidate.seed, self.layout(candidate))

    def answer(
        self, candidate: Candidate, stored: dict[str, Any], hit: bool, wall_s: float
    ) -> Evaluation:
        return Evaluation(
            arch=candidate.arch.canonical,
            seed=candidate.seed,
            val_acc=stored["val_acc"],
            test_acc=stored["test_acc"],
            diverged=stored["diverged"],
            cache_hit=hit,
            wall_s=wall_s,
            details=stored,
            tasks=stored["tasks"],
        )

    def _train(self, arch: Any, seed: int, layout: list[str]) -> dict[str, Any]:
        import torch

        from coexplore.optics.multitask import MultiTaskD2NN, TaskData, accuracy, train_multitask

        start = time.perf_counter()
        tasks = self.hardware.tasks
        sets = {t: load_dataset(self.task_config(t)) for t in tasks}
        classes = {t: d.num_classes for t, d in sets.items()}
        torch.manual_seed(seed)
        model = MultiTaskD2NN(self.hardware.optical_system(), classes, layout=layout)
        n = self.data.train_subset
        train = {
            t: TaskData(d.x_train[:n], d.y_train[:n], d.x_val, d.y_val, d.x_test, d.y_test)
            for t, d in sets.items()
        }
        c = self.config
        val = train_multitask(
            model, train, arch.task_weight, c.epochs, c.batch_size, c.lr, seed
        )  # fmt: skip
        diverged = not all(bool(torch.isfinite(p).all()) for p in model.parameters())
        test = {t: accuracy(model, d.x_test, d.y_test, t) for t, d in sets.items()}
        return {
            "val_acc": sum(val.values()) / len(val),
            "test_acc": sum(test.values()) / len(test),
            "diverged": diverged,
            "tasks": {t: {"val_acc": val[t], "test_acc": test[t]} for t in tasks},
            "task_weight": arch.task_weight,
            "layout": list(layout),
            "hardware_cost": model.hardware_cost(),
            "wall_s": time.perf_counter() - start,
        }
