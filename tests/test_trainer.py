"""The trainer: learns, is deterministic, flags divergence, validates its config; callbacks."""

import json
import math
import pickle
from dataclasses import asdict, replace

import pytest
import torch

from coexplore.config import ConfigError
from coexplore.data import load_dataset
from coexplore.slow.trainer import (
    TrainCallback,
    TrainConfig,
    TrainResult,
    callback_configs,
    callback_name,
    cpu_has_native_bf16,
    train,
)
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
    # threads and device change results only in float rounding: not in the cache key
    assert TrainConfig().hash() == TrainConfig(threads=None, device="cpu").hash()
    assert TrainConfig().hash() == TrainConfig(threads=2).hash()
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


class ThreadsSeen(TrainCallback):
    """Notes torch's thread count at the start of training."""

    def on_train_start(self, model, context):
        self.threads = torch.get_num_threads()


def test_a_training_runs_at_its_own_thread_count(digits, arch):
    """Default 2 threads, whatever the calling process runs with (a search process, or an
    executor's worker with cores // workers), and the caller's count back after: the same
    floats wherever the training lands. ``threads=None`` keeps the process's count."""
    before, cfg, results = torch.get_num_threads(), TrainConfig(epochs=1, precision="fp32"), []
    try:
        for caller in (1, 3):
            torch.set_num_threads(caller)
            seen = ThreadsSeen()
            train(arch, digits, cfg, callbacks=[seen])
            assert seen.threads == 2 and torch.get_num_threads() == caller
            train(arch, digits, replace(cfg, threads=None), callbacks=[seen])
            assert seen.threads == caller
            r = train(arch, digits, cfg)
            results.append((r.loss_curve, r.val_acc, r.test_acc))
    finally:
        torch.set_num_threads(before)
    assert results[0] == results[1]


# -- callbacks -------------------------------------------------------------------------------

# Recorded with the trainer as it was before callbacks existed (torch 2.13 CPU, this project's
# machine): a change to the plain loop's numerics shows up here.
GOLDEN_CFG = TrainConfig(epochs=1, precision="fp32", threads=1)
GOLDEN = {
    "loss_curve": [0.654811145717615],
    "val_acc": 0.9236111111111112,
    "test_acc": 0.9442896935933147,
}
GOLDEN_HASHES = {"default": "76fe63de4816ceee", "golden_cfg": "16b4b3cd8137f629"}


def essentials(r):
    return {"loss_curve": r.loss_curve, "val_acc": r.val_acc, "test_acc": r.test_acc}


class L2(TrainCallback):
    """An extra loss: ``weight`` times the squared norm of every parameter."""

    def __init__(self, weight):
        self.weight = weight

    def config(self):
        return {"weight": self.weight}

    def extra_loss(self, model, batch):
        return self.weight * sum((p.float() ** 2).sum() for p in model.parameters())


