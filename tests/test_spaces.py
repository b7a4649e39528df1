"""Search spaces: canonical strings, sampling, and workloads that match the torch modules."""

import itertools

import numpy as np
import pytest
import torch
from module_shapes import conv_shapes_and_macs, workload_shapes_and_macs

from coexplore.spaces import SPACES, ChainSpace, NB201Space, make_space, parse_architecture
from coexplore.spaces.nb201 import EDGES, OPS
from coexplore.workloads import LayerKind


@pytest.mark.parametrize("input_shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("head", ["flatten", "gap"])
def test_chain_workloads_match_the_torch_module(input_shape, head):
    space = ChainSpace(depth=6, head=head)
    rng = np.random.default_rng(0)
    for _ in range(5):
        arch = space.sample(rng, input_size=input_shape[1])
        net = arch.network(input_shape, 10)
        module = arch.module(input_shape, 10)
        assert conv_shapes_and_macs(module, input_shape)[0] == workload_shapes_and_macs(net)
        assert module(torch.zeros(2, *input_shape)).shape == (2, 10)


def test_chain_canonical_round_trip_and_errors():
    space = make_space("chain")
    text = "k3f24s1-k5f36s2-k7f48s1-k1f64s2-k3f24s1-k5f36s1|flatten"
    arch = space.parse(text)
    assert arch.canonical == text == str(arch) and space.parse(arch.canonical) == arch
    assert hash(arch) == hash(space.parse(text)) and space.contains(arch)
    assert parse_architecture("chain", text) == arch
    for bad in ["", "k3f24s1", "k3f24-k3f24s1|flatten", "k3f24s1|pool", "k4f24s1|flatten"]:
        with pytest.raises(ValueError):
            space.parse(bad)


def test_impossible_strides_are_choices_not_crashes():
    space = ChainSpace(depth=6)
    assert space.allowed_strides(1) == (1,) and space.allowed_strides(2) == (1, 2)
    # 8x8 digits: three stride-2 layers reach 1x1; a fourth would stride a 1x1 map
    arch = space.parse("k3f24s2-k3f24s2-k3f24s2-k3f24s2-k3f24s1-k3f24s1|flatten")
    with pytest.raises(ValueError, match="impossible choice"):
        arch.network((1, 8, 8), 10)
    rng = np.random.default_rng(1)
    for _ in range(50):  # sampling with the input size never produces one
        space.sample(rng, input_size=8).network((1, 8, 8), 10)


def test_nb201_strings_parse_and_print_exactly():
    space = NB201Space()
    text = (
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|"
        "+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
    )
    arch = space.parse(text)
    assert arch.canonical == text and arch.ops[2] == "avg_pool_3x3"
    rng = np.random.default_rng(0)
    seen = {space.sample(rng).canonical for _ in range(300)}
    assert all(space.parse(s).canonical == s for s in seen) and len(seen) > 250
    assert len(OPS) ** len(EDGES) == 15_625
    for bad in [
        text.replace("~1|+", "~2|+"),
        text.replace("avg_pool_3x3", "max_pool"),
        text[:-1],
        "|none~0|+|none~0|none~1|",
    ]:
        with pytest.raises(ValueError, match="NB201"):
            space.parse(bad)


@pytest.mark.parametrize("seed", range(3))
def test_nb201_workloads_match_the_torch_module(seed):
    arch = NB201Space(cells_per_stage=2).sample(np.random.default_rng(seed))
    shape = (3, 32, 32)
    net, module = arch.network(shape, 10), arch.module(shape, 10)
    assert conv_shapes_and_macs(module, shape)[0] == workload_shapes_and_macs(net)
    assert module(torch.zeros(2, *shape)).shape == (2, 10)


def test_nb201_stage_shapes():
    arch = NB201Space().parse(
        "|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
    )
    net = arch.network((3, 32, 32), 10)
    convs = [ly for ly in net.layers if ly.kind is LayerKind.CONV and ".e" in ly.name]
    assert {(ly.out_channels, ly.out_h) for ly in convs} == {(16, 32), (32, 16), (64, 8)}
    assert net.layers[-1].in_channels == 64


def test_registry():
    assert {"chain", "nb201"} <= set(SPACES)
    with pytest.raises(KeyError, match="chain"):
        make_space("darts")
    assert list(itertools.islice(SPACES, 2))


@pytest.mark.parametrize("name", ["chain", "nb201"])
def test_tokens_round_trip(name):
    """to_tokens inverts from_tokens for every sampled token list."""
    space = make_space(name)
    rng = np.random.default_rng(0)
    for _ in range(50):
        tokens = [int(rng.integers(c)) for c in space.token_choices()]
        arch = space.from_tokens(tokens)
        assert space.to_tokens(arch) == tokens
        assert space.to_tokens(space.parse(arch.canonical)) == tokens
