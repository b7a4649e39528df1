"""Loading a DataConfig into tensors: split, subset, resize and normalise, deterministically."""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from coexplore.data.config import DataConfig
from coexplore.data.errors import DatasetError
from coexplore.data.sources import DATASETS, SHAPES, RawData
from coexplore.data.split import stratified_order

_CHUNK_ELEMENTS = 1 << 22  # resize and statistics work on ~4 M values at a time


@dataclass(frozen=True, eq=False)
class Dataset:
    """The tensors of one DataConfig: images float32 NCHW, labels int64.

    Images are in [0, 1] before normalisation; with ``config.normalize`` every split is
    shifted and scaled by ``mean``/``std``, the per-channel statistics of the training split
    (otherwise ``mean`` is 0 and ``std`` 1 per channel). The tensors belong to the caller.
    """

    name: str
    num_classes: int
    input_shape: tuple[int, int, int]  # (C, H, W) after resize
    x_train: torch.Tensor = field(repr=False)
    y_train: torch.Tensor = field(repr=False)
    x_val: torch.Tensor = field(repr=False)
    y_val: torch.Tensor = field(repr=False)
    x_test: torch.Tensor = field(repr=False)
    y_test: torch.Tensor = field(repr=False)
    mean: tuple[float, ...]
    std: tuple[float, ...]
    config: DataConfig


def load_dataset(config: DataConfig | str, **overrides: Any) -> Dataset:
    """The dataset ``config`` describes (a name stands for ``DataConfig(name)``), with
    ``overrides`` replacing config fields, e.g. ``load_dataset("mnist5k", resize=14)``."""
    cfg = _resolve(config, overrides)
    raw = load_raw(cfg.name, _root_key(cfg.data_root))
    rng = np.random.default_rng(cfg.seed)
    if raw.x_test is None or raw.y_test is None:  # no official test split: draw one
        order = stratified_order(raw.y_train, rng)
        n_test = _holdout(len(order), cfg.test_fraction, "test_fraction", "images", cfg.name)
        test_idx, pool = order[:n_test], order[n_test:]
        x_test, y_test = _images(raw.x_train, test_idx), _labels(raw.y_train, test_idx)
    else:
        pool = stratified_order(raw.y_train, rng)
        all_test = np.arange(len(raw.y_test))
        x_test, y_test = _images(raw.x_test, all_test), _labels(raw.y_test, all_test)
    n_val = _holdout(len(pool), cfg.val_fraction, "val_fraction", "training-pool images", cfg.name)
    val_idx, train_idx = pool[:n_val], pool[n_val:]
    if cfg.train_subset is not None:
        if cfg.train_subset > len(train_idx):
            allowed = f"at most {len(train_idx)} (the training split of {cfg.name}) or None"
            raise DatasetError("DataConfig", "train_subset", allowed, cfg.train_subset)
        train_idx = train_idx[: cfg.train_subset]
    xs = [_images(raw.x_train, train_idx), _images(raw.x_train, val_idx), x_test]
    if cfg.resize is not None:
        xs = [_resize(x, cfg.resize) for x in xs]
    channels = xs[0].shape[1]
    mean, std = _channel_stats(xs[0]) if cfg.normalize else ((0.0,) * channels, (1.0,) * channels)
    if cfg.normalize:
        shift = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        scale = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        for x in xs:
            x.sub_(shift).div_(scale)
    x_train, x_val, x_test = xs
    c, h, w = x_train.shape[1:]
    return Dataset(
        name=cfg.name,
        num_classes=raw.num_classes,
        input_shape=(c, h, w),
        x_train=x_train,
        y_train=_labels(raw.y_train, train_idx),
        x_val=x_val,
        y_val=_labels(raw.y_train, val_idx),
        x_test=x_test,
        y_test=y_test,
        mean=mean,
        std=std,
        config=cfg,
    )


def dataset_shape(config: DataConfig | str) -> tuple[tuple[int, int, int], int]:
    """The ``input_shape`` (C, H, W, after ``resize``) and ``num_classes`` that
    ``load_dataset(config)`` would give, for a built-in dataset from ``SHAPES`` without reading
    any file (so its files need not exist). A dataset missing from ``SHAPES`` (a plugin) is
    read with ``load_raw``."""
    cfg = _resolve(config, {})
    if cfg.name in SHAPES:
        (c, h, w), num_classes = SHAPES[cfg.name]
    else:
        raw = load_raw(cfg.name, _root_key(cfg.data_root))
        (c, h, w), num_classes = raw.x_train.shape[1:], raw.num_classes
    if cfg.resize is not None:  # as _resize: a square of side resize
        h = w = cfg.resize
    return (int(c), int(h), int(w)), int(num_classes)


