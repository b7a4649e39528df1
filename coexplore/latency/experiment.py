"""Fit a predictor and score it on networks it never saw: on this device, or on a table's.

- :func:`device_experiment`: sample architectures of a space, measure every network and every
  distinct layer kernel here (:class:`~coexplore.latency.lab.Lab`), fit on the first
  ``n_fit``, predict the next ``n_test``;
- :func:`table_experiment`: the same on a device of the NAS-Bench-201 latency tables (HELP's
  measurements): fit on ``n_fit`` random cells, predict all the others.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from coexplore.latency.kernels import kernel_sum
from coexplore.latency.lab import Lab
from coexplore.latency.predictor import LatencyPredictor, validation
from coexplore.spaces.base import Architecture, SearchSpace
from coexplore.workloads.layer import LayerKind, Network


def network_features(network: Network) -> np.ndarray:
    """What the kernel sum may miss: layer counts by kind, log MACs, activations, weights."""
    kinds = [ly.kind for ly in network.layers]
    activations = sum(ly.output_elements for ly in network.layers)
    return np.array(
        [
            len(kinds),
            kinds.count(LayerKind.CONV),
            kinds.count(LayerKind.DWCONV),
            kinds.count(LayerKind.POOL),
            kinds.count(LayerKind.FC),
            math.log(network.macs + 1),
            math.log(activations + 1),
            math.log(network.weights + 1),
        ]
    )


def sample_distinct(space: SearchSpace, n: int, seed: int, input_size: int) -> list[Architecture]:
    """``n`` distinct architectures of ``space``, seeded."""
    rng = np.random.default_rng(seed)
    seen: dict[str, Architecture] = {}
    kwargs = {"input_size": input_size} if space.name == "chain" else {}
    for _ in range(100 * n):
        a = space.sample(rng, **kwargs)
        seen.setdefault(a.canonical, a)
        if len(seen) == n:
            break
    return list(seen.values())


def enumerate_space(space: SearchSpace, input_size: int, limit: int = 200_000) -> list[list[int]]:
    """The token lists of every architecture of ``space`` (its possible choices, depth first);
    a ValueError when there are more than ``limit``."""
    choices = space.token_choices()
    out: list[list[int]] = []
    stack: list[list[int]] = [[]]
    while stack:
        prefix = stack.pop()
        if len(prefix) == len(choices):
            out.append(prefix)
            if len(out) > limit:
                raise ValueError(f"the {space.name} space has more than {limit:,} architectures")
            continue
        stack.extend([*prefix, v] for v in reversed(space.allowed(prefix, input_size)))
    return out


def device_data(
    lab: Lab,
    archs: Sequence[Architecture],
    input_shape: tuple[int, int, int],
    num_classes: int,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Measured latency, kernel table (signature → seconds), kernel-sum base and features of
    ``archs`` on this device."""
    networks = [a.network(input_shape, num_classes) for a in archs]
    measured = lab.networks(archs, input_shape, num_classes, progress)
    kernels = {s: m.median_s for s, m in lab.kernels(networks, progress).items()}
    return {
        "y": np.array([measured[a.canonical].median_s for a in archs]),
        "noise": np.array([measured[a.canonical].noise for a in archs]),
        "kernels": kernels,
        "base": np.array([kernel_sum(n, kernels) for n in networks]),
        "features": np.stack([network_features(n) for n in networks]),
    }


def device_experiment(
    space: SearchSpace,
    input_shape: tuple[int, int, int],
    num_classes: int,
    n_fit: int,
    n_test: int,
    lab: Lab,
    seed: int = 0,
    correction: str = "ridge",
    progress: bool = False,
) -> dict[str, Any]:
    archs = sample_distinct(space, n_fit + n_test, seed, input_shape[1])
    d = device_data(lab, archs, input_shape, num_classes, progress)
    fit, test = slice(0, n_fit), slice(n_fit, None)
    predictor = LatencyPredictor(correction, seed=seed)
    predictor.fit(d["features"][fit], d["y"][fit], d["base"][fit])
    pred, _ = predictor.predict(d["features"][test], d["base"][test])
    return {
        **validation(pred, d["y"][test], n_fit),
        "kernel_sum": validation(d["base"][test], d["y"][test], n_fit),
        "rel_sd": predictor.rel_sd,
        "median_noise": float(np.median(d["noise"])),
        "median_latency_ms": float(np.median(d["y"]) * 1e3),
    }


def cell_features(canonicals: Sequence[str]) -> np.ndarray:
    """One-hot (edge, operator) of NAS-Bench-201 cells: 6 edges × 5 operators."""
    from coexplore.spaces.nb201 import EDGES, OPS, NB201Space

    space = NB201Space()
    out = np.zeros((len(canonicals), len(EDGES) * len(OPS)))
    for i, text in enumerate(canonicals):
        for e, op in enumerate(space.parse(text).ops):
            out[i, e * len(OPS) + OPS.index(op)] = 1.0
    return out


def table_experiment(
    device: str, n_fit: int, seed: int = 0, correction: str = "gbm"
) -> dict[str, Any]:
    """Fit on ``n_fit`` random cells of a built-in device table, predict every other cell.

    The tables hold one measurement per cell (the phones' in whole milliseconds): their own
    noise bounds what any predictor can reach."""
    from coexplore.tables import DEVICES

    dev = DEVICES.get(device)
    table = dev.table()
    y = table.column(dev.column) / 1e3  # seconds
    x = cell_features(table.archs)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    fit, test = order[:n_fit], order[n_fit:]
    predictor = LatencyPredictor(correction, base_from_lut=True, seed=seed)
    predictor.fit(x[fit], y[fit])
    pred, _ = predictor.predict(x[test])
    lut_only, _ = LatencyPredictor("none", base_from_lut=True).fit(x[fit], y[fit]).predict(x[test])
    return {
        **validation(pred, y[test], n_fit),
        "lut_only": validation(lut_only, y[test], n_fit),
        "same_accuracy_spread": same_accuracy_spread(table.archs, y),
        "rel_sd": predictor.rel_sd,
        "median_latency_ms": float(np.median(y) * 1e3),
        "device": device,
    }


def same_accuracy_spread(archs: Sequence[str], latency: np.ndarray) -> dict[str, float]:
    """How much a table's latency varies among cells with identical accuracies on all three
    NAS-Bench-201 datasets (mostly isomorphic cells, which compute the same function; some
    differ in operators whose output is unused, which still run): the median over such groups
    of max/min − 1, and the share of groups above 10%. A rough floor of the table's noise."""
    from coexplore.tables import ACCURACY_TABLES

    columns = [ACCURACY_TABLES.get(n) for n in ACCURACY_TABLES]
    table = columns[0].table()
    keys = zip(*(np.round(table.column(c.column), 6) for c in columns), strict=True)
    groups: dict[tuple, list[int]] = {}
    for arch, key in zip(table.archs, keys, strict=True):
        groups.setdefault(key, []).append(arch)
    position = {a: i for i, a in enumerate(archs)}
    spreads = []
    for members in groups.values():
        if len(members) > 1:
            v = latency[[position[a] for a in members]]
            spreads.append(v.max() / v.min() - 1)
    spreads = np.array(spreads)
    return {
        "groups": len(spreads),
        "median": float(np.median(spreads)),
        "share_above_10pct": float(np.mean(spreads > 0.10)),
    }
