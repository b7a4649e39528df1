"""The networks ``coexplore compress`` trains: a registry of named models plus any architecture.

A model is an :class:`~coexplore.spaces.base.Architecture`, so the slow phase's trainer trains it
unchanged and its layer workloads (:meth:`Architecture.network`) are what the cost models read.
:func:`resolve_model` takes a registered name (``lenet5``, the network presets), or
``<space>:<canonical string>`` for any architecture of a search space (``chain:k5f20s1|flatten``).

:func:`weight_layers` pairs each compute layer of the workload with the torch module that holds
its weights, checked shape by shape, so compression addresses a layer by the name the cost model
and the user's per-layer files use (``conv1``, ``fc1``, ...).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from torch import nn

from coexplore.config import ConfigError
from coexplore.registry import Registry
from coexplore.spaces.base import Architecture, conv_from_layer, parse_architecture
from coexplore.workloads.layer import Layer, LayerKind, Network, NetworkBuilder
from coexplore.workloads.presets import PRESETS

WEIGHT_KINDS = (LayerKind.CONV, LayerKind.DWCONV, LayerKind.FC)


@dataclass(frozen=True)
class LayerModel(Architecture):
    """A fixed network given by its layer workloads, trained as built from those layers.

    ``build(input_shape, num_classes)`` returns the workload; the torch module follows it layer
    by layer: a convolution (with bias) followed by ReLU when ``conv_relu``; max pooling; fully
    connected layers with bias, the hidden ones followed by ReLU and dropout ``dropout``.
    ``input_shape``, when set, is the only input the network accepts (a preset's fixed size).
    """

    name: str
    build: Callable[[tuple[int, int, int], int], Network] = field(compare=False, repr=False)
    conv_relu: bool = True
    dropout: float = 0.0
    input_shape: tuple[int, int, int] | None = None
    space: str = field(default="model", init=False)

    @property
    def canonical(self) -> str:
        return self.name

    def network(self, input_shape: tuple[int, int, int], num_classes: int) -> Network:
        shape = tuple(int(v) for v in input_shape)
        if self.input_shape is not None and shape != self.input_shape:
            c, h, w = self.input_shape
            raise ConfigError(
                f"model {self.name}",
                "input shape",
                f"{c}x{h}x{w} images (set the data's resize to {h}; channels must be {c})",
                "x".join(map(str, shape)),
            )
        net = self.build(shape, num_classes)
        if net.layers[-1].kind is not LayerKind.FC or net.layers[-1].out_channels != num_classes:
            raise ConfigError(
                f"model {self.name}",
                "classes",
                f"{net.layers[-1].out_channels} (its last layer's outputs)",
                num_classes,
            )
        return net

    def module(self, input_shape: tuple[int, int, int], num_classes: int) -> nn.Sequential:
        layers = self.network(input_shape, num_classes).layers
        mods: OrderedDict[str, nn.Module] = OrderedDict()
        last_fc = max(i for i, ly in enumerate(layers) if ly.kind is LayerKind.FC)
        flat = False
        for i, ly in enumerate(layers):
            if ly.kind in (LayerKind.CONV, LayerKind.DWCONV):
                mods[ly.name] = conv_from_layer(ly, bias=True)
                if self.conv_relu:
                    mods[f"{ly.name}_relu"] = nn.ReLU()
            elif ly.kind is LayerKind.POOL:
                mods[ly.name] = nn.MaxPool2d(ly.kernel, ly.stride, ly.padding)
            else:
                if not flat:
                    mods["flatten"] = nn.Flatten()
                    flat = True
                mods[ly.name] = nn.Linear(ly.in_channels, ly.out_channels)
                if i != last_fc:
                    mods[f"{ly.name}_relu"] = nn.ReLU()
                    if self.dropout > 0:
                        mods[f"{ly.name}_dropout"] = nn.Dropout(self.dropout)
        return nn.Sequential(mods)


def _lenet5_caffe(input_shape: tuple[int, int, int], num_classes: int) -> Network:
    b = NetworkBuilder("lenet5", input_shape)
    b.conv(20, 5, name="conv1").pool(2, name="pool1")
    b.conv(50, 5, name="conv2").pool(2, name="pool2")
    b.fc(500, name="fc1").fc(num_classes, name="fc2")
    return b.build()


MODELS: Registry[LayerModel] = Registry("model")

# ADMM-NN's LeNet-5 (Ren et al., ASPLOS 2019, as in Caffe's MNIST example): conv 20@5x5, max
# pool, conv 50@5x5, max pool, fc 500 (ReLU, dropout 0.5), fc 10; 430,500 weights and
# 2.293 M MACs on 28x28 digits. Caffe's example has no ReLU after the convolutions.
MODELS.register("lenet5", LayerModel("lenet5", _lenet5_caffe, conv_relu=False, dropout=0.5))


def _preset_network(name: str, input_shape: tuple[int, int, int], num_classes: int) -> Network:
    """A network preset with its classifier resized to ``num_classes`` outputs."""
    net = PRESETS.get(name)()
    head = net.layers[-1]
    if head.out_channels != num_classes:
        head = Layer(**{**head.to_dict(), "out_channels": num_classes})
        net = Network(net.name, net.input_shape, (*net.layers[:-1], head))
    return net


for _name in PRESETS:
    _shape = PRESETS.get(_name)().input_shape
    MODELS.register(
        f"preset:{_name}",
        LayerModel(f"preset:{_name}", partial(_preset_network, _name), input_shape=_shape),
    )


def resolve_model(text: str) -> Architecture:
    """The model ``text`` names: a registered model, ``preset:<network preset>``, or
    ``<space>:<canonical>`` for an architecture of a search space."""
    if text in MODELS:
        return MODELS.get(text)
    space, sep, canonical = text.partition(":")
    if sep and space != "preset":
        try:
            return parse_architecture(space, canonical)
        except (KeyError, ValueError) as exc:
            raise ConfigError("--model", "model", _model_choices(), f"{text} ({exc})") from None
    raise ConfigError("--model", "model", _model_choices(), text)


def _model_choices() -> str:
    return f"one of {', '.join(MODELS)}, or <space>:<canonical architecture>"


@dataclass(frozen=True)
class WeightLayer:
    """A compute layer of the workload and the torch module that holds its weights."""

    layer: Layer
    module: nn.Conv2d | nn.Linear

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def weight(self) -> nn.Parameter:
        return self.module.weight


def weight_layers(
    arch: Architecture, model: nn.Module, input_shape: tuple[int, int, int], num_classes: int
) -> list[WeightLayer]:
    """The compute layers of ``arch`` paired, in order, with the Conv2d / Linear modules of
    ``model`` (a module ``arch.module`` built); every weight count is checked against the
    workload, so a model whose modules do not follow its layers is an error, not a mislabel."""
    layers = [ly for ly in arch.network(input_shape, num_classes).layers if ly.kind in WEIGHT_KINDS]
    modules = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if len(layers) != len(modules):
        raise ValueError(
            f"{arch.canonical}: {len(layers)} compute layers in the workload but "
            f"{len(modules)} Conv2d/Linear modules in the torch module"
        )
    pairs = []
    for ly, mod in zip(layers, modules, strict=True):
        if mod.weight.numel() != ly.weights:
            raise ValueError(
                f"{arch.canonical}: layer {ly.name} has {ly.weights} weights in the workload "
                f"but its module {mod} holds {mod.weight.numel()}"
            )
        pairs.append(WeightLayer(ly, mod))
    names = [p.name for p in pairs]
    if len(set(names)) != len(names):
        raise ValueError(f"{arch.canonical}: layer names repeat: {names}")
    return pairs
