"""The IBN space: tokens and strings round-trip, bad settings are named, the torch module is the
workload layers (shapes, MACs, parameters, residuals), and it trains."""

import math

import numpy as np
import pytest
import torch
from module_shapes import conv_shapes_and_macs, workload_shapes_and_macs
from torch import nn

from coexplore.config import ConfigError
from coexplore.core.checkers import check_space
from coexplore.data import DataConfig, Dataset
from coexplore.scenario.validate import build
from coexplore.slow.trainer import TrainConfig, train
from coexplore.spaces import SPACES, IBNSpace, make_space, parse_architecture
from coexplore.spaces.base import count_parameters
from coexplore.spaces.ibn import InvertedBottleneck, stage_channels
from coexplore.workloads import LayerKind
from coexplore.workloads.problem import workload_from_network

SHAPES = [(1, 28, 28), (3, 32, 32)]
# A small skeleton for hand-checked numbers: 3 stages on an 8x8 grey input, stem of 8.
SMALL = {"stages": [[8, 1], [16, 2], [16, 1]], "stem_channels": 8}
SMALL_ARCH = "ibn:k3e1w1d1i|k5e6w1d1i|k3e3w0.5d2f"
DEFAULT_ARCH = "ibn:k5e1w1d1i|k5e6w0.75d2i|k3e3w0.5d3f|k7e6w1d1f"


def sampled(space, n, seed=0):
    rng = np.random.default_rng(seed)
    return [space.sample(rng) for _ in range(n)]


def test_registered_and_passes_the_checker():
    assert "ibn" in SPACES and isinstance(make_space("ibn"), IBNSpace)
    space = make_space("ibn")
    assert space.token_choices() == [3, 3, 3, 3, 2] * 4
    assert math.prod(space.token_choices()) == 162**4 == 688_747_536
    for shape in [(1, 8, 8), *SHAPES]:
        check_space(space, input_shape=shape, n=3)


def test_tokens_and_strings_round_trip():
    space = make_space("ibn")
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(300):
        tokens = [int(rng.integers(c)) for c in space.token_choices()]
        arch = space.from_tokens(tokens)
        assert space.to_tokens(arch) == tokens
        again = space.parse(arch.canonical)
        assert again == arch and hash(again) == hash(arch) and again.canonical == arch.canonical
        assert parse_architecture("ibn", arch.canonical) == arch and str(arch) == arch.canonical
        seen.add(arch.canonical)
    assert len(seen) == 300  # 688 M strings: no repeats expected
    for arch in sampled(space, 50, seed=1):
        assert space.contains(arch) and space.to_tokens(space.parse(arch.canonical))


def test_canonical_format():
    space = make_space("ibn")
    text = "ibn:k3e1w1d1i|k5e6w0.75d2i|k3e3w0.5d3f|k7e6w1d1f"
    arch = space.parse(text)
    assert arch.canonical == text
    s = arch.stages
    assert (s[1].kernel, s[1].expansion, s[1].width, s[1].depth, s[1].block) == (
        5,
        6,
        0.75,
        2,
        "ibn",
    )
    assert s[2].block == "fused" and s[0].width == 1.0
    assert arch.channels() == (16, 24, 24, 80)
    assert space.to_tokens(arch) == [0, 0, 2, 0, 0, 1, 2, 1, 1, 0, 0, 1, 0, 2, 1, 2, 2, 2, 0, 1]


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "k3e1w1d1i|k5e6w0.75d2i|k3e3w0.5d3f|k7e6w1d1f",  # no prefix
        "ibn:k3e1w1d1i|k5e6w0.75d2i|k3e3w0.5d3f",  # 3 stages for a 4-stage space
        "ibn:k3e1w1d1i|k5e6w0.75d2i|k3e3w0.5d3f|k7e6w1d1x",  # unknown block letter
        "ibn:k3e1w1d1i|k5e6w0.75d2i|k3e3w0.5d3f|k7e6d1f",  # width missing
        "ibn:k3e1w1d1i-k5e6w0.75d2i-k3e3w0.5d3f-k7e6w1d1f",  # wrong separator
        "ibn:k4e1w1d1i|k5e6w0.75d2i|k3e3w0.5d3f|k7e6w1d1f",  # even kernel
        "ibn:k3e0w1d1i|k5e6w0.75d2i|k3e3w0.5d3f|k7e6w1d1f",  # expansion 0
        "ibn:k3e1w0d1i|k5e6w0.75d2i|k3e3w0.5d3f|k7e6w1d1f",  # width 0
    ],
)
def test_malformed_strings_are_value_errors(bad):
    with pytest.raises(ValueError):
        make_space("ibn").parse(bad)


