"""The ``fpga-pipeline`` family: Jiang et al.'s pipeline of FPGAs behind the platform interface.

Hardware tokens: one per pipeline slot (slot 0: a part of the pool; later slots: a part, or the
last choice, "no further FPGA"). The fast phase tunes the engines and the partition and tries
other pipelines of the pool (:mod:`~coexplore.platforms.fpga_pipeline.fast_phase`); its sound
bound is the throughput of every layer on its best part. The model: docs/fpga-model.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from coexplore.config import ConfigError
from coexplore.core.candidate import COMPRESSION, Candidate
from coexplore.core.platform import FastResult, HardwareSpace, Platform
from coexplore.core.specs import SpecFailure, Specs
from coexplore.platforms.base import PLATFORMS
from coexplore.platforms.fpga_pipeline.fast_phase import (
    FastPhaseResult,
    bound_failures,
    metrics_from_pipeline,
    reference_design,
    run_fast_phase,
    run_fixed_hardware,
)
from coexplore.platforms.fpga_pipeline.parts import PARTS
from coexplore.platforms.fpga_pipeline.precision import PRECISIONS
from coexplore.platforms.fpga_pipeline.sparse import Compression
from coexplore.platforms.fpga_pipeline.tuning.pipeline import (
    DEFAULT_BUDGET,
    StageTuner,
    TuneResult,
)
from coexplore.platforms.fpga_pipeline.tuning.tuners import TUNERS
from coexplore.workloads.layer import Network

__all__ = ["FPGAFastConfig", "FPGAPipeline", "FPGAPool", "metrics_from_pipeline"]


@dataclass(frozen=True)
class FPGAPool:
    """The FPGAs a candidate's pipeline may use: one part per stage, at most ``max_fpgas``."""

    parts: tuple[str, ...]
    max_fpgas: int = 2
    precision: str = "fixed16"
    link_gbps: float | None = None

    def __post_init__(self) -> None:
        if not self.parts:
            raise ConfigError("hardware", "parts", "a non-empty list of part names")
        for name in self.parts:
            if name not in PARTS:
                raise ConfigError("hardware", "parts", f"known parts ({', '.join(PARTS)})", name)
        if self.max_fpgas < 1:
            raise ConfigError("hardware", "max_fpgas", "an integer >= 1", self.max_fpgas)
        if self.precision not in PRECISIONS:
            raise ConfigError("hardware", "precision", f"one of {list(PRECISIONS)}", self.precision)
        if self.link_gbps is not None and self.link_gbps <= 0:
            raise ConfigError("hardware", "link_gbps", "a positive number or null", self.link_gbps)


@dataclass(frozen=True)
class FPGAFastConfig:
    """Design tuning: the tuner, its budget, and the hardware designs tried per network."""

    tuner: str = "auto"
    budget: int = DEFAULT_BUDGET
    hw_attempts: int = 10

    def __post_init__(self) -> None:
        if self.tuner not in TUNERS:
            raise ConfigError("fast_phase", "tuner", f"one of {list(TUNERS)}", self.tuner)
        for name in ("budget", "hw_attempts"):
            if getattr(self, name) < 1:
                raise ConfigError("fast_phase", name, "an integer >= 1", getattr(self, name))


class PipelineSlots(HardwareSpace):
    """One token per pipeline slot; after "no further FPGA" only that choice remains."""

    def __init__(self, pool: FPGAPool) -> None:
        self.pool = list(pool.parts)
        self.max_fpgas = pool.max_fpgas

    def token_choices(self) -> list[int]:
        n = len(self.pool)
        return [n] + [n + 1] * (self.max_fpgas - 1)

    def allowed(self, prefix: list[int]) -> list[int]:
        slot = len(prefix)
        if slot > 0 and prefix[-1] == len(self.pool):
            return [len(self.pool)]
        return list(range(self.token_choices()[slot]))

    def decode(self, tokens: list[int]) -> list[str]:
        return [self.pool[v] for v in tokens if v < len(self.pool)]

    def token_names(self) -> list[str]:
        return [f"fpga{i}" for i in range(self.max_fpgas)]


