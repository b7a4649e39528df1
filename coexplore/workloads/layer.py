"""Torch-independent layer workloads: the shapes a cost model reads.

Every shape in coexplore is computed here (``conv_output_size``) and nowhere else: the network
presets, network files and (later) the search spaces all build their layers through
:class:`NetworkBuilder`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class LayerKind(str, Enum):
    """What the layer computes. ``dwconv`` is depthwise (groups = channels); ``pool`` is max/avg."""

    CONV = "conv"
    DWCONV = "dwconv"
    POOL = "pool"
    FC = "fc"


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output extent of a convolution/pooling window sweep (floor mode, as in torch)."""
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ValueError(
            f"a {kernel}x{kernel} window with stride {stride} and padding {padding} "
            f"does not fit an input of size {size}"
        )
    return out


@dataclass(frozen=True)
class Layer:
    """One layer as the loop nest of FPGA'15: M out-channels, N in-channels, R×C output, K×K, S.

    ``groups`` splits the channels into independent convolutions (AlexNet's two towers);
    depthwise layers have ``groups == in_channels == out_channels``. Pooling layers keep the
    channel count and carry no weights.
    """

    name: str
    kind: LayerKind
    in_channels: int  # N
    out_channels: int  # M
    in_h: int
    in_w: int
    out_h: int  # R
    out_w: int  # C
    kernel: int = 1  # K
    stride: int = 1  # S
    padding: int = 0
    groups: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", LayerKind(self.kind))
        for attr in ("in_channels", "out_channels", "in_h", "in_w", "out_h", "out_w"):
            if getattr(self, attr) < 1:
                raise ValueError(f"layer {self.name!r}: {attr} must be >= 1")
        if self.kernel < 1 or self.stride < 1 or self.padding < 0 or self.groups < 1:
            raise ValueError(f"layer {self.name!r}: kernel, stride, groups >= 1 and padding >= 0")
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"layer {self.name!r}: groups must divide both channel counts")
        if self.kind in (LayerKind.DWCONV, LayerKind.POOL) and not (
            self.in_channels == self.out_channels == self.groups
        ):
            raise ValueError(
                f"layer {self.name!r}: {self.kind.value} needs in = out channels = groups"
            )
        if self.kind is LayerKind.FC and (
            self.out_h,
            self.out_w,
            self.in_h,
            self.in_w,
            self.kernel,
        ) != (1, 1, 1, 1, 1):
            raise ValueError(f"layer {self.name!r}: fc layers are 1x1 maps with a 1x1 kernel")
        expected = (
            conv_output_size(self.in_h, self.kernel, self.stride, self.padding),
            conv_output_size(self.in_w, self.kernel, self.stride, self.padding),
        )
        if expected != (self.out_h, self.out_w):
            raise ValueError(
                f"layer {self.name!r}: output {self.out_h}x{self.out_w} does not follow from "
                f"input {self.in_h}x{self.in_w}, K={self.kernel}, S={self.stride}, "
                f"P={self.padding} (expected {expected[0]}x{expected[1]})"
            )

    # --- sizes -------------------------------------------------------------------------------
    @property
    def channels_per_group(self) -> tuple[int, int]:
        """(M/G, N/G): the dense convolution each group runs."""
        return self.out_channels // self.groups, self.in_channels // self.groups

    @property
    def macs(self) -> int:
        """Multiply-accumulates per image: M·(N/G)·R·C·K² (0 for pooling)."""
        if self.kind is LayerKind.POOL:
            return 0
        return (
            self.out_channels
            * (self.in_channels // self.groups)
            * self.out_h
            * self.out_w
            * self.kernel**2
        )

    @property
    def ops(self) -> int:
        """Arithmetic operations per image, counting a MAC as two (the GOPS convention)."""
        return 2 * self.macs

    @property
    def weights(self) -> int:
        """Weight count (biases are folded into the accumulator and not counted)."""
        if self.kind is LayerKind.POOL:
            return 0
        return self.out_channels * (self.in_channels // self.groups) * self.kernel**2

    @property
    def input_elements(self) -> int:
        return self.in_channels * self.in_h * self.in_w

    @property
    def output_elements(self) -> int:
        return self.out_channels * self.out_h * self.out_w

    def weight_bytes(self, bits: int) -> float:
        return self.weights * bits / 8

    def activation_bytes(self, bits: int) -> tuple[float, float]:
        """(input, output) activation bytes at ``bits`` per element."""
        return self.input_elements * bits / 8, self.output_elements * bits / 8

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = self.kind.value
        return d


@dataclass(frozen=True)
class Network:
    """An ordered chain of layers with the input shape (channels, height, width)."""

    name: str
    input_shape: tuple[int, int, int]
    layers: tuple[Layer, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(self.input_shape))
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise ValueError(f"network {self.name!r} has no layers")

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def ops(self) -> int:
        return sum(layer.ops for layer in self.layers)

    @property
    def weights(self) -> int:
        return sum(layer.weights for layer in self.layers)

    def subset(self, kinds: set[LayerKind]) -> Network:
        """The layers of the given kinds, e.g. the conv layers the FPGA'15 study accelerates."""
        return Network(self.name, self.input_shape, [ly for ly in self.layers if ly.kind in kinds])

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "layers": [layer.to_dict() for layer in self.layers],
        }


class NetworkBuilder:
    """Builds a :class:`Network` layer by layer, tracking the activation shape.

    >>> net = NetworkBuilder("tiny", (1, 8, 8)).conv(4, 3, padding="same").pool(2).fc(10).build()
    >>> [(ly.kind.value, ly.out_channels, ly.out_h) for ly in net.layers]
    [('conv', 4, 8), ('pool', 4, 4), ('fc', 10, 1)]
    """

    def __init__(self, name: str, input_shape: tuple[int, int, int]) -> None:
        channels, height, width = input_shape
        self.name = name
        self.input_shape = (int(channels), int(height), int(width))
        self.shape = self.input_shape
        self.layers: list[Layer] = []

    def _padding(self, kernel: int, padding: int | str) -> int:
        if padding == "same":
            if kernel % 2 == 0:
                raise ValueError(f"'same' padding needs an odd kernel, got {kernel}")
            return (kernel - 1) // 2
        if padding == "valid":
            return 0
        return int(padding)

    def _add(
        self,
        kind: LayerKind,
        out_channels: int,
        kernel: int,
        stride: int,
        padding: int | str,
        groups: int,
        name: str | None,
    ) -> NetworkBuilder:
        channels, height, width = self.shape
        pad = self._padding(kernel, padding)
        out_h = conv_output_size(height, kernel, stride, pad)
        out_w = conv_output_size(width, kernel, stride, pad)
        layer = Layer(
            name=name or f"{kind.value}{len(self.layers) + 1}",
            kind=kind,
            in_channels=channels,
            out_channels=out_channels,
            in_h=height,
            in_w=width,
            out_h=out_h,
            out_w=out_w,
            kernel=kernel,
            stride=stride,
            padding=pad,
            groups=groups,
        )
        self.layers.append(layer)
        self.shape = (out_channels, out_h, out_w)
        return self

    def conv(
        self,
        out_channels: int,
        kernel: int,
        stride: int = 1,
        padding: int | str = 0,
        groups: int = 1,
        name: str | None = None,
    ) -> NetworkBuilder:
        return self._add(LayerKind.CONV, out_channels, kernel, stride, padding, groups, name)

    def dwconv(
        self, kernel: int, stride: int = 1, padding: int | str = 0, name: str | None = None
    ) -> NetworkBuilder:
        channels = self.shape[0]
        return self._add(LayerKind.DWCONV, channels, kernel, stride, padding, channels, name)

    def pool(
        self,
        kernel: int,
        stride: int | None = None,
        padding: int | str = 0,
        name: str | None = None,
    ) -> NetworkBuilder:
        channels = self.shape[0]
        stride = kernel if stride is None else stride
        return self._add(LayerKind.POOL, channels, kernel, stride, padding, channels, name)

    def fc(self, out_features: int, name: str | None = None) -> NetworkBuilder:
        """A fully connected layer; a C×H×W activation is flattened to C·H·W inputs."""
        channels, height, width = self.shape
        self.shape = (channels * height * width, 1, 1)
        return self._add(LayerKind.FC, out_features, 1, 1, 0, 1, name)

    def build(self) -> Network:
        return Network(self.name, self.input_shape, tuple(self.layers))


__all__ = [
    "Layer",
    "LayerKind",
    "Network",
    "NetworkBuilder",
    "conv_output_size",
]
