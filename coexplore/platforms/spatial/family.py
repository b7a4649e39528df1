"""The ``spatial`` family: a spatial accelerator template whose parameters are hardware tokens.

``hardware: {family: spatial, template: eyeriss-like}`` makes one token per parameter of the
template's design space (PE array, scratchpad and buffer sizes, bandwidth); the tokens are
masked so that every design fits the template's own silicon budget (:mod:`.space`). The fast
phase maps every layer of the candidate network with the mapper (``fast_phase.mapper_budget``
model evaluations per layer) and reports latency, energy, EDP and area. ``search_hardware:
false`` fixes the template as it is (no tokens). A choice over the budget (the masks rule it
out; an agent that ignores them) is not priced: it fails a ``budget`` spec. The family also
prices a fixed workload's loop nests (space ``workload``: hardware + mapping co-design, where
the searchers of Shi et al.'s study choose the design points). The model: ``docs/spatial.md``.
"""

from __future__ import annotations

import dataclasses
import time
import zlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from coexplore.config import INPUT_FILE, ConfigError
from coexplore.core.candidate import LOOP_NESTS, Candidate
from coexplore.core.metrics import Metrics
from coexplore.core.platform import FastResult, HardwareSpace, Platform
from coexplore.core.specs import SpecFailure, Specs
from coexplore.platforms.base import PLATFORMS
from coexplore.platforms.spatial.arch import Template, load_template
from coexplore.platforms.spatial.mapper import OBJECTIVES
from coexplore.platforms.spatial.network import LayerResult, WorkloadResult, map_layer
from coexplore.platforms.spatial.space import HardwareDesignSpace, template_space
from coexplore.workloads.layer import Network
from coexplore.workloads.problem import Problem, workload_from_network
from coexplore.workloads.suites import NamedWorkload

__all__ = ["LAYER_CACHE", "SpatialAccelerator", "SpatialFastConfig", "SpatialHardware"]

# Mapped layers, shared by every instance of the family in this process: the key holds the
# design, the loop nest, the mapper budget and objective, and the seed comes from the key, so a
# hit is exactly what a fresh search would return. A launch script may save and reload it.
LAYER_CACHE: dict[tuple, LayerResult] = {}
LAYER_CACHE_LIMIT = 200_000


@dataclass(frozen=True)
class SpatialHardware:
    """``hardware:`` of the spatial family."""

    # a built-in template or a template YAML file
    template: str = field(default="eyeriss-like", metadata=INPUT_FILE)
    space: dict[str, Any] | None = None  # the design space; None: the template's own
    search_hardware: bool = True  # hardware tokens; False: the template as it is
    batch: int = 1  # inputs per pass (the N dim)
    dram_bw: float | None = None  # words per cycle of the outermost level; None: the template's

    def __post_init__(self) -> None:
        load_template(self.template)  # a wrong name or file is an error here, naming it
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 1:
            raise ConfigError("hardware", "batch", "an integer >= 1", self.batch)
        bw = self.dram_bw
        if bw is not None and (isinstance(bw, bool) or not isinstance(bw, int | float) or bw <= 0):
            raise ConfigError("hardware", "dram_bw", "a positive number of words per cycle", bw)


@dataclass(frozen=True)
class SpatialFastConfig:
    """The per-layer mapper: model evaluations per layer and what it minimises."""

    mapper_budget: int = 1000
    objective: str = "edp"

    def __post_init__(self) -> None:
        if isinstance(self.mapper_budget, bool) or self.mapper_budget < 2:
            raise ConfigError("fast_phase", "mapper_budget", "an integer >= 2", self.mapper_budget)
        if self.objective not in OBJECTIVES:
            raise ConfigError(
                "fast_phase", "objective", f"one of {list(OBJECTIVES)}", self.objective
            )


class DesignTokens(HardwareSpace):
    """One token per design-space parameter, masked to the designs within budget."""

    def __init__(self, space: HardwareDesignSpace) -> None:
        self.space = space

    def token_choices(self) -> list[int]:
        return [len(p.choices) for p in self.space.params]

    def allowed(self, prefix: list[int]) -> list[int]:
        return self.space.allowed(prefix)

    def decode(self, tokens: list[int]) -> dict[str, float]:
        return {k: _plain(v) for k, v in self.space.values(tokens).items()}

    def token_names(self) -> list[str]:
        return self.space.names


class FixedDesign(HardwareSpace):
    def token_choices(self) -> list[int]:
        return []

    def decode(self, tokens: list[int]) -> dict[str, float]:
        return {}


def _plain(v: float) -> int | float:
    return int(v) if float(v).is_integer() else float(v)