class PruneHalf(TrainCallback):
    """A projection: zero the smaller half (by magnitude) of each conv weight after each step."""

    def after_step(self, model, step):
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                w = m.weight
                mask = torch.ones(w.numel(), device=w.device)
                mask[w.abs().flatten().argsort()[: w.numel() // 2]] = 0
                w.mul_(mask.reshape(w.shape))


class Recorder(TrainCallback):
    """Records every hook call (in a list shared between callbacks, to check their order)."""

    def __init__(self, tag, log):
        self.tag, self.log = tag, log

    def config(self):
        return {"tag": self.tag}

    def on_train_start(self, model, context):
        self.log.append((self.tag, "start", context.steps_per_epoch))

    def after_step(self, model, step):
        assert not torch.is_grad_enabled()
        self.log.append((self.tag, "step", step))

    def on_epoch_end(self, model, epoch, context):
        self.log.append((self.tag, "epoch", epoch))
        return {"loss": context.loss_curve[-1], "tag": self.tag}

    def on_train_end(self, model, result_extra):
        self.log.append((self.tag, "end", None))
        result_extra[f"seen_{self.tag}"] = len(self.log)


class StopAfter(TrainCallback):
    def __init__(self, epochs):
        self.epochs = epochs

    def config(self):
        return {"epochs": self.epochs}

    def on_epoch_end(self, model, epoch, context):
        if epoch + 1 >= self.epochs:
            context.request_stop(f"after {self.epochs}")


class NaNLoss(TrainCallback):
    """An extra loss that turns NaN at step ``at``."""

    def __init__(self, at):
        self.at = at

    def extra_loss(self, model, batch):
        return torch.tensor(float("nan") if batch.step >= self.at else 0.0)


def conv_weights(model):
    return [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)]


def test_no_callbacks_is_bit_identical_to_the_plain_trainer(digits, arch):
    """Pinned to numbers recorded before callbacks existed (to float rounding: the CPU's
    kernels, AVX2 or AVX-512, round differently), and bit for bit to an empty callback list.
    A callback that does nothing runs the callback path of the loop: the same numbers too."""
    plain = train(arch, digits, GOLDEN_CFG, seed=0)
    assert plain.loss_curve == pytest.approx(GOLDEN["loss_curve"], rel=1e-6)
    assert (plain.val_acc, plain.test_acc) == (GOLDEN["val_acc"], GOLDEN["test_acc"])
    assert plain.extra == {} and plain.epochs == 1
    empty = train(arch, digits, GOLDEN_CFG, seed=0, callbacks=[])
    assert {**empty.to_dict(), "wall_s": 0} == {**plain.to_dict(), "wall_s": 0}
    noop = train(arch, digits, GOLDEN_CFG, seed=0, callbacks=[TrainCallback()])
    assert essentials(noop) == essentials(plain)
    assert noop.extra["callbacks"] == [{"callback": callback_name(TrainCallback()), "config": {}}]
    assert "extra_loss_curve" not in noop.extra


def test_hash_without_callbacks_is_todays_and_callback_configs_change_it():
    assert TrainConfig().hash() == GOLDEN_HASHES["default"]
    assert GOLDEN_CFG.hash() == GOLDEN_CFG.hash(()) == GOLDEN_HASHES["golden_cfg"]
    hashes = {
        GOLDEN_CFG.hash(),
        GOLDEN_CFG.hash([L2(0.1)]),
        GOLDEN_CFG.hash([L2(0.2)]),
        GOLDEN_CFG.hash([L2(0.1), PruneHalf()]),
        GOLDEN_CFG.hash([PruneHalf(), L2(0.1)]),  # order matters: callbacks compose in order
        GOLDEN_CFG.hash([TrainCallback()]),
        GOLDEN_CFG.hash([PruneHalf()]),  # same (empty) config, another class
    }
    assert len(hashes) == 7
    assert GOLDEN_CFG.hash([L2(0.1)]) == GOLDEN_CFG.hash((L2(0.1),))  # stable, by value
    assert GOLDEN_CFG.hash([L2(0.1)]) == TrainConfig.from_dict(asdict(GOLDEN_CFG)).hash([L2(0.1)])


def test_callback_configs_must_be_json():
    with pytest.raises(TypeError, match="L2.config.. is not JSON-able"):
        TrainConfig().hash([L2(torch.tensor(0.1))])
    with pytest.raises(TypeError, match="must return a dict"):
        callback_configs([type("Bad", (TrainCallback,), {"config": lambda self: [1]})()])
    with pytest.raises(TypeError, match="must be a TrainCallback"):
        callback_configs([object()])


def test_extra_l2_loss_shrinks_the_weights(digits, arch):
    cfg = TrainConfig(epochs=2, precision="fp32", threads=1)
    base, base_model = train(arch, digits, cfg, seed=0, return_model=True)
    reg, reg_model = train(arch, digits, cfg, seed=0, callbacks=[L2(5e-2)], return_model=True)

    def norm(model):
        return float(sum((p.detach() ** 2).sum() for p in model.parameters()).sqrt())

    assert norm(reg_model) < 0.8 * norm(base_model)  # measured: 7.1 vs 9.6
    for w, w0 in zip(conv_weights(reg_model), conv_weights(base_model), strict=True):
        assert w.norm() < 0.8 * w0.norm()
    assert reg.loss_curve != base.loss_curve and not reg.diverged
    curve = reg.extra["extra_loss_curve"]
    assert len(curve) == 2 and all(c > 0 for c in curve) and curve[1] < curve[0]
    assert reg.extra["callbacks"][0]["config"] == {"weight": 5e-2}


def test_projection_after_each_step_leaves_exactly_that_sparsity(digits, arch):
    cfg = TrainConfig(epochs=2, precision="fp32", threads=1)
    r, model = train(arch, digits, cfg, seed=0, callbacks=[PruneHalf()], return_model=True)
    weights = conv_weights(model)
    assert len(weights) == 2
    for w in weights:
        assert int((w == 0).sum()) == w.numel() // 2
    assert r.val_acc > 0.5 and not r.diverged  # still learns with half the conv weights
    _, dense = train(arch, digits, cfg, seed=0, return_model=True)
    assert all(int((w == 0).sum()) == 0 for w in conv_weights(dense))


def test_hooks_are_called_in_order_and_recorded(digits, arch):
    log = []
    cfg = TrainConfig(epochs=3, batch_size=512, precision="fp32", threads=1)
    r = train(arch, digits, cfg, seed=0, callbacks=[Recorder("a", log), Recorder("b", log)])
    steps = -(-len(digits.y_train) // 512)
    assert log[:2] == [("a", "start", steps), ("b", "start", steps)]
    assert [e for _, what, e in log if what == "epoch"] == [0, 0, 1, 1, 2, 2]
    step_calls = [(tag, s) for tag, what, s in log if what == "step"]
    assert step_calls == [(tag, s) for s in range(3 * steps) for tag in "ab"]
    assert log[-2:] == [("a", "end", None), ("b", "end", None)]
    logs = r.extra["epoch_logs"]
    assert [entry["epoch"] for entry in logs] == [0, 1, 2]
    assert [entry["Recorder"]["loss"] for entry in logs] == r.loss_curve  # by class name
    assert logs[0]["Recorder#2"]["tag"] == "b"  # a repeated class is numbered
    assert r.extra["seen_a"] == len(log) - 1 and r.extra["seen_b"] == len(log)
    assert TrainResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r


def test_early_stop_from_an_epoch_hook(digits, arch):
    cfg = TrainConfig(epochs=5, precision="fp32", threads=1, val_each_epoch=True)
    r = train(arch, digits, cfg, seed=0, callbacks=[StopAfter(2)])
    assert r.epochs == 2 and len(r.loss_curve) == 2 and len(r.val_curve) == 2
    assert r.extra["early_stop"] == {"epochs": 2, "reason": "after 2"} and not r.diverged


@pytest.mark.parametrize("where", ["extra", "task"])
def test_divergence_with_callbacks(digits, arch, where):
    if where == "extra":  # the task loss stays finite in the epoch the extra loss turns NaN
        cfg = TrainConfig(epochs=3, precision="fp32", threads=1)
        last_step = -(-len(digits.y_train) // cfg.batch_size) - 1  # of the first epoch
        r = train(arch, digits, cfg, seed=0, callbacks=[NaNLoss(at=last_step)])
        assert r.epochs == 1
        assert math.isfinite(r.loss_curve[0]) and math.isnan(r.extra["extra_loss_curve"][0])
    else:
        cfg = TrainConfig(epochs=5, lr=1e8, momentum=0.0, precision="fp32")
        r = train(arch, digits, cfg, seed=0, callbacks=[Recorder("a", [])])
    assert r.diverged and r.epochs < cfg.epochs


def test_extra_loss_must_be_a_scalar(digits, arch):
    bad = type("Bad", (TrainCallback,), {"extra_loss": lambda self, m, b: b.output})()
    with pytest.raises(ValueError, match="scalar tensor"):
        train(arch, digits, TrainConfig(epochs=1, precision="fp32"), callbacks=[bad])


def test_callbacks_pickle():
    log = []
    cbs = [L2(0.1), PruneHalf(), Recorder("a", log), StopAfter(2)]
    again = pickle.loads(pickle.dumps(cbs))
    assert TrainConfig().hash(again) == TrainConfig().hash(cbs)


def test_strided_pointwise_conv_with_few_input_channels_gets_true_gradients():
    """oneDNN's AVX2 kernel for a strided 1x1 convolution's weight gradient with fewer than 8
    input channels in channels_last writes past its workspace (uxlfoundation/oneDNN#6035):
    wrong gradients or a heap corruption. The format the trainer picks must give the true ones."""
    from coexplore.slow.trainer import memory_format_for

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 24, 1, stride=2, bias=False)
    x = torch.rand(64, 3, 8, 8)
    conv(x).sum().backward()
    expected = conv.weight.grad.clone()
    fmt = memory_format_for(torch.nn.Sequential(conv), torch.device("cpu"), "fp32")
    conv = conv.to(memory_format=fmt)
    for _ in range(20):
        conv.weight.grad = None
        conv(x.contiguous(memory_format=fmt)).sum().backward()
        torch.testing.assert_close(conv.weight.grad, expected, rtol=1e-4, atol=1e-4)
    wide = torch.nn.Sequential(torch.nn.Conv2d(8, 24, 1, stride=2))
    assert memory_format_for(wide, torch.device("cpu"), "fp32") == torch.channels_last
