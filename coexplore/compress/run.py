"""A compression run: dense training, then pruning and retraining, then quantisation.

Methods (ADMM-NN, Ren et al., ASPLOS 2019, and its baselines):

- ``admm``: ADMM pruning from the dense weights (``prune`` epochs), hard projection, masked
  retraining (``retrain`` epochs); with quantisation, ADMM quantisation of the kept weights
  with the mask held (``quant`` epochs) and a final hard projection;
- ``magnitude``: one-shot magnitude pruning of the dense weights (Han et al., "Learning both
  Weights and Connections", NIPS 2015), masked retraining for ``prune + retrain`` epochs (the
  same training ADMM gets); with quantisation, post-training quantisation at the same bits;
- ``iterative``: Han et al.'s iterative pruning: ``rounds`` rounds, each pruning to the next
  of the kept fractions keep^(t/rounds) by magnitude and retraining, the same epochs in all.

Every stage's weights and result are written to ``run_dir`` under a name that hashes
everything the stage depends on, atomically; a rerun loads the finished stages instead of
training them again, so an interrupted run resumes and different methods or ratios on the same
model share the dense stage.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch

from coexplore.compress.admm import (
    ADMM,
    InitialWeights,
    Masked,
    Prune,
    Quantize,
    SparseDropout,
)
from coexplore.compress.models import resolve_model, weight_layers
from coexplore.compress.plan import LayerPlan, Plan
from coexplore.compress.projections import fit_step, kept_count, prune_mask, quantize
from coexplore.config import ConfigError
from coexplore.data import DataConfig, Dataset, load_dataset
from coexplore.slow.cache import hash_config
from coexplore.slow.trainer import (
    TrainCallback,
    TrainConfig,
    TrainResult,
    accuracy,
    autocast_for,
    resolve_device,
    resolve_precision,
    train,
)
from coexplore.spaces.base import Architecture
from coexplore.workloads.layer import Layer

METHODS = ("admm", "magnitude", "iterative")


def default_dense() -> TrainConfig:
    return TrainConfig(epochs=20, lr=0.05, weight_decay=5e-4)


def default_prune() -> TrainConfig:
    return TrainConfig(epochs=20, lr=0.01, weight_decay=0.0, schedule="constant")


def default_retrain() -> TrainConfig:
    return TrainConfig(epochs=20, lr=0.01, weight_decay=0.0)


def default_quant() -> TrainConfig:
    return TrainConfig(epochs=10, lr=0.005, weight_decay=0.0, schedule="constant")


@dataclass(frozen=True)
class CompressConfig:
    """Everything a compression run does; ``plan`` is per weight layer (kept fraction, bits)."""

    model: str
    data: DataConfig
    plan: Plan
    method: str = "admm"
    quantize: bool = False
    structure: str = "element"
    seed: int = 0
    dense: TrainConfig = field(default_factory=default_dense)
    prune: TrainConfig = field(default_factory=default_prune)
    retrain: TrainConfig = field(default_factory=default_retrain)
    quant: TrainConfig = field(default_factory=default_quant)
    rho: float = 0.1
    rho_growth: float = 1.0
    admm_every: int = 1
    rounds: int = 4  # iterative pruning
    sparse_dropout: bool = False  # Han et al.'s dropout rate for the pruned stages

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError("compress", "method", f"one of {', '.join(METHODS)}", self.method)
        if self.quantize:
            missing = [n for n, p in self.plan.items() if p.bits is None]
            if missing:
                raise ConfigError(
                    "compress",
                    f"bits of {missing[0]}",
                    "an integer >= 1 for every layer when quantising",
                )
        if int(self.rounds) != self.rounds or self.rounds < 1:
            raise ConfigError("compress", "rounds", "an integer >= 1", self.rounds)

    def stage_hash(self, stage: str) -> str:
        """A hash of what the weights after ``stage`` depend on (device and threads aside)."""

        def tc(c: TrainConfig) -> dict[str, Any]:
            return {k: v for k, v in asdict(c).items() if k not in ("device", "threads")}

        base = {
            "model": self.model,
            "data": self.data.key(),
            "seed": self.seed,
            "dense": tc(self.dense),
        }
        if stage == "dense":
            return hash_config(base)[:16]
        base |= {
            "method": self.method,
            "structure": self.structure,
            "sparse_dropout": self.sparse_dropout,
            "keep": {n: p.keep for n, p in sorted(self.plan.items())},
            "prune": tc(self.prune),
            "retrain": tc(self.retrain),
        }
        if self.method == "admm":
            base |= {"rho": self.rho, "rho_growth": self.rho_growth, "every": self.admm_every}
        if self.method == "iterative":
            base |= {"rounds": self.rounds}
        if stage != "quant":
            return hash_config(base | {"stage": stage})[:16]
        base |= {"bits": {n: p.bits for n, p in sorted(self.plan.items())}}
        if self.method == "admm":
            base |= {"quant": tc(self.quant)}
        return hash_config(base | {"stage": stage})[:16]


@dataclass
class StageResult:
    """One stage's outcome: the accuracies after it and its training results."""

    stage: str
    val_acc: float
    test_acc: float
    wall_s: float
    diverged: bool
    train: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CompressResult:
    """The weights after the last stage and after the dense one, and each stage's result."""

    config: CompressConfig
    arch: Architecture
    dataset: Dataset
    state_dict: dict[str, torch.Tensor]
    dense_state_dict: dict[str, torch.Tensor]
    stages: list[StageResult]
    loaded: list[str]  # stages read back from run_dir rather than trained

    @property
    def dense(self) -> StageResult:
        return self.stages[0]

    @property
    def final(self) -> StageResult:
        return self.stages[-1]


