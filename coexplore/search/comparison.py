"""The paper's comparison (Jiang et al., TCAD 2020): co-exploration against its baselines.

Five methods search the same scenario with equal budgets (candidates proposed) and seeds:

- ``coexplore``: the joint search, fast + slow phase (the package's default);
- ``hw-nas-fixed``: hardware-aware NAS on fixed hardware: the design the tuner finds for a
  reference network is kept; the controller explores the network tokens only; the specs are
  checked on that design (``hardware.mode=fixed``);
- ``sequential``: NAS for accuracy alone (``hardware.mode=none``), then hardware designed for
  the trained networks in order of accuracy until one meets the specs (:func:`design_in_order`);
- ``random``: uniform random search with fast-phase pruning;
- ``no-pruning``: co-exploration that trains every candidate (``fast_phase.prune=false``).

:func:`measure` turns a run's records into the figures of the comparison.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from coexplore.core.candidate import Candidate
from coexplore.core.record import CandidateRecord
from coexplore.scenario import Scenario
from coexplore.search.pareto import hypervolume


@dataclass(frozen=True)
class Method:
    name: str
    label: str
    agent: str
    overrides: tuple[str, ...]


def methods(reference: str, agent: str = "reinforce-paper") -> dict[str, Method]:
    """The five methods; ``agent`` is the controller of the four learning ones (default: the
    paper's REINFORCE as published)."""
    return {
        m.name: m
        for m in (
            Method("coexplore", "co-exploration", agent, ()),
            Method(
                "hw-nas-fixed",
                "HW-aware NAS, fixed hardware",
                agent,
                ("hardware.mode=fixed", f"hardware.reference={json.dumps(reference)}"),
            ),
            Method("sequential", "NAS, then hardware", agent, ("hardware.mode=none",)),
            Method("random", "random search + pruning", "random", ()),
            Method("no-pruning", "co-exploration, no pruning", agent, ("fast_phase.prune=false",)),
        )
    }


def design_hardware(
    record: CandidateRecord, scenario: Scenario, input_shape, classes
) -> CandidateRecord:
    """A trained network of an accuracy-only search, given hardware by the fast phase (the
    pool's pipelines, longest first): the record as co-exploration would have written it."""
    arch = scenario.space.parse(record.arch)
    network = arch.network(input_shape, classes)
    pool = scenario.hardware.options
    rng = np.random.default_rng([scenario.data.seed, *record.tokens])
    choice = [pool.parts[0]] * pool.max_fpgas
    fast = scenario.platform().evaluate(Candidate(arch, network, choice), scenario.specs, rng)
    return replace(
        record,
        hw_attempts=fast.attempts,
        failed_specs=fast.failed_specs,
        fast_s=fast.wall_s,
        hardware=fast.hardware,
        metrics=fast.metrics,
        details=fast.details,
    )


def design_in_order(records: list[CandidateRecord], designed: list[CandidateRecord]) -> dict:
    """The sequential flow's second step: the trained networks in order of validation accuracy
    are given hardware until one meets the specs. ``designed[i]`` is ``records[i]`` with its
    hardware (:func:`design_hardware`). Returns the chosen record (or None), how many designs
    were made and their fast-phase time."""
    order = sorted(
        (i for i, r in enumerate(records) if r.val_acc is not None and not r.diverged),
        key=lambda i: (-records[i].val_acc, i),
    )
    spent = 0.0
    for n, i in enumerate(order, 1):
        spent += designed[i].fast_s
        if designed[i].feasible:
            return {"best": designed[i], "designs": n, "design_s": spent}
    return {"best": None, "designs": len(order), "design_s": spent}


def trained(records: list[CandidateRecord]) -> list[bool]:
    """Which candidates cost a training: not pruned, not a repeat of an earlier proposal
    (answered from the env's records) and not a result-cache hit."""
    seen: set[tuple[int, ...]] = set()
    flags = []
    for r in records:
        key = tuple(r.tokens)
        flags.append(not r.pruned and key not in seen and not r.cache_hit)
        seen.add(key)
    return flags


def reached(records: list[CandidateRecord], target: float) -> dict[str, Any] | None:
    """Trainings and wall time until the first candidate within specs with val acc ≥ target."""
    trainings = 0
    for r, cost in zip(records, trained(records), strict=True):
        trainings += cost
        if r.feasible and r.val_acc >= target:
            return {"trainings": trainings, "wall_s": r.wall_s, "episode": r.episode}
    return None


def gops_per_w(record: CandidateRecord) -> float | None:
    """The FPGA pipeline's energy efficiency (the paper's measure), from its full report."""
    return ((record.details or {}).get("pipeline") or {}).get("gops_per_w")


def at_accuracy(records: list[CandidateRecord], target: float) -> dict[str, float | None]:
    """The best hardware among designs within specs whose network reaches ``target`` accuracy:
    the paper's "same accuracy, higher throughput / energy efficiency" comparison."""
    ok = [r for r in records if r.feasible and r.val_acc >= target]
    return {
        "fps_at_target": max((r.metrics.throughput_fps for r in ok), default=None),
        "gops_per_w_at_target": max((gops_per_w(r) for r in ok), default=None),
    }


def measure(records: list[CandidateRecord], best: CandidateRecord | None) -> dict[str, Any]:
    """The comparison's figures of one run (``records`` with hardware, as designed)."""
    return {
        "candidates": len(records),
        "trainings": sum(trained(records)),
        "pruned": sum(r.pruned for r in records),
        "wall_s": max((r.wall_s for r in records), default=0.0),
        "best_val_acc": None if best is None else best.val_acc,
        "best_test_acc": None if best is None else best.test_acc,
        "best_arch": None if best is None else best.arch,
        "best_parts": None if best is None else best.details["parts"],
        "throughput_fps": None if best is None else best.metrics.throughput_fps,
        "gops_per_w": None if best is None else gops_per_w(best),
        "energy_mj": None if best is None else best.metrics.energy_j * 1e3,
        "hypervolume": hypervolume(records, "throughput_fps"),
    }


def best_so_far(records: list[CandidateRecord]) -> list[tuple[int, float, float]]:
    """(trainings, wall_s, best val acc within specs) after each training."""
    out, trainings, best = [], 0, float("nan")
    for r, cost in zip(records, trained(records), strict=True):
        if not cost:
            continue
        trainings += 1
        if r.feasible and (np.isnan(best) or r.val_acc > best):
            best = r.val_acc
        out.append((trainings, r.wall_s, best))
    return out


__all__ = [
    "Method",
    "at_accuracy",
    "best_so_far",
    "design_hardware",
    "design_in_order",
    "gops_per_w",
    "measure",
    "methods",
    "reached",
    "trained",
]
