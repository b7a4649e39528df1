"""A whole workload on a template: every layer mapped (searched or read from a file), totals.

Layers run one after another, each on its own mapping, so a network's cycles and energy are the
sums over its layers (× their counts) and its EDP is total energy × total cycles. The mapper
minimises each layer's own EDP (as Timeloop's per-layer mapping does), which can differ
slightly from the mapping set that minimises the network's EDP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coexplore.config import ConfigError, load_mapping, require_keys
from coexplore.platforms.spatial.arch import Template
from coexplore.platforms.spatial.mapper import MapperResult, search_mappings
from coexplore.platforms.spatial.mapping import Mapping, MappingBatch
from coexplore.platforms.spatial.model import evaluate_batch, layer_report, violations
from coexplore.workloads.problem import Problem, Workload

DEFAULT_MAPPER_BUDGET = 3000  # model evaluations per layer


@dataclass
class LayerResult:
    name: str
    count: int
    batch: MappingBatch  # the mapping, a batch of one
    valid: bool
    cycles: float
    energy_j: float
    evaluations: int = 0  # model evaluations spent finding it (0: given)
    valid_evaluations: int = 0
    broken: list[str] = field(default_factory=list)


@dataclass
class WorkloadResult:
    """A workload's totals on one template, and each layer's mapping."""

    template: Template
    workload: Workload
    layers: list[LayerResult]

    @property
    def valid(self) -> bool:
        return all(ly.valid for ly in self.layers)

    @property
    def cycles(self) -> float:
        return sum(ly.cycles * ly.count for ly in self.layers)

    @property
    def energy_j(self) -> float:
        return sum(ly.energy_j * ly.count for ly in self.layers)

    @property
    def latency_s(self) -> float:
        return self.cycles / self.template.clock_hz

    @property
    def edp(self) -> float:
        """J·cycle; inf when a layer has no valid mapping."""
        return self.energy_j * self.cycles if self.valid else float("inf")

    @property
    def evaluations(self) -> int:
        return sum(ly.evaluations for ly in self.layers)

    def mapping_file(self) -> dict[str, Any]:
        """The per-layer mappings as a mapping file (read back by :func:`read_mapping_file`)."""
        return {
            "template": self.template.name,
            "workload": self.workload.name,
            "layers": {ly.name: ly.batch.mapping(0, self.template).to_dict() for ly in self.layers},
        }

    def report(self, detail: bool = False) -> dict[str, Any]:
        layers = []
        for (problem, _), ly in zip(self.workload.layers, self.layers, strict=True):
            entry: dict[str, Any] = {
                "name": ly.name,
                "count": ly.count,
                "valid": ly.valid,
                "cycles": ly.cycles,
                "energy_j": ly.energy_j,
                "edp": ly.energy_j * ly.cycles,
                "macs": problem.macs,
                "mapping": ly.batch.mapping(0, self.template).to_dict(),
            }
            if ly.broken:
                entry["violations"] = ly.broken
            if detail:
                entry["detail"] = layer_report(self.template, problem, ly.batch)
            layers.append(entry)
        return {
            "template": self.template.name,
            "workload": self.workload.name,
            "valid": self.valid,
            "cycles": self.cycles,
            "latency_s": self.latency_s,
            "energy_j": self.energy_j,
            "edp": self.edp,
            "edp_js": self.energy_j * self.latency_s,
            "macs": self.workload.macs,
            "area_mm2": self.template.area_mm2,
            "evaluations": self.evaluations,
            "layers": layers,
        }


def layer_result(name: str, count: int, batch: MappingBatch, stats: Any, broken: list[str],
           found: MapperResult | None = None) -> LayerResult:  # fmt: skip
    valid = bool(stats.valid[0])
    return LayerResult(
        name=name,
        count=count,
        batch=batch,
        valid=valid,
        cycles=float(stats.cycles[0]) if valid else float("inf"),
        energy_j=float(stats.energy_pj[0]) * 1e-12 if valid else float("inf"),
        evaluations=0 if found is None else found.evaluations,
        valid_evaluations=0 if found is None else found.valid_evaluations,
        broken=broken,
    )


def map_layer(template: Template, problem: Problem, count: int, budget: int,
              rng: np.random.Generator, objective: str = "edp") -> LayerResult:  # fmt: skip
    """The mapper's best mapping of one layer (``budget`` model evaluations)."""
    found = search_mappings(template, problem, budget, rng, objective)
    broken = [] if found.found else ["no valid mapping found within the mapper's budget"]
    return layer_result(problem.name, count, found.batch, found.stats, broken, found)


def map_workload(
    template: Template,
    workload: Workload,
    budget: int = DEFAULT_MAPPER_BUDGET,
    rng: np.random.Generator | None = None,
    objective: str = "edp",
) -> WorkloadResult:
    """Search a mapping for every layer (``budget`` model evaluations each)."""
    rng = np.random.default_rng(0) if rng is None else rng
    layers = [map_layer(template, p, c, budget, rng, objective) for p, c in workload.layers]
    return WorkloadResult(template, workload, layers)


def read_mapping_file(path: str) -> tuple[dict[str, Mapping], dict[str, Any] | None]:
    """Per-layer mappings from a file, and the design point it names (None: the template's
    own). ``coexplore accel search --out`` writes ``layers:`` (layer name → mapping) with the
    ``template``, the ``workload`` and the design point it found (``hardware:``); a file by
    hand may also be one mapping, used for every layer (key ``"*"``)."""
    data = load_mapping(path)
    if "layers" not in data:
        return {"*": Mapping.from_dict(data, path)}, None
    require_keys(data, path, {"layers"}, {"template", "workload", "hardware"})
    layers, hardware = data["layers"], data.get("hardware")
    if not isinstance(layers, dict) or not layers:
        raise ConfigError(path, "layers", "a mapping of layer name to its mapping", layers)
    if hardware is not None and not isinstance(hardware, dict):
        raise ConfigError(path, "hardware", "a mapping of design parameter to value", hardware)
    mappings = {str(k): Mapping.from_dict(v, path, f"layers.{k}.") for k, v in layers.items()}
    return mappings, hardware


def evaluate_workload(template: Template, workload: Workload, mappings: dict[str, Mapping],
                      source: str = "<mappings>") -> WorkloadResult:  # fmt: skip
    """A workload on given mappings (``"*"``: one mapping for every layer); an invalid mapping
    is reported with what it breaks, never priced."""
    names = [p.name for p in workload.problems]
    for name in mappings:
        if name != "*" and name not in names:
            raise ConfigError(source, f"layers.{name}", f"a layer of {workload.name}: {names}")
    layers = []
    for problem, count in workload.layers:
        mapping = mappings.get(problem.name, mappings.get("*"))
        if mapping is None:
            raise ConfigError(source, f"layers.{problem.name}", f"present (layers: {names})")
        where = "" if problem.name not in mappings else f"layers.{problem.name}."
        batch = mapping.batch(template, source, where)
        stats = evaluate_batch(template, problem, batch)
        layers.append(
            layer_result(problem.name, count, batch, stats, violations(template, problem, batch))
        )
    return WorkloadResult(template, workload, layers)


__all__ = [
    "DEFAULT_MAPPER_BUDGET",
    "LayerResult",
    "WorkloadResult",
    "evaluate_workload",
    "map_layer",
    "map_workload",
    "read_mapping_file",
]
