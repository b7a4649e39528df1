"""A deliberately tiny platform family: a roofline "device" (Williams et al., CACM 2009).

Proof that a family is one module plus one registry entry: its hardware tokens are the peak
MAC rate and the memory bandwidth; a layer takes ``max(MACs / peak, bytes / bandwidth)``
seconds, layers run one after another. Energy = MACs · e_mac + bytes · e_byte; area grows
with the peak rate. It reports a metric of its own, ``dram_bytes`` (the bytes moved per input),
and has the ``compression`` capability: a candidate's planned compression (a scenario's
``compression:`` with the ``compress`` oracle) shrinks each layer's weight bytes to its kept
share at its bits, with no index overhead (an idealised sparse format).

A second family, ``roofline-dtype``, adds a hardware token for the number format its datapath
computes in (fp32 or bf16) and has the ``trained-hardware`` capability: a network runs as it
was trained, so its oracle, ``train-dtype``, trains each candidate in its device's format
(bf16: autocast), and a training is keyed by architecture and format.

Load the module with ``COEXPLORE_PLUGINS=roofline_family`` (this folder on the path) and
scenarios may say ``hardware: {family: roofline, ...}``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from coexplore.config import ConfigError
from coexplore.core.candidate import COMPRESSION, TRAINED_HARDWARE, Candidate
from coexplore.core.metrics import Metric, Metrics
from coexplore.core.oracle import OracleSettings
from coexplore.core.specs import SpecFailure, Specs
from coexplore.platforms import PLATFORMS, FastResult, HardwareSpace, Platform
from coexplore.slow.cache import CacheKey
from coexplore.slow.oracles import ORACLES, TrainOracle

DTYPE_BYTES = {"fp32": 4, "bf16": 2}


@dataclass(frozen=True)
class RooflineConfig:
    peak_macs: tuple[float, ...] = (1e9, 4e9, 16e9)  # MAC/s choices
    bandwidth_gbs: tuple[float, ...] = (1.0, 4.0)  # GB/s choices
    bytes_per_element: int = 1
    pj_per_mac: float = 1.0
    pj_per_byte: float = 20.0
    mm2_per_gmacs: float = 0.5

    def __post_init__(self) -> None:
        for name in ("peak_macs", "bandwidth_gbs"):
            values = getattr(self, name)
            if not values or min(values) <= 0:
                raise ConfigError("hardware", name, "a non-empty list of positive numbers", values)


class RooflineTokens(HardwareSpace):
    def __init__(self, config: RooflineConfig) -> None:
        self.config = config

    def token_choices(self) -> list[int]:
        return [len(self.config.peak_macs), len(self.config.bandwidth_gbs)]

    def decode(self, tokens: list[int]) -> dict[str, float]:
        peak, bandwidth = tokens
        return {
            "peak_macs": self.config.peak_macs[peak],
            "bandwidth_gbs": self.config.bandwidth_gbs[bandwidth],
        }

    def token_names(self) -> list[str]:
        return ["peak_macs", "bandwidth_gbs"]


@PLATFORMS.decorator("roofline")
class Roofline(Platform):
    name = "roofline"
    description = "a roofline device: peak MAC/s and bandwidth (test family)"
    config_class = RooflineConfig
    metrics = (
        "latency_s",
        "throughput_fps",
        "energy_j",
        "power_w",
        "edp_js",
        "area_mm2",
        "devices",
        Metric("dram_bytes", "DRAM traffic", "B", "kB", 1e-3, description="bytes moved per input"),
    )
    objectives = ("latency_s", "energy_j")
    capabilities = frozenset({COMPRESSION})

    def hardware_space(self) -> RooflineTokens:
        return RooflineTokens(self.config)

    def metrics_of(self, network, choice: dict[str, float], compression: Any = None) -> Metrics:
        """``compression``: the planned one (kept share ``density`` and ``weight_bits`` per
        layer name), or None for the dense network."""
        c = self.config
        latency, traffic = 0.0, 0.0
        width = DTYPE_BYTES.get(choice.get("dtype"), c.bytes_per_element)
        for layer in network.layers:
            weight_bytes = layer.weights * width
            if compression is not None and layer.name in compression.density:
                bits = compression.weight_bits.get(layer.name, 8 * width)
                weight_bytes = layer.weights * compression.density[layer.name] * bits / 8
            moved = (layer.input_elements + layer.output_elements) * width
            moved += weight_bytes
            traffic += moved
            latency += max(
                layer.macs / choice["peak_macs"], moved / (choice["bandwidth_gbs"] * 1e9)
            )
        return Metrics.derived(
            latency_s=latency,
            throughput_fps=1.0 / latency,
            energy_j=(network.macs * c.pj_per_mac + traffic * c.pj_per_byte) * 1e-12,
            area_mm2=choice["peak_macs"] / 1e9 * c.mm2_per_gmacs,
            devices=1,
            dram_bytes=traffic,
        )

    def evaluate(self, candidate: Candidate, specs: Specs, rng) -> FastResult:
        start = time.perf_counter()
        if candidate.compression is None:  # the bound is the dense network's
            failed = self.bound(candidate.network, specs)
            if failed:
                return FastResult(None, None, failed, 0, time.perf_counter() - start)
        metrics = self.metrics_of(candidate.network, candidate.choice, candidate.compression)
        return FastResult(
            candidate.choice, metrics, specs.check(metrics), 1, time.perf_counter() - start
        )

    def fastest(self) -> dict[str, float]:
        return {
            "peak_macs": max(self.config.peak_macs),
            "bandwidth_gbs": max(self.config.bandwidth_gbs),
        }

    def bound(self, network, specs: Specs) -> list[SpecFailure]:
        """Sound: no design beats the fastest one's latency and throughput."""
        best = self.metrics_of(network, self.fastest())
        failed = []
        for metric in ("latency_s", "throughput_fps"):
            bound = specs.bound(metric)
            if bound is not None and (f := bound.check(best.get(metric), "roofline bound")):
                failed.append(f)
        return failed

    def reference(self, candidate: Candidate, specs: Specs) -> dict[str, float]:
        return self.fastest()

    def evaluate_fixed(self, candidate: Candidate, design, specs: Specs) -> FastResult:
        metrics = self.metrics_of(candidate.network, design, candidate.compression)
        return FastResult(design, metrics, specs.check(metrics))

    @classmethod
    def describe(cls, choice: Any, hardware, details) -> str:
        if hardware is None:
            return "–"
        return f"{hardware['peak_macs'] / 1e9:g} GMAC/s, {hardware['bandwidth_gbs']:g} GB/s"


