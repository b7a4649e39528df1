"""Tune a multi-FPGA pipeline: the engine design of every stage, and optionally the partition.

Throughput comes first: the pipeline period is set by its slowest stage (or link), so each stage
is tuned for speed and the period P is the largest of the fastest stage times. Energy is the
tie-break: every other stage then takes its least-energy design that still finishes within P.

:func:`tune_partition` finds the best contiguous split of the layers onto an ordered list of parts
by dynamic programming over cut points, with the stage tuner inside (Jiang et al. split layers
into contiguous pipeline stages, one FPGA each): first the minimum period over all splits, then,
among the splits that reach it, the least energy.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import inf

import numpy as np
from tqdm.auto import tqdm

from coexplore.platforms.fpga_pipeline.engine import EngineDesign
from coexplore.platforms.fpga_pipeline.parts import FPGAPart, get_part
from coexplore.platforms.fpga_pipeline.pipeline import (
    HardwareDesign,
    PipelineMetrics,
    Stage,
    evaluate_pipeline,
    link_gbps,
)
from coexplore.platforms.fpga_pipeline.precision import PRECISIONS
from coexplore.platforms.fpga_pipeline.tuning.exact import Choice, PartSolver, distinct_layers
from coexplore.platforms.fpga_pipeline.tuning.front import StageFront
from coexplore.platforms.fpga_pipeline.tuning.space import DEFAULT_PORT_QUANTA, StageProblem
from coexplore.platforms.fpga_pipeline.tuning.tuners import SEARCHES, TUNERS, exact_is_cheaper
from coexplore.workloads.layer import Network

DEFAULT_BUDGET = 200


class NoFeasibleDesign(ValueError):
    """No engine design of some stage fits its part's budgets."""


@dataclass(frozen=True)
class TuneResult:
    hardware: HardwareDesign
    metrics: PipelineMetrics
    tuner: str
    evaluations: int  # engine designs evaluated, over every stage tuned
    stage_tunes: int  # (part, layer range) problems tuned
    wall_s: float
    method: str = "exact"  # how the stages were solved: exact, or the search tuner

    def to_dict(self) -> dict:
        return {
            **self.metrics.to_dict(),
            "tuner": self.tuner,
            "method": self.method,
            "evaluations": self.evaluations,
            "stage_tunes": self.stage_tunes,
            "wall_s": self.wall_s,
            "hardware": self.hardware.to_dict(),
        }


