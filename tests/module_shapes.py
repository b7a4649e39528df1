"""Shapes and MACs a torch module computes, against those its workload layers declare."""

from __future__ import annotations

import torch
from torch import nn

from coexplore.workloads import LayerKind


def conv_shapes_and_macs(module: nn.Module, input_shape, batch: int = 1):
    """Run the module once on ``batch`` zero inputs: (C, H, W) or (features,) and MACs of every
    Conv2d/Linear in call order, and the output's shape."""
    seen = []

    def hook(mod, _inp, out):
        if isinstance(mod, nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1]
            macs = out[0].numel() * (mod.in_channels // mod.groups) * k
        else:
            macs = mod.in_features * mod.out_features
        seen.append((tuple(out.shape[1:]), macs))

    handles = [
        m.register_forward_hook(hook)
        for m in module.modules()
        if isinstance(m, nn.Conv2d | nn.Linear)
    ]
    module.eval()
    with torch.no_grad():
        out = module(torch.zeros(batch, *input_shape))
    for h in handles:
        h.remove()
    return seen, tuple(out.shape)


def workload_shapes_and_macs(network):
    """The same list from the network's workload layers (pooling layers carry no MACs)."""
    return [
        (
            (ly.out_channels,)
            if ly.kind is LayerKind.FC
            else (ly.out_channels, ly.out_h, ly.out_w),
            ly.macs,
        )
        for ly in network.layers
        if ly.kind is not LayerKind.POOL
    ]
