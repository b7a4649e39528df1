"""The registry of platform families, ``PLATFORMS``; the interface is
:mod:`coexplore.core.platform` (a family is a client of the core)."""

from __future__ import annotations

from coexplore.core.platform import Platform
from coexplore.registry import Registry

PLATFORMS: Registry[type[Platform]] = Registry("platform family")
DEFAULT_PLATFORM = "fpga-pipeline"
