"""Networks users know, as layer workloads: LeNet-5, AlexNet, VGG-16, a ResNet-18-style chain.

Every preset is built through :class:`NetworkBuilder`, so its shapes follow from the layer
parameters of the original papers rather than being typed in.
"""

from __future__ import annotations

from collections.abc import Callable

from coexplore.registry import Registry
from coexplore.workloads.layer import Network, NetworkBuilder

PRESETS: Registry[Callable[[], Network]] = Registry("network preset")


@PRESETS.decorator("lenet5")
def lenet5() -> Network:
    """LeNet-5 (LeCun et al., 1998) on a 32×32 grey image."""
    b = NetworkBuilder("lenet5", (1, 32, 32))
    b.conv(6, 5, name="conv1").pool(2, name="pool1")
    b.conv(16, 5, name="conv2").pool(2, name="pool2")
    b.fc(120, name="fc1").fc(84, name="fc2").fc(10, name="fc3")
    return b.build()


def _alexnet(name: str, groups: int) -> Network:
    b = NetworkBuilder(name, (3, 227, 227))
    b.conv(96, 11, stride=4, name="conv1").pool(3, 2, name="pool1")
    b.conv(256, 5, padding=2, groups=groups, name="conv2").pool(3, 2, name="pool2")
    b.conv(384, 3, padding=1, name="conv3")
    b.conv(384, 3, padding=1, groups=groups, name="conv4")
    b.conv(256, 3, padding=1, groups=groups, name="conv5").pool(3, 2, name="pool5")
    b.fc(4096, name="fc6").fc(4096, name="fc7").fc(1000, name="fc8")
    return b.build()


@PRESETS.decorator("alexnet")
def alexnet() -> Network:
    """AlexNet (Krizhevsky et al., 2012) as a single tower: conv2/4/5 see every input channel."""
    return _alexnet("alexnet", groups=1)


@PRESETS.decorator("alexnet-2tower")
def alexnet_2tower() -> Network:
    """AlexNet with the original two-GPU grouping of conv2/4/5 (the shapes FPGA'15 accelerates:
    1.33 GOP for the five conv layers)."""
    return _alexnet("alexnet-2tower", groups=2)


@PRESETS.decorator("vgg16")
def vgg16() -> Network:
    """VGG-16 (configuration D of Simonyan & Zisserman, 2015) on 224×224."""
    b = NetworkBuilder("vgg16", (3, 224, 224))
    for stage, (channels, repeats) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]):
        for i in range(repeats):
            b.conv(channels, 3, padding=1, name=f"conv{stage + 1}_{i + 1}")
        b.pool(2, name=f"pool{stage + 1}")
    b.fc(4096, name="fc6").fc(4096, name="fc7").fc(1000, name="fc8")
    return b.build()


@PRESETS.decorator("resnet18-chain")
def resnet18_chain() -> Network:
    """The 3×3 convolutions of ResNet-18 (He et al., 2016) as a plain chain.

    A chain cannot hold the residual branches, so the three 1×1 projection shortcuts (2.3% of
    the MACs) are left out; every other workload is ResNet-18's.
    """
    b = NetworkBuilder("resnet18-chain", (3, 224, 224))
    b.conv(64, 7, stride=2, padding=3, name="conv1").pool(3, 2, padding=1, name="pool1")
    for stage, channels in enumerate([64, 128, 256, 512]):
        for i in range(4):
            stride = 2 if stage > 0 and i == 0 else 1
            b.conv(channels, 3, stride=stride, padding=1, name=f"layer{stage + 1}_{i + 1}")
    b.pool(7, name="avgpool").fc(1000, name="fc")
    return b.build()


def preset(name: str) -> Network:
    """The preset network called ``name`` (an unknown name lists the known ones)."""
    return PRESETS.get(name)()