def test_non_canonical_spellings_name_the_canonical_one():
    space = make_space("ibn")
    with pytest.raises(ValueError, match=r"written 'ibn:k3e1w1d1i\|"):
        space.parse("ibn:k3e1w1.0d1i|k5e6w0.75d2i|k3e3w0.5d3f|k7e6w1d1f")
    with pytest.raises(ValueError, match="not a canonical"):
        space.parse("ibn:k03e1w1d1i|k5e6w0.75d2i|k3e3w0.5d3f|k7e6w1d1f")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"kernels": [3, 4]}, "kernels"),
        ({"kernels": []}, "kernels"),
        ({"expansions": [0, 1]}, "expansions"),
        ({"expansions": [3, 3]}, "expansions"),
        ({"widths": [0.5, -1.0]}, "widths"),
        ({"widths": [1, 1.0]}, "widths"),
        ({"depths": [1.5]}, "depths"),
        ({"blocks": ["ibn", "mbconv"]}, "blocks"),
        ({"stages": [[16, 1], [24]]}, "stages"),
        ({"stages": []}, "stages"),
        ({"stem_channels": 0}, "stem_channels"),
    ],
)
def test_bad_options_name_the_option(options, field):
    with pytest.raises(ConfigError, match=field) as err:
        make_space("ibn", **options)
    assert err.value.field == field
    # through a scenario file's space section the field is prefixed with the section
    with pytest.raises(ConfigError, match=rf"space\.{field}"):
        build(IBNSpace, options, "envs/x.yaml", "space")


def test_options_from_a_scenario_and_config_round_trip():
    space = build(
        IBNSpace,
        {"stages": [[16, 1], [16, 1], [32, 2]], "kernels": [3, 5], "widths": [1, 0.5]},
        "envs/x.yaml",
        "space",
    )
    assert space.stages == ((16, 1), (16, 1), (32, 2)) and space.widths == (1.0, 0.5)
    assert space.token_choices() == [2, 3, 2, 3, 2] * 3
    cfg = space.config()
    assert make_space(cfg.pop("name"), **cfg) == space
    arch = space.sample(np.random.default_rng(0))
    assert len(arch.stages) == 3 and space.parse(arch.canonical) == arch
    with pytest.raises(ValueError, match="not in this ibn space"):
        make_space("ibn", kernels=[3]).to_tokens(make_space("ibn").parse(DEFAULT_ARCH))
    with pytest.raises(ValueError, match="20 tokens"):
        make_space("ibn").from_tokens([0] * 19)
    with pytest.raises(ValueError, match="20 tokens"):
        make_space("ibn").from_tokens([0] * 19 + [2])  # block has 2 choices


def test_stage_channels_are_multiples_of_8():
    assert [stage_channels(16, w) for w in (0.5, 0.75, 1.0)] == [8, 16, 16]
    assert [stage_channels(24, w) for w in (0.5, 0.75, 1.0)] == [16, 24, 24]
    assert [stage_channels(40, w) for w in (0.5, 0.75, 1.0)] == [24, 32, 40]
    assert [stage_channels(80, w) for w in (0.5, 0.75, 1.0)] == [40, 64, 80]
    assert stage_channels(4, 0.5) == 8  # at least 8


@pytest.mark.parametrize("shape", SHAPES)
def test_module_is_the_workload_layers(shape):
    """Every conv/linear has the workload's output shape and MACs; parameters are the layers'
    weights plus, explicitly, BatchNorm's (gamma, beta: 2 per conv output channel) and the
    classifier's bias (one per class). Convs carry no bias."""
    for arch in sampled(make_space("ibn"), 4, seed=2):
        net, module = arch.network(shape, 10), arch.module(shape, 10)
        seen, out_shape = conv_shapes_and_macs(module, shape, batch=2)
        assert seen == workload_shapes_and_macs(net) and out_shape == (2, 10)
        convs = [ly for ly in net.layers if ly.kind in (LayerKind.CONV, LayerKind.DWCONV)]
        bn = sum(2 * ly.out_channels for ly in convs)
        assert count_parameters(module) == net.weights + bn + 10
        conv_weights = sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))
        assert conv_weights == sum(ly.weights for ly in convs)
        gap = net.layers[-2]
        assert gap.name == "gap" and gap.kind is LayerKind.POOL and gap.out_h == 1
        assert (gap.in_h, net.layers[-1].in_channels) == (4, arch.channels()[-1])


