"""The tables that ship with coexplore (under ``files/``) and their registries; a benchmark's
module registers its entries (:mod:`coexplore.tables.nb201`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from coexplore.registry import Registry
from coexplore.tables.table import ArchTable, read_table

FILES = Path(__file__).parent / "files"


@dataclass(frozen=True)
class AccuracyTable:
    """A shipped accuracy column: file (under ``files/``), column, factor to a fraction."""

    file: str
    arch_column: str
    column: str
    scale: float  # stored value × scale = accuracy in [0, 1]
    dataset: str  # the DataConfig name whose images it was trained on
    signal: str  # which split the number is (the tables of NAS-Bench-201 carry only test)
    description: str

    def table(self) -> ArchTable:
        return read_table(FILES / self.file, self.arch_column)


@dataclass(frozen=True)
class DeviceTable:
    """A shipped per-architecture measurement on one device: latency of a batch, in ms."""

    file: str
    arch_column: str
    column: str
    batch: int  # inputs per measured forward pass
    kind: str  # gpu, cpu, phone
    description: str

    def table(self) -> ArchTable:
        return read_table(FILES / self.file, self.arch_column)


ACCURACY_TABLES: Registry[AccuracyTable] = Registry("built-in accuracy table")
DEVICES: Registry[DeviceTable] = Registry("built-in device")
