"""The ``table`` family: a candidate's hardware metrics looked up, not modelled.

Tabular hardware benchmarks measure every architecture of a space on real devices; this family
reads such a table, so specs, rewards and objectives work on measured numbers exactly as on a
cost model's. ``hardware: {family: table, device: pixel2}`` uses a built-in device (NAS-Bench-201
cells measured by HELP on 23 devices, :data:`coexplore.tables.DEVICES`); ``hardware: {family:
table, table: my.csv}`` a user's CSV: an architecture column (``arch_column``, canonical
strings) and metric columns named like :func:`~coexplore.core.metrics.metric_columns`
(``latency_ms``, ``energy_mj``, …), or mapped onto those names with ``columns``. A table's
latency is one forward pass of ``batch`` inputs; throughput (when the table has none) is
``batch / latency``, and power and EDP follow from energy per input (:meth:`Metrics.derived`).
There are no hardware tokens and nothing to tune: the fast phase is the lookup.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coexplore.config import INPUT_FILE, ConfigError
from coexplore.core.candidate import Candidate
from coexplore.core.metrics import Metrics, metric_columns
from coexplore.core.platform import FastResult, NoHardwareTokens, Platform
from coexplore.core.specs import Specs
from coexplore.platforms.base import PLATFORMS
from coexplore.tables import DEVICES, ArchTable, read_table

__all__ = ["TableHardware", "TablePlatform"]


@dataclass(frozen=True)
class TableHardware:
    """``hardware:`` of the table family: a built-in ``device`` or a user's ``table``."""

    device: str | None = None  # one of coexplore.tables.DEVICES
    table: str | None = field(default=None, metadata=INPUT_FILE)  # a CSV (optionally .gz)
    arch_column: str = "arch"  # the user table's column of canonical architecture strings
    columns: dict[str, str] | None = None  # metric column name (latency_ms, …) → the CSV's column
    batch: int | None = None  # inputs per measured pass (a user table; a device knows its own)

    def __post_init__(self) -> None:
        if (self.device is None) == (self.table is None):
            raise ConfigError(
                "hardware", "device/table", "exactly one: a built-in device or a CSV file"
            )
        if self.table is not None and not self.table.strip():
            raise ConfigError("hardware", "table", "a CSV file", self.table)
        if self.device is not None:
            if self.device not in DEVICES:
                raise ConfigError("hardware", "device", f"one of {list(DEVICES)}", self.device)
            for name in ("columns", "batch"):
                if getattr(self, name) is not None:
                    raise ConfigError(
                        "hardware", name, "left out with a built-in device (it has its own)"
                    )
        if self.columns is not None:
            if not isinstance(self.columns, dict) or not self.columns:
                raise ConfigError("hardware", "columns", "a mapping of metric column to CSV column")
            for key in self.columns:
                if key not in table_columns():
                    raise ConfigError(
                        "hardware", f"columns.{key}", f"one of {list(table_columns())}", key
                    )
            metrics = [table_columns()[k][0] for k in self.columns]
            if len(set(metrics)) != len(metrics):
                raise ConfigError("hardware", "columns", "one column per metric", self.columns)
        if self.batch is not None and (isinstance(self.batch, bool) or self.batch < 1):
            raise ConfigError("hardware", "batch", "an integer >= 1", self.batch)

    @property
    def label(self) -> str:
        return self.device if self.device is not None else Path(self.table).name