def test_block_structure_and_names():
    space = make_space("ibn", **SMALL)
    net = space.parse("ibn:k3e1w1d1i|k5e6w1d1f|k7e1w0.5d2f").network((1, 8, 8), 10)
    kinds = [(ly.name, ly.kind.value, ly.kernel, ly.stride, ly.padding) for ly in net.layers]
    assert kinds == [
        ("stem", "conv", 3, 1, 1),
        ("s1b1.dw", "dwconv", 3, 1, 1),  # e = 1: no expand conv
        ("s1b1.project", "conv", 1, 1, 0),
        ("s2b1.fused", "conv", 5, 2, 2),  # fused: one strided 5x5 regular conv 8 -> 48
        ("s2b1.project", "conv", 1, 1, 0),
        ("s3b1.fused", "conv", 7, 1, 3),  # fused, e = 1: a single 7x7 conv 16 -> 8
        ("s3b2.fused", "conv", 7, 1, 3),
        ("gap", "pool", 4, 4, 0),
        ("fc", "fc", 1, 1, 0),
    ]
    by_name = {ly.name: ly for ly in net.layers}
    assert (by_name["s2b1.fused"].in_channels, by_name["s2b1.fused"].out_channels) == (8, 48)
    assert (by_name["s3b1.fused"].in_channels, by_name["s3b1.fused"].out_channels) == (16, 8)
    dw = space.parse("ibn:k3e6w1d1i|k3e1w1d1i|k3e1w1d1i").network((1, 8, 8), 10).layers[1:4]
    assert [(ly.name, ly.in_channels, ly.out_channels, ly.groups) for ly in dw] == [
        ("s1b1.expand", 8, 48, 1),
        ("s1b1.dw", 48, 48, 48),
        ("s1b1.project", 48, 8, 1),
    ]


def test_activations_are_relu6_except_after_the_projection():
    arch = make_space("ibn", **SMALL).parse(SMALL_ARCH)
    module = arch.module((1, 8, 8), 10)
    for block in (m for m in module.modules() if isinstance(m, InvertedBottleneck)):
        last = block.body[-1]
        assert not any(isinstance(m, nn.ReLU6) for m in last) or len(block.body) == 1
        assert all(isinstance(m[-1], nn.ReLU6) for m in block.body[:-1])
        assert all(isinstance(m[1], nn.BatchNorm2d) for m in block.body)


def test_residual_exactly_when_stride_1_and_same_channels():
    seen = set()
    for arch in sampled(make_space("ibn"), 30, seed=3):
        net = arch.network((1, 28, 28), 10)
        blocks: dict[str, list] = {}
        for ly in net.layers:
            if "." in ly.name:
                blocks.setdefault(ly.name.split(".")[0], []).append(ly)
        expected = []
        for layers in blocks.values():
            spatial = next(ly for ly in layers if ly.name.endswith((".dw", ".fused")))
            same = layers[0].in_channels == layers[-1].out_channels
            expected.append(spatial.stride == 1 and same)
        module = arch.module((1, 28, 28), 10)
        residual = [m.residual for m in module.modules() if isinstance(m, InvertedBottleneck)]
        assert residual == expected
        seen.update(expected)
    assert seen == {True, False}
    # stage 1 (stride 1) starts with a residual exactly when its channels are the stem's 16
    space = make_space("ibn")
    for width, res in ((1, True), (0.75, True), (0.5, False)):
        arch = space.parse(f"ibn:k3e6w{width}d1i|k3e6w1d1i|k3e6w1d1i|k3e6w1d1i")
        blocks = [m for m in arch.module((1, 28, 28), 10).modules()]
        first = next(m for m in blocks if isinstance(m, InvertedBottleneck))
        assert first.residual is res


def test_residual_adds_the_input():
    arch = make_space("ibn", **SMALL).parse(SMALL_ARCH)
    module = arch.module((1, 8, 8), 10).eval()
    block = module[1]  # s1b1: stride 1, 8 -> 8
    assert isinstance(block, InvertedBottleneck) and block.residual
    x = torch.randn(2, 8, 8, 8)
    with torch.no_grad():
        assert torch.allclose(block(x), x + block.body(x))


