"""A stage's Pareto front: the valid designs that trade stage cycles against dynamic energy.

Every tuner (:mod:`~.tuners`, the exact one in :mod:`~.exact`) returns one, and the pipeline
tuner picks from it (:mod:`~.pipeline`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coexplore.platforms.fpga_pipeline.engine import EngineBatch
from coexplore.platforms.fpga_pipeline.tuning.space import StageProblem


@dataclass(frozen=True)
class StageFront:
    """Valid designs on the (cycles, dynamic energy) Pareto front, fastest first."""

    designs: np.ndarray  # (F, 7)
    cycles: np.ndarray  # (F,)
    energy_j: np.ndarray  # (F,) dynamic energy per image
    evaluations: int

    @property
    def empty(self) -> bool:
        return len(self.cycles) == 0

    @classmethod
    def of(cls, batch: EngineBatch, problem: StageProblem, evaluations: int) -> StageFront:
        energy = batch.dynamic_energy_j(problem.part)
        return pareto(
            batch.designs[batch.valid], batch.cycles[batch.valid], energy[batch.valid], evaluations
        )

    @classmethod
    def merge(cls, fronts: list[StageFront]) -> StageFront:
        return pareto(
            np.concatenate([f.designs for f in fronts]),
            np.concatenate([f.cycles for f in fronts]),
            np.concatenate([f.energy_j for f in fronts]),
            sum(f.evaluations for f in fronts),
        )

    def frugal_within(self, max_cycles: float) -> int | None:
        """Index of the least-energy design taking at most ``max_cycles`` (None if none does)."""
        ok = np.flatnonzero(self.cycles <= max_cycles * (1 + 1e-12))
        return None if len(ok) == 0 else int(ok[-1])


def pareto(
    designs: np.ndarray, cycles: np.ndarray, energy: np.ndarray, evaluations: int
) -> StageFront:
    """Keep the designs no other design beats on both cycles and energy (ties: lowest row)."""
    order = np.lexsort((energy, cycles))
    e_sorted = energy[order]
    best_before = np.minimum.accumulate(np.concatenate([[np.inf], e_sorted[:-1]]))
    keep = order[e_sorted < best_before]
    return StageFront(designs[keep], cycles[keep], energy[keep], evaluations)


def empty_front(evaluations: int) -> StageFront:
    """A front with no design (nothing fits)."""
    return StageFront(np.zeros((0, 7), np.int64), np.zeros(0, np.int64), np.zeros(0), evaluations)
