"""What identifies the device a latency was measured on: its fingerprint.

A latency is a property of the network *and* the machine: the CPU model and its vector
extensions, the core count, the torch build and its oneDNN, the GPU. The fingerprint holds
those, and its ``id`` (a hash) keys every cached measurement, so a measurement is never reused
on another device; :func:`describe_change` says what differs when a cache or a predictor was
written on another one.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from functools import cache
from typing import Any

import torch

from coexplore.config import ConfigError


@cache
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fingerprint(device: str = "cpu") -> dict[str, Any]:
    """The facts of this machine that change a latency measured on ``device``."""
    fp: dict[str, Any] = {
        "device": device,
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "isa": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
    }
    if device == "cuda":
        fp["gpu"] = torch.cuda.get_device_name(0)
        fp["cuda"] = torch.version.cuda
    return fp


def fingerprint_id(fp: dict[str, Any]) -> str:
    """A short stable hash of a fingerprint."""
    text = json.dumps(fp, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def describe_change(old: dict[str, Any], new: dict[str, Any]) -> str:
    """The fields that differ, as ``field: old → new``."""
    keys = sorted(set(old) | set(new))
    diffs = [f"{k}: {old.get(k)!r} → {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
    return "; ".join(diffs) or "nothing"


def require_device(expected: dict[str, Any], device: str, source: str, why: str) -> None:
    """Raise unless this machine is the device ``expected`` fingerprints (``why``: what needs
    it, e.g. "to measure new kernels"); the error names what changed."""
    here = fingerprint(device)
    if fingerprint_id(here) != fingerprint_id(expected):
        raise ConfigError(
            source, "device", f"the same device {why} (changed: {describe_change(expected, here)})"
        )