class Stages:
    """Runs or reloads stages in ``run_dir`` (None: nothing kept)."""

    def __init__(self, run_dir: str | os.PathLike | None, log: Callable[[str], None]) -> None:
        self.dir = Path(run_dir) if run_dir is not None else None
        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)
        self.log = log
        self.loaded: list[str] = []

    def run(self, name: str, key: str, fn: Callable[[], tuple[dict, StageResult]]):
        path = self.dir / f"{name}-{key}.pt" if self.dir is not None else None
        if path is not None and path.is_file():
            saved = torch.load(path, map_location="cpu", weights_only=True)
            self.loaded.append(name)
            self.log(f"{name}: loaded {path.name}")
            return saved["state_dict"], StageResult(**json.loads(saved["result"]))
        start = time.perf_counter()
        state, result = fn()
        self.log(f"{name}: test acc {result.test_acc:.4f} ({time.perf_counter() - start:.0f} s)")
        if path is not None:
            tmp = path.with_suffix(".tmp")
            payload = {"state_dict": state, "result": json.dumps(result.to_dict())}
            torch.save(payload, tmp)
            os.replace(tmp, path)
        return state, result


def _cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}


class EpochTick(TrainCallback):
    """Advances a progress bar by one after every epoch (changes nothing that is trained)."""

    def __init__(self, bar: Any, stage: str) -> None:
        self.bar, self.stage = bar, stage

    def on_train_start(self, model: torch.nn.Module, context: Any) -> None:
        self.bar.set_description(self.stage)

    def on_epoch_end(self, model: torch.nn.Module, epoch: int, context: Any) -> None:
        self.bar.update(1)


def _train_stage(
    name: str,
    arch: Architecture,
    ds: Dataset,
    cfg: TrainConfig,
    seed: int,
    callbacks: list[TrainCallback],
    bar: Any = None,
) -> tuple[dict[str, torch.Tensor], StageResult]:
    if bar is not None:
        callbacks = [*callbacks, EpochTick(bar, name)]
    result, model = train(arch, ds, cfg, seed=seed, callbacks=callbacks, return_model=True)
    stage = StageResult(
        name,
        result.val_acc,
        result.test_acc,
        result.wall_s,
        result.diverged,
        [_train_summary(result)],
    )
    return _cpu_state(model), stage


def _train_summary(r: TrainResult) -> dict[str, Any]:
    d = r.to_dict()
    d["extra"] = {k: v for k, v in r.extra.items() if k != "callbacks"}
    return d


