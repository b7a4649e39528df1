"""The IDX format of MNIST and Fashion-MNIST: a 4-byte magic number, big-endian uint32 sizes, data.

The magic number is two zero bytes, the element type (0x08 = uint8) and the number of
dimensions: 0x00000803 for an image file (N, H, W), 0x00000801 for a label file (N,).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np

from coexplore.data.errors import file_error

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


def parse_idx(data: bytes, path: Path, magic: int) -> np.ndarray:
    """The uint8 array in an IDX file's bytes, after checking its magic number and length."""
    ndim = magic & 0xFF
    kind = "image" if magic == IMAGES_MAGIC else "label"
    expected = f"an IDX {kind} file (magic 0x{magic:08X}, {ndim} big-endian sizes, uint8 data)"
    header = 4 + 4 * ndim
    if len(data) < 4:
        raise file_error(path, f"truncated: {len(data)} bytes, no IDX header", expected)
    got = int.from_bytes(data[:4], "big")
    if got != magic:
        raise file_error(path, f"bad magic number 0x{got:08X}", expected)
    if len(data) < header:
        raise file_error(path, f"truncated: {len(data)} bytes, header needs {header}", expected)
    dims = struct.unpack(f">{ndim}I", data[4:header])
    size, held = math.prod(dims), len(data) - header
    if held != size:
        what = "truncated" if held < size else "trailing bytes"
        shape = "x".join(map(str, dims))
        raise file_error(
            path, f"{what}: header says {shape} ({size} bytes of data), file holds {held}", expected
        )
    return np.frombuffer(data, dtype=np.uint8, count=size, offset=header).reshape(dims)
