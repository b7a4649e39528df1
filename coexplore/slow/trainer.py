"""The slow phase's trainer: train a child network on a dataset and report its accuracy.

Lean on purpose (``bench/bench_trainer.py`` holds it to a bare torch loop): the whole dataset is
already a tensor, so batches are index slices, not a DataLoader; losses are summed on the device
and read once per epoch; images and weights are kept channels_last, which oneDNN runs faster
in fp32 and bf16 alike. A NaN or infinite loss ends training with ``diverged=True`` rather than
an exception. Same architecture, data, config and seed → the same result on the same machine.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
from torch import nn

from coexplore.config import ConfigError
from coexplore.data import Dataset
from coexplore.slow.cache import hash_config
from coexplore.spaces.base import Architecture, count_parameters

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("cosine", "step", "constant")
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    """How a child network is trained. ``hash()`` covers every field that changes the result."""

    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    step_size: int = 10  # epochs per decay of the step schedule
    gamma: float = 0.1  # decay factor of the step schedule
    precision: str = "auto"  # auto: bf16 autocast where the hardware runs it natively, else fp32
    device: str = "auto"  # auto: CUDA when present, else CPU
    threads: int | None = None  # torch intra-op threads on CPU (None: leave torch's setting)
    val_each_epoch: bool = False  # record a validation curve (one extra forward pass per epoch)

    def __post_init__(self) -> None:
        checks = [
            ("epochs", self.epochs >= 1, "an integer >= 1"),
            ("batch_size", self.batch_size >= 1, "an integer >= 1"),
            ("optimizer", self.optimizer in OPTIMIZERS, f"one of {OPTIMIZERS}"),
            ("lr", self.lr > 0, "a positive number"),
            ("momentum", 0 <= self.momentum < 1, "in [0, 1)"),
            ("weight_decay", self.weight_decay >= 0, "a number >= 0"),
            ("schedule", self.schedule in SCHEDULES, f"one of {SCHEDULES}"),
            ("step_size", self.step_size >= 1, "an integer >= 1"),
            ("gamma", 0 < self.gamma <= 1, "in (0, 1]"),
            ("precision", self.precision in PRECISIONS, f"one of {PRECISIONS}"),
            ("device", self.device in ("auto", "cpu", "cuda"), "one of auto, cpu, cuda"),
            ("threads", self.threads is None or self.threads >= 1, "None or an integer >= 1"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ConfigError("TrainConfig", name, allowed, getattr(self, name))

    def hash(self) -> str:
        """Stable hash of the fields that change what training computes (not device/threads)."""
        d = {k: v for k, v in asdict(self).items() if k not in ("device", "threads")}
        return hash_config(d)[:16]

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "train config") -> TrainConfig:
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(source, key, f"one of the known fields: {sorted(known)}")
        return cls(**data)


@dataclass(frozen=True)
class TrainResult:
    val_acc: float
    test_acc: float
    loss_curve: list[float]  # mean training loss per epoch
    val_curve: list[float]  # validation accuracy after each epoch (if val_each_epoch)
    epochs: int  # epochs run (fewer than configured when training diverged)
    wall_s: float
    diverged: bool
    params: int
    macs: int  # per image, from the architecture's layer workloads
    precision: str  # what "auto" resolved to
    device: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainResult:
        return cls(**data)


def resolve_device(config: TrainConfig) -> torch.device:
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("TrainConfig", "device", "'cpu' or 'auto' here (no CUDA device)", "cuda")
    use_cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
    return torch.device("cuda" if use_cuda else "cpu")


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bf16 natively here (AVX512-BF16 / AMX); emulated bf16 is slower."""
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(torch.backends.mkldnn.is_available() and probe is not None and probe())


def resolve_precision(config: TrainConfig, device: torch.device) -> str:
    """``auto``: bf16 autocast where the hardware runs it natively (bench/bench_trainer.py
    measured 1.5x to 2.7x faster training on this project's 2-core CPU, even for 8x8 inputs)."""
    if config.precision != "auto":
        return config.precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_native_bf16() else "fp32"


def _schedule(opt: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int):
    total = config.epochs * steps_per_epoch
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    if config.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(
            opt, config.step_size * steps_per_epoch, config.gamma
        )
    return torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, autocast) -> float:
    if len(y) == 0:
        return float("nan")
    model.eval()
    correct = 0
    for i in range(0, len(y), batch):
        with autocast():
            correct += (model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum()
    return float(correct) / len(y)


def train(
    arch: Architecture, dataset: Dataset, config: TrainConfig | None = None, seed: int = 0
) -> TrainResult:
    """Train ``arch`` on ``dataset``'s training split; validation and test accuracy at the end.

    The caller's global RNG states and thread count are left as they were (a search agent
    draws from them, and other trainings in the process must not inherit ``threads``)."""
    threads = torch.get_num_threads()
    try:
        with torch.random.fork_rng():
            return _train(arch, dataset, config or TrainConfig(), seed)
    finally:
        torch.set_num_threads(threads)


def _train(arch: Architecture, dataset: Dataset, config: TrainConfig, seed: int) -> TrainResult:
    start = time.perf_counter()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    device = resolve_device(config)
    torch.manual_seed(seed)
    model = arch.module(dataset.input_shape, dataset.num_classes)
    macs = arch.network(dataset.input_shape, dataset.num_classes).macs
    params = count_parameters(model)
    precision = resolve_precision(config, device)
    # channels_last in fp32 too: faster on this project's CPU (bench_trainer.py, section 3)
    model = model.to(device=device, memory_format=torch.channels_last)

    def to_device(x: torch.Tensor) -> torch.Tensor:
        return (
            x.to(device=device, memory_format=torch.channels_last) if x.ndim == 4 else x.to(device)
        )

    x_train, y_train = to_device(dataset.x_train), dataset.y_train.to(device)
    x_val, y_val = to_device(dataset.x_val), dataset.y_val.to(device)
    x_test, y_test = to_device(dataset.x_test), dataset.y_test.to(device)

    def autocast():
        if precision == "bf16":
            return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
        return nullcontext()

    if config.optimizer == "sgd":
        opt = torch.optim.SGD(
            model.parameters(),
            lr=config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
            nesterov=config.momentum > 0,
        )
    else:
        opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    n = len(y_train)
    steps = math.ceil(n / config.batch_size)
    scheduler = _schedule(opt, config, steps)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)

    losses, val_curve, diverged = [], [], False
    for _ in range(config.epochs):
        model.train()
        order = torch.randperm(n, generator=generator).to(device)
        total = torch.zeros((), device=device)
        for i in range(0, n, config.batch_size):
            idx = order[i : i + config.batch_size]
            with autocast():
                loss = loss_fn(model(x_train[idx]), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            scheduler.step()
            total += loss.detach().float() * len(idx)
        epoch_loss = float(total) / n
        losses.append(epoch_loss)
        if not math.isfinite(epoch_loss):
            diverged = True
            break
        if config.val_each_epoch:
            val_curve.append(accuracy(model, x_val, y_val, 1024, autocast))
    return TrainResult(
        val_acc=accuracy(model, x_val, y_val, 1024, autocast),
        test_acc=accuracy(model, x_test, y_test, 1024, autocast),
        loss_curve=losses,
        val_curve=val_curve,
        epochs=len(losses),
        wall_s=time.perf_counter() - start,
        diverged=diverged,
        params=params,
        macs=macs,
        precision=precision,
        device=device.type,
    )
