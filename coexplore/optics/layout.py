"""Which planes of a diffractive system hold which masks, and what that costs (no torch: the
``diffractive`` platform family prices layouts with it in the fast phase).

A layout lists the system's planes in light's order, each ``shared`` (one mask that every
task's light crosses), ``specific`` (one mask per task, after the beam splitter) or ``skip``
(no mask: the light crosses the empty plane). The splitter sits before the first specific
plane, or after the last plane when there is none; a shared plane after a specific one is
impossible, since the paths have split (LUMEN-PRO's per-layer shared / task-specific / skip
choice, with one split).
"""

from __future__ import annotations

from collections.abc import Sequence

SLOTS = ("shared", "specific", "skip")


def check_layout(layout: Sequence[str]) -> tuple[str, ...]:
    """The layout as a tuple; a ValueError says what is wrong with an impossible one."""
    layout = tuple(layout)
    bad = [x for x in layout if x not in SLOTS]
    if bad or not any(x != "skip" for x in layout):
        raise ValueError(f"a layout needs slots of {SLOTS} and one mask at least, got {layout}")
    if "specific" in layout and "shared" in layout[layout.index("specific") :]:
        raise ValueError(f"a shared layer after a task-specific one, in {layout}")
    return layout


def layout_cost(layout: Sequence[str], classes: Sequence[int], slm: bool) -> dict[str, int]:
    """Physical layers, SLMs, detectors and beam splitters of ``layout`` serving tasks of
    ``classes`` classes each (``slm``: every mask is a programmable SLM)."""
    layout = check_layout(layout)
    layers = layout.count("shared") + len(classes) * layout.count("specific")
    return {
        "layers": layers,
        "slms": layers if slm else 0,
        "detectors": sum(classes),
        "splitters": int(len(classes) > 1),
    }
