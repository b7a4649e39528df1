"""Executors: same results in input order everywhere, failures name the item, clear errors."""

import importlib.util
import os
import warnings

import pytest
import torch

from coexplore.registry import UnknownNameError
from coexplore.slow.executors import (
    EXECUTORS,
    RAY_MAX_TEMP_DIR,
    TaskError,
    make_executor,
    ray_temp_dir,
)

ITEMS = list(range(7))


# Top-level functions: worker processes import them from this module by name.
def square_after(item):
    """Later items finish first on a pool; the results must still come back in input order."""
    import time

    time.sleep(0.01 * (len(ITEMS) - item))
    return item * item


def tiny_forward(item):
    """A seeded tiny linear layer's output: bit-identical wherever it runs (one thread)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(item)
        layer = torch.nn.Linear(8, 3)
        x = torch.randn(4, 8)
        return {"item": item, "out": layer(x).detach().tolist(), "pid": os.getpid()}
    finally:  # the sequential executor runs this in the test process: leave it as it was
        torch.set_num_threads(threads)


def fail_on_three(item):
    if item == 3:
        raise ValueError(f"bad item {item}")
    return item


@pytest.fixture(scope="module")
def executors(tmp_path_factory):
    """One executor of each kind for the module: a single ray.init (about 3 s).

    Without the ray extra installed, the other executors are still tested.
    """
    made = {
        "sequential": make_executor("sequential"),
        "process": make_executor("process", workers=2),
    }
    if importlib.util.find_spec("ray") is not None:
        run_dir = tmp_path_factory.mktemp("r")  # short: Ray's socket paths are limited
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a long basetemp only moves Ray's files to /tmp
            made["ray"] = make_executor("ray", workers=2, run_dir=str(run_dir))
    yield made
    for ex in made.values():
        ex.close()


def test_registry_lists_the_three():
    assert list(EXECUTORS) == ["process", "ray", "sequential"]


def test_same_results_in_input_order(executors):
    reference = [square_after(i) for i in ITEMS]
    for name, ex in executors.items():
        assert ex.map(square_after, ITEMS) == reference, name
        assert ex.map(square_after, []) == [], name


def test_torch_results_identical_across_executors(executors):
    runs = {name: ex.map(tiny_forward, ITEMS) for name, ex in executors.items()}
    reference = [{k: v for k, v in r.items() if k != "pid"} for r in runs["sequential"]]
    assert [r["item"] for r in reference] == ITEMS
    assert reference[0]["out"] != reference[1]["out"]  # the seed matters
    for name, results in runs.items():
        assert [{k: v for k, v in r.items() if k != "pid"} for r in results] == reference, name
    # the pool and Ray really ran elsewhere
    assert all(r["pid"] != os.getpid() for r in runs["process"] + runs.get("ray", []))


def test_exception_names_the_failed_item(executors):
    for name, ex in executors.items():
        with pytest.raises(TaskError, match=r"fail_on_three failed on item 3 \(3\)") as info:
            ex.map(fail_on_three, ITEMS)
        assert info.value.index == 3 and info.value.item == 3, name
        assert isinstance(info.value.__cause__, ValueError), name
        assert "bad item 3" in str(info.value), name
        assert ex.map(fail_on_three, [0, 1]) == [0, 1], name  # still usable


def test_unpicklable_function_is_refused_clearly(executors):
    for name, ex in executors.items():
        if name != "sequential":
            with pytest.raises(TypeError, match="top-level function"):
                ex.map(lambda x: x, ITEMS)


def test_unknown_executor_lists_known_ones():
    with pytest.raises(UnknownNameError, match="known: process, ray, sequential"):
        make_executor("dask")


def test_bad_worker_count():
    with pytest.raises(ValueError, match="positive integer"):
        make_executor("process", workers=0)


def test_ray_temp_dir_falls_back_to_a_short_one(tmp_path):
    short = tmp_path.parent / "x"
    if len(str(short / "ray")) <= RAY_MAX_TEMP_DIR:
        assert ray_temp_dir(short) == str(short / "ray")
    long_dir = tmp_path / ("d" * 80)
    with pytest.warns(UserWarning, match="socket paths"):
        path = ray_temp_dir(long_dir)
    assert path.startswith("/tmp/coexplore-ray-") and len(path) <= RAY_MAX_TEMP_DIR
    os.rmdir(path)


def test_missing_ray_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ImportError, match=r"pip install 'coexplore\[ray\]'"):
        make_executor("ray")


def test_ray_is_shut_down_only_by_the_executor_that_started_it(executors):
    if "ray" not in executors:
        pytest.skip("the ray extra is not installed")
    import ray

    with make_executor("ray") as guest:  # joins the Ray this module started
        assert guest.map(square_after, [2, 3]) == [4, 9]
    assert ray.is_initialized()
