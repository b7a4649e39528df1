"""The trainer: learns, is deterministic, flags divergence, validates its config."""

import pytest

from coexplore.config import ConfigError
from coexplore.data import load_dataset
from coexplore.slow.trainer import TrainConfig, TrainResult, cpu_has_native_bf16, train
from coexplore.spaces import make_space

SMALL = "k3f24s1-k3f36s2|flatten"


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def arch():
    return make_space("chain", depth=2).parse(SMALL)


def test_learns_digits(digits, arch):
    r = train(arch, digits, TrainConfig(epochs=4, precision="fp32"), seed=0)
    assert r.val_acc > 0.9 and r.test_acc > 0.9 and not r.diverged
    assert r.epochs == 4 and len(r.loss_curve) == 4 and r.loss_curve[-1] < r.loss_curve[0]
    assert r.macs == arch.network(digits.input_shape, 10).macs and r.params > 0
    assert TrainResult.from_dict(r.to_dict()) == r


def test_same_seed_same_result_other_seed_differs(digits, arch):
    cfg = TrainConfig(epochs=2, precision="fp32", val_each_epoch=True)
    a, b = train(arch, digits, cfg, seed=3), train(arch, digits, cfg, seed=3)
    assert (a.loss_curve, a.val_curve, a.test_acc) == (b.loss_curve, b.val_curve, b.test_acc)
    assert train(arch, digits, cfg, seed=4).loss_curve != a.loss_curve


@pytest.mark.parametrize(
    "cfg",
    [
        TrainConfig(epochs=2, optimizer="adam", lr=1e-3, schedule="step", step_size=1),
        TrainConfig(epochs=2, schedule="constant", precision="bf16", batch_size=64),
    ],
)
def test_optimizers_schedules_and_bf16(digits, arch, cfg):
    r = train(arch, digits, cfg, seed=0)
    assert r.val_acc > 0.5
    native = "bf16" if cpu_has_native_bf16() else "fp32"
    assert r.precision == (native if cfg.precision == "auto" else cfg.precision)


def test_divergence_is_recorded_not_raised(digits, arch):
    r = train(arch, digits, TrainConfig(epochs=5, lr=1e8, momentum=0.0, precision="fp32"), seed=0)
    assert r.diverged and r.epochs < 5


def test_config_validation_and_hash():
    with pytest.raises(ConfigError, match="optimizer"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(ConfigError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ConfigError, match="bogus"):
        TrainConfig.from_dict({"bogus": 1})
    assert TrainConfig().hash() == TrainConfig(threads=1, device="cpu").hash()
    assert TrainConfig().hash() != TrainConfig(lr=0.1).hash()


def test_caller_rng_and_threads_are_left_alone(digits, arch):
    """A search agent samples from the global RNG between trainings: training must not reset
    it, nor leave its own thread count behind."""
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    train(arch, digits, TrainConfig(epochs=1, threads=1), seed=0)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads
