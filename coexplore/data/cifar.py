"""The pickled batches of CIFAR-10/100 ("python version"), read without running arbitrary code.

Each file is a dict with ``b"data"`` (N x 3072 uint8: the red, green, then blue 32x32 plane of
each image) and a label list (``b"labels"`` or ``b"fine_labels"``). The unpickler only admits
the few globals such a dict needs (numpy arrays and bytes), so a planted file cannot run code.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from coexplore.data.errors import file_error

_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),  # how Python 3 writes bytes at pickle protocol 2
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("numpy.core."):  # files pickled before numpy 2 renamed numpy.core
            module = "numpy._core." + module.removeprefix("numpy.core.")
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return super().find_class(module, name)


def read_batch(path: Path, label_key: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 of one CIFAR batch file."""
    expected = f"a CIFAR pickle: a dict with b'data' (N x 3072 uint8) and b'{label_key}' (N ints)"
    try:
        with path.open("rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except Exception as exc:  # a malformed pickle can fail in many ways; all mean "bad file"
        raise file_error(path, f"not a readable pickle ({exc})", expected) from None
    if not isinstance(batch, dict):
        raise file_error(path, f"holds a {type(batch).__name__}, not a dict", expected)
    data, labels = _entry(batch, "data"), _entry(batch, label_key)
    if data is None or labels is None:
        keys = ", ".join(sorted(map(repr, batch)))
        raise file_error(path, f"has keys {keys}", expected)
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise file_error(path, f"b'data' is {data.dtype} of shape {data.shape}", expected)
    try:
        y = np.asarray(labels, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise file_error(path, f"b'{label_key}' is not a list of ints ({exc})", expected) from None
    if len(y) != len(data):
        raise file_error(path, f"{len(data)} images but {len(y)} labels", expected)
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        bad = int(y.min() if y.min() < 0 else y.max())
        raise file_error(path, f"label {bad} out of range", f"labels 0..{num_classes - 1}")
    return data.reshape(-1, 3, 32, 32), y


def _entry(batch: dict[Any, Any], key: str) -> Any:
    return batch.get(key.encode(), batch.get(key))