@PLATFORMS.decorator("spatial")
class SpatialAccelerator(Platform):
    name = "spatial"
    description = (
        "a spatial accelerator (PE array, scratchpads, global buffer, DRAM) with per-layer "
        "loop mappings; Eyeriss-like and Edge-TPU-like templates (Timeloop-style model)"
    )
    config_class = SpatialHardware
    fast_config_class = SpatialFastConfig
    metrics = ("latency_s", "throughput_fps", "energy_j", "power_w", "edp_js", "area_mm2")
    objectives = ("latency_s", "energy_j")
    capabilities = frozenset({LOOP_NESTS})  # a fixed workload's loop nests (space workload)

    def __init__(self, config: Any = None, fast: Any = None) -> None:
        super().__init__(config, fast)
        self._template: Template | None = None
        self._space: HardwareDesignSpace | None = None

    @property
    def template(self) -> Template:
        if self._template is None:
            template = load_template(self.config.template)
            if self.config.dram_bw is not None:
                bw = float(self.config.dram_bw)
                template = template.replace_level(template.levels[0].name, read_bw=bw, write_bw=bw)
            self._template = template
        return self._template

    @property
    def design_space(self) -> HardwareDesignSpace:
        if self._space is None:
            self._space = template_space(self.template, self.config.space)
        return self._space

    def hardware_space(self) -> HardwareSpace:
        return DesignTokens(self.design_space) if self.config.search_hardware else FixedDesign()

    def design(self, choice: dict[str, float] | None) -> Template:
        if not choice:
            return self.template
        missing = [n for n in self.design_space.names if n not in choice]
        if missing:
            raise ConfigError("hardware choice", missing[0], "set (a design-space parameter)")
        indices = [p.choices.index(choice[p.name]) for p in self.design_space.params]
        return self.design_space.design(indices)

    def map_problem(self, problem: Problem, template: Template) -> LayerResult:
        """The best mapping the mapper finds for one loop nest on ``template``; cached per design
        and seeded from its own key, so a result does not depend on evaluation order."""
        key = (template.levels, template.mac, *problem.key, self.fast.mapper_budget,
               self.fast.objective)  # fmt: skip
        hit = LAYER_CACHE.get(key)
        if hit is None:
            rng = np.random.default_rng(zlib.crc32(repr(key).encode()))
            hit = map_layer(template, problem, 1, self.fast.mapper_budget, rng,
                            self.fast.objective)  # fmt: skip
            if len(LAYER_CACHE) >= LAYER_CACHE_LIMIT:
                LAYER_CACHE.clear()
            LAYER_CACHE[key] = hit
        return hit

    def map_network(self, network: Network | NamedWorkload, template: Template) -> WorkloadResult:
        """Every layer of ``network`` (a chain, or loop nests by name) mapped on ``template``
        (:meth:`map_problem`), at the family's batch."""
        batch = self.config.batch
        if isinstance(network, NamedWorkload):
            workload = network.workload(batch)
        else:
            workload = workload_from_network(network, batch)
        layers = [
            dataclasses.replace(self.map_problem(problem, template), name=problem.name, count=count)
            for problem, count in workload.layers
        ]
        return WorkloadResult(template, workload, layers)

    def evaluate(
        self, candidate: Candidate, specs: Specs, rng: np.random.Generator | None
    ) -> FastResult:
        start = time.perf_counter()
        choice = candidate.choice
        template = self.design(choice)
        hardware = {"template": self.config.template, "design": dict(choice or {}),
                    "area_mm2": template.area_mm2, "pes": template.pes}  # fmt: skip
        over = self.design_space.budget.broken(template) if choice else []
        if over:  # a choice the token masks rule out (an agent that ignores them): not priced
            failures = [SpecFailure("budget", f"over the silicon budget: {b}") for b in over]
            return FastResult(None, None, failures, 1, time.perf_counter() - start)
        result = self.map_network(candidate.network, template)
        details = {"layers": [{"name": ly.name, "count": ly.count, "cycles": ly.cycles,
                               "energy_j": ly.energy_j, "mapping":
                               ly.batch.mapping(0, template).to_dict()}
                              for ly in result.layers]}  # fmt: skip
        if not result.valid:
            bad = [ly.name for ly in result.layers if not ly.valid]
            failure = SpecFailure("infeasible", f"no valid mapping found for layers {bad}")
            return FastResult(None, None, [failure], 1, time.perf_counter() - start, details)
        metrics = self._metrics(result, template)
        return FastResult(
            hardware=hardware,
            metrics=metrics,
            failed_specs=specs.check(metrics),
            attempts=1,
            wall_s=time.perf_counter() - start,
            details=details,
        )

    def _metrics(self, result: WorkloadResult, template: Template) -> Metrics:
        batch = self.config.batch
        latency = result.latency_s
        return Metrics.derived(
            latency_s=latency,
            throughput_fps=batch / latency,
            energy_j=result.energy_j / batch,
            area_mm2=template.area_mm2,
        )

    def reference(self, candidate: Candidate, specs: Specs) -> dict[str, float]:
        """The template as it is (its own design point) is the fixed hardware."""
        return {}

    def evaluate_fixed(self, candidate: Candidate, design: Any, specs: Specs) -> FastResult:
        return self.evaluate(replace(candidate, choice=design or None), specs, None)

    @classmethod
    def describe(cls, choice: Any, hardware: dict[str, Any] | None, details: Any) -> str:
        if hardware is None:
            return "–"
        design = hardware.get("design") or {}
        return ",".join(f"{k}={v}" for k, v in design.items()) or hardware["template"]

    @classmethod
    def info(cls) -> dict[str, Any]:
        from coexplore.platforms.spatial.arch import builtin_templates

        return {**super().info(), "templates": builtin_templates()}