def evaluate_state(
    arch: Architecture, ds: Dataset, state: dict[str, torch.Tensor], cfg: TrainConfig
) -> tuple[float, float]:
    """(val, test) accuracy of ``arch`` with weights ``state`` (no training)."""
    device = resolve_device(cfg)
    precision = resolve_precision(cfg, device)
    model = arch.module(ds.input_shape, ds.num_classes)
    model.load_state_dict(state)
    model = model.to(device=device, memory_format=torch.channels_last)

    def autocast():
        return autocast_for(precision, device)

    def to(x: torch.Tensor) -> torch.Tensor:
        return x.to(device=device, memory_format=torch.channels_last) if x.ndim == 4 else x

    val = accuracy(model, to(ds.x_val), ds.y_val.to(device), 1024, autocast)
    test = accuracy(model, to(ds.x_test), ds.y_test.to(device), 1024, autocast)
    return val, test


def weight_names(arch: Architecture, ds: Dataset) -> dict[str, str]:
    """Layer name → the state-dict key of its weight."""
    model = arch.module(ds.input_shape, ds.num_classes)
    ids = {id(p): k for k, p in model.named_parameters()}
    return {
        w.name: ids[id(w.weight)]
        for w in weight_layers(arch, model, ds.input_shape, ds.num_classes)
    }


def masks_of(state: dict[str, torch.Tensor], names: dict[str, str]) -> dict[str, torch.Tensor]:
    return {layer: state[key] != 0 for layer, key in names.items()}


def pruning_units(layer: Layer, structure: str) -> int:
    """How many units pruning keeps or drops in ``layer``: weights, filters or input channels."""
    if structure == "element":
        return layer.weights
    return layer.out_channels if structure == "filter" else layer.in_channels // layer.groups


def check_plan(config: CompressConfig, arch: Architecture, ds: Dataset) -> None:
    """Every layer's kept fraction must leave at least one weight (or row, structured)."""
    for ly in arch.network(ds.input_shape, ds.num_classes).layers:
        if ly.name not in config.plan:
            continue
        keep = config.plan[ly.name].keep
        units = pruning_units(ly, config.structure)
        try:
            kept_count(units, keep)
        except ValueError:
            what = {"element": "weights", "filter": "filters", "channel": "input channels"}
            raise ConfigError(
                "compress plan",
                ly.name,
                f"a kept fraction that leaves at least one of its {units} "
                f"{what[config.structure]} (>= {0.5 / units:.3g})",
                keep,
            ) from None


def compress(
    config: CompressConfig,
    run_dir: str | os.PathLike | None = None,
    dataset: Dataset | None = None,
    log: Callable[[str], None] = lambda _msg: None,
    progress: bool = False,
) -> CompressResult:
    """Run (or resume from ``run_dir``) the compression ``config`` describes; ``progress``
    shows a bar over the epochs of every stage (on stderr)."""
    arch = resolve_model(config.model)
    ds = dataset if dataset is not None else load_dataset(config.data)
    names = weight_names(arch, ds)
    missing = [n for n in names if n not in config.plan]
    unknown = [n for n in config.plan if n not in names]
    if missing or unknown:
        bad = (unknown or missing)[0]
        raise ConfigError("compress plan", bad, f"a plan for exactly the layers {list(names)}")
    check_plan(config, arch, ds)
    stages = Stages(run_dir, log)
    seed = config.seed
    plan = config.plan
    bar = _bar(config) if progress else None
    stage = partial(_train_stage, bar=bar)

    def dense():
        return stage("dense", arch, ds, config.dense, seed, [])

    dense_state, dense_result = stages.run("dense", config.stage_hash("dense"), dense)
    results = [dense_result]

    def prune():
        if config.method == "admm":
            return _admm_prune(stage, arch, ds, config, dense_state, names)
        if config.method == "magnitude":
            return _magnitude(stage, arch, ds, config, dense_state, names, rounds=1)
        return _magnitude(stage, arch, ds, config, dense_state, names, rounds=config.rounds)

    state, result = stages.run("prune", config.stage_hash("prune"), prune)
    results.append(result)

    if config.quantize and not result.diverged:  # a diverged network is reported as such

        def quant():
            if config.method == "admm":
                return _admm_quant(stage, arch, ds, config, state, names)
            return _post_training_quant(arch, ds, config, state, names, plan)

        state, result = stages.run("quant", config.stage_hash("quant"), quant)
        results.append(result)
    if bar is not None:
        bar.close()
    return CompressResult(config, arch, ds, state, dense_state, results, stages.loaded)


