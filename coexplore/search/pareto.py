"""Pareto fronts of two objectives: the front, its hypervolume, and the accuracy/hardware fronts
of a search run (shared by ``coexplore report`` and the W&B tracker)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from coexplore.search.runlog import best_candidate, feasible

Point = tuple[float, float]


class Objective(NamedTuple):
    """A hardware objective plotted against validation accuracy."""

    label: str  # axis label, with units
    key: str  # key in a record's ``metrics``
    maximize: bool


OBJECTIVES: dict[str, Objective] = {
    "throughput": Objective("throughput (frames/s)", "throughput_fps", True),
    "energy": Objective("energy per image (mJ)", "energy_mj", False),
}


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


def objective_points(records: Sequence[dict[str, Any]], objective: str) -> list[Point]:
    """``(objective value, val_acc)`` of each record."""
    key = OBJECTIVES[objective].key
    return [(r["metrics"][key], r["val_acc"]) for r in records]


def throughput_hypervolume(records: Sequence[dict[str, Any]]) -> float:
    """Area under the accuracy × throughput front of the feasible records, from (0, 0): one
    number that grows with both better networks and faster designs (issue 5's measure)."""
    return hypervolume_2d(
        objective_points([r for r in records if feasible(r)], "throughput"), (0, 0)
    )


def front_records(records: Sequence[dict[str, Any]], objective: str) -> list[dict[str, Any]]:
    """The feasible records on the front of validation accuracy (maximised) against an
    objective of :data:`OBJECTIVES`, by increasing objective value."""
    ok = [r for r in records if feasible(r)]
    maximize = (OBJECTIVES[objective].maximize, True)
    return [ok[i] for i in pareto_front(objective_points(ok, objective), maximize)]


def new_figure(ncols: int = 1, width: float = 6.4, height: float = 4.4) -> tuple[Any, Any]:
    """A matplotlib figure and its axes, drawn with Agg (pyplot's global state is left alone;
    matplotlib is imported here so that importing coexplore stays light)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.subplots(1, ncols)


def save_figure(fig: Any, path: str | Path) -> Path:
    """Save a figure as an image (format from the suffix), creating the parent directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def plot_front(
    records: Sequence[dict[str, Any]],
    objective: str,
    path: str | Path,
    title: str | None = None,
) -> Path:
    """Write a PNG of validation accuracy against an objective: every feasible candidate in
    grey (pruned ones have no accuracy), the front as a step line, the best candidate
    highlighted. Returns the path."""
    obj = OBJECTIVES[objective]
    ok = [r for r in records if feasible(r)]
    fig, ax = new_figure()
    if ok:
        xs, ys = zip(*objective_points(ok, objective), strict=True)
        ax.scatter(xs, ys, s=14, color="0.65", label="feasible candidates")
        fx, fy = zip(*objective_points(front_records(ok, objective), objective), strict=True)
        # Between two front points the better accuracy holds on the side of the worse objective.
        ax.step(fx, fy, where="pre" if obj.maximize else "post", marker="o", label="Pareto front")
        ((bx, by),) = objective_points([best_candidate(ok)], objective)
        ax.scatter([bx], [by], s=160, marker="*", color="tab:red", zorder=3, label="best")
        ax.legend(loc="best")
    else:
        ax.text(0.5, 0.5, "no feasible candidates", ha="center", transform=ax.transAxes)
    better = "higher" if obj.maximize else "lower"
    ax.set_xlabel(f"{obj.label}, {better} is better")
    ax.set_ylabel("validation accuracy")
    ax.set_title(title or f"validation accuracy vs {objective}")
    ax.grid(alpha=0.3)
    return save_figure(fig, path)