@PLATFORMS.decorator("fpga-pipeline")
class FPGAPipeline(Platform):
    name = "fpga-pipeline"
    description = "a pipeline of FPGAs, one tiled engine each (Zhang et al. FPGA'15; Jiang et al.)"
    config_class = FPGAPool
    fast_config_class = FPGAFastConfig
    metrics = ("latency_s", "throughput_fps", "energy_j", "power_w", "edp_js", "devices")
    objectives = ("throughput_fps", "energy_j")
    capabilities = frozenset({COMPRESSION})  # the sparse engine (docs/fpga-model.md)

    def hardware_space(self) -> PipelineSlots:
        return PipelineSlots(self.config)

    def evaluate(self, candidate: Candidate, specs: Specs, rng: np.random.Generator) -> FastResult:
        network, c = candidate.network, candidate.compression
        return _fast_result(
            run_fast_phase(network, candidate.choice, self.config, self.fast, specs, rng, c), c
        )

    def bound(self, network: Network, specs: Specs) -> list[SpecFailure]:
        tuner = StageTuner(
            network, self.config.precision, tuner=self.fast.tuner, budget=self.fast.budget
        )
        return bound_failures(tuner, list(self.config.parts), specs)

    def reference(self, candidate: Candidate, specs: Specs) -> TuneResult:
        c = candidate.compression
        return reference_design(candidate.network, self.config, self.fast, specs, c)

    def evaluate_fixed(self, candidate: Candidate, design: TuneResult, specs: Specs) -> FastResult:
        c = candidate.compression
        return _fast_result(run_fixed_hardware(candidate.network, design, specs, c), c)

    @classmethod
    def describe(cls, choice: Any, hardware: dict[str, Any] | None, details: Any) -> str:
        parts = (details or {}).get("parts") or []
        return "+".join(parts) if parts else "–"

    @classmethod
    def design_lines(cls, hardware: dict[str, Any] | None) -> list[str]:
        lines = []
        for i, st in enumerate((hardware or {}).get("stages", [])):
            d = st["design"]
            tiling = ",".join(str(d[k]) for k in ("tm", "tn", "tr", "tc"))
            lines.append(
                f"  stage {i}: {st['part']}  layers {st['layers'][0]}-{st['layers'][-1]}  "
                f"<Tm,Tn,Tr,Tc> = <{tiling}>  ports Ib/Wb/Ob = {d['ib']}/{d['wb']}/{d['ob']}"
            )
        return lines

    @classmethod
    def design_markdown(cls, hardware: dict[str, Any] | None, details: Any) -> str:
        return stages_markdown(hardware, details)


DESIGN_KEYS = ("tm", "tn", "tr", "tc", "ib", "wb", "ob")


def _layers(layers: list[int]) -> str:
    if len(layers) > 1 and layers == list(range(layers[0], layers[-1] + 1)):
        return f"{layers[0]}–{layers[-1]}"
    return ", ".join(map(str, layers))


def stages_markdown(hardware: dict[str, Any] | None, details: Any) -> str:
    """The pipeline stages of a design: part, layers, tiling, buffers, cycles, utilisation."""
    from coexplore.core.markdown import md_table

    stages = (hardware or {}).get("stages", [])
    measured = ((details or {}).get("pipeline") or {}).get("stages", [{}] * len(stages))
    headers = ["stage", "part", "layers", *DESIGN_KEYS, "cycles", "DSP util", "BRAM util"]
    rows = [
        [
            i,
            s["part"],
            _layers(s["layers"]),
            *(s["design"].get(k) for k in DESIGN_KEYS),
            m.get("cycles"),
            m.get("dsp_util"),
            m.get("bram_util"),
        ]
        for i, (s, m) in enumerate(zip(stages, measured, strict=False))
    ]
    precision = (hardware or {}).get("precision")
    return (
        f"Precision {precision}; pipeline stages (tiling `tm, tn, tr, tc`; buffers `ib, wb, ob`):"
        f"\n\n{md_table(headers, rows)}"
    )


def _fast_result(fast: FastPhaseResult, compression: Compression | None = None) -> FastResult:
    start = time.perf_counter()
    pipeline = None if fast.metrics is None else fast.metrics.to_dict()
    details: dict[str, Any] = {"parts": fast.parts, "pipeline": pipeline}
    if compression is not None:  # the planned compression the metrics are of
        details["compression"] = compression.to_dict()
    return FastResult(
        hardware=None if fast.result is None else fast.result.hardware.to_dict(),
        metrics=None if pipeline is None else metrics_from_pipeline(pipeline),
        failed_specs=fast.failed_specs,
        attempts=fast.attempts,
        wall_s=fast.wall_s + time.perf_counter() - start,
        details=details,
    )
