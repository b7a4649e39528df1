"""Layer workloads: what a cost model needs to know about a network, independent of torch."""

from coexplore.workloads.layer import Layer, LayerKind, Network, NetworkBuilder, conv_output_size
from coexplore.workloads.netfile import load_network, network_from_dict
from coexplore.workloads.presets import PRESETS, preset

__all__ = [
    "PRESETS",
    "Layer",
    "LayerKind",
    "Network",
    "NetworkBuilder",
    "conv_output_size",
    "load_network",
    "network_from_dict",
    "preset",
]