def _admm_prune(stage, arch, ds, config: CompressConfig, dense_state, names):
    constraints = {n: Prune(p.keep, config.structure) for n, p in config.plan.items() if p.keep < 1}
    admm = ADMM(constraints, rho=config.rho, rho_growth=config.rho_growth, every=config.admm_every)
    state, first = stage(
        "admm", arch, ds, config.prune, config.seed, [InitialWeights(dense_state), admm]
    )
    masks = masks_of(state, names)
    state, second = stage(
        "retrain", arch, ds, config.retrain, config.seed, [*_start(state, config), Masked(masks)]
    )
    return state, _merge("prune", [first, second], second)


def _magnitude(stage, arch, ds, config: CompressConfig, dense_state, names, rounds: int):
    """One-shot (rounds=1) or iterative magnitude pruning with masked retraining; the epochs
    of ADMM's two phases, spread over the rounds."""
    total = config.prune.epochs + config.retrain.epochs
    state, parts = dense_state, []
    for t in range(1, rounds + 1):
        masks = {}
        for layer, key in names.items():
            keep = config.plan[layer].keep ** (t / rounds)
            if config.plan[layer].keep < 1:
                masks[layer] = prune_mask(state[key], keep, config.structure)
        state = {k: v.clone() for k, v in state.items()}
        for layer, mask in masks.items():
            state[names[layer]] = state[names[layer]] * mask
        epochs = total // rounds + (1 if t <= total % rounds else 0)
        cfg = replace(config.retrain, epochs=max(1, epochs))
        state, part = stage(
            f"retrain{t}", arch, ds, cfg, config.seed, [*_start(state, config), Masked(masks)]
        )
        parts.append(part)
    return state, _merge("prune", parts, parts[-1])


def _admm_quant(stage, arch, ds, config: CompressConfig, state, names):
    masks = masks_of(state, names)
    constraints = {n: Quantize(p.bits) for n, p in config.plan.items()}
    admm = ADMM(constraints, rho=config.rho, rho_growth=config.rho_growth, every=config.admm_every)
    return stage(
        "quant", arch, ds, config.quant, config.seed, [*_start(state, config), Masked(masks), admm]
    )


def _bar(config: CompressConfig):
    """A progress bar over every epoch the run may train (finished stages load at once)."""
    from tqdm.auto import tqdm

    total = config.dense.epochs + config.prune.epochs + config.retrain.epochs
    if config.quantize and config.method == "admm":
        total += config.quant.epochs
    return tqdm(total=total, unit="epoch", leave=False)


def _start(state, config: CompressConfig) -> list[TrainCallback]:
    """Callbacks that start a stage after pruning: its weights, and Han et al.'s dropout
    for the pruned layers (unless ``sparse_dropout`` is off)."""
    out: list[TrainCallback] = [InitialWeights(state)]
    if config.sparse_dropout:
        out.append(SparseDropout({n: p.keep for n, p in config.plan.items()}))
    return out


def _post_training_quant(arch, ds, config, state, names, plan: dict[str, LayerPlan]):
    start = time.perf_counter()
    state = {k: v.clone() for k, v in state.items()}
    for layer, key in names.items():
        w = state[key]
        bits = plan[layer].bits
        state[key] = quantize(w, fit_step(w[w != 0], bits), bits).to(w.dtype)
    val, test = evaluate_state(arch, ds, state, config.quant)
    return state, StageResult("quant", val, test, time.perf_counter() - start, False, [])


def _merge(name: str, parts: list[StageResult], last: StageResult) -> StageResult:
    return StageResult(
        name,
        last.val_acc,
        last.test_acc,
        sum(p.wall_s for p in parts),
        any(p.diverged for p in parts),
        [t for p in parts for t in p.train],
    )
