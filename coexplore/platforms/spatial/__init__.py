"""The ``spatial`` family: spatial accelerator templates (PE array, scratchpads, global buffer,
DRAM), loop mappings per layer, the vectorised access-count model and its scalar reference, the
mapper, and the design space under the template's own silicon budget (docs/spatial.md)."""

from coexplore.platforms.spatial.arch import Level, MacUnit, Template, load_template
from coexplore.platforms.spatial.mapper import MapSpace, search_mappings
from coexplore.platforms.spatial.mapping import Mapping, MappingBatch
from coexplore.platforms.spatial.model import BatchStats, evaluate_batch, layer_report

__all__ = [
    "BatchStats",
    "Level",
    "MacUnit",
    "MapSpace",
    "Mapping",
    "MappingBatch",
    "Template",
    "evaluate_batch",
    "layer_report",
    "load_template",
    "search_mappings",
]
