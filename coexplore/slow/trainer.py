"""The slow phase's trainer: train a child network on a dataset and report its accuracy.

Lean on purpose (``bench/bench_trainer.py`` holds it to a bare torch loop): the whole dataset is
already a tensor, so batches are index slices, not a DataLoader; losses are summed on the device
and read once per epoch; images and weights are kept channels_last, which oneDNN runs faster
in fp32 and bf16 alike (save where an oneDNN bug forbids it: :func:`memory_format_for`). A NaN
or infinite loss ends training with ``diverged=True`` rather than an exception. Same
architecture, data, config and seed → the same result on the same machine, in whatever
process it runs: a training sets torch's thread count to its config's ``threads`` (default 2)
and gives the caller's back after (:func:`torch_threads`), because float results depend on
the thread count (docs/machine-notes.md#threads).

One loop, :func:`fit`, trains everything: this module's networks and the multi-task D2NN
(:mod:`coexplore.optics.multitask`), each plugging in its own batches and loss. Training
procedures beyond plain cross-entropy (ADMM compression, pruning by projection) plug in as
:class:`TrainCallback` objects: an extra loss term, a projection after each optimiser step,
hooks at the start, after each epoch and at the end; without any, a step is the plain
forward, backward and optimiser step. Callbacks change what is trained, so their ``config()``
enters the cache key (:meth:`TrainConfig.hash`); without callbacks the hash is the plain
config's, as it was before callbacks existed.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, overload

import torch
from torch import nn

from coexplore.config import ConfigError
from coexplore.data import Dataset
from coexplore.slow.cache import hash_config
from coexplore.spaces.base import Architecture, count_parameters

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("cosine", "step", "constant")
TRAIN_PRECISIONS = ("auto", "fp32", "bf16")  # the arithmetic of training (not a hardware format)


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
    # torch intra-op threads on CPU. Part of the training, not of where it runs: the floats
    # depend on it, so a fixed count gives the same results in any process or executor.
    # 2: the count trainings ran at on this project's 2 cores before it was fixed, and the
    # faster one there (docs/machine-notes.md#threads). None: the process's own count
    # (results then depend on the executor and machine).
    threads: int | None = 2
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
            ("precision", self.precision in TRAIN_PRECISIONS, f"one of {TRAIN_PRECISIONS}"),
            ("device", self.device in ("auto", "cpu", "cuda"), "one of auto, cpu, cuda"),
            ("threads", self.threads is None or self.threads >= 1, "None or an integer >= 1"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ConfigError("TrainConfig", name, allowed, getattr(self, name))

    def hash(self, callbacks: Sequence[TrainCallback] = ()) -> str:
        """Stable hash of what changes what training computes (not device/threads).

        Device and threads change a result only in float rounding, as the CPU model does,
        which no key holds either: the key names the experiment, and leaving them out keeps
        every cache written so far valid (docs/machine-notes.md#threads).

        With ``callbacks`` their :func:`callback_configs` (class and ``config()``, in order)
        enter the hash too; without, the hash is the plain config's, as it always was, so
        caches written before callbacks existed stay valid."""
        d = {k: v for k, v in asdict(self).items() if k not in ("device", "threads")}
        if not callbacks:
            return hash_config(d)[:16]
        return hash_config({"train": d, "callbacks": callback_configs(callbacks)})[:16]

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "train config") -> TrainConfig:
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(source, key, f"one of the known fields: {sorted(known)}")
        return cls(**data)


@dataclass(frozen=True)
class TrainResult:
    """What a training gave. With callbacks, ``extra`` holds ``callbacks`` (their classes and
    configs), ``extra_loss_curve`` (mean extra loss per epoch, when one was added),
    ``epoch_logs`` (what ``on_epoch_end`` returned), ``early_stop`` (``{"epochs", "reason"}``)
    and whatever ``on_train_end`` put there; without callbacks it is empty."""

    val_acc: float
    test_acc: float
    loss_curve: list[float]  # mean training cross-entropy per epoch (without extra losses)
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


@dataclass(kw_only=True)
class LoopContext:
    """What a callback may read about any training under way (and how it asks to stop).

    One object per training, handed to ``on_train_start`` and ``on_epoch_end``; :func:`fit`
    keeps ``epoch``, ``loss_curve`` and ``val_curve`` current. Not stored anywhere."""

    optimizer: torch.optim.Optimizer
    steps_per_epoch: int
    epoch: int = 0  # the epoch under way (0-based)
    loss_curve: list[float] = field(default_factory=list)  # as in TrainResult, so far
    val_curve: list[float] = field(default_factory=list)  # filled if validating each epoch
    stop_reason: str | None = None  # set by request_stop

    def request_stop(self, reason: str = "requested") -> None:
        """End training after the current epoch (its remaining callbacks still run)."""
        self.stop_reason = str(reason)


@dataclass
class TrainContext(LoopContext):
    """A :func:`train`'s context: the loop's, and what it trains and how."""

    arch: Architecture
    dataset: Dataset
    config: TrainConfig
    seed: int
    device: torch.device
    precision: str  # what "auto" resolved to


@dataclass
class BatchContext:
    """One training step's batch, as ``extra_loss`` sees it (inside autocast).

    ``output`` is the model's output on ``x`` and ``loss`` the loss on it (:func:`train`: the
    cross-entropy); both are part of the autograd graph, so a regulariser on the output trains
    the model too."""

    x: torch.Tensor
    y: torch.Tensor
    output: torch.Tensor
    loss: torch.Tensor
    epoch: int
    step: int  # optimiser steps before this one, over the whole training


class TrainCallback:
    """A hook into :func:`train`, in the style of Keras, Lightning and SB3 callbacks.

    Subclass and override what you need; every hook is a no-op by default. Several callbacks
    compose in the order given: each hook is called on each callback in turn, and their extra
    losses are summed. The hooks, in the order training calls them:

    - ``on_train_start(model, context)``: once, after the model and optimiser exist (e.g.
      ADMM's Z and U start from the initial weights);
    - ``extra_loss(model, batch) -> Tensor | None``: each step, inside autocast; the returned
      scalar is added to the cross-entropy before ``backward()`` (e.g. ADMM's
      ρ/2‖W − Z + U‖², a task regulariser); None adds nothing;
    - ``after_step(model, step)``: after each optimiser step, under ``torch.no_grad()``
      (e.g. a projection onto a sparsity or quantisation constraint);
    - ``on_epoch_end(model, epoch, context) -> JSON-able | None``: after each epoch's
      training (and validation, with ``val_each_epoch``); a returned value is recorded in
      ``TrainResult.extra["epoch_logs"]``; ``context.request_stop(reason)`` ends training
      early (e.g. ADMM's Z/U updates every few epochs, early stopping). Not called for an
      epoch whose loss diverged;
    - ``on_train_end(model, result_extra)``: once, after the last epoch (also after
      divergence or an early stop) and before the final validation and test accuracy, so a
      final projection is what gets measured and kept; JSON-able values put into the dict
      ``result_extra`` land in ``TrainResult.extra``.

    A callback changes what is trained, so ``config()`` must describe every parameter that
    changes the result: it enters the result cache's key (with the class's qualified name,
    added by the trainer). Callbacks must be picklable (oracles travel to worker processes).
    """

    def config(self) -> dict[str, Any]:
        """JSON-able parameters that change the training (the class name is added for you)."""
        return {}

    def on_train_start(self, model: nn.Module, context: TrainContext) -> None:
        """Once, before the first step."""

    def extra_loss(self, model: nn.Module, batch: BatchContext) -> torch.Tensor | None:
        """A scalar added to this step's loss, or None."""
        return None

    def after_step(self, model: nn.Module, step: int) -> None:
        """After optimiser step ``step`` (0-based), under ``torch.no_grad()``."""

    def on_epoch_end(self, model: nn.Module, epoch: int, context: TrainContext) -> Any:
        """After epoch ``epoch`` (0-based); a JSON-able return value is recorded."""
        return None

    def on_train_end(self, model: nn.Module, result_extra: dict[str, Any]) -> None:
        """Once, before the final accuracies; may add JSON-able entries to ``result_extra``."""


def callback_name(callback: TrainCallback) -> str:
    """The qualified class name (``module.Class``) that identifies a callback in keys."""
    cls = type(callback)
    return f"{cls.__module__}.{cls.__qualname__}"


def callback_configs(callbacks: Sequence[TrainCallback]) -> list[dict[str, Any]]:
    """``[{"callback": qualified class name, "config": config()}, ...]`` in order, checked to be
    JSON (a value that is not would otherwise enter the hash as its repr)."""
    out = []
    for cb in callbacks:
        if not isinstance(cb, TrainCallback):
            raise TypeError(f"a training callback must be a TrainCallback, got {cb!r}")
        cfg = cb.config()
        if not isinstance(cfg, Mapping):
            raise TypeError(f"{callback_name(cb)}.config() must return a dict, got {cfg!r}")
        try:
            json.dumps(cfg, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{callback_name(cb)}.config() is not JSON-able: {exc}") from None
        out.append({"callback": callback_name(cb), "config": dict(cfg)})
    return out


def resolve_device(config: TrainConfig) -> torch.device:
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("TrainConfig", "device", "'cpu' or 'auto' here (no CUDA device)", "cuda")
    use_cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
    return torch.device("cuda" if use_cuda else "cpu")


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bf16 natively here (AVX512-BF16 / AMX); emulated bf16 is slower."""
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(torch.backends.mkldnn.is_available() and probe is not None and probe())


def memory_format_for(
    model: nn.Module, device: torch.device, precision: str
) -> torch.memory_format:
    """channels_last (faster here: bench_trainer.py, section 3), except for a model that hits
    oneDNN's AVX2 kernel for the weight gradient of a strided 1×1 convolution with fewer than
    8 input channels in NHWC, which writes past its workspace: a heap corruption or wrong
    gradients (uxlfoundation/oneDNN#6035; seen with torch 2.13 on an AVX2-only CPU). Such a
    model trains in the default format on a CPU without AVX-512, in fp32; others are unchanged.
    """
    if device.type != "cpu" or precision != "fp32":
        return torch.channels_last
    if torch.backends.cpu.get_cpu_capability().startswith("AVX512"):
        return torch.channels_last
    for m in model.modules():
        if (
            isinstance(m, nn.Conv2d)
            and m.kernel_size == (1, 1)
            and m.stride != (1, 1)
            and m.in_channels // m.groups < 8
        ):
            return torch.contiguous_format
    return torch.channels_last


def resolve_precision(config: TrainConfig, device: torch.device) -> str:
    """``auto``: bf16 autocast where the hardware runs it natively (bench/bench_trainer.py
    measured 1.5x to 2.7x faster training on this project's 2-core CPU, even for 8x8 inputs)."""
    if config.precision != "auto":
        return config.precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_native_bf16() else "fp32"


def autocast_for(precision: str, device: torch.device):
    """The context a forward pass runs in at a resolved ``precision`` (bf16: autocast)."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext()


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


@overload
def train(
    arch: Architecture,
    dataset: Dataset,
    config: TrainConfig | None = ...,
    seed: int = ...,
    callbacks: Sequence[TrainCallback] = ...,
    return_model: Literal[False] = ...,
) -> TrainResult: ...


@overload
def train(
    arch: Architecture,
    dataset: Dataset,
    config: TrainConfig | None = ...,
    seed: int = ...,
    callbacks: Sequence[TrainCallback] = ...,
    *,
    return_model: Literal[True],
) -> tuple[TrainResult, nn.Module]: ...


def train(
    arch: Architecture,
    dataset: Dataset,
    config: TrainConfig | None = None,
    seed: int = 0,
    callbacks: Sequence[TrainCallback] = (),
    return_model: bool = False,
) -> TrainResult | tuple[TrainResult, nn.Module]:
    """Train ``arch`` on ``dataset``'s training split; validation and test accuracy at the end.

    ``callbacks`` (see :class:`TrainCallback`) run in the order given; without any, training
    is exactly the plain loop. ``return_model``: return ``(result, model)``, the trained model
    as measured (on the training device, channels_last, in eval mode).

    The caller's global RNG states and thread count are left as they were (a search agent
    draws from them, and other trainings in the process must not inherit ``threads``)."""
    callbacks = tuple(callbacks)
    callback_configs(callbacks)  # fail on a bad callback before any training
    config = config or TrainConfig()
    with torch_threads(config.threads), torch.random.fork_rng():
        result, model = _train(arch, dataset, config, seed, callbacks)
    return (result, model) if return_model else result


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch runs ``threads`` intra-op threads inside the block (None: as it is), and the
    caller's count again after it: what a training computes depends on the count, not on
    the process it lands in, and its setting does not leak to other work there."""
    before = torch.get_num_threads()
    if threads is not None and threads != before:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def _train(
    arch: Architecture,
    dataset: Dataset,
    config: TrainConfig,
    seed: int,
    callbacks: tuple[TrainCallback, ...],
) -> tuple[TrainResult, nn.Module]:
    start = time.perf_counter()
    device = resolve_device(config)
    torch.manual_seed(seed)
    model = arch.module(dataset.input_shape, dataset.num_classes)
    macs = arch.network(dataset.input_shape, dataset.num_classes).macs
    params = count_parameters(model)
    precision = resolve_precision(config, device)
    fmt = memory_format_for(model, device, precision)
    model = model.to(device=device, memory_format=fmt)

    def to_device(x: torch.Tensor) -> torch.Tensor:
        return x.to(device=device, memory_format=fmt) if x.ndim == 4 else x.to(device)

    x_train, y_train = to_device(dataset.x_train), dataset.y_train.to(device)
    x_val, y_val = to_device(dataset.x_val), dataset.y_val.to(device)
    x_test, y_test = to_device(dataset.x_test), dataset.y_test.to(device)

    def autocast():
        return autocast_for(precision, device)

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

    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor, int]]:
        order = torch.randperm(n, generator=generator).to(device)
        for i in range(0, n, config.batch_size):
            idx = order[i : i + config.batch_size]
            yield x_train[idx], y_train[idx], len(idx)

    def cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
        out = model(x)
        return out, loss_fn(out, y)

    def validate() -> float:
        return accuracy(model, x_val, y_val, 1024, autocast)

    context = TrainContext(
        arch, dataset, config, seed, device, precision, optimizer=opt, steps_per_epoch=steps
    )
    diverged, extra = fit(
        model, context, config.epochs, batches, cross_entropy,
        scheduler=scheduler, autocast=autocast, callbacks=callbacks,
        validate=validate if config.val_each_epoch else None,
    )  # fmt: skip
    result = TrainResult(
        val_acc=validate(),
        test_acc=accuracy(model, x_test, y_test, 1024, autocast),
        loss_curve=list(context.loss_curve),
        val_curve=list(context.val_curve),
        epochs=len(context.loss_curve),
        wall_s=time.perf_counter() - start,
        diverged=diverged,
        params=params,
        macs=macs,
        precision=precision,
        device=device.type,
        extra=extra,
    )
    return result, model


def fit(
    model: nn.Module,
    context: LoopContext,
    epochs: int,
    batches: Callable[[], Iterable[tuple[Any, Any, int]]],
    criterion: Callable[[nn.Module, Any, Any], tuple[Any, torch.Tensor]],
    *,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    autocast: Callable[[], AbstractContextManager[Any]] = nullcontext,
    validate: Callable[[], float] | None = None,
    callbacks: tuple[TrainCallback, ...] = (),
) -> tuple[bool, dict[str, Any]]:
    """The one training loop, generic over what it trains (:func:`train`'s networks, the
    multi-task D2NN of :func:`coexplore.optics.multitask.train_multitask`).

    Each of ``epochs`` epochs steps ``context.optimizer`` (then ``scheduler``) once per batch
    of ``batches()`` (``(inputs, targets, examples)``, drawn afresh each epoch) on
    ``criterion(model, inputs, targets) -> (output, loss)`` plus the callbacks' extra losses,
    under ``autocast()``. It records the mean loss per example of each epoch in
    ``context.loss_curve`` and ``validate()`` after it in ``context.val_curve``; a non-finite
    epoch loss ends training as diverged. Without callbacks, a step is exactly the plain
    forward, backward and step. Returns (diverged, what the callbacks recorded for
    ``TrainResult.extra``: empty without callbacks)."""
    optimizer, device = context.optimizer, next(model.parameters()).device
    for cb in callbacks:
        cb.on_train_start(model, context)
    names = _unique_names(callbacks)
    extra_curve: list[float] = []  # mean extra loss per epoch
    extra_seen = False  # whether any callback ever returned an extra loss
    epoch_logs: list[dict[str, Any]] = []
    diverged, step = False, 0
    for epoch in range(epochs):
        context.epoch = epoch
        model.train()
        total = torch.zeros((), device=device)
        extra_total = torch.zeros((), device=device)
        n = 0
        for x, y, size in batches():
            with autocast():
                output, loss = criterion(model, x, y)
                batch = BatchContext(x, y, output, loss, epoch, step)
                extras = _extra_losses(callbacks, model, batch)
                objective = loss
                if extras:
                    extra = extras[0] if len(extras) == 1 else torch.stack(extras).sum()
                    objective = loss + extra
                    extra_total += extra.detach() * size
                    extra_seen = True
            optimizer.zero_grad(set_to_none=True)
            objective.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            with torch.no_grad():
                for cb in callbacks:
                    cb.after_step(model, step)
            step += 1
            total += loss.detach().float() * size
            n += size
        context.loss_curve.append(float(total) / n)
        extra_curve.append(float(extra_total) / n)
        if not (math.isfinite(context.loss_curve[-1]) and math.isfinite(extra_curve[-1])):
            diverged = True
            break
        if validate is not None:
            context.val_curve.append(validate())
        logs = {}
        for cb, name in zip(callbacks, names, strict=True):
            record = cb.on_epoch_end(model, epoch, context)
            if record is not None:
                logs[name] = record
        if logs:
            epoch_logs.append({"epoch": epoch, **logs})
        if context.stop_reason is not None:
            break

    extra_out: dict[str, Any] = {}
    if callbacks:
        extra_out["callbacks"] = callback_configs(callbacks)
        if extra_seen:
            extra_out["extra_loss_curve"] = extra_curve
        if epoch_logs:
            extra_out["epoch_logs"] = epoch_logs
        if context.stop_reason is not None:
            epochs_run = len(context.loss_curve)
            extra_out["early_stop"] = {"epochs": epochs_run, "reason": context.stop_reason}
        for cb in callbacks:
            cb.on_train_end(model, extra_out)
        try:
            json.dumps(extra_out)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"a callback left a value in TrainResult.extra that is not JSON-able: {exc}"
            ) from None
    return diverged, extra_out


def _extra_losses(
    callbacks: Sequence[TrainCallback], model: nn.Module, batch: BatchContext
) -> list[torch.Tensor]:
    """The callbacks' extra losses on ``batch``, as float scalars (None adds nothing)."""
    extras = []
    for cb in callbacks:
        e = cb.extra_loss(model, batch)
        if e is not None:
            if not isinstance(e, torch.Tensor) or e.numel() != 1:
                raise ValueError(
                    f"{callback_name(cb)}.extra_loss must return a scalar tensor "
                    f"or None, got {type(e).__name__} {getattr(e, 'shape', '')}"
                )
            extras.append(e.float().reshape(()))
    return extras


def _unique_names(callbacks: Sequence[TrainCallback]) -> list[str]:
    """Class names for epoch logs; a repeated class gets ``#2``, ``#3``, ..."""
    names, seen = [], {}
    for cb in callbacks:
        name = type(cb).__name__
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return names
