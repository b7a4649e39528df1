"""The functions the executor tests map: top-level, so worker processes import them by name.

Shared by tests/test_executors.py (in-process, process pool) and tests/ray_checks.py (Ray,
in a child process of its own).
"""

import os
import time

import torch

ITEMS = list(range(7))


def square_after(item):
    """Later items finish first on a pool; the results must still come back in input order."""
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


def worker_threads(item):
    """The torch threads and thread env vars of the process this runs in."""
    return {
        "item": item,
        "torch": torch.get_num_threads(),
        "omp": os.environ.get("OMP_NUM_THREADS"),
        "mkl": os.environ.get("MKL_NUM_THREADS"),
        "pid": os.getpid(),
    }


def expected_threads(workers):
    """What each of ``workers`` worker processes should get by default: cores // workers."""
    return max(1, (os.cpu_count() or 1) // workers)
