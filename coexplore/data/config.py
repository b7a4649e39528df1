"""What data a run trains on: a dataset name plus the knobs that change the tensors it gets."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from numbers import Integral, Real
from typing import Any

from coexplore.config import INPUT_DIR, require_keys
from coexplore.data.errors import DatasetError
from coexplore.data.sources import DATASETS

_SOURCE = "DataConfig"


@dataclass(frozen=True)
class DataConfig:
    """One dataset, split and preprocessed deterministically. Checked on construction.

    ``resize`` and ``train_subset`` are the fidelity knobs of a multi-fidelity search: smaller
    images and fewer training images make a cheaper, rougher evaluation of a candidate.
    """

    name: str
    # directory of the file-based datasets (mnist, cifar10, ...)
    data_root: str | None = field(default=None, metadata=INPUT_DIR)
    seed: int = 0  # draws the validation split (and the test split where none is official)
    val_fraction: float = 0.1  # share of the training pool held out for validation
    test_fraction: float = 0.2  # used only by datasets without an official test split
    resize: int | None = None  # square side in pixels; None keeps the native size
    train_subset: int | None = None  # train on only this many images; None = all
    normalize: bool = True  # per-channel mean/std of the training split

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or self.name not in DATASETS:
            known = ", ".join(DATASETS)
            raise DatasetError(_SOURCE, "name", f"one of the known datasets: {known}", self.name)
        if self.data_root is not None:
            if not isinstance(self.data_root, (str, os.PathLike)) or not os.fspath(self.data_root):
                raise DatasetError(_SOURCE, "data_root", "a directory path or None", self.data_root)
            object.__setattr__(self, "data_root", os.fspath(self.data_root))
        self._integer("seed", minimum=0)
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Real) or not 0 < value < 1:
                raise DatasetError(_SOURCE, name, "a number strictly between 0 and 1", value)
            object.__setattr__(self, name, float(value))
        if self.val_fraction + self.test_fraction >= 1:
            total = self.val_fraction + self.test_fraction
            raise DatasetError(_SOURCE, "val_fraction + test_fraction", "less than 1", total)
        self._integer("resize", minimum=1, optional=True)
        self._integer("train_subset", minimum=1, optional=True)
        if not isinstance(self.normalize, bool):
            raise DatasetError(_SOURCE, "normalize", "true or false", self.normalize)

    def _integer(self, name: str, minimum: int, optional: bool = False) -> None:
        value = getattr(self, name)
        if optional and value is None:
            return
        if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
            allowed = f"an integer >= {minimum}" + (" or None" if optional else "")
            raise DatasetError(_SOURCE, name, allowed, value)
        object.__setattr__(self, name, int(value))

    def key(self) -> str:
        """Everything that changes the tensors, as one string (a cache key); not ``data_root``."""
        return (
            f"{self.name}|seed={self.seed}|val={self.val_fraction!r}|test={self.test_fraction!r}"
            f"|resize={self.resize}|subset={self.train_subset}|norm={int(self.normalize)}"
        )

    @classmethod
    def from_mapping(cls, data: dict[str, Any], source: str = "<data>") -> DataConfig:
        """A DataConfig from a YAML/JSON section; errors name ``source`` and the field."""
        names = [f.name for f in fields(cls)]
        require_keys(data, source, required={"name"}, optional=set(names) - {"name"})
        try:
            return cls(**data)
        except DatasetError as exc:
            raise DatasetError(source, exc.field, exc.allowed, exc.got) from None
