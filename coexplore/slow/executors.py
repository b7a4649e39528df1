"""Evaluate a batch of candidates: in this process, in a local process pool, or on Ray.

Every executor maps a picklable top-level function over items and returns the results in
input order; the functions are deterministic given their item (seeds travel inside items),
so every executor returns the same results. The first failure in input order is raised as a
``TaskError`` naming the item, with the original exception as its ``__cause__``.

Worker processes (the pool's, Ray's) run torch with ``threads`` intra-op threads each, by
default ``cpu_count // workers``: on a small machine, workers whose OpenMP threads outnumber
the cores spin-wait on each other and run many times slower. The sequential executor leaves
the calling process as it is.
"""

from __future__ import annotations

import contextlib
import importlib.util
import multiprocessing
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol, TypeVar

from coexplore.registry import Registry

T = TypeVar("T")
R = TypeVar("R")

RAY_INSTALL_HINT = "pip install 'coexplore[ray]'"
# Ray puts Unix sockets at <temp>/session_<date>_<time>_<us>_<pid>/sockets/plasma_store; a
# socket path may have at most 107 bytes, so the temp dir may have at most this many.
RAY_MAX_TEMP_DIR = 107 - len("/session_2000-01-01_00-00-00_000000_4194304/sockets/plasma_store.9")
# What a worker's thread count is set through before its numeric libraries start.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# How long close() waits for the processes of a local Ray to end before it kills them.
RAY_STOP_GRACE_S = 5.0


class TaskError(RuntimeError):
    """``fn`` raised on one item; ``item`` and ``index`` say which, ``__cause__`` says why."""

    def __init__(self, fn: Callable, index: int, item: Any, cause: BaseException) -> None:
        self.fn, self.index, self.item, self.cause = fn, index, item, cause
        shown = repr(item)
        shown = shown if len(shown) <= 200 else shown[:197] + "..."
        name = getattr(fn, "__qualname__", repr(fn))
        super().__init__(
            f"{name} failed on item {index} ({shown}): {type(cause).__name__}: {cause}"
        )


class Executor(Protocol):
    """Maps a function over items; results in input order. Also a context manager."""

    name: str
    workers: int
    threads: int | None  # each worker's torch threads; None: the caller's process as it is

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...


class _Base:
    name = "base"
    workers = 1
    threads: int | None = None

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        threads = "" if self.threads is None else f" x {self.threads} thread(s)"
        return f"<{self.name} executor, {self.workers} worker(s){threads}>"


def _require_picklable(fn: Callable) -> None:
    """Worker processes receive ``fn`` by reference: it must be a top-level function."""
    try:
        pickle.dumps(fn)
    except Exception as exc:
        raise TypeError(
            f"{fn!r} cannot be sent to worker processes ({exc}); pass a top-level function "
            "of an importable module (not a lambda, closure or nested function)"
        ) from None


def _workers(workers: int | None) -> int:
    n = (os.cpu_count() or 1) if workers is None else workers
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    return n


