"""The ``measured`` and ``predicted`` families: the latency of a candidate on a real device.

- ``measured``: the candidate's torch module timed on this machine (CPU here, CUDA where
  present) by :mod:`coexplore.latency.measure` (pinned threads, warm-up, interleaved rounds of
  fresh instances, outlier rejection), through a cache keyed by the device fingerprint;
- ``predicted``: the latency a fitted predictor file (``coexplore latency fit``) gives, so a
  search runs on predictions; ``spot_check`` measures a share of the candidates too and
  records the prediction's error beside it (same device only).

The hardware is the device: there are no hardware tokens and nothing to tune. Throughput is
``batch / latency``. The measured module is the candidate's architecture's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from coexplore.config import INPUT_FILE, OUTPUT_FILE, ConfigError
from coexplore.core.candidate import Candidate
from coexplore.core.metrics import Metrics
from coexplore.core.platform import FastResult, NoHardwareTokens, Platform
from coexplore.core.specs import Specs
from coexplore.platforms.base import PLATFORMS

__all__ = ["MeasuredDevice", "MeasuredPlatform", "PredictedDevice", "PredictedPlatform"]


@dataclass(frozen=True)
class MeasuredDevice:
    """``hardware:`` of the measured family: the measurement settings and the cache file."""

    device: str = "cpu"
    batch_size: int = 1
    threads: int = 1
    warmup: int = 10
    repeats: int = 5
    rounds: int = 10
    # an SQLite file of measurements (None: measure every time); relative: in the run directory
    cache: str | None = field(default=None, metadata=OUTPUT_FILE)

    def measure_config(self):
        from coexplore.latency.measure import MeasureConfig

        return MeasureConfig.of(self)

    def __post_init__(self) -> None:
        try:
            self.measure_config()
        except ConfigError as err:
            raise ConfigError("hardware", err.field, err.allowed, err.got) from None


class _DevicePlatform(Platform):
    metrics = ("latency_s", "throughput_fps")
    objectives = ("latency_s",)

    def hardware_space(self) -> NoHardwareTokens:
        return NoHardwareTokens()

    lab: Any  # a coexplore.latency.lab.Lab, set by each family

    def _measure(self, candidate: Candidate):
        """The candidate's torch module measured through ``lab``."""
        arch, network = candidate.arch, candidate.network
        if arch is None:
            raise ConfigError(self.name, "arch", "a candidate with its architecture (to measure)")
        classes = network.layers[-1].out_channels
        return self.lab.networks([arch], network.input_shape, classes)[arch.canonical]

    def _result(self, latency_s: float, batch: int, specs: Specs, details, start) -> FastResult:
        metrics = Metrics.derived(latency_s=latency_s, throughput_fps=batch / latency_s)
        return FastResult(
            hardware={"device": details.get("device", {})},
            metrics=metrics,
            failed_specs=specs.check(metrics),
            attempts=1,
            wall_s=time.perf_counter() - start,
            details=details,
        )

    def evaluate_fixed(self, candidate: Candidate, design: Any, specs: Specs) -> FastResult:
        return self.evaluate(candidate, specs, None)

    def reference(self, candidate: Candidate, specs: Specs) -> Any:
        return None  # the device is the hardware

    @classmethod
    def describe(cls, choice: Any, hardware: dict[str, Any] | None, details: Any) -> str:
        return ((hardware or {}).get("device") or {}).get("cpu", "–")


@PLATFORMS.decorator("measured")
class MeasuredPlatform(_DevicePlatform):
    name = "measured"
    description = "latency measured on this machine (pinned, interleaved, cached per device)"
    config_class = MeasuredDevice

    @cached_property
    def lab(self):
        from coexplore.latency.lab import Lab

        return Lab(self.config.measure_config(), self.config.cache)

    def evaluate(
        self, candidate: Candidate, specs: Specs, rng: np.random.Generator | None
    ) -> FastResult:
        from coexplore.latency.device import fingerprint

        start = time.perf_counter()
        m = self._measure(candidate)
        details = {"measurement": m.to_dict(), "device": fingerprint(self.config.device)}
        return self._result(m.median_s, self.config.batch_size, specs, details, start)


@dataclass(frozen=True)
class PredictedDevice:
    """``hardware:`` of the predicted family: the predictor file and how often to check it."""

    predictor: str = field(metadata=INPUT_FILE)  # written by `coexplore latency fit`
    spot_check: float = 0.0  # share of candidates also measured (same device only)
    measure_new_kernels: bool = True  # measure a kernel the table lacks (same device only)

    def __post_init__(self) -> None:
        if not self.predictor.strip():
            raise ConfigError("hardware", "predictor", "a predictor file", self.predictor)
        if not 0 <= self.spot_check <= 1:
            raise ConfigError("hardware", "spot_check", "a share in [0, 1]", self.spot_check)


@PLATFORMS.decorator("predicted")
class PredictedPlatform(_DevicePlatform):
    name = "predicted"
    description = "latency from a fitted predictor (coexplore latency fit), spot-checked"
    config_class = PredictedDevice

    @cached_property
    def model(self):
        from coexplore.latency.device_predictor import DevicePredictor

        return DevicePredictor.load(self.config.predictor)

    @cached_property
    def lab(self):
        from coexplore.latency.lab import Lab
        from coexplore.latency.measure import MeasureConfig

        return Lab(MeasureConfig(**self.model.settings))

    def evaluate(
        self, candidate: Candidate, specs: Specs, rng: np.random.Generator | None
    ) -> FastResult:
        start = time.perf_counter()
        model, network = self.model, candidate.network
        if tuple(network.input_shape) != tuple(model.input_shape):
            raise ConfigError(
                model.source, "input_shape", f"{tuple(network.input_shape)} (the scenario's)",
                tuple(model.input_shape),
            )  # fmt: skip
        if self.config.measure_new_kernels and model.missing([network]):
            model.learn_kernels([network], self.lab)
        latency, rel_sd = model.predict([network])
        details: dict[str, Any] = {
            "predicted_s": float(latency[0]),
            "rel_sd": float(rel_sd[0]),
            "device": model.device,
        }
        if rng is not None and self.config.spot_check > 0 and rng.random() < self.config.spot_check:
            from coexplore.latency.device import require_device

            require_device(model.device, self.lab.config.device, model.source, "to spot-check")
            m = self._measure(candidate)
            details["measured"] = m.to_dict()
            details["error"] = float(latency[0] / m.median_s - 1)
        batch = int(model.settings["batch_size"])
        return self._result(float(latency[0]), batch, specs, details, start)
