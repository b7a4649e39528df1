"""Workload presets for spatial accelerators (registry ``WORKLOADS``): networks as loop nests.

ResNet-50 and ResNet-18 (He et al., CVPR 2016; residual branches are separate layers here, which
a chain :class:`~coexplore.workloads.layer.Network` cannot hold), DQN (Mnih et al., Nature 2015),
a three-hidden-layer MLP, and BERT-base at sequence length 128 as matrix multiplications (Devlin
et al., 2019). Shapes follow from the layer parameters through :func:`_conv`, not typed in. Every
chain preset of :data:`~coexplore.workloads.presets.PRESETS` is a workload too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from coexplore.config import ConfigError
from coexplore.registry import Registry
from coexplore.workloads.layer import conv_output_size
from coexplore.workloads.netfile import load_network
from coexplore.workloads.presets import PRESETS as NETWORK_PRESETS
from coexplore.workloads.problem import Problem, Workload, merged_workload, workload_from_network

WORKLOADS: Registry[Callable[[int], Workload]] = Registry("workload")


class _Layers:
    """Collects problems; identical loop nests are merged when the workload is built."""

    def __init__(self, name: str, batch: int) -> None:
        self.name, self.batch = name, batch
        self.entries: list[tuple[Problem, int]] = []

    def add(self, problem: Problem, count: int = 1) -> None:
        self.entries.append((problem, count))

    def conv(
        self, name: str, c: int, m: int, size: int, k: int, stride: int = 1, count: int = 1
    ) -> int:
        """A k×k convolution of a size×size input, padded (k−1)/2; returns the output size."""
        out = conv_output_size(size, k, stride, (k - 1) // 2)
        self.add(
            Problem(name, R=k, S=k, P=out, Q=out, C=c, M=m, N=self.batch, stride_h=stride,
                    stride_w=stride),
            count,
        )  # fmt: skip
        return out

    def fc(self, name: str, c: int, m: int) -> None:
        self.add(Problem(name, C=c, M=m, N=self.batch, kind="fc"))

    def build(self) -> Workload:
        return merged_workload(self.name, self.entries)


def _resnet(name: str, batch: int, blocks: list[int], bottleneck: bool) -> Workload:
    b = _Layers(name, batch)
    size = b.conv("conv1", 3, 64, 224, 7, stride=2)
    size = conv_output_size(size, 3, 2, 1)  # max pool 3×3/2
    channels = 64
    for stage, repeats in enumerate(blocks):
        width = 64 * 2**stage
        out_channels = width * 4 if bottleneck else width
        for i in range(repeats):
            stride = 2 if stage > 0 and i == 0 else 1
            tag = f"s{stage + 1}b{i + 1}"
            if bottleneck:  # 1×1 reduce, 3×3 (stride here, as torchvision), 1×1 expand
                b.conv(f"{tag}_1x1a", channels, width, size, 1)
                new = b.conv(f"{tag}_3x3", width, width, size, 3, stride)
                b.conv(f"{tag}_1x1b", width, out_channels, new, 1)
            else:
                new = b.conv(f"{tag}_3x3a", channels, width, size, 3, stride)
                b.conv(f"{tag}_3x3b", width, width, new, 3)
            if stride != 1 or channels != out_channels:  # projection shortcut
                b.conv(f"{tag}_proj", channels, out_channels, size, 1, stride)
            channels, size = out_channels, new
    b.fc("fc", channels, 1000)
    return b.build()


@WORKLOADS.decorator("resnet50")
def resnet50(batch: int = 1) -> Workload:
    """ResNet-50 on 224×224: 54 layers (53 convolutions, the classifier), 24 unique, 4.09 G MACs."""
    return _resnet("resnet50", batch, [3, 4, 6, 3], bottleneck=True)


@WORKLOADS.decorator("resnet18")
def resnet18(batch: int = 1) -> Workload:
    """ResNet-18 on 224×224, with its three projection shortcuts: 21 layers, 1.81 G MACs."""
    return _resnet("resnet18", batch, [2, 2, 2, 2], bottleneck=False)


@WORKLOADS.decorator("dqn")
def dqn(batch: int = 1) -> Workload:
    """The Nature DQN on 4×84×84 frames, 18 actions (Mnih et al., 2015): 9.35 M MACs."""
    b = _Layers("dqn", batch)
    size = 84
    for i, (c, m, k, s) in enumerate([(4, 32, 8, 4), (32, 64, 4, 2), (64, 64, 3, 1)]):
        out = conv_output_size(size, k, s, 0)
        b.add(Problem(f"conv{i + 1}", R=k, S=k, P=out, Q=out, C=c, M=m, N=batch, stride_h=s,
                      stride_w=s))  # fmt: skip
        size = out
    b.fc("fc1", 64 * size * size, 512)
    b.fc("fc2", 512, 18)
    return b.build()


@WORKLOADS.decorator("mlp")
def mlp(batch: int = 1) -> Workload:
    """An MLP on flattened 28×28 images: 784–1024–1024–1024–10 (our choice of sizes)."""
    b = _Layers("mlp", batch)
    sizes = [784, 1024, 1024, 1024, 10]
    for i, (c, m) in enumerate(zip(sizes, sizes[1:], strict=False)):
        b.fc(f"fc{i + 1}", c, m)
    return b.build()


@WORKLOADS.decorator("bert-base")
def bert_base(batch: int = 1) -> Workload:
    """BERT-base encoder (12 layers, hidden 768, 12 heads, FFN 3072) at sequence length 128, as
    matrix multiplications: Q/K/V/output projections, per-head QKᵀ and AV, the two FFN layers.
    ``batch`` sequences stack along the rows."""
    seq, hidden, heads, ffn, layers = 128 * batch, 768, 12, 3072, 12
    b = _Layers("bert-base", batch)
    b.add(Problem.gemm("qkv_out_proj", seq, hidden, hidden), 4 * layers)
    per_head = hidden // heads
    b.add(Problem("qk_t", P=128, C=per_head, M=128, N=batch, kind="gemm"), heads * layers)
    b.add(Problem("attn_v", P=128, C=128, M=per_head, N=batch, kind="gemm"), heads * layers)
    b.add(Problem.gemm("ffn1", seq, hidden, ffn), layers)
    b.add(Problem.gemm("ffn2", seq, ffn, hidden), layers)
    return b.build()


@dataclass(frozen=True)
class NamedWorkload:
    """A workload by name (as :func:`load_workload` takes it), built at the batch of whoever
    prices it: the network of a candidate whose architecture is fixed loop nests (the
    ``workload`` space), which a chain :class:`~coexplore.workloads.layer.Network` may not hold."""

    name: str

    def workload(self, batch: int = 1) -> Workload:
        return load_workload(self.name, batch)

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one input."""
        return self.workload(1).macs


def load_workload(name: str, batch: int = 1) -> Workload:
    """A workload preset, or any chain network preset or network file as a workload."""
    if name in WORKLOADS:
        return WORKLOADS.get(name)(batch)
    if name in NETWORK_PRESETS or Path(name).exists():
        return workload_from_network(load_network(name), batch)
    known = ", ".join([*WORKLOADS, *NETWORK_PRESETS])
    raise ConfigError(name, "workload", f"a preset ({known}) or an existing network file")


__all__ = ["WORKLOADS", "NamedWorkload", "load_workload"]
