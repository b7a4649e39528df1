"""Layer kernels: what one workload layer runs as on the device, measured on its own.

nn-Meter (Zhang et al., MobiSys 2021) predicts a network's latency from its *kernels*, the
units the runtime executes: fused operators where the backend fuses them. Eager PyTorch on a
CPU fuses nothing, so a kernel here is one workload layer with the element-wise operators that
follow it in the spaces' modules: a convolution (dense or depthwise) with its BatchNorm and
activation, a pooling layer, a fully connected layer. Each distinct kernel (same kind, shapes,
kernel, stride, padding, groups) is measured once per device and setting, and cached.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from torch import nn

from coexplore.spaces.base import conv_from_layer
from coexplore.workloads.layer import Layer, LayerKind, Network


def signature(layer: Layer) -> str:
    """The kernel's identity: every field that changes its latency (not its name)."""
    return (
        f"{layer.kind.value}:{layer.in_channels}x{layer.in_h}x{layer.in_w}"
        f">{layer.out_channels}x{layer.out_h}x{layer.out_w}"
        f":k{layer.kernel}s{layer.stride}p{layer.padding}g{layer.groups}"
    )


def kernel_shape(layer: Layer) -> tuple[int, ...]:
    """The input shape of ``layer``'s kernel (one sample)."""
    if layer.kind is LayerKind.FC:
        return (layer.in_channels,)
    return (layer.in_channels, layer.in_h, layer.in_w)


def kernel_module(layer: Layer) -> nn.Module:
    """The torch module of ``layer``'s kernel."""
    if layer.kind in (LayerKind.CONV, LayerKind.DWCONV):
        return nn.Sequential(conv_from_layer(layer), nn.BatchNorm2d(layer.out_channels), nn.ReLU())
    if layer.kind is LayerKind.POOL:
        return nn.AvgPool2d(layer.kernel, layer.stride, layer.padding)
    return nn.Linear(layer.in_channels, layer.out_channels)


def kernel_sum(network: Network, table: Mapping[str, float]) -> float:
    """The sum of ``network``'s kernel latencies in ``table`` (signature → seconds)."""
    return sum(table[signature(ly)] for ly in network.layers)


def distinct_kernels(networks: Iterable[Network]) -> dict[str, Layer]:
    """Each distinct kernel of ``networks`` once, by signature, in first-seen order."""
    out: dict[str, Layer] = {}
    for net in networks:
        for layer in net.layers:
            out.setdefault(signature(layer), layer)
    return out
