import pytest

from coexplore.config import ConfigError
from coexplore.workloads import (
    PRESETS,
    Layer,
    LayerKind,
    NetworkBuilder,
    load_network,
    network_from_dict,
    preset,
)


def test_builder_tracks_shapes_and_counts():
    net = (
        NetworkBuilder("toy", (3, 32, 32))
        .conv(16, 3, padding="same")
        .pool(2)
        .dwconv(3, stride=2, padding=1)
        .conv(8, 1)
        .fc(10)
        .build()
    )
    conv, pool, dw, pw, fc = net.layers
    assert (conv.out_channels, conv.out_h, conv.out_w) == (16, 32, 32)
    assert conv.macs == 16 * 3 * 32 * 32 * 9
    assert (pool.out_h, pool.macs, pool.weights) == (16, 0, 0)
    # depthwise: (16 + 2 - 3) // 2 + 1 = 8, one input channel per output channel
    assert (dw.out_h, dw.groups, dw.macs) == (8, 16, 16 * 1 * 8 * 8 * 9)
    assert pw.macs == 8 * 16 * 8 * 8
    assert (fc.in_channels, fc.macs) == (8 * 8 * 8, 10 * 512)
    assert net.ops == 2 * net.macs


def test_preset_macs_match_the_papers():
    # LeNet-5: conv1 6@5x5 on 32x32 -> 28x28; conv2 16@5x5 on 6x14x14 -> 10x10; fc 400-120-84-10
    lenet = preset("lenet5")
    assert (
        lenet.macs == 6 * 1 * 28 * 28 * 25 + 16 * 6 * 10 * 10 * 25 + 400 * 120 + 120 * 84 + 84 * 10
    )
    # AlexNet, two towers: the 1.33 GOP of FPGA'15's five conv layers
    alex = preset("alexnet-2tower").subset({LayerKind.CONV})
    macs = (
        96 * 3 * 55 * 55 * 121  # conv1
        + 256 * 48 * 27 * 27 * 25  # conv2, 2 groups of 48 inputs
        + 384 * 256 * 13 * 13 * 9  # conv3
        + 384 * 192 * 13 * 13 * 9  # conv4, 2 groups
        + 256 * 192 * 13 * 13 * 9  # conv5, 2 groups
    )
    assert alex.macs == macs and round(alex.ops / 1e9, 2) == 1.33
    # VGG-16 is the familiar 15.47 GMAC, 138.3 M weights (biases excluded)
    vgg = preset("vgg16")
    assert round(vgg.macs / 1e9, 2) == 15.47 and round(vgg.weights / 1e6, 1) == 138.3
    assert round(preset("resnet18-chain").macs / 1e9, 2) == 1.79


def test_every_preset_builds():
    for name in PRESETS:
        net = preset(name)
        assert len(net) > 3 and net.macs > 0


def test_layer_rejects_inconsistent_shapes():
    with pytest.raises(ValueError, match="expected 8x8"):
        Layer("bad", LayerKind.CONV, 3, 8, 10, 10, 9, 9, kernel=3)
    with pytest.raises(ValueError, match="groups must divide"):
        Layer("bad", LayerKind.CONV, 3, 8, 10, 10, 8, 8, kernel=3, groups=2)
    with pytest.raises(ValueError, match="does not fit"):
        NetworkBuilder("x", (1, 4, 4)).conv(2, 5)


def test_network_file_round_trip(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(
        "name: small\ninput: [1, 28, 28]\nlayers:\n"
        "  - {type: conv, out: 8, kernel: 3, padding: same}\n"
        "  - {type: pool, kernel: 2}\n"
        "  - {type: fc, out: 10}\n"
    )
    net = load_network(str(path))
    assert net.name == "small" and [ly.out_h for ly in net.layers] == [28, 14, 1]
    assert load_network("lenet5").name == "lenet5"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"input": [1, 8, 8]}, "layers"),
        ({"input": [1, 8], "layers": [{"type": "fc", "out": 2}]}, "input"),
        ({"input": [1, 8, 8], "layers": [{"type": "lstm", "out": 2}]}, "layers[0].type"),
        ({"input": [1, 8, 8], "layers": [{"type": "fc", "out": 2, "bias": 1}]}, "layers[0].bias"),
        ({"input": [1, 8, 8], "layers": [{"type": "conv", "out": 2, "kernel": 9}]}, "layers[0]"),
    ],
)
def test_network_file_errors_name_the_field(data, field):
    with pytest.raises(ConfigError) as err:
        network_from_dict(data, "net.yaml")
    assert err.value.field == field and "net.yaml" in str(err.value)


def test_unknown_network_lists_presets():
    with pytest.raises(ConfigError, match="lenet5"):
        load_network("no-such-net")
