"""The ``diffractive`` family: which planes of an optical system hold shared, task-specific or
no masks (multi-task D2NN, Li et al., Sci. Rep. 11:11013, 2021; per-layer choices as in the
group's LUMEN-PRO).

Hardware tokens: one per plane (``slots``), each ``shared`` / ``specific`` / ``skip``
(:mod:`coexplore.optics.layout`); after a specific plane only specific or skip remain
possible, and a layout keeps one mask at least. The fast phase prices a layout exactly:
physical layers (shared + tasks × specific), SLMs (all of them when the system's modulation
is ``slm``) and detector regions (one per class and task); specs bound these metrics. The
layout is also what the slow phase trains (capability ``trained-hardware``): the ``optics`` oracle
(:mod:`coexplore.platforms.diffractive.oracle`) builds the candidate's multi-task D2NN on the
system and trains every task.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from coexplore.config import INPUT_FILE, ConfigError
from coexplore.core.candidate import TRAINED_HARDWARE, Candidate
from coexplore.core.metrics import Metric, Metrics
from coexplore.core.platform import FastResult, HardwareSpace, Platform
from coexplore.core.specs import Specs
from coexplore.optics.layout import SLOTS, check_layout, layout_cost
from coexplore.platforms.base import PLATFORMS

__all__ = ["DiffractiveHardware", "DiffractivePlatform", "LayoutSpace"]


@dataclass(frozen=True)
class DiffractiveHardware:
    """``hardware:`` of the diffractive family.

    ``system``: an optical system preset (``slm-visible``, ``lin-thz``) or a YAML file;
    ``grid``: simulate it on a grid of this many pixels per side (input and detectors scaled;
    None: the system's own); ``slots``: planes a layout chooses for; ``tasks``: one dataset
    per task, each read with the scenario's ``data:`` settings.
    """

    system: str = field(default="slm-visible", metadata=INPUT_FILE)
    grid: int | None = None
    slots: int = 5
    tasks: tuple[str, ...] = ("mnist5k",)

    def __post_init__(self) -> None:
        from coexplore.data.sources import DATASETS

        tasks = self.tasks
        if isinstance(tasks, str) or not isinstance(tasks, list | tuple) or not tasks:
            raise ConfigError("hardware", "tasks", "a list of dataset names, one per task", tasks)
        for t in tasks:
            if t not in DATASETS:
                raise ConfigError("hardware", "tasks", f"datasets among {list(DATASETS)}", t)
        if len(set(tasks)) != len(tasks):
            raise ConfigError("hardware", "tasks", "distinct datasets", list(tasks))
        object.__setattr__(self, "tasks", tuple(tasks))
        if isinstance(self.slots, bool) or not isinstance(self.slots, int) or self.slots < 1:
            raise ConfigError("hardware", "slots", "an integer >= 1", self.slots)
        grid = self.grid
        if grid is not None and (isinstance(grid, bool) or not isinstance(grid, int) or grid < 2):
            raise ConfigError("hardware", "grid", "null or an integer >= 2", self.grid)

    def optical_system(self):
        """The :class:`~coexplore.optics.system.OpticalSystem` simulated (imports torch)."""
        from coexplore.optics.system import OpticalSystem

        try:
            system = OpticalSystem.load(self.system)
        except ConfigError as err:
            raise ConfigError("hardware", f"system ({err.field})", err.allowed, err.got) from None
        return system if self.grid is None else system.at_grid(self.grid)

    def classes(self) -> list[int]:
        from coexplore.data import dataset_shape
        from coexplore.data.config import DataConfig

        return [dataset_shape(DataConfig(t))[1] for t in self.tasks]


class LayoutSpace(HardwareSpace):
    """One token per plane: 0 shared, 1 specific, 2 skip (:data:`SLOTS`)."""

    def __init__(self, slots: int) -> None:
        self.slots = slots

    def token_choices(self) -> list[int]:
        return [len(SLOTS)] * self.slots

    def allowed(self, prefix: list[int]) -> list[int]:
        chosen = [SLOTS[t] for t in prefix]
        possible = [1, 2] if "specific" in chosen else [0, 1, 2]
        if len(prefix) == self.slots - 1 and all(c == "skip" for c in chosen):
            possible.remove(2)  # one mask at least
        return possible

    def decode(self, tokens: list[int]) -> dict[str, Any]:
        return {"layout": list(check_layout([SLOTS[t] for t in tokens]))}

    def token_names(self) -> list[str]:
        return [f"plane{i + 1}" for i in range(self.slots)]


@PLATFORMS.decorator("diffractive")
class DiffractivePlatform(Platform):
    name = "diffractive"
    description = (
        "a (multi-task) diffractive optical network: shared / task-specific / empty planes, "
        "priced in physical layers, SLMs and detectors, trained by the optics oracle"
    )
    config_class = DiffractiveHardware
    metrics = (
        Metric("layers", "physical layers", "", "layers", description="diffractive masks"),
        Metric("slms", "SLMs", "", "SLMs", description="programmable spatial light modulators"),
        Metric("detectors", "detectors", "", "detectors", description="detector regions read"),
    )
    objectives = ("layers",)
    capabilities = frozenset({TRAINED_HARDWARE})

    @cached_property
    def _priced(self) -> tuple[list[int], bool, str]:
        """Class counts per task, whether masks are SLMs, the system's name."""
        system = self.config.optical_system()
        return self.config.classes(), system.modulation == "slm", system.name

    def hardware_space(self) -> LayoutSpace:
        return LayoutSpace(self.config.slots)

    def evaluate(self, candidate: Candidate, specs: Specs, rng: np.random.Generator) -> FastResult:
        start = time.perf_counter()
        choice = candidate.choice
        classes, slm, name = self._priced
        try:
            layout = check_layout(choice["layout"])
        except (TypeError, KeyError, ValueError) as err:
            raise ConfigError("diffractive", "layout", f"a layout of {SLOTS}", choice) from err
        cost = layout_cost(layout, classes, slm)
        metrics = Metrics(layers=cost["layers"], slms=cost["slms"], detectors=cost["detectors"])
        return FastResult(
            hardware={"system": name, "layout": list(layout)},
            metrics=metrics,
            failed_specs=specs.check(metrics),
            wall_s=time.perf_counter() - start,
            details={**cost, **{k: layout.count(k) for k in ("shared", "specific")}},
        )

    @classmethod
    def describe(cls, choice: Any, hardware: dict[str, Any] | None, details: Any) -> str:
        layout = (hardware or choice or {}).get("layout", [])
        return "".join({"shared": "S", "specific": "T", "skip": "-"}[x] for x in layout) or "–"
