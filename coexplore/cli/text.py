"""Plain-text tables and JSON for terminal output."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from coexplore.config import json_safe


def json_text(obj: Any) -> str:
    """``obj`` as standard JSON: a NaN or infinite number (an accuracy not measured, a table's
    missing test accuracy) becomes null, which every JSON reader takes."""
    return json.dumps(json_safe(json.loads(json.dumps(obj, default=str))), indent=2)


def fmt(value: object) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.4g}" if abs(value) >= 0.01 else f"{value:.3e}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def render(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns right-aligned for numbers, left-aligned for text, under a rule."""
    cells = [[fmt(v) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    numeric = [
        all(isinstance(row[i], int | float) and not isinstance(row[i], bool) for row in rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])
