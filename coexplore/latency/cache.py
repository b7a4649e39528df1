"""A persistent cache of latency measurements, keyed by what was measured, where and how.

One SQLite file (the slow phase's :class:`~coexplore.slow.cache.ResultCache`, so it is as safe
with concurrent writers): the key is the item's canonical string (a network's, or a layer
kernel's signature), its input shape, the measurement settings and the device fingerprint.
A measurement made on another device is never returned; a cache that holds measurements of
other devices only says so (:meth:`LatencyCache.other_devices`), so a search that moved to
another machine measures anew instead of reading wrong numbers.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from coexplore.latency.device import describe_change, fingerprint, fingerprint_id
from coexplore.latency.measure import MeasureConfig, Measurement
from coexplore.slow.cache import CacheKey, ResultCache, hash_config


class DeviceChangedWarning(UserWarning):
    """The cache holds measurements of another device; they are not used here."""


class LatencyCache:
    """Measurements on this device, with ``config``, in the SQLite file ``path``."""

    def __init__(self, path: str | Path, config: MeasureConfig) -> None:
        self.store = ResultCache(path)
        self.config = config
        self.fingerprint = fingerprint(config.device)
        self.device_id = fingerprint_id(self.fingerprint)
        self._settings = hash_config(config.key())[:16]
        self._warned = False

    def key(self, item: str, kind: str, input_shape: tuple[int, ...]) -> CacheKey:
        shape = "x".join(map(str, input_shape))
        return CacheKey(item, f"latency:{kind}", f"{shape}|{self._settings}", self.device_id, 0)

    def get(self, item: str, kind: str, input_shape: tuple[int, ...]) -> Measurement | None:
        stored = self.store.get(self.key(item, kind, input_shape))
        if stored is None:
            self._check_device()
            return None
        return Measurement(**stored["measurement"])

    def put(self, item: str, kind: str, input_shape: tuple[int, ...], m: Measurement) -> None:
        record = {
            "measurement": m.to_dict(),
            "settings": self.config.key(),
            "fingerprint": self.fingerprint,
        }
        self.store.put(self.key(item, kind, input_shape), record, wall_s=m.mean_s * m.samples)

    def other_devices(self) -> list[dict[str, Any]]:
        """Fingerprints of the other devices whose measurements the file holds."""
        seen: dict[str, dict[str, Any]] = {}
        if not self.store.path.exists():
            return []
        for entry in self.store.entries():
            if entry["dataset"].startswith("latency:") and entry["config_hash"] != self.device_id:
                seen.setdefault(entry["config_hash"], entry["result"].get("fingerprint", {}))
        return list(seen.values())

    def _check_device(self) -> None:
        """Warn once when the file was written on another device (its numbers are not used)."""
        if self._warned:
            return
        self._warned = True
        others = self.other_devices()
        if others:
            warnings.warn(
                f"{self.store.path} holds latencies of another device "
                f"({describe_change(others[0], self.fingerprint)}); they are not used here, "
                "this device is measured anew",
                DeviceChangedWarning,
                stacklevel=3,
            )
