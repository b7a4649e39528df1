"""Pareto fronts of two objectives: the front, its hypervolume, and the accuracy × metric fronts
of a search run (shared by ``coexplore report`` and the W&B tracker). An objective is a metric
name (:data:`~coexplore.core.metrics.METRIC_INFO` says its unit and direction); the scenario's
``objectives`` list which ones a search reports."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from coexplore.core.metrics import METRIC_INFO, axis_label, display_value
from coexplore.core.record import CandidateRecord
from coexplore.figures import new_figure, save_figure
from coexplore.search.runlog import best_candidate

Point = tuple[float, float]


def _as_maximized(points: Sequence[Point], maximize: tuple[bool, bool]) -> list[Point]:
    sx, sy = (1.0 if m else -1.0 for m in maximize)
    return [(sx * x, sy * y) for x, y in points]


def _front_maximized(points: Sequence[Point]) -> list[int]:
    """Front of points that maximise both coordinates, by decreasing first coordinate."""
    order = sorted(range(len(points)), key=lambda i: (-points[i][0], -points[i][1], i))
    front: list[int] = []
    for i in order:
        if not front or points[i][1] > points[front[-1]][1]:
            front.append(i)
    return front


def pareto_front(points: Sequence[Point], maximize: tuple[bool, bool] = (True, True)) -> list[int]:
    """Indices of the non-dominated points, by increasing first coordinate.

    ``maximize`` says per coordinate whether larger is better. Of identical points only the
    first is kept. O(n log n).
    """
    front = _front_maximized(_as_maximized(points, maximize))
    return sorted(front, key=lambda i: points[i][0])


def hypervolume_2d(
    points: Sequence[Point], reference: Point, maximize: tuple[bool, bool] = (True, True)
) -> float:
    """Area dominated by the points and bounded by ``reference``; points not strictly better
    than the reference in both coordinates add nothing."""
    pts = _as_maximized(points, maximize)
    rx, ry = _as_maximized([reference], maximize)[0]
    pts = [(x, y) for x, y in pts if x > rx and y > ry]
    area, floor = 0.0, ry
    for i in _front_maximized(pts):  # decreasing x, increasing y
        x, y = pts[i]
        area += (x - rx) * (y - floor)
        floor = y
    return area


def objective_points(records: Sequence[CandidateRecord], objective: str) -> list[Point]:
    """``(objective value, val_acc)`` of each record."""
    return [(r.metric(objective), r.val_acc) for r in records]


def _scored(records: Sequence[CandidateRecord], objective: str) -> list[CandidateRecord]:
    return [r for r in records if r.feasible and r.metric(objective) is not None]


def hv_reference(objective: str, specs: Any = None) -> float | None:
    """Where the hypervolume of accuracy × ``objective`` is measured from: 0 for a metric that
    is maximised, the spec's limit for one that is minimised (None: no hypervolume)."""
    if METRIC_INFO[objective].maximize:
        return 0.0
    return None if specs is None else specs.limit(objective)


def hypervolume(
    records: Sequence[CandidateRecord], objective: str, reference: float | None = 0.0
) -> float | None:
    """Area dominated by the feasible records in (objective, val_acc) from (reference, 0): one
    number that grows with both better networks and better hardware."""
    if reference is None:
        return None
    maximize = (METRIC_INFO[objective].maximize, True)
    points = objective_points(_scored(records, objective), objective)
    return hypervolume_2d(points, (reference, 0.0), maximize)


def front_records(records: Sequence[CandidateRecord], objective: str) -> list[CandidateRecord]:
    """The feasible records on the front of validation accuracy (maximised) against
    ``objective``, by increasing objective value."""
    ok = _scored(records, objective)
    maximize = (METRIC_INFO[objective].maximize, True)
    return [ok[i] for i in pareto_front(objective_points(ok, objective), maximize)]


def plot_front(
    records: Sequence[CandidateRecord],
    objective: str,
    path: str | Path,
    title: str | None = None,
) -> Path:
    """Write a PNG of validation accuracy against an objective (in its display unit): every
    feasible candidate in grey (pruned ones have no accuracy), the front as a step line, the
    best candidate highlighted. Returns the path."""
    maximize = METRIC_INFO[objective].maximize
    ok = _scored(records, objective)
    fig, ax = new_figure()
    if ok:
        ax.scatter(
            [display_value(objective, r.metric(objective)) for r in ok],
            [r.val_acc for r in ok],
            s=14,
            color="0.65",
            label="feasible candidates",
        )
        front = front_records(ok, objective)
        # Between two front points the better accuracy holds on the side of the worse objective.
        ax.step(
            [display_value(objective, r.metric(objective)) for r in front],
            [r.val_acc for r in front],
            where="pre" if maximize else "post",
            marker="o",
            label="Pareto front",
        )
        best = best_candidate(ok, objective)
        bx = display_value(objective, best.metric(objective))
        ax.scatter([bx], [best.val_acc], s=160, marker="*", color="tab:red", zorder=3, label="best")
        ax.legend(loc="best")
    else:
        ax.text(0.5, 0.5, "no feasible candidates", ha="center", transform=ax.transAxes)
    ax.set_xlabel(f"{axis_label(objective)}, {'higher' if maximize else 'lower'} is better")
    ax.set_ylabel("validation accuracy")
    ax.set_title(title or f"validation accuracy vs {METRIC_INFO[objective].label}")
    ax.grid(alpha=0.3)
    return save_figure(fig, path)