def _threads(threads: int | None, workers: int) -> int:
    """``threads``, or the share of the cores of one of ``workers``: workers x threads = cores."""
    n = max(1, (os.cpu_count() or 1) // workers) if threads is None else threads
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    return n


def set_worker_threads(threads: int) -> None:
    """In a worker process: OpenMP, MKL, OpenBLAS and torch use ``threads`` threads.

    The environment variables reach libraries started later (torch reads OMP_NUM_THREADS
    when it is imported); torch, if installed, is set directly as well.
    """
    for var in THREAD_ENV_VARS:
        os.environ[var] = str(threads)
    torch = sys.modules.get("torch")
    if torch is None:
        if importlib.util.find_spec("torch") is None:
            return
        import torch
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


class SequentialExecutor(_Base):
    """A plain loop in this process: the reference, and the easiest to debug."""

    name = "sequential"

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        results = []
        for i, item in enumerate(items):
            try:
                results.append(fn(item))
            except Exception as exc:
                raise TaskError(fn, i, item, exc) from exc
        return results


class ProcessExecutor(_Base):
    """A local pool of ``workers`` processes (default: one per CPU core).

    Each worker runs with ``threads`` torch threads (default: cores // workers).
    """

    name = "process"

    def __init__(self, workers: int | None = None, threads: int | None = None) -> None:
        self.workers = _workers(workers)
        self.threads = _threads(threads, self.workers)
        # "spawn", not "fork": forking a process that has started torch's (or any) threads
        # can deadlock the child on a lock held by a thread that was not copied. The
        # initializer runs before the first task, so before the task's module imports torch.
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=set_worker_threads,
            initargs=(self.threads,),
        )

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        _require_picklable(fn)
        futures: list[Future] = [self._pool.submit(fn, item) for item in items]
        results = []
        for i, (item, future) in enumerate(zip(items, futures, strict=True)):
            try:
                results.append(future.result())
            except Exception as exc:
                for rest in futures[i + 1 :]:
                    rest.cancel()
                raise TaskError(fn, i, item, exc) from exc
        return results

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def import_ray():
    """Ray, or an ImportError saying how to install it (it is an optional extra)."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(
            f"the 'ray' executor needs Ray, an optional extra: {RAY_INSTALL_HINT}"
        ) from exc
    return ray


def ray_temp_dir(run_dir: str | os.PathLike) -> str:
    """``<run_dir>/ray``, or a fresh short dir under /tmp when that path is too long."""
    path = os.path.join(os.path.abspath(run_dir), "ray")
    if len(path.encode()) <= RAY_MAX_TEMP_DIR:
        return path
    short = tempfile.mkdtemp(prefix="coexplore-ray-", dir="/tmp")
    warnings.warn(
        f"Ray's temp dir {path} is longer than {RAY_MAX_TEMP_DIR} bytes (Unix socket paths "
        f"are limited to 107); Ray's files go to {short} instead (removed on close)",
        stacklevel=4,  # the caller of make_executor
    )
    return short


def _apply(fn: Callable[[T], R], item: T, threads: int) -> R:
    """Ray's ``remote`` takes functions and classes only; this carries any callable.

    The worker's threads are set before every task: Ray reuses workers, and a task may have
    changed them (Ray itself sets OMP_NUM_THREADS to the task's CPUs when it is unset).
    """
    set_worker_threads(threads)
    return fn(item)


class RayExecutor(_Base):
    """Ray tasks: join a cluster at ``address``, or start a local one with ``workers`` CPUs.

    A local cluster keeps its files under ``<run_dir>/ray``, and its workers get this
    process's extra ``sys.path`` entries, as spawned pool workers do. Each task takes one
    CPU and runs with ``threads`` torch threads (default: this machine's cores // workers).
    Ray is shut down on ``close`` only if this executor initialised it; a local Ray it
    started is then stopped for good: processes still running after a grace period are
    killed, and so are those of a failed start.

    Note that Ray ends the process it runs in (exit status 1, a line in its session's
    ``python-core-driver-*.log`` and nothing on stderr) when the local raylet dies under it
    and the process then touches the object store, or when the GCS stays unreachable for a
    minute: a caller that must survive that runs Ray in a child process.
    """

    name = "ray"

    def __init__(
        self,
        workers: int | None = None,
        run_dir: str | os.PathLike | None = None,
        address: str | None = None,
        threads: int | None = None,
    ) -> None:
        ray = self._ray = import_ray()
        self.address = address
        self._owns_ray = False
        self._scratch: str | None = None  # a fallback temp dir of ours, removed on close
        self._sigterm: Any = None  # this process's SIGTERM handler before ray.init
        if ray.is_initialized():  # the caller set Ray up: use it as it is
            self.workers = int(ray.cluster_resources().get("CPU", 1))
            self.threads = _threads(threads, self.workers)
            return
        if threads is not None:
            _threads(threads, 1)  # refuse a bad value before starting anything
        # Ray >= 2.5x turns on token authentication for new clusters unless told otherwise.
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        common = {"include_dashboard": False, "log_to_driver": False}
        if threading.current_thread() is threading.main_thread():
            self._sigterm = signal.getsignal(signal.SIGTERM)  # ray.init replaces it
        try:
            if address is not None:
                ray.init(address=address, **common)
                self.workers = int(ray.cluster_resources().get("CPU", 1))
            else:
                self.workers = _workers(workers)
                temp_dir = None if run_dir is None else ray_temp_dir(run_dir)
                if temp_dir is not None and not temp_dir.startswith(os.path.abspath(run_dir)):
                    self._scratch = temp_dir
                # The local raylet and its workers inherit the environment of this ray.init:
                # env vars rather than a runtime_env, so that pre-started workers are usable.
                n = str(_threads(threads, self.workers))
                env = {var: n for var in THREAD_ENV_VARS}
                with _env(PYTHONPATH=os.pathsep.join(_user_sys_path()), **env):
                    ray.init(num_cpus=self.workers, _temp_dir=temp_dir, **common)
            self.threads = _threads(threads, self.workers)
        except BaseException:
            self._owns_ray = True  # Ray was not up before: whatever this start left is ours
            self.close()
            raise
        self._owns_ray = True

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        _require_picklable(fn)
        ray = self._ray
        remote = ray.remote(num_cpus=1)(_apply)  # any picklable callable, bound methods too
        fn_ref = ray.put(fn)
        refs = [remote.remote(fn_ref, item, self.threads) for item in items]
        results = []
        for i, (item, ref) in enumerate(zip(items, refs, strict=True)):
            try:
                results.append(ray.get(ref))
            except Exception as exc:
                for rest in refs[i + 1 :]:
                    with contextlib.suppress(Exception):  # already finished: nothing to cancel
                        ray.cancel(rest)
                cause = exc
                if isinstance(exc, ray.exceptions.RayTaskError) and exc.cause is not None:
                    cause = exc.cause
                raise TaskError(fn, i, item, cause) from cause
        return results

    def close(self) -> None:
        if self._owns_ray:
            started = _local_ray_processes(self._ray)
            with contextlib.suppress(Exception):  # a Ray that died already: nothing to stop
                self._ray.shutdown()
            _stop(started, RAY_STOP_GRACE_S)
            self._owns_ray = False
        if self._sigterm is not None:
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, self._sigterm)
            self._sigterm = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


def _local_ray_processes(ray) -> list:
    """The processes of the Ray node this process started (none when it joined one).

    As ``psutil.Process`` objects (Ray ships psutil): GCS, raylet, their helpers, and what
    they started in turn (workers, agents). Empty when psutil cannot be imported.
    """
    node = getattr(ray._private.worker, "_global_node", None)
    try:
        import psutil
    except ImportError:
        return []
    if node is None:
        return []
    found = []
    for infos in list(getattr(node, "all_processes", {}).values()):
        for info in infos:
            with contextlib.suppress(psutil.Error):
                top = psutil.Process(info.process.pid)
                found += [top, *top.children(recursive=True)]
    return found


def _stop(processes: list, grace_s: float) -> None:
    """Wait up to ``grace_s`` for ``processes`` to end, then kill those still running."""
    if not processes:
        return
    import psutil

    _, alive = psutil.wait_procs(processes, timeout=grace_s)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=grace_s)


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    """Set environment variables for the duration of the block."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _user_sys_path() -> list[str]:
    """The directories on ``sys.path`` that are not the interpreter's own (prefix, stdlib)."""
    prefixes = {os.path.abspath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    paths = []
    for p in sys.path:
        p = os.path.abspath(p or os.curdir)
        if os.path.isdir(p) and not any(p.startswith(pre + os.sep) for pre in prefixes):
            paths.append(p)
    return list(dict.fromkeys(paths))


EXECUTORS: Registry[Callable[..., Executor]] = Registry("executor")
EXECUTORS.register("sequential", lambda workers, run_dir, address, threads: SequentialExecutor())
EXECUTORS.register(
    "process", lambda workers, run_dir, address, threads: ProcessExecutor(workers, threads)
)
EXECUTORS.register("ray", RayExecutor)


def make_executor(
    name: str,
    *,
    workers: int | None = None,
    run_dir: str | os.PathLike | None = None,
    address: str | None = None,
    threads: int | None = None,
) -> Executor:
    """The executor registered as ``name`` (sequential, process, ray).

    ``threads``: each worker process's torch (and OpenMP/MKL) threads, by default
    ``max(1, cpu_count // workers)``; the sequential executor ignores it (it runs in the
    caller's process, with the caller's threads).
    """
    return EXECUTORS.get(name)(workers=workers, run_dir=run_dir, address=address, threads=threads)
