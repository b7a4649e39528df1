"""Figures drawn with Agg, outside pyplot's global state: every plot of the package (search
reports, Pareto fronts, optics pictures, launch scripts) makes and saves its figures here."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def new_figure(
    ncols: int = 1, width: float = 6.4, height: float = 4.4, nrows: int = 1
) -> tuple[Any, Any]:
    """A matplotlib figure and its axes (matplotlib is imported here so that importing
    coexplore stays light)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.subplots(nrows, ncols)


def save_figure(fig: Any, path: str | Path) -> Path:
    """Save a figure as an image (format from the suffix), creating the parent directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path
