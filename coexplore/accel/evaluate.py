"""A workload on a template, as the JSON report ``coexplore accel evaluate`` prints: on given
mappings (a mapping file, as ``coexplore accel search --out`` writes it, with the design point
it names) or on the mapper's best mapping per layer."""

from __future__ import annotations

from typing import Any

import numpy as np

from coexplore.config import ConfigError
from coexplore.platforms.spatial.arch import load_template
from coexplore.platforms.spatial.network import (
    evaluate_workload,
    map_workload,
)
from coexplore.platforms.spatial.space import apply, template_space
from coexplore.workloads.suites import load_workload


def evaluate_report(template: str, net: str, mappings: dict | None, hardware: dict | None,
                    mapper_budget: int, seed: int, detail: bool, batch: int = 1,
                    source: str = "<mapping>") -> dict[str, Any]:  # fmt: skip
    """A workload on a template (optionally a design point of its space), on given mappings or
    on the mapper's."""
    base = load_template(template)
    design = base
    if hardware:
        space = template_space(base)
        unknown = [k for k in hardware if k not in space.names]
        if unknown:
            raise ConfigError(source, f"hardware.{unknown[0]}", f"one of {space.names}")
        for p in space.params:
            if p.name in hardware and hardware[p.name] not in p.choices:
                allowed = f"one of its choices {list(p.choices)}"
                raise ConfigError(source, f"hardware.{p.name}", allowed, hardware[p.name])
        values = {**{p.name: p.baseline(base) for p in space.params}, **hardware}
        design = apply(base, space.params, values)
    workload = load_workload(net, batch)
    if mappings is None:
        result = map_workload(design, workload, mapper_budget, np.random.default_rng(seed))
    else:
        result = evaluate_workload(design, workload, mappings, source)
    out = result.report(detail=detail)
    out["template"] = template
    out["hardware"] = hardware or {}
    return out


__all__ = ["evaluate_report"]