@functools.lru_cache(maxsize=8)
def load_raw(name: str, data_root: str | None = None) -> RawData:
    """The checked, pre-split arrays of dataset ``name``, cached per (name, data_root) in this
    process and read-only, so no caller can corrupt the cache. ``load_raw.cache_clear()``
    forgets them (e.g. after the files under ``data_root`` changed)."""
    raw = DATASETS.get(name)(data_root)
    _check_raw(name, raw)
    return RawData(
        _read_only(raw.x_train),
        _read_only(raw.y_train),
        None if raw.x_test is None else _read_only(raw.x_test),
        None if raw.y_test is None else _read_only(raw.y_test),
        raw.num_classes,
    )


def _resolve(config: DataConfig | str, overrides: dict[str, Any]) -> DataConfig:
    names = [f.name for f in dataclasses.fields(DataConfig)]
    for key in overrides:
        if key not in names:
            raise DatasetError("load_dataset", key, f"one of the DataConfig fields: {names}")
    if isinstance(config, DataConfig):
        return dataclasses.replace(config, **overrides) if overrides else config
    if isinstance(config, str):
        return DataConfig(name=config, **overrides)
    raise DatasetError("load_dataset", "config", "a DataConfig or a dataset name", config)


def _root_key(data_root: str | None) -> str | None:
    """One cache entry per directory, however it is spelled."""
    return None if data_root is None else os.path.abspath(os.path.expanduser(data_root))


def _check_raw(name: str, raw: RawData) -> None:
    source = f"dataset loader {name!r}"
    if not isinstance(raw, RawData):
        raise DatasetError(source, "<return>", "a RawData", type(raw).__name__)
    if not isinstance(raw.num_classes, int) or raw.num_classes < 2:
        raise DatasetError(source, "num_classes", "an integer >= 2", raw.num_classes)
    if (raw.x_test is None) != (raw.y_test is None):
        raise DatasetError(source, "x_test, y_test", "both arrays or both None")
    shape = raw.x_train.shape[1:] if isinstance(raw.x_train, np.ndarray) else None
    for split in ("train", "test"):
        x, y = getattr(raw, f"x_{split}"), getattr(raw, f"y_{split}")
        if x is None:
            continue
        if not isinstance(x, np.ndarray) or x.ndim != 4 or x.shape[1:] != shape:
            got = getattr(x, "shape", type(x).__name__)
            raise DatasetError(source, f"x_{split}", f"an (N, C, H, W) array of {shape}", got)
        if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
            raise DatasetError(source, f"x_{split}", "uint8 or float images", str(x.dtype))
        if not isinstance(y, np.ndarray) or y.shape != (len(x),):
            got = getattr(y, "shape", type(y).__name__)
            raise DatasetError(source, f"y_{split}", f"one label per image: ({len(x)},)", got)
        if not np.issubdtype(y.dtype, np.integer) or (
            len(y) and (y.min() < 0 or y.max() >= raw.num_classes)
        ):
            raise DatasetError(source, f"y_{split}", f"integer labels 0..{raw.num_classes - 1}")


def _read_only(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.setflags(write=False)
    return view


def _holdout(n: int, fraction: float, field_name: str, what: str, name: str) -> int:
    """How many of ``n`` items ``fraction`` holds out; at least one, leaving at least one."""
    k = round(fraction * n)
    if not 1 <= k <= n - 1:
        allowed = f"a share that holds out at least 1 and keeps at least 1 of the {n} {what}"
        raise DatasetError("DataConfig", field_name, f"{allowed} of {name}", fraction)
    return k


def _images(x: np.ndarray, idx: np.ndarray) -> torch.Tensor:
    """Float32 images in [0, 1]: a fresh copy, never a view of the cached arrays."""
    picked = torch.from_numpy(x[idx])  # fancy indexing copies
    if picked.dtype == torch.uint8:
        return picked.float().div_(255)
    return picked.float()


def _labels(y: np.ndarray, idx: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(y[idx].astype(np.int64))


def _rows(x: torch.Tensor) -> int:
    return max(1, _CHUNK_ELEMENTS // max(1, x[0].numel()))


def _resize(x: torch.Tensor, side: int) -> torch.Tensor:
    if x.shape[-2:] == (side, side):
        return x
    out = torch.empty((len(x), x.shape[1], side, side), dtype=torch.float32)
    step = max(1, _CHUNK_ELEMENTS // (x.shape[1] * side * side))
    for start in range(0, len(x), step):
        out[start : start + step] = F.interpolate(
            x[start : start + step],
            size=(side, side),
            mode="bilinear",
            antialias=True,
            align_corners=False,
        )
    return out


def _channel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) std, accumulated in float64; a constant channel gets
    std 1 so that normalising it cannot divide by zero."""
    total = torch.zeros(x.shape[1], dtype=torch.float64)
    squares = torch.zeros(x.shape[1], dtype=torch.float64)
    for chunk in x.split(_rows(x)):
        chunk = chunk.double()
        total += chunk.sum(dim=(0, 2, 3))
        squares += chunk.square().sum(dim=(0, 2, 3))
    count = x.numel() // x.shape[1]
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(0).sqrt()
    std = torch.where(std > 1e-6, std, torch.ones_like(std))
    return tuple(mean.tolist()), tuple(std.tolist())
