"""One compression as the CLI and the launch scripts ask for it: options in, a JSON report out.

:class:`CompressRequest` holds what a user chooses (model, data, method, ratio or per-layer
file, bits, epochs, the FPGA engine); :func:`run_request` turns it into a plan and a
:class:`~coexplore.compress.run.CompressConfig`, runs or resumes it, and reports accuracy,
weights, storage, MACs and FPGA costs (:func:`coexplore.compress.report.summarize`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from coexplore.compress.models import WEIGHT_KINDS, resolve_model
from coexplore.compress.plan import (
    Plan,
    ops_schedule,
    plan_to_dict,
    read_bits,
    read_plan_file,
    size_schedule,
    with_bits,
)
from coexplore.compress.report import dense_engine, summarize
from coexplore.compress.run import (
    CompressConfig,
    compress,
    default_dense,
    default_prune,
    default_quant,
    default_retrain,
    masks_of,
    weight_names,
)
from coexplore.config import ConfigError
from coexplore.data import DataConfig, dataset_shape, load_dataset
from coexplore.platforms.fpga_pipeline.precision import PRECISIONS
from coexplore.platforms.fpga_pipeline.sparse import (
    Compression,
    SparseEngineModel,
    break_even_ratio,
)
from coexplore.slow.trainer import TrainConfig
from coexplore.workloads.layer import Network

DEFAULT_BITS = 4
SOURCE = "coexplore compress"


@dataclass(frozen=True)
class CompressRequest:
    model: str = "lenet5"
    dataset: str = "mnist5k"
    data_root: str | None = None
    train_subset: int | None = None
    method: str = "admm"
    prune_ratio: float | None = None
    per_layer: str | None = None
    schedule: str = "size"
    structure: str = "element"
    quantize: bool = False
    bits: str | int | None = None
    seed: int = 0
    epochs: tuple[int, int, int, int] = (20, 20, 20, 10)  # dense, prune, retrain, quant
    rho: float = 0.1
    rho_growth: float = 1.0
    part: str = "XC7Z020"
    precision: str = "fixed16"
    index_bits: int = 4
    overhead: float = 1.22
    threads: int | None = None

    def default_dir(self) -> str:
        safe = self.model.replace(":", "_").replace("|", "_").replace("/", "_")
        return f"{safe}-{self.dataset}-s{self.seed}"

    def engine(self) -> SparseEngineModel:
        return SparseEngineModel(index_bits=self.index_bits, overhead=self.overhead)


def _epochs(request: CompressRequest) -> tuple[TrainConfig, ...]:
    names = ("--dense-epochs", "--prune-epochs", "--retrain-epochs", "--quant-epochs")
    for name, e in zip(names, request.epochs, strict=True):
        if isinstance(e, bool) or int(e) != e or e < 1:
            raise ConfigError(SOURCE, name, "an integer >= 1", e)
    stages = (default_dense(), default_prune(), default_retrain(), default_quant())
    return tuple(
        replace(c, epochs=int(e), threads=request.threads)
        for c, e in zip(stages, request.epochs, strict=True)
    )


def dense_break_even(
    network: Network, precision: str, part: str, engine: SparseEngineModel, bits=None
) -> dict[str, float]:
    """Each weight layer's break-even pruning ratio on the dense network's fastest engine on
    ``part`` (``bits``: value bits per layer, default the precision's)."""
    design = dense_engine(network, part, precision)
    prec = PRECISIONS.get(precision)
    _, wbits = Compression({}, bits or {}).arrays(network.layers, prec)
    be = break_even_ratio(network, design, prec, weight_bits=wbits, model=engine)
    return {
        ly.name: float(r)
        for ly, r in zip(network.layers, be, strict=True)
        if ly.kind in WEIGHT_KINDS
    }


def build_plan(request: CompressRequest, network: Network) -> Plan:
    layers = [ly for ly in network.layers if ly.kind in WEIGHT_KINDS]
    if request.per_layer is not None:
        plan = read_plan_file(request.per_layer, layers)
    else:
        r = request.prune_ratio
        if r is None or isinstance(r, bool) or not math.isfinite(r) or r <= 1:
            raise ConfigError(SOURCE, "--prune-ratio", "a number > 1 (dense / kept)", r)
        if request.schedule == "ops":
            bits = read_bits(request.bits, layers) if request.quantize and request.bits else None
            be = dense_break_even(network, request.precision, request.part, request.engine(), bits)
            plan = ops_schedule(layers, r, be)
        else:
            plan = size_schedule(layers, r, uniform=request.schedule == "uniform")
    if request.quantize:
        if request.bits is not None:
            plan = with_bits(plan, read_bits(request.bits, layers))
        else:
            plan = with_bits(plan, {n: p.bits or DEFAULT_BITS for n, p in plan.items()})
    elif request.bits is not None:
        raise ConfigError(SOURCE, "--bits", "given only with --quantize", request.bits)
    return plan


def config_of(request: CompressRequest) -> tuple[CompressConfig, Network]:
    data = DataConfig(
        request.dataset,
        data_root=request.data_root,
        seed=request.seed,
        train_subset=request.train_subset,
    )
    arch = resolve_model(request.model)
    shape, classes = dataset_shape(data)
    network = arch.network(shape, classes)
    plan = build_plan(request, network)
    dense, prune, retrain, quant = _epochs(request)
    config = CompressConfig(
        model=request.model,
        data=data,
        plan=plan,
        method=request.method,
        quantize=request.quantize,
        structure=request.structure,
        seed=request.seed,
        dense=dense,
        prune=prune,
        retrain=retrain,
        quant=quant,
        rho=request.rho,
        rho_growth=request.rho_growth,
    )
    return config, network


def run_request(
    request: CompressRequest,
    run_dir: str | None,
    log: Callable[[str], None] = print,
    progress: bool = False,
) -> dict[str, Any]:
    """Run (or resume) ``request`` in ``run_dir`` and return its report."""
    config, network = config_of(request)
    dataset = load_dataset(config.data)
    result = compress(config, run_dir, dataset=dataset, log=log, progress=progress)
    names = weight_names(result.arch, dataset)
    masks = masks_of(result.state_dict, names)
    bits = {n: p.bits if config.quantize else None for n, p in config.plan.items()}
    summary = summarize(network, masks, bits, request.part, request.precision, request.engine())
    stages = [s.to_dict() for s in result.stages]
    return {
        "model": request.model,
        "dataset": request.dataset,
        "method": request.method,
        "quantize": request.quantize,
        "structure": request.structure,
        "seed": request.seed,
        "run_dir": run_dir,
        "dense_acc": result.dense.test_acc,
        "dense_val_acc": result.dense.val_acc,
        "acc": result.final.test_acc,
        "val_acc": result.final.val_acc,
        "diverged": any(s.diverged for s in result.stages),
        **summary,
        "plan": plan_to_dict(config.plan),
        "train_wall_s": sum(s.wall_s for s in result.stages),
        "compress_wall_s": sum(s.wall_s for s in result.stages[1:]),
        # per stage its accuracies and, for ADMM, ρ and each layer's ‖W − Z‖/‖W‖ per epoch
        "stages": [
            {
                **{k: v for k, v in s.items() if k != "train"},
                "epoch_logs": [log for t in s["train"] for log in t["extra"].get("epoch_logs", [])],
            }
            for s in stages
        ],
        "loaded": result.loaded,
        "request": asdict(request),
    }
