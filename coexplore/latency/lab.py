"""Measurements on this device through the cache: networks and layer kernels.

:class:`Lab` answers what its cache already holds and measures the rest together, in one
interleaved run (:func:`~coexplore.latency.measure.measure_modules`), so measuring a batch of
candidates costs one warm-up per candidate and shares the machine's slow spells among them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from coexplore.latency.cache import LatencyCache
from coexplore.latency.kernels import distinct_kernels, kernel_module, kernel_shape
from coexplore.latency.measure import MeasureConfig, Measurement, measure_modules
from coexplore.spaces.base import Architecture
from coexplore.workloads.layer import Network

CHUNK = 32  # networks measured together; a chunk's results are cached before the next starts


class Lab:
    """Measures on this device with ``config``; ``cache``: an SQLite file (None: no cache)."""

    def __init__(
        self, config: MeasureConfig | None = None, cache: str | Path | None = None
    ) -> None:
        self.config = config or MeasureConfig()
        self.cache = None if cache is None else LatencyCache(cache, self.config)

    def networks(
        self,
        archs: Sequence[Architecture],
        input_shape: tuple[int, int, int],
        num_classes: int,
        progress: bool = False,
    ) -> dict[str, Measurement]:
        """Each architecture's latency (by canonical string)."""
        items = {
            a.canonical: (lambda a=a: a.module(input_shape, num_classes), input_shape)
            for a in archs
        }
        return self._measure(items, "network", progress)

    def kernels(
        self, networks: Sequence[Network], progress: bool = False
    ) -> dict[str, Measurement]:
        """The latency of every distinct layer kernel of ``networks`` (by signature)."""
        layers = distinct_kernels(networks)
        items = {
            sig: (lambda ly=ly: kernel_module(ly), kernel_shape(ly)) for sig, ly in layers.items()
        }
        return self._measure(items, "kernel", progress)

    def _measure(self, items: dict, kind: str, progress: bool) -> dict[str, Measurement]:
        out: dict[str, Measurement] = {}
        todo = []
        for name, (_, shape) in items.items():
            hit = self.cache.get(name, kind, shape) if self.cache is not None else None
            if hit is not None:
                out[name] = hit
            else:
                todo.append(name)
        bar = tqdm(total=len(todo), desc=f"measuring {kind}s", disable=not progress, leave=False)
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            modules = {n: items[n] for n in chunk}  # factories: a fresh instance per round
            measured = measure_modules(modules, self.config, seed=start)
            for name, m in measured.items():
                if self.cache is not None:
                    self.cache.put(name, kind, items[name][1], m)
                out[name] = m
            bar.update(len(chunk))
        bar.close()
        return {name: out[name] for name in items}