def test_hand_computed_macs():
    """``ibn:k3e1w1d1i|k5e6w1d1i|k3e3w0.5d2f`` on stages (8,s1), (16,s2), (16,s1), stem 8, an
    8x8x1 input, 10 classes. MACs = M·(N/G)·R·C·K²:

    stem          3x3 conv 1->8 at 8x8:              8·1·64·9    =   4,608
    s1b1.dw       3x3 dw 8 at 8x8 (e = 1, no expand): 8·1·64·9    =   4,608
    s1b1.project  1x1 8->8 at 8x8:                    8·8·64      =   4,096
    s2b1.expand   1x1 8->48 at 8x8:                   48·8·64     =  24,576
    s2b1.dw       5x5 dw 48, stride 2, pad 2 -> 4x4:  48·1·16·25  =  19,200
    s2b1.project  1x1 48->16 at 4x4:                  16·48·16    =  12,288
    s3b1.fused    3x3 16->48 (e·C_in) at 4x4:         48·16·16·9  = 110,592
    s3b1.project  1x1 48->8 (16·0.5) at 4x4:          8·48·16     =   6,144
    s3b2.fused    3x3 8->24 at 4x4:                   24·8·16·9   =  27,648
    s3b2.project  1x1 24->8 at 4x4:                   8·24·16     =   3,072
    gap           4x4 average pool:                                      0
    fc            8->10:                              10·8        =      80
    total                                                         = 216,912
    """
    arch = make_space("ibn", **SMALL).parse(SMALL_ARCH)
    net = arch.network((1, 8, 8), 10)
    assert [ly.macs for ly in net.layers] == [
        4608,
        4608,
        4096,
        24576,
        19200,
        12288,
        110592,
        6144,
        27648,
        3072,
        0,
        80,
    ]
    assert net.macs == 216_912
    seen, _ = conv_shapes_and_macs(arch.module((1, 8, 8), 10), (1, 8, 8))
    assert sum(m for _, m in seen) == 216_912


def test_workload_conversion_keeps_every_layer_and_mac():
    for arch in sampled(make_space("ibn"), 10, seed=4):
        net = arch.network((1, 28, 28), 10)
        work = workload_from_network(net, 1)
        assert work.macs == net.macs
        assert work.skipped == ("gap",)
        assert work.layer_count == len(net) - 1  # every layer but the pool
        for problem in work.problems:
            layer = next(ly for ly in net.layers if ly.name == problem.name)
            if layer.kind is LayerKind.DWCONV:  # depthwise: one channel per group
                assert layer.in_channels == problem.G and (problem.C, problem.M) == (1, 1)


def test_same_networks_from_width_multipliers_that_round_alike():
    """Stage 1's w0.75 and w1 both give 16 channels: distinct strings, identical networks."""
    space = make_space("ibn")
    a = space.parse("ibn:k3e6w0.75d1i|k3e6w1d1i|k3e6w1d1i|k3e6w1d1i")
    b = space.parse("ibn:k3e6w1d1i|k3e6w1d1i|k3e6w1d1i|k3e6w1d1i")
    assert a != b and a.network((1, 28, 28), 10).layers == b.network((1, 28, 28), 10).layers


def test_one_training_epoch():
    """A few dozen random 28x28 images, one epoch: the trainer runs the module end to end."""
    g = torch.Generator().manual_seed(0)

    def split(n):
        return torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)

    (xt, yt), (xv, yv), (xs, ys) = split(32), split(16), split(16)
    data = Dataset(
        "random", 10, (1, 28, 28), xt, yt, xv, yv, xs, ys, (0.0,), (1.0,), DataConfig("digits")
    )
    arch = make_space("ibn").parse("ibn:k3e3w0.5d1i|k3e3w0.5d1f|k3e1w0.5d1i|k3e1w0.5d1f")
    result = train(arch, data, TrainConfig(epochs=1, batch_size=16, precision="fp32"), seed=0)
    assert result.epochs == 1 and len(result.loss_curve) == 1
    assert math.isfinite(result.loss_curve[0]) and not result.diverged
    assert result.macs == arch.network((1, 28, 28), 10).macs
    assert result.params == count_parameters(arch.module((1, 28, 28), 10))
    assert 0.0 <= result.val_acc <= 1.0