@dataclass
class StageTuner:
    """Tunes the (part, layer range) stages of one network, each once, deterministically.

    With ``exhaustive`` every part's ranges are solved together, exactly
    (:class:`~coexplore.platforms.fpga_pipeline.tuning.exact.PartSolver`). ``auto``, ``tpe``
    and ``random`` do the same on every part where that costs less than searching each range
    with the budget (:func:`~.tuners.exact_is_cheaper`): the result can only be better. Elsewhere,
    and with ``reference``, each range's own space is tuned (:data:`TUNERS`) and its front kept.
    """

    network: Network
    precision: str = "fixed16"
    tuner: str = "auto"
    budget: int = DEFAULT_BUDGET
    seed: int = 0
    square_tiles: bool = True
    port_quanta: int = DEFAULT_PORT_QUANTA
    progress: bool = False
    _fronts: dict[tuple[str, int, int], StageFront] = field(default_factory=dict, repr=False)
    _solvers: dict[str, PartSolver] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._tune = TUNERS.get(self.tuner)
        self._precision = PRECISIONS.get(self.precision)
        self._exact: dict[str, bool] = {}
        if self.budget < 1:
            raise ValueError(f"the tuner budget must be >= 1, got {self.budget}")

    def exact(self, part: str) -> bool:
        """Whether ``part``'s stages are solved exactly (see the class doc)."""
        if part not in self._exact:
            if self.tuner == "exhaustive":
                self._exact[part] = True
            elif self.tuner in SEARCHES:
                space = StageProblem(
                    tuple(distinct_layers(self.network.layers)[0]),
                    get_part(part),
                    self._precision,
                    square_tiles=self.square_tiles,
                    port_quanta=self.port_quanta,
                )
                self._exact[part] = exact_is_cheaper(len(space.grid), self.budget)
            else:
                self._exact[part] = False
        return self._exact[part]

    @property
    def method(self) -> str:
        """``exact`` if every part tuned so far was solved exactly, else the search tuner."""
        if all(self._exact.values()):
            return "exact"
        return "tpe" if self.tuner == "auto" else self.tuner

    def solver(self, part: str) -> PartSolver:
        """The exact solver of every layer range of the network on ``part``."""
        if part not in self._solvers:
            self._solvers[part] = PartSolver(
                self.network.layers,
                get_part(part),
                self._precision,
                square_tiles=self.square_tiles,
                port_quanta=self.port_quanta,
            )
        return self._solvers[part]

    def front(self, part: str, start: int, stop: int) -> StageFront:
        """The (cycles, energy) front of the valid designs of one stage that the tuner found."""
        key = (part, start, stop)
        if key not in self._fronts:
            if self.exact(part):
                self._fronts[key] = self.solver(part).front(start, stop)
            else:
                problem = StageProblem(
                    self.network.layers[start:stop],
                    get_part(part),
                    self._precision,
                    square_tiles=self.square_tiles,
                    port_quanta=self.port_quanta,
                )
                # A seed per problem: results do not depend on the order problems are tuned in.
                rng = np.random.default_rng([self.seed, zlib.crc32(part.encode()), start, stop])
                tune = SEARCHES.get(self.tuner, self._tune)  # this part is too large for exact
                self._fronts[key] = tune(problem, self.budget, rng)
        return self._fronts[key]

    def fastest(self, part: str, ranges: Sequence[tuple[int, int]]) -> list[Choice | None]:
        """Each stage's fastest design (least energy among the fastest); None where none fits."""
        if self.exact(part):
            a, b = _ends(ranges)
            return self.solver(part).fastest(a, b)
        return [_front_choice(self.front(part, a, b), 0) for a, b in ranges]

    def frugal(
        self, part: str, ranges: Sequence[tuple[int, int]], max_cycles: float
    ) -> list[Choice | None]:
        """Each stage's least-energy design within ``max_cycles``; None where none is."""
        if self.exact(part):
            a, b = _ends(ranges)
            return self.solver(part).frugal(a, b, max_cycles)
        out = []
        for a, b in ranges:
            f = self.front(part, a, b)
            out.append(_front_choice(f, f.frugal_within(max_cycles)))
        return out

    def stage_times(self, part: FPGAPart, ranges: Sequence[tuple[int, int]]) -> list[float]:
        """Seconds of each stage's fastest design (inf where nothing fits)."""
        return [
            inf if c is None else c.cycles / part.clock_hz for c in self.fastest(part.name, ranges)
        ]

    def stage_time(self, part: FPGAPart, start: int, stop: int) -> float:
        return self.stage_times(part, [(start, stop)])[0]

    @property
    def evaluations(self) -> int:
        """Engine designs evaluated (exact: bound evaluations included)."""
        solved = sum(s.evaluations for s in self._solvers.values())
        searched = [f for (part, *_), f in self._fronts.items() if not self.exact(part)]
        return solved + sum(f.evaluations for f in searched)

    @property
    def problems(self) -> int:
        """(part, layer range) stages tuned."""
        solved = sum(len(s.solved) for s in self._solvers.values())
        return solved + sum(1 for part, *_ in self._fronts if not self.exact(part))


