"""Tabular benchmarks: accuracy and hardware metrics per architecture, looked up, not measured.

:class:`ArchTable` reads any per-architecture CSV (a user's file or a shipped one). The tables
that ship with coexplore are known by name: ``ACCURACY_TABLES`` (for the ``table`` accuracy
oracle) and ``DEVICES`` (for the ``table`` platform). Adding a benchmark is one module that
registers its entries; the NAS-Bench-201 one is :mod:`coexplore.tables.nb201`. Provenance and
licences: docs/tables.md.
"""

from coexplore.tables import nb201  # noqa: F401  (registers the NAS-Bench-201 tables)
from coexplore.tables.shipped import ACCURACY_TABLES, DEVICES, AccuracyTable, DeviceTable
from coexplore.tables.table import ArchTable, NotInTableError, read_table

__all__ = [
    "ACCURACY_TABLES",
    "DEVICES",
    "AccuracyTable",
    "ArchTable",
    "DeviceTable",
    "NotInTableError",
    "read_table",
]
