"""The pickled batches of CIFAR-10/100 ("python version") and of downsampled ImageNet (which
copies CIFAR's format), read without running arbitrary code.

Each file is a dict with ``"data"`` (N x 3*side*side uint8: the red, green, then blue side x side
plane of each image; side 32 for CIFAR, 16 for ImageNet16) and a label list (``"labels"`` or
``"fine_labels"``); keys are bytes in Python 2 pickles, str in Python 3 ones. The unpickler only
admits the few globals such a dict needs (numpy arrays and bytes), so a planted file cannot run
code.
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


def read_batch(
    path: Path,
    label_key: str,
    num_classes: int,
    side: int = 32,
    first_label: int = 0,
    kind: str = "CIFAR",
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, side, side) uint8 and labels (N,) int64 in 0..num_classes-1 of one batch
    file. The file's labels must run ``first_label..first_label + num_classes - 1`` (1-based
    ones, as in downsampled ImageNet, take ``first_label=1``); they come back shifted down by
    ``first_label``. ``kind`` names the format in error messages."""
    pixels = 3 * side * side
    last_label = first_label + num_classes - 1
    expected = (
        f"a {kind} pickle: a dict with 'data' (N x {pixels} uint8) and '{label_key}' (N ints)"
    )
    try:
        with path.open("rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except Exception as exc:  # a malformed pickle can fail in many ways; all mean "bad file"
        raise file_error(path, f"not a readable pickle ({exc})", expected) from None
    if not isinstance(batch, dict):
        raise file_error(path, f"holds a {type(batch).__name__}, not a dict", expected)
    data_key, labels_key = _key(batch, "data"), _key(batch, label_key)
    if data_key is None or labels_key is None:
        keys = ", ".join(sorted(map(repr, batch)))
        raise file_error(path, f"has keys {keys}", expected)
    data = np.asarray(batch[data_key])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != pixels:
        raise file_error(path, f"{data_key!r} is {data.dtype} of shape {data.shape}", expected)
    try:
        y = np.asarray(batch[labels_key], dtype=np.int64).reshape(-1)
    except (TypeError, ValueError) as exc:
        problem = f"{labels_key!r} is not a list of ints ({exc})"
        raise file_error(path, problem, expected) from None
    if len(y) != len(data):
        raise file_error(path, f"{len(data)} images but {len(y)} labels", expected)
    if len(y) and (y.min() < first_label or y.max() > last_label):
        bad = int(y.min() if y.min() < first_label else y.max())
        raise file_error(path, f"label {bad} out of range", f"labels {first_label}..{last_label}")
    return data.reshape(-1, 3, side, side), y - first_label


def _key(batch: dict[Any, Any], name: str) -> str | bytes | None:
    """How ``name`` is spelled in ``batch``: bytes (Python 2 pickles, read with
    ``encoding="bytes"``) or str (Python 3 ones); None when absent."""
    for key in (name.encode(), name):
        if key in batch:
            return key
    return None
