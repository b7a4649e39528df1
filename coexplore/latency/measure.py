"""Measure the latency of torch modules on this machine, in a way that can be trusted.

What makes a measurement trustworthy on a shared machine, and what this module does about it:

- **Threads and cores:** torch's intra-op threads are set to ``threads`` and, on Linux, the
  process is pinned to that many cores (``sched_setaffinity``) while it measures, so the OS
  does not migrate it mid-run; both are restored afterwards.
- **Warm-up:** ``warmup`` forward passes first (allocator, oneDNN primitive caches, branch
  predictors), untimed.
- **Interleaved repeats:** networks measured together are timed in ``rounds``; in each round
  every network runs ``repeats`` timed passes, in a fresh (seeded) order, so a slow spell of
  the machine (another process, frequency scaling) lands on all of them rather than on one.
- **Denormals:** subnormal floats are flushed to zero while measuring. Untrained random
  weights can drive a network's activations into the subnormal range, where x86 arithmetic
  runs many times slower, so one instance of a network can measure far slower than another;
  trained networks and inference runtimes (FTZ/DAZ) do not pay it
  (``bench/bench_latency_repeatability.py --variants default,denormals`` compares).
- **Outliers:** samples further than ``outlier`` robust deviations (MAD × 1.4826) above the
  median are dropped (preemptions are one-sided: they only ever add time).
- **Noise figure:** every measurement reports its relative spread (``noise``: the
  interquartile range of the kept samples over their median) and the spread of the per-round
  medians (``round_spread``), so a number measured on a busy machine says so.

Latency is of one forward pass of a batch of ``batch_size`` in eval mode under
``torch.inference_mode``, in fp32, on ``device`` (CUDA: timed with events after a
synchronise). nn-Meter's users report mismatches from CPU frequency and affinity (its issue
#83 on GitHub, microsoft/nn-Meter): the device fingerprint (:mod:`coexplore.latency.device`)
goes with every number.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from coexplore.config import ConfigError

MAD_SCALE = 1.4826  # MAD of a normal distribution → its standard deviation


@dataclass(frozen=True)
class MeasureConfig:
    """How latency is measured (every field but ``pin`` changes the numbers, so it is keyed)."""

    batch_size: int = 1
    threads: int = 1
    warmup: int = 10
    repeats: int = 5
    rounds: int = 10
    device: str = "cpu"
    outlier: float = 3.0
    flush_denormals: bool = True
    pin: bool = True

    def __post_init__(self) -> None:
        for name in ("batch_size", "threads", "warmup", "repeats", "rounds"):
            value = getattr(self, name)
            minimum = 0 if name == "warmup" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ConfigError("measure", name, f"an integer >= {minimum}", value)
        if self.device not in ("cpu", "cuda"):
            raise ConfigError("measure", "device", "cpu or cuda", self.device)
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("measure", "device", "cpu (no CUDA device here)", self.device)
        if isinstance(self.outlier, bool) or not self.outlier > 0:
            raise ConfigError(
                "measure", "outlier", "a number > 0 (robust deviations)", self.outlier
            )
        cores = len(_cores())
        if self.threads > cores:
            raise ConfigError("measure", "threads", f"at most the {cores} cores here", self.threads)

    @classmethod
    def of(cls, obj: Any) -> MeasureConfig:
        """The settings an object (CLI arguments, a scenario's ``hardware:``) holds under
        these field names; the others keep their defaults."""
        names = [f for f in cls.__dataclass_fields__ if hasattr(obj, f)]
        return cls(**{f: getattr(obj, f) for f in names})

    def key(self) -> dict[str, Any]:
        """The settings that change a measurement (pinning aside)."""
        return {k: v for k, v in asdict(self).items() if k != "pin"}


@dataclass(frozen=True)
class Measurement:
    """One network's latency: median of the kept samples (seconds per batch) and its spread."""

    median_s: float
    mean_s: float
    p25_s: float
    p75_s: float
    noise: float  # (p75 − p25) / median of the kept samples
    round_spread: float  # (max − min) / median of the per-round medians
    samples: int  # kept
    rejected: int  # dropped as outliers

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_samples(cls, rounds: list[np.ndarray], outlier: float) -> Measurement:
        """From the timed samples of each round (seconds)."""
        allx = np.concatenate(rounds)
        med = float(np.median(allx))
        mad = float(np.median(np.abs(allx - med))) * MAD_SCALE
        keep = allx <= med + outlier * max(mad, 1e-12)
        kept = allx[keep]
        median = float(np.median(kept))
        p25, p75 = (float(v) for v in np.percentile(kept, [25, 75]))
        per_round = np.array([np.median(r) for r in rounds])
        return cls(
            median_s=median,
            mean_s=float(kept.mean()),
            p25_s=p25,
            p75_s=p75,
            noise=(p75 - p25) / median,
            round_spread=float((per_round.max() - per_round.min()) / median),
            samples=int(keep.sum()),
            rejected=int((~keep).sum()),
        )


def _cores() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


@contextlib.contextmanager
def pinned(threads: int, pin: bool = True, flush: bool = True) -> Iterator[None]:
    """torch on ``threads`` intra-op threads and, with ``pin``, the process on as many cores,
    subnormal floats flushed to zero; all restored on exit."""
    before = torch.get_num_threads()
    cores = _cores()
    torch.set_num_threads(threads)
    can_pin = pin and hasattr(os, "sched_setaffinity")
    if can_pin:
        os.sched_setaffinity(0, cores[:threads])
    flushes = flush and torch.set_flush_denormal(True)  # see the module docstring
    try:
        yield
    finally:
        torch.set_num_threads(before)
        if can_pin:
            os.sched_setaffinity(0, cores)
        if flushes:
            torch.set_flush_denormal(False)


def _timer(device: torch.device):
    """A function timing one call of ``fn`` in seconds, on ``device``."""
    if device.type == "cuda":

        def cuda_time(fn) -> float:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            return start.elapsed_time(end) / 1e3

        return cuda_time

    def cpu_time(fn) -> float:
        t0 = time.perf_counter_ns()
        fn()
        return (time.perf_counter_ns() - t0) / 1e9

    return cpu_time


Factory = Callable[[], nn.Module]


def measure_modules(
    modules: Mapping[str, tuple[nn.Module | Factory, tuple[int, ...]]],
    config: MeasureConfig | None = None,
    seed: int = 0,
) -> dict[str, Measurement]:
    """The latency of each named ``(module, input shape per sample)``, measured together
    (interleaved rounds; see the module docstring), in eval mode.

    Given a factory (a callable making the module) instead of a module, every round times a
    fresh instance, warmed up anew: the latency of some networks on a CPU depends on where
    their tensors land in memory (up to 20% between instances, seen with inverted
    bottlenecks here), and the median over instances is what a deployment sees."""
    config = config or MeasureConfig()
    device = torch.device(config.device)
    rng = np.random.default_rng(seed)
    torch_rng = torch.Generator().manual_seed(seed)
    shapes = {name: shape for name, (_, shape) in modules.items()}
    names = list(modules)

    def instance(name: str) -> tuple[nn.Module, torch.Tensor]:
        made = modules[name][0]
        module = made if isinstance(made, nn.Module) else made()
        x = torch.rand((config.batch_size, *shapes[name]), generator=torch_rng).to(device)
        return module.to(device).eval(), x

    runs = {name: instance(name) for name in names}
    fresh = [n for n in names if not isinstance(modules[n][0], nn.Module)]
    timer = _timer(device)
    samples: dict[str, list[np.ndarray]] = {name: [] for name in names}
    with pinned(config.threads, config.pin, config.flush_denormals), torch.inference_mode():
        for r in range(config.rounds):
            if r > 0:
                runs.update({n: instance(n) for n in fresh})
            for name in names if r == 0 else fresh:
                module, x = runs[name]
                for _ in range(config.warmup):
                    module(x)
            for i in rng.permutation(len(names)):
                module, x = runs[names[i]]
                times = [timer(lambda m=module, x=x: m(x)) for _ in range(config.repeats)]
                samples[names[i]].append(np.array(times))
    return {name: Measurement.from_samples(samples[name], config.outlier) for name in names}


def measure_module(
    module: nn.Module, input_shape: tuple[int, ...], config: MeasureConfig | None = None
) -> Measurement:
    """The latency of one module (``input_shape``: one sample's, e.g. (1, 28, 28))."""
    return measure_modules({"module": (module, input_shape)}, config)["module"]
