"""Compressed candidates in the co-exploration search: a scenario's ``compression:`` section
and the ``compress`` accuracy oracle.

With ``compression:`` every candidate network is compressed before it is rewarded, the way
ADMM-NN (Ren et al., ASPLOS 2019) means its hardware-aware compression to be used: the fast
phase prices the candidate's *planned* compression (per-layer kept fractions from the ratio and
the schedule, which depend on the network alone, and the weight bits) on the FPGA model's
sparse engine, and the ``compress`` oracle trains the survivors dense, compresses them
(:func:`coexplore.compress.run.compress`) and reports the compressed network's accuracy. The
fast phase and the oracle plan through the same :meth:`CompressionSpec.plan`, so the network
that is priced is the network that is trained.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from coexplore.compress.models import WEIGHT_KINDS
from coexplore.compress.plan import LayerPlan, Plan, size_schedule
from coexplore.compress.projections import STRUCTURES, kept_count
from coexplore.compress.run import (
    METHODS,
    CompressConfig,
    compress,
    default_prune,
    default_quant,
    default_retrain,
    masks_of,
    pruning_units,
    weight_names,
)
from coexplore.config import ConfigError
from coexplore.core.candidate import COMPRESSION, Candidate
from coexplore.core.oracle import Evaluation, OracleSettings
from coexplore.data import DataConfig, Dataset, load_dataset
from coexplore.platforms.fpga_pipeline.sparse import Compression, SparseEngineModel
from coexplore.slow.cache import CacheKey, ResultCache, hash_config
from coexplore.slow.oracles import CachedOracle
from coexplore.slow.trainer import TrainConfig, torch_threads
from coexplore.workloads.layer import Network

SEARCH_SCHEDULES = ("size", "uniform")
SECTION = "compression"


@dataclass(frozen=True)
class CompressionSpec:
    """``compression:``: how every candidate is compressed.

    ``ratio``: dense / kept weights of the whole network, spread over the layers by
    ``schedule`` (``size``: kept weights ∝ √weights per layer; ``uniform``); every layer keeps
    at least one unit (weight, filter or channel, by ``structure``), so no candidate is
    emptied. ``bits``: quantise the kept weights to this many bits (null: no quantisation).
    ``method``, epochs and ``rho`` as in ``coexplore compress``; the dense stage trains as
    ``slow_phase.train`` says. ``index_bits`` and ``overhead``: the FPGA sparse engine.
    """

    method: str = "admm"
    ratio: float = 10.0
    schedule: str = "size"
    structure: str = "element"
    bits: int | None = None
    prune_epochs: int = 5
    retrain_epochs: int = 5
    quant_epochs: int = 3
    rho: float = 0.1
    index_bits: int = SparseEngineModel.index_bits
    overhead: float = SparseEngineModel.overhead

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(SECTION, "method", f"one of {list(METHODS)}", self.method)
        r = self.ratio
        if isinstance(r, bool) or not isinstance(r, int | float) or not math.isfinite(r) or r <= 1:
            raise ConfigError(SECTION, "ratio", "a number > 1 (dense / kept weights)", r)
        if self.schedule not in SEARCH_SCHEDULES:
            raise ConfigError(
                SECTION,
                "schedule",
                f"one of {list(SEARCH_SCHEDULES)} (ops depends on the hardware; use "
                "coexplore compress --schedule ops for one network)",
                self.schedule,
            )
        if self.structure not in STRUCTURES:
            raise ConfigError(SECTION, "structure", f"one of {list(STRUCTURES)}", self.structure)
        if self.bits is not None and (isinstance(self.bits, bool) or self.bits < 1):
            raise ConfigError(SECTION, "bits", "null or an integer >= 1", self.bits)
        for name in ("prune_epochs", "retrain_epochs", "quant_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(SECTION, name, "an integer >= 1", value)
        if isinstance(self.rho, bool) or not self.rho > 0:
            raise ConfigError(SECTION, "rho", "a number > 0", self.rho)
        self.engine()  # checks index_bits and overhead

    def engine(self) -> SparseEngineModel:
        return SparseEngineModel(index_bits=self.index_bits, overhead=self.overhead)

    def plan(self, network: Network) -> Plan:
        """Kept fraction (at least one unit) and bits of every weight layer of ``network``."""
        layers = [ly for ly in network.layers if ly.kind in WEIGHT_KINDS]
        planned = size_schedule(layers, self.ratio, uniform=self.schedule == "uniform")
        plan = {}
        for ly in layers:
            floor = 1 / pruning_units(ly, self.structure)
            plan[ly.name] = LayerPlan(min(1.0, max(planned[ly.name].keep, floor)), self.bits)
        return plan

    def compression(self, network: Network) -> Compression:
        """The planned compression as the FPGA model prices it: each layer's kept share of its
        weights (exact counts, as the projection keeps them) and bits."""
        plan = self.plan(network)
        density = {}
        for ly in network.layers:
            if ly.name in plan:
                units = pruning_units(ly, self.structure)
                density[ly.name] = kept_count(units, plan[ly.name].keep, ly.name) / units
        bits = {} if self.bits is None else dict.fromkeys(density, self.bits)
        weights = {ly.name: ly.weights for ly in network.layers if ly.name in density}
        return Compression(density, bits, self.engine(), weights)

    def stages(self, dense: TrainConfig) -> dict[str, TrainConfig]:
        """The training of each stage: the dense stage is ``dense``; the others compress's
        defaults with this section's epochs, on ``dense``'s batch size, device and threads."""
        shared = {"batch_size": dense.batch_size, "device": dense.device, "threads": dense.threads}
        return {
            "dense": dense,
            "prune": replace(default_prune(), epochs=self.prune_epochs, **shared),
            "retrain": replace(default_retrain(), epochs=self.retrain_epochs, **shared),
            "quant": replace(default_quant(), epochs=self.quant_epochs, **shared),
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CompressOracle(CachedOracle):
    """Train a candidate dense, compress it as ``spec`` says, and report the compressed
    network's accuracy.

    Results go through the :class:`ResultCache` like the ``train`` oracle's, keyed by
    (architecture, data, the dense training and ``spec``, seed); each compression's stages are
    kept in ``<cache>.compress/<key>/``, so an interrupted compression resumes from its last
    finished stage. ``details`` carries the dense accuracy, the kept weights and each layer's
    density and bits as trained, and every stage's accuracy and time.
    """

    name = "compress"
    capabilities = frozenset({COMPRESSION})
    wall_key = "train_wall_s"

    def __init__(
        self,
        data: DataConfig | str,
        space: str,
        spec: CompressionSpec,
        dense: TrainConfig | None = None,
        cache: ResultCache | str | Path | None = None,
    ) -> None:
        self.data = data if isinstance(data, DataConfig) else DataConfig(data)
        self.space = space
        self.spec = spec
        self.train_configs = spec.stages(dense or TrainConfig())
        self.cache = ResultCache(cache) if isinstance(cache, str | Path) else cache

    @classmethod
    def build(cls, settings: OracleSettings) -> CompressOracle:
        if settings.compression is None:
            raise ConfigError(settings.source, SECTION, "present for the compress oracle")
        s = settings
        return cls(s.data, s.space, s.compression, s.train, s.cache)

    @cached_property
    def dataset(self) -> Dataset:
        return load_dataset(self.data)

    def config_hash(self) -> str:
        trains = {k: c.hash() for k, c in self.train_configs.items()}
        return hash_config({"compression": self.spec.to_dict(), "train": trains})[:16]

    def key(self, candidate: Candidate) -> CacheKey:
        arch = candidate.arch.canonical
        return CacheKey(arch, self.data.name, self.data.key(), self.config_hash(), candidate.seed)

    def config(self, candidate: Candidate) -> CompressConfig:
        ds, arch = self.dataset, candidate.arch
        network = candidate.network or arch.network(ds.input_shape, ds.num_classes)
        stages = self.train_configs
        return CompressConfig(
            model=f"{self.space}:{arch.canonical}",
            data=self.data,
            plan=self.spec.plan(network),
            method=self.spec.method,
            quantize=self.spec.bits is not None,
            structure=self.spec.structure,
            seed=candidate.seed,
            dense=stages["dense"],
            prune=stages["prune"],
            retrain=stages["retrain"],
            quant=stages["quant"],
            rho=self.spec.rho,
        )

    def answer(
        self, candidate: Candidate, stored: dict[str, Any], hit: bool, wall_s: float
    ) -> Evaluation:
        return Evaluation(
            arch=candidate.arch.canonical,
            seed=candidate.seed,
            val_acc=stored["val_acc"],
            test_acc=stored["test_acc"],
            diverged=stored["diverged"],
            cache_hit=hit,
            wall_s=wall_s,
            details=stored,
        )

    def train(self, candidate: Candidate, key: CacheKey) -> dict[str, Any]:
        run_dir = None
        if self.cache is not None:
            run_dir = self.cache.path.with_name(self.cache.path.name + ".compress") / key.id
        # each stage trains at its own threads (the dense one's); the accuracies of the
        # compressed network are measured outside training, so at the same count here
        with torch_threads(self.train_configs["dense"].threads):
            result = compress(self.config(candidate), run_dir, dataset=self.dataset)
        masks = masks_of(result.state_dict, weight_names(result.arch, self.dataset))
        kept = {name: int(m.sum()) for name, m in masks.items()}
        total = {name: int(m.numel()) for name, m in masks.items()}
        return {
            "val_acc": result.final.val_acc,
            "test_acc": result.final.test_acc,
            "diverged": any(s.diverged for s in result.stages),
            "dense_val_acc": result.dense.val_acc,
            "dense_test_acc": result.dense.test_acc,
            "weights_dense": sum(total.values()),
            "weights_kept": sum(kept.values()),
            "density": {n: kept[n] / total[n] for n in masks},
            "weight_bits": self.spec.bits,
            "stages": [
                {k: s.to_dict()[k] for k in ("stage", "val_acc", "test_acc", "wall_s", "diverged")}
                for s in result.stages
            ],
            "train_wall_s": sum(s.wall_s for s in result.stages),
            "resumed_stages": list(result.loaded),  # read back from an interrupted run
        }

    def __getstate__(self) -> dict[str, Any]:  # workers load the dataset themselves
        state = self.__dict__.copy()
        state.pop("dataset", None)
        return state