def _ends(ranges: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([r[0] for r in ranges], dtype=np.int64)
    return a, np.array([r[1] for r in ranges], dtype=np.int64)


def _front_choice(front: StageFront, row: int | None) -> Choice | None:
    if front.empty or row is None:
        return None
    return Choice(front.designs[row], int(front.cycles[row]), float(front.energy_j[row]))


def _transfer_s(
    network: Network, a: FPGAPart, b: FPGAPart, cut: int, bits: int, link: float | None
) -> float:
    return network.layers[cut - 1].output_elements * bits / (link_gbps(a, b, link) * 1e9)


def _assemble(
    tuner: StageTuner, parts: Sequence[str], bounds: Sequence[int], link: float | None, t0: float
) -> TuneResult:
    """Pick each stage's design (fastest for the period, then least energy) and evaluate."""
    fparts = [get_part(p) for p in parts]
    ranges = [(bounds[i], bounds[i + 1]) for i in range(len(parts))]
    fastest = [tuner.fastest(p, [r])[0] for p, r in zip(parts, ranges, strict=True)]
    for i, f in enumerate(fastest):
        if f is None:
            raise NoFeasibleDesign(
                f"no engine design of {parts[i]} fits its budgets for layers "
                f"{bounds[i]}..{bounds[i + 1] - 1} in {tuner.precision}"
            )
    bits = PRECISIONS.get(tuner.precision).act_bits
    times = [f.cycles / p.clock_hz for f, p in zip(fastest, fparts, strict=True)]
    transfers = [
        _transfer_s(tuner.network, fparts[i], fparts[i + 1], bounds[i + 1], bits, link)
        for i in range(len(parts) - 1)
    ]
    period = max(times + transfers)
    stages = []
    for i, p in enumerate(fparts):
        choice = tuner.frugal(p.name, [ranges[i]], period * p.clock_hz)[0]
        stages.append(
            Stage(p.name, bounds[i], bounds[i + 1], EngineDesign.from_array(choice.design))
        )
    hardware = HardwareDesign(tuple(stages), tuner.precision, link)
    return TuneResult(
        hardware=hardware,
        metrics=evaluate_pipeline(tuner.network, hardware),
        tuner=tuner.tuner,
        evaluations=tuner.evaluations,
        stage_tunes=tuner.problems,
        wall_s=time.perf_counter() - t0,
        method=tuner.method,
    )


def tune_pipeline(
    network: Network,
    parts: Sequence[str],
    cuts: Sequence[int] | None = None,
    *,
    link: float | None = None,
    stage_tuner: StageTuner | None = None,
    **tuner_options,
) -> TuneResult:
    """Tune every stage's engine for a given partition (``cuts``: where stages 2, 3, … start).

    With ``cuts=None`` the partition is searched too (:func:`tune_partition`). ``tuner_options``
    (precision, tuner, budget, seed, square_tiles, port_quanta, progress) configure the
    :class:`StageTuner` unless one is passed.
    """
    if cuts is None:
        return tune_partition(network, parts, link=link, stage_tuner=stage_tuner, **tuner_options)
    t0 = time.perf_counter()
    tuner = stage_tuner or StageTuner(network, **tuner_options)
    bounds = [0, *cuts, len(network)]
    if len(bounds) - 1 != len(parts):
        raise ValueError(f"{len(parts)} parts need {len(parts) - 1} cut points, got {list(cuts)}")
    if not all(a < b for a, b in zip(bounds, bounds[1:], strict=False)):
        raise ValueError(
            f"cut points {list(cuts)} must increase strictly within 1..{len(network) - 1}"
        )
    for p in parts:
        get_part(p)
    return _assemble(tuner, parts, bounds, link, t0)


def tune_partition(
    network: Network,
    parts: Sequence[str],
    *,
    link: float | None = None,
    stage_tuner: StageTuner | None = None,
    **tuner_options,
) -> TuneResult:
    """The contiguous partition of the layers onto ``parts`` (in order, one stage each) with the
    highest throughput, least energy among ties; every stage's engine tuned inside."""
    t0 = time.perf_counter()
    tuner = stage_tuner or StageTuner(network, **tuner_options)
    n, k = len(network), len(parts)
    if not 1 <= k <= n:
        raise ValueError(f"{k} parts cannot each take at least one of {n} layers")
    fparts = [get_part(p) for p in parts]
    bits = PRECISIONS.get(tuner.precision).act_bits

    def span(i: int) -> range:  # where stage i (0-based) may end; the last ends at layer n
        return range(n, n + 1) if i == k - 1 else range(i + 1, n - (k - 1 - i) + 1)

    def starts(i: int, stop: int) -> range:
        return range(i, stop) if i > 0 else range(0, 1)

    def transfer(i: int, cut: int) -> float:
        return 0.0 if i == 0 else _transfer_s(network, fparts[i - 1], fparts[i], cut, bits, link)

    # Every stage each position can take, solved per part in one batch.
    spans = [[(a, j) for j in span(i) for a in starts(i, j)] for i in range(k)]
    times: list[dict[tuple[int, int], float]] = []
    for i in tqdm(range(k), desc="tuning stages", disable=not tuner.progress, leave=False):
        times.append(dict(zip(spans[i], tuner.stage_times(fparts[i], spans[i]), strict=True)))

    # Pass 1: the minimum period over every partition.
    best = {(0, 0): 0.0}
    for i in range(k):
        for j in span(i):
            options = [
                max(best[(i, a)], transfer(i, a), times[i][(a, j)])
                for a in starts(i, j)
                if (i, a) in best
            ]
            best[(i + 1, j)] = min(options, default=inf)
    period = best[(k, n)]
    if period == inf:
        raise NoFeasibleDesign(f"no partition of {network.name!r} onto {list(parts)} fits")

    # Pass 2: among the partitions that reach the period, the least dynamic energy. Position
    # by position, so only stages that some partition can reach are asked for their design.
    cost, back = {(0, 0): 0.0}, {}
    for i in range(k):
        live = [
            r
            for r in spans[i]
            if cost.get((i, r[0]), inf) < inf and transfer(i, r[0]) <= period * (1 + 1e-12)
        ]
        frugal = tuner.frugal(parts[i], live, period * fparts[i].clock_hz)
        energy = {r: inf if c is None else c.energy_j for r, c in zip(live, frugal, strict=True)}
        for j in span(i):
            choices = [
                (cost[(i, a)] + energy.get((a, j), inf), a) for a in starts(i, j) if (i, a) in cost
            ]
            c, a = min(choices, default=(inf, -1))
            cost[(i + 1, j)], back[(i + 1, j)] = c, a
    bounds, j = [n], n
    for i in range(k, 0, -1):
        j = back[(i, j)]
        bounds.append(j)
    return _assemble(tuner, parts, bounds[::-1], link, t0)