@PLATFORMS.decorator("table")
class TablePlatform(Platform):
    name = "table"
    description = (
        "hardware metrics looked up per architecture: NAS-Bench-201 on 23 measured devices "
        "(HELP), or your own CSV"
    )
    config_class = TableHardware
    metrics = ("latency_s", "throughput_fps", "energy_j", "power_w", "edp_js", "area_mm2")
    objectives = ("latency_s",)

    def __init__(self, config: Any = None, fast: Any = None) -> None:
        super().__init__(config, fast)  # no config: TableHardware() says what it needs
        self._columns: tuple[ArchTable, dict[str, np.ndarray], int] | None = None

    @property
    def columns(self) -> tuple[ArchTable, dict[str, np.ndarray], int]:
        """The table, each metric's column in SI units, and the batch of a measured pass."""
        if self._columns is None:
            cfg = self.config
            if cfg.device is not None:
                device = DEVICES.get(cfg.device)
                table, mapping, batch = device.table(), {"latency_ms": device.column}, device.batch
            else:
                table, batch = read_table(cfg.table, cfg.arch_column), cfg.batch or 1
                mapping = cfg.columns or {n: n for n in table.names if n in table_columns()}
                if not mapping:
                    raise ConfigError(
                        table.source,
                        "<columns>",
                        f"metric columns named like {list(table_columns())}, or mapped onto "
                        "those names with hardware.columns",
                        table.names,
                    )
                table.require(list(mapping.values()))
            values = {}
            for key, column in mapping.items():
                metric, factor = table_columns()[key]
                cells = table.column(column)
                wrong = ~(cells > 0) & ~np.isnan(cells) | np.isinf(cells)
                if wrong.any():
                    allowed = "positive numbers (nan: not measured)"
                    raise ConfigError(table.source, column, allowed, float(cells[wrong][0]))
                values[metric] = cells * factor
            self._columns = (table, values, batch)
        return self._columns

    def reported_metrics(self) -> tuple[str, ...]:
        _, values, _ = self.columns
        sample = Metrics.derived(**self._derive(dict.fromkeys(values, 1.0), 1))
        return tuple(m for m in self.metrics if m in sample.available())

    @staticmethod
    def _derive(values: dict[str, float], batch: int) -> dict[str, float]:
        if "throughput_fps" not in values and values.get("latency_s"):
            values["throughput_fps"] = batch / values["latency_s"]
        return values

    def architectures(self) -> tuple[str, Collection[str]] | None:
        """A user's table covers its rows (a built-in device covers NAS-Bench-201's cells)."""
        return None if self.config.device is not None else ("table", self.columns[0].archs)

    def hardware_space(self) -> NoHardwareTokens:
        return NoHardwareTokens()

    def evaluate(
        self, candidate: Candidate, specs: Specs, rng: np.random.Generator | None
    ) -> FastResult:
        start = time.perf_counter()
        table, values, batch = self.columns
        i = table.position(candidate.network.name)
        row = {m: float(v[i]) for m, v in values.items() if np.isfinite(v[i])}
        metrics = Metrics.derived(**self._derive(row, batch))
        return FastResult(
            hardware={"table": self.config.label, "batch": batch},
            metrics=metrics,
            failed_specs=specs.check(metrics),
            attempts=1,
            wall_s=time.perf_counter() - start,
            details={"table": table.source, "row": i},
        )

    def reference(self, candidate: Candidate, specs: Specs) -> None:
        """A table holds one design per architecture: the fixed hardware is the device."""
        return None

    def evaluate_fixed(self, candidate: Candidate, design: Any, specs: Specs) -> FastResult:
        return self.evaluate(candidate, specs, None)

    @classmethod
    def info(cls) -> dict[str, Any]:
        """The generic listing plus the built-in devices (``coexplore platforms --json``)."""
        devices = {name: d.description for name, d in DEVICES.items()}
        return {**super().info(), "devices": devices}

    @classmethod
    def describe(cls, choice: Any, hardware: dict[str, Any] | None, details: Any) -> str:
        return "–" if hardware is None else str(hardware["table"])

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_columns": None}  # workers read the table themselves


def table_columns() -> dict[str, tuple[str, float]]:
    """The column names of the metrics a table reports (its own names or ``latency_ms``…),
    with the factor to SI units."""
    return {k: v for k, v in metric_columns().items() if v[0] in TablePlatform.metrics}