@dataclass(frozen=True)
class RooflineDtypeConfig(RooflineConfig):
    dtypes: tuple[str, ...] = ("fp32", "bf16")  # the datapath's number format choices

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.dtypes or not set(self.dtypes) <= set(DTYPE_BYTES):
            raise ConfigError("hardware", "dtypes", f"a list of {list(DTYPE_BYTES)}", self.dtypes)


class RooflineDtypeTokens(RooflineTokens):
    def token_choices(self) -> list[int]:
        return [*super().token_choices(), len(self.config.dtypes)]

    def decode(self, tokens: list[int]) -> dict[str, Any]:
        return {**super().decode(tokens[:2]), "dtype": self.config.dtypes[tokens[2]]}

    def token_names(self) -> list[str]:
        return [*super().token_names(), "dtype"]


@PLATFORMS.decorator("roofline-dtype")
class RooflineDtype(Roofline):
    name = "roofline-dtype"
    description = "a roofline device whose number format is a token, trained in (test family)"
    config_class = RooflineDtypeConfig
    capabilities = frozenset({TRAINED_HARDWARE})

    def hardware_space(self) -> RooflineDtypeTokens:
        return RooflineDtypeTokens(self.config)


@ORACLES.decorator("train-dtype")
class DtypeTrainOracle(TrainOracle):
    """The ``train`` oracle, each candidate trained in its device's number format."""

    name = "train-dtype"
    capabilities = frozenset({TRAINED_HARDWARE})

    @classmethod
    def build(cls, settings: OracleSettings) -> DtypeTrainOracle:
        return cls(settings.data, settings.train, settings.cache)

    def at(self, candidate: Candidate) -> TrainOracle:
        """The plain oracle at the candidate's format (its config, and so its cache key)."""
        config = replace(self.config, precision=candidate.choice["dtype"])
        return TrainOracle(self.data, config, self.cache, self.callbacks, self.keep_weights)

    def key(self, candidate: Candidate) -> CacheKey:
        return self.at(candidate).key(candidate)

    def train(self, candidate: Candidate, key: CacheKey) -> dict[str, Any]:
        return self.at(candidate).train(candidate, key)
