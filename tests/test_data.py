import gzip
import os
import pickle
import struct

import numpy as np
import pytest
import torch

from coexplore.config import ConfigError
from coexplore.data import (
    DATASETS,
    SHAPES,
    DataConfig,
    Dataset,
    DatasetError,
    RawData,
    dataset_shape,
    load_dataset,
    load_raw,
)
from coexplore.data.split import stratified_order

IDX_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


# --- fixtures: tiny datasets written the way the real ones are stored ---


def idx_bytes(array, magic=None):
    array = np.asarray(array, dtype=np.uint8)
    magic = magic if magic is not None else 0x800 | array.ndim
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes()


def tiny_images(n, shape, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


def write_idx_set(directory, n_train=30, n_test=10, gz=False, skip=(), side=28):
    """IDX files like MNIST's; returns the arrays written."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        IDX_NAMES[0]: tiny_images(n_train, (side, side), 1),
        IDX_NAMES[1]: np.arange(n_train) % 10,
        IDX_NAMES[2]: tiny_images(n_test, (side, side), 2),
        IDX_NAMES[3]: np.arange(n_test) % 10,
    }
    for name, array in arrays.items():
        if name in skip:
            continue
        data = idx_bytes(array)
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)
    return arrays


def cifar_batch(path, n, label_key, num_classes, seed, protocol=2):
    data = tiny_images(n, (3 * 32 * 32,), seed)
    labels = [int(i % num_classes) for i in range(n)]
    path.write_bytes(pickle.dumps({b"data": data, label_key: labels}, protocol=protocol))
    return data, labels


def write_cifar10(directory, per_batch=8, n_test=10):
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(1, 6):
        cifar_batch(directory / f"data_batch_{i}", per_batch, b"labels", 10, i)
    return cifar_batch(directory / "test_batch", n_test, b"labels", 10, 9)


IMAGENET16_TRAIN = tuple(f"train_data_batch_{i}" for i in range(1, 11))


def imagenet16_batch(path, labels, seed, bytes_keys=False, protocol=4, mean=True):
    """An Imagenet16 pickle: str keys (bytes ones as Python 2 wrote them), 1-based labels."""
    data = tiny_images(len(labels), (3 * 16 * 16,), seed)
    key = str.encode if bytes_keys else str
    batch = {key("data"): data, key("labels"): list(labels)}
    if mean:
        batch[key("mean")] = data.mean(axis=0)
    path.write_bytes(pickle.dumps(batch, protocol=protocol))
    return data, np.asarray(labels)


def write_imagenet16(directory):
    """Ten train batches of 7 images and a val_data of 6, 4 of them in classes 1..120 each;
    returns the kept (images, 0-based labels) of the train batches and of val_data."""
    directory.mkdir(parents=True, exist_ok=True)
    kept = []
    for i, name in enumerate(IMAGENET16_TRAIN, start=1):
        labels = [1, 121, 120, 500, 1 + i, 1000, 120 - i]
        data, y = imagenet16_batch(
            directory / name, labels, i, bytes_keys=i == 3, protocol=2 + i % 4
        )
        kept.append((data[y <= 120], y[y <= 120] - 1))
    data, y = imagenet16_batch(directory / "val_data", [1, 2, 121, 120, 999, 60], 20, mean=False)
    train = (np.concatenate([x for x, _ in kept]), np.concatenate([y for _, y in kept]))
    return train, (data[y <= 120], y[y <= 120] - 1)


def error(excinfo):
    return str(excinfo.value)


# --- the bundled datasets, for real ---


@pytest.mark.parametrize(
    ("name", "shape", "sizes"),
    [("digits", (1, 8, 8), (1294, 144, 359)), ("mnist5k", (1, 28, 28), (3600, 400, 1000))],
)
def test_bundled_datasets(name, shape, sizes):
    ds = load_dataset(name)
    assert isinstance(ds, Dataset) and ds.num_classes == 10 and ds.input_shape == shape
    splits = [(ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)]
    assert tuple(len(x) for x, _ in splits) == sizes
    assert sum(sizes) == {"digits": 1797, "mnist5k": 5000}[name]
    for x, y in splits:
        assert x.dtype == torch.float32 and tuple(x.shape[1:]) == shape
        assert y.dtype == torch.int64 and len(y) == len(x)
        assert torch.bincount(y, minlength=10).min() > 0  # stratified: every class in every split
    assert abs(ds.x_train.mean().item()) < 1e-4 and abs(ds.x_train.std().item() - 1) < 1e-3
    raw = (ds.x_train * ds.std[0] + ds.mean[0]).double()
    assert raw.min() > -1e-5 and raw.max() < 1 + 1e-5  # [0, 1] before normalisation


def test_mnist5k_splits_are_exactly_stratified():
    ds = load_dataset("mnist5k")  # 500 per class
    assert torch.bincount(ds.y_test).tolist() == [100] * 10
    assert torch.bincount(ds.y_val).tolist() == [40] * 10


def test_same_config_same_tensors_and_seed_changes_the_split():
    a, b = load_dataset("digits"), load_dataset(DataConfig("digits"))
    for field in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    assert a.mean == b.mean and a.std == b.std
    c = load_dataset("digits", seed=1)
    assert not torch.equal(a.y_val, c.y_val) and not torch.equal(a.y_test, c.y_test)


def test_returned_tensors_do_not_alias_the_cache():
    first = load_dataset("digits", normalize=False)
    before = first.x_test.clone()
    first.x_test.fill_(7.0)
    first.x_train.zero_()
    assert torch.equal(load_dataset("digits", normalize=False).x_test, before)
    raw = load_raw("digits")
    assert not raw.x_train.flags.writeable and not raw.y_train.flags.writeable
    hits = load_raw.cache_info().hits
    load_dataset("digits")
    assert load_raw.cache_info().hits == hits + 1


def test_without_normalisation_images_stay_in_unit_range():
    ds = load_dataset("digits", normalize=False)
    assert ds.mean == (0.0,) and ds.std == (1.0,)
    assert ds.x_train.min() == 0 and ds.x_train.max() == 1
    assert torch.equal(ds.x_test * 16, (ds.x_test * 16).round())  # digits are 0..16 / 16


def test_resize_changes_the_shape_and_renormalises():
    ds = load_dataset("digits", resize=16)
    assert ds.input_shape == (1, 16, 16) and ds.x_val.shape[1:] == (1, 16, 16)
    assert abs(ds.x_train.mean().item()) < 1e-4 and abs(ds.x_train.std().item() - 1) < 1e-3
    plain = load_dataset("mnist5k", resize=14, normalize=False)
    expected = torch.nn.functional.interpolate(
        load_dataset("mnist5k", normalize=False).x_val,
        size=(14, 14),
        mode="bilinear",
        antialias=True,
        align_corners=False,
    )
    assert torch.equal(plain.x_val, expected)
    same = load_dataset("digits", resize=8, normalize=False)
    assert torch.equal(same.x_train, load_dataset("digits", normalize=False).x_train)


def test_train_subset_is_a_nested_stratified_prefix():
    full = load_dataset("mnist5k", normalize=False)
    small = load_dataset("mnist5k", train_subset=50, normalize=False)
    larger = load_dataset("mnist5k", train_subset=200, normalize=False)
    assert len(small.y_train) == 50 and torch.bincount(small.y_train).tolist() == [5] * 10
    assert torch.equal(larger.x_train[:50], small.x_train)
    assert torch.equal(full.x_train[:200], larger.x_train)
    assert torch.equal(small.x_val, full.x_val) and torch.equal(small.y_test, full.y_test)
    normalised = load_dataset("mnist5k", train_subset=50)
    assert normalised.mean[0] == pytest.approx(small.x_train.double().mean().item())
    with pytest.raises(DatasetError, match="train_subset.*at most 3600") as exc:
        load_dataset("mnist5k", train_subset=3601)
    assert exc.value.field == "train_subset"


def test_stratified_order_prefixes_follow_class_shares():
    labels = np.repeat([0, 1, 2], [60, 30, 10])
    order = stratified_order(labels, np.random.default_rng(0))
    assert sorted(order.tolist()) == list(range(100))
    assert np.bincount(labels[order[:10]]).tolist() == [6, 3, 1]
    assert not np.array_equal(order, stratified_order(labels, np.random.default_rng(1)))


# --- the file-based datasets, from tiny files ---


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("layout", ["root", "named", "torchvision"])
def test_idx_datasets(tmp_path, name, gz, layout):
    sub = {"root": "", "named": name, "torchvision": ""}[layout]
    if layout == "torchvision":
        sub = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}[name] + "/raw"
    arrays = write_idx_set(tmp_path / sub, gz=gz)
    ds = load_dataset(name, data_root=str(tmp_path), normalize=False)
    assert ds.input_shape == (1, 28, 28) and ds.num_classes == 10
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (27, 3, 10)
    expected = torch.from_numpy(arrays[IDX_NAMES[2]]).float()[:, None] / 255
    assert torch.equal(ds.x_test, expected)  # the official test split, in file order
    assert ds.y_test.tolist() == arrays[IDX_NAMES[3]].tolist()


def test_cifar10(tmp_path):
    data, labels = write_cifar10(tmp_path / "cifar-10-batches-py")
    ds = load_dataset("cifar10", data_root=tmp_path)
    assert ds.input_shape == (3, 32, 32) and ds.num_classes == 10 and len(ds.mean) == 3
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (36, 4, 10)
    plain = load_dataset("cifar10", data_root=tmp_path, normalize=False)
    first = torch.from_numpy(data[0].reshape(3, 32, 32)).float() / 255  # channel-major planes
    assert torch.equal(plain.x_test[0], first) and plain.y_test.tolist() == labels
    means = ds.x_train.mean(dim=(0, 2, 3))
    assert torch.allclose(means, torch.zeros(3), atol=1e-5)


def test_cifar_pickles_written_before_numpy_2(tmp_path):
    # the official files name numpy.core.multiarray._reconstruct, which numpy 2 moved
    write_cifar10(tmp_path)
    batch = {b"data": tiny_images(4, (3072,), 5), b"labels": [1, 2, 3, 4]}
    old = pickle.dumps(batch, protocol=2).replace(b"numpy._core.", b"numpy.core.")
    assert b"numpy.core.multiarray" in old
    (tmp_path / "test_batch").write_bytes(old)
    ds = load_dataset("cifar10", data_root=tmp_path, normalize=False)
    assert ds.y_test.tolist() == [1, 2, 3, 4]
    pixels = ds.x_test[3].flatten().mul(255).round()
    assert torch.equal(pixels, torch.from_numpy(batch[b"data"][3]).float())


@pytest.mark.parametrize("nested", [True, False])
def test_cifar100(tmp_path, nested):
    directory = tmp_path / "cifar-100-python" if nested else tmp_path
    directory.mkdir(exist_ok=True)
    cifar_batch(directory / "train", 60, b"fine_labels", 100, 1, protocol=4)
    cifar_batch(directory / "test", 20, b"fine_labels", 100, 2, protocol=5)
    ds = load_dataset("cifar100", data_root=str(tmp_path), val_fraction=0.2)
    assert ds.num_classes == 100 and ds.input_shape == (3, 32, 32)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (48, 12, 20)
    assert ds.y_test.tolist() == list(range(20))


@pytest.mark.parametrize("nested", [True, False])
def test_imagenet16_120(tmp_path, nested):
    (x_train, y_train), (x_val, y_val) = write_imagenet16(
        tmp_path / "ImageNet16" if nested else tmp_path
    )
    raw = load_raw("imagenet16-120", str(tmp_path))
    assert raw.num_classes == 120 and raw.x_train.shape == (40, 3, 16, 16)
    assert np.array_equal(raw.x_train, x_train.reshape(-1, 3, 16, 16))  # file order, planes
    assert np.array_equal(raw.y_train, y_train) and raw.y_train.dtype == np.int64
    assert raw.y_train[:4].tolist() == [0, 119, 1, 118]  # labels 1 and 120 kept, > 120 dropped
    assert raw.y_test.tolist() == [0, 1, 119, 59] and np.array_equal(raw.y_test, y_val)
    assert np.array_equal(raw.x_test, x_val.reshape(-1, 3, 16, 16))
    ds = load_dataset(DataConfig("imagenet16-120", data_root=str(tmp_path)))
    assert ds.input_shape == (3, 16, 16) and ds.num_classes == 120 and len(ds.mean) == 3
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (36, 4, 4)
    plain = load_dataset("imagenet16-120", data_root=tmp_path, normalize=False)
    assert torch.equal(plain.x_test, torch.from_numpy(raw.x_test.copy()).float() / 255)
    assert dataset_shape(ds.config) == (ds.input_shape, ds.num_classes)


def test_missing_imagenet16_batch(tmp_path):
    write_imagenet16(tmp_path / "ImageNet16")
    (tmp_path / "ImageNet16" / "train_data_batch_10").unlink()
    with pytest.raises(DatasetError) as exc:
        load_dataset("imagenet16-120", data_root=tmp_path)
    message = error(exc)
    assert message.startswith(f"{tmp_path / 'ImageNet16'}: missing train_data_batch_10")
    assert "expected train_data_batch_1, train_data_batch_2" in message and "val_data" in message


@pytest.mark.parametrize(
    ("batch", "problem", "expected"),
    [
        (
            {"data": np.zeros((2, 3072), np.uint8), "labels": [1, 2]},
            "'data' is uint8 of shape",
            "N x 768",
        ),
        (
            {"data": np.zeros((2, 768), np.uint8), "labels": [0, 2]},
            "label 0 out of range",
            "labels 1..1000",
        ),
        (
            {"data": np.zeros((2, 768), np.uint8), "labels": [1, 1001]},
            "label 1001 out of range",
            "labels 1..1000",
        ),
        ({b"data": np.zeros((2, 768), np.uint8)}, "has keys b'data'", "'labels' (N ints)"),
    ],
)
def test_malformed_imagenet16_pickles(tmp_path, batch, problem, expected):
    write_imagenet16(tmp_path)
    (tmp_path / "train_data_batch_7").write_bytes(pickle.dumps(batch))
    with pytest.raises(DatasetError) as exc:
        load_dataset("imagenet16-120", data_root=tmp_path)
    message = error(exc)
    assert message.startswith(f"{tmp_path / 'train_data_batch_7'}: ")
    assert problem in message and expected in message.split("; expected ", 1)[1]


def test_imagenet16_without_any_of_the_120_classes(tmp_path):
    write_imagenet16(tmp_path)
    imagenet16_batch(tmp_path / "val_data", [121, 500], 3)
    with pytest.raises(DatasetError, match="holds no image of classes 1..120") as exc:
        load_dataset("imagenet16-120", data_root=tmp_path)
    assert error(exc).startswith(str(tmp_path / "val_data"))


# --- shapes without the files ---


@pytest.mark.parametrize("name", ["digits", "mnist5k"])
@pytest.mark.parametrize("resize", [None, 12])
def test_dataset_shape_is_what_load_dataset_gives(name, resize):
    config = DataConfig(name, resize=resize)
    ds = load_dataset(config)
    assert dataset_shape(config) == (ds.input_shape, ds.num_classes)
    assert dataset_shape(name) == SHAPES[name]


def test_dataset_shape_needs_no_files(tmp_path):
    assert dataset_shape("cifar10") == ((3, 32, 32), 10)
    assert dataset_shape("cifar100") == ((3, 32, 32), 100)
    absent = DataConfig("imagenet16-120", data_root=str(tmp_path / "nowhere"), resize=32)
    assert dataset_shape(absent) == ((3, 32, 32), 120)
    assert dataset_shape(DataConfig("mnist", resize=7)) == ((1, 7, 7), 10)


def test_every_builtin_dataset_has_a_shape():
    builtin = {n for n, loader in DATASETS.items() if loader.__module__.startswith("coexplore.")}
    assert builtin == set(SHAPES) and len(SHAPES) == 7


def test_dataset_shape_of_a_plugin_reads_its_data(monkeypatch):
    calls = []

    def toy(data_root):
        calls.append(data_root)
        x = np.random.default_rng(0).random((12, 2, 6, 4), dtype=np.float32)
        return RawData(x, np.arange(12) % 3, None, None, 3)

    monkeypatch.setitem(DATASETS._items, "toy-plugin", toy)
    load_raw.cache_clear()
    try:
        assert dataset_shape("toy-plugin") == ((2, 6, 4), 3) and len(calls) == 1
        config = DataConfig("toy-plugin", resize=5)
        ds = load_dataset(config)
        assert dataset_shape(config) == (ds.input_shape, ds.num_classes) == ((2, 5, 5), 3)
    finally:
        load_raw.cache_clear()


# --- error paths: every message names the path or field at fault ---


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(DatasetError) as exc:
        load_dataset("imagenet")
    assert exc.value.field == "name" and "'imagenet'" in error(exc)
    names = ("digits", "mnist5k", "mnist", "fashion-mnist", "cifar10", "cifar100", "imagenet16-120")
    for known in names:
        assert known in error(exc) and known in DATASETS


def test_file_datasets_need_a_data_root(tmp_path):
    with pytest.raises(DatasetError, match="field 'data_root'.*train-images-idx3-ubyte"):
        load_dataset("mnist")
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetError, match="no such directory") as exc:
        load_dataset("cifar10", data_root=str(missing))
    assert error(exc).startswith(str(missing))


def test_missing_idx_file_names_directory_and_expected_files(tmp_path):
    write_idx_set(tmp_path / "mnist", gz=True, skip={IDX_NAMES[3]})
    with pytest.raises(DatasetError) as exc:
        load_dataset("mnist", data_root=tmp_path)
    message = error(exc)
    assert message.startswith(f"{tmp_path / 'mnist'}: missing t10k-labels-idx1-ubyte(.gz)")
    assert "expected train-images-idx3-ubyte, train-labels-idx1-ubyte" in message
    assert "(raw or .gz)" in message and f"also looked in {tmp_path}" in message


def test_missing_cifar_batch(tmp_path):
    write_cifar10(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(DatasetError, match=r"missing data_batch_3; expected data_batch_1") as exc:
        load_dataset("cifar10", data_root=tmp_path)
    assert error(exc).startswith(str(tmp_path))


def _broken_idx(tmp_path, name, data):
    write_idx_set(tmp_path)
    (tmp_path / name).write_bytes(data)
    with pytest.raises(DatasetError) as exc:
        load_dataset("fashion-mnist", data_root=tmp_path)
    assert error(exc).startswith(str(tmp_path / name))
    return error(exc)


def test_bad_magic_number(tmp_path):
    images = idx_bytes(tiny_images(30, (28, 28), 1), magic=0x00000801)
    message = _broken_idx(tmp_path, IDX_NAMES[0], images)
    assert "bad magic number 0x00000801" in message and "0x00000803" in message


def test_truncated_idx_file(tmp_path):
    message = _broken_idx(tmp_path, IDX_NAMES[2], idx_bytes(tiny_images(10, (28, 28), 2))[:-5])
    assert "truncated: header says 10x28x28 (7840 bytes of data), file holds 7835" in message
    assert "truncated" in _broken_idx(tmp_path, IDX_NAMES[1], b"\x00\x00")


def test_label_count_mismatch(tmp_path):
    message = _broken_idx(tmp_path, IDX_NAMES[1], idx_bytes(np.arange(29) % 10))
    assert "29 labels but train-images-idx3-ubyte holds 30 images" in message


def test_label_out_of_range(tmp_path):
    assert "label 12 out of range" in _broken_idx(tmp_path, IDX_NAMES[3], idx_bytes([12] * 10))


def test_corrupt_gzip(tmp_path):
    write_idx_set(tmp_path, gz=True)
    bad = tmp_path / f"{IDX_NAMES[0]}.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(DatasetError, match="unreadable") as exc:
        load_dataset("mnist", data_root=tmp_path)
    assert error(exc).startswith(str(bad))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"garbage", "not a readable pickle"),
        (pickle.dumps({b"data": os.getcwd, b"labels": []}), "is not allowed"),
        (pickle.dumps([1, 2]), "holds a list, not a dict"),
        (pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}), "shape"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}), "1 labels"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}), "has keys b'data'"),
    ],
)
def test_malformed_cifar_pickles(tmp_path, content, problem):
    write_cifar10(tmp_path)
    (tmp_path / "test_batch").write_bytes(content)
    with pytest.raises(DatasetError, match=problem) as exc:
        load_dataset("cifar10", data_root=tmp_path)
    assert error(exc).startswith(str(tmp_path / "test_batch"))


def test_cifar100_label_out_of_range(tmp_path):
    cifar_batch(tmp_path / "train", 20, b"fine_labels", 100, 1)
    data = np.zeros((2, 3072), np.uint8)
    (tmp_path / "test").write_bytes(pickle.dumps({b"data": data, b"fine_labels": [5, 100]}))
    with pytest.raises(DatasetError, match="label 100 out of range; expected labels 0..99"):
        load_dataset("cifar100", data_root=tmp_path)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("val_fraction", 0),
        ("val_fraction", 1.0),
        ("val_fraction", "0.1"),
        ("test_fraction", -0.1),
        ("test_fraction", True),
        ("seed", -1),
        ("seed", 1.5),
        ("resize", 0),
        ("train_subset", 0),
        ("train_subset", 2.0),
        ("normalize", "yes"),
        ("data_root", 3),
    ],
)
def test_bad_config_fields_are_named(field, value):
    with pytest.raises(DatasetError) as exc:
        DataConfig("digits", **{field: value})
    assert isinstance(exc.value, ConfigError) and exc.value.field == field
    assert error(exc).startswith(f"DataConfig: field '{field}' must be")


def test_fraction_combinations_and_tiny_splits(tmp_path):
    with pytest.raises(DatasetError, match=r"'val_fraction \+ test_fraction' must be less than 1"):
        DataConfig("digits", val_fraction=0.5, test_fraction=0.5)
    write_idx_set(tmp_path, n_train=12)
    with pytest.raises(DatasetError, match="field 'val_fraction'.*of the 12 training-pool"):
        load_dataset("mnist", data_root=tmp_path, val_fraction=0.01)
    with pytest.raises(DatasetError, match="load_dataset: field 'bogus'"):
        load_dataset("digits", bogus=1)


def test_errors_survive_pickling():
    err = pickle.loads(pickle.dumps(DatasetError("/x", "<file>", "files", problem="missing y")))
    assert str(err) == "/x: missing y; expected files" and err.problem == "missing y"
    err = pickle.loads(pickle.dumps(DatasetError("DataConfig", "seed", "an integer", -1)))
    assert str(err) == "DataConfig: field 'seed' must be an integer (got -1)"


# --- the config: key and mapping ---


def test_key_covers_every_field_that_changes_the_data():
    base = DataConfig("mnist5k")
    assert base.key() == "mnist5k|seed=0|val=0.1|test=0.2|resize=None|subset=None|norm=1"
    changes = [
        {"name": "digits"},
        {"seed": 1},
        {"val_fraction": 0.2},
        {"test_fraction": 0.3},
        {"resize": 14},
        {"train_subset": 100},
        {"normalize": False},
    ]
    keys = {DataConfig(**{"name": "mnist5k", **change}).key() for change in changes}
    assert len(keys) == len(changes) and base.key() not in keys
    assert DataConfig("mnist5k", data_root="/data").key() == base.key()
    assert DataConfig("mnist5k", val_fraction=np.float64(0.1), seed=np.int64(0)).key() == base.key()


def test_config_from_mapping_names_the_source():
    cfg = DataConfig.from_mapping({"name": "digits", "resize": 16}, "run.yaml")
    assert cfg == DataConfig("digits", resize=16)
    with pytest.raises(ConfigError, match="run.yaml: field 'resize' must be an integer >= 1"):
        DataConfig.from_mapping({"name": "digits", "resize": 0}, "run.yaml")
    with pytest.raises(ConfigError, match="run.yaml: field 'sede' must be one of the known"):
        DataConfig.from_mapping({"name": "digits", "sede": 1}, "run.yaml")
