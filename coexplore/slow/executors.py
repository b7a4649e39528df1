"""Evaluate a batch of candidates: in this process, in a local process pool, or on Ray.

Every executor maps a picklable top-level function over items and returns the results in
input order; the functions are deterministic given their item (seeds travel inside items),
so every executor returns the same results. The first failure in input order is raised as a
``TaskError`` naming the item, with the original exception as its ``__cause__``.

Worker processes (the pool's, Ray's) run torch with ``threads`` intra-op threads each, by
default ``cpu_count // workers``, and there are ``cpu_count // threads`` of them when only
``threads`` is given: on a small machine, workers whose OpenMP threads outnumber the cores
spin-wait on each other and run many times slower (a warning says so). The sequential
executor leaves the calling process as it is. A training sets its own thread count inside
(the trainer's ``TrainConfig.threads``, default 2; the search passes it as ``threads``), so
its results do not depend on where it runs.

No worker outlives the process that started it, however that process ends (kill -9
included): pool workers end with their parent (:func:`end_with_parent`), and a local Ray's
processes are killed by a reaper process when their driver is gone (:func:`reap_when_gone`).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import multiprocessing
import os
import pickle
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.context import SpawnContext, SpawnProcess
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
# How often a watchdog without pidfd looks at its parent.
WATCH_INTERVAL_S = 0.5
# How often the Ray reaper notes the Ray node's new processes (a look costs about 2 ms).
REAPER_INTERVAL_S = 1.0
# How long close() waits for the reaper to end.
REAPER_STOP_S = 10.0
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


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


def _workers(workers: int | None, threads: int | None = None) -> int:
    """``workers``, or as many as the cores hold at ``threads`` each (default: one per core)."""
    cores = os.cpu_count() or 1
    if workers is None:
        return cores if threads is None else max(1, cores // _threads(threads, 1))
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    return workers


def _threads(threads: int | None, workers: int) -> int:
    """``threads``, or the share of the cores of one of ``workers``: workers x threads = cores."""
    n = max(1, (os.cpu_count() or 1) // workers) if threads is None else threads
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    return n


def _warn_if_oversubscribed(workers: int, threads: int) -> None:
    """Warn when ``workers`` x ``threads`` exceed this machine's cores."""
    cores = os.cpu_count() or 1
    if workers * threads > cores:
        warnings.warn(
            f"{workers} workers x {threads} torch threads exceed the {cores} cores: OpenMP "
            "threads that outnumber the cores spin-wait on each other (measured: 2 x 2 on 2 "
            "cores, 2.7x slower than 2 x 1); use fewer workers, or fewer threads per training "
            "(slow_phase.train.threads, which changes the floats of every training)",
            stacklevel=4,  # the caller of make_executor
        )


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


def end_with_parent(parent_pid: int, kernel: bool = True) -> None:
    """In a child process: end this process as soon as ``parent_pid``, its parent, is gone.

    A watchdog daemon thread waits on the parent (a pidfd on Linux >= 5.3, else polls
    ``os.getppid()``, which changes when the parent dies and the child is re-parented) and
    then ``os._exit``s. With ``kernel`` on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` also
    has the kernel kill this process, which needs no Python thread to run; but that signal
    fires when the *thread* that forked the child ends (prctl(2)), so ``kernel`` must be
    False for a child started from a thread other than the main one. A parent that died
    before this call is caught by comparing ``os.getppid()`` after setting both up.
    """
    if kernel and sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    pidfd = None
    with contextlib.suppress(AttributeError, OSError):  # no pidfd_open: poll instead
        pidfd = os.pidfd_open(parent_pid)
    if os.getppid() != parent_pid:  # the parent died before the watch began
        os._exit(1)
    threading.Thread(
        target=_watch_parent, args=(parent_pid, pidfd), name="end-with-parent", daemon=True
    ).start()


def _watch_parent(parent_pid: int, pidfd: int | None) -> None:
    """Block until ``parent_pid`` has ended, then end this process at once."""
    if pidfd is not None:
        select.select([pidfd], [], [])  # a pidfd turns readable when its process ends
    else:
        while os.getppid() == parent_pid:
            time.sleep(WATCH_INTERVAL_S)
    os._exit(1)


class _WorkerProcess(SpawnProcess):
    """A spawned pool worker that knows whether the main thread started it.

    The attribute travels to the child with the pickled process object, where
    ``multiprocessing.current_process()`` is this object."""

    from_main_thread = False

    def start(self) -> None:
        self.from_main_thread = threading.current_thread() is threading.main_thread()
        super().start()


class _WorkerContext(SpawnContext):
    """The "spawn" start method, with :class:`_WorkerProcess` as its processes."""

    Process = _WorkerProcess


def _init_worker(threads: int, parent_pid: int) -> None:
    """A pool worker's initializer: its threads, and its end with the pool's process.

    ``ProcessPoolExecutor`` spawns workers lazily, from whichever thread submits, so the
    kernel's parent-death signal is set only in workers that the main thread started."""
    from_main = getattr(multiprocessing.current_process(), "from_main_thread", False)
    end_with_parent(parent_pid, kernel=from_main)  # first: importing torch takes seconds
    set_worker_threads(threads)


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
    """A local pool of ``workers`` processes (default: one per CPU core, or cores // threads).

    Each worker runs with ``threads`` torch threads (default: cores // workers), and ends
    when this process does, however it ends (:func:`end_with_parent`). Python's own pool
    does not: its workers block on a queue whose writing end they hold themselves, and a
    busy one finishes its task first; after a kill -9 of the parent both workers and the
    resource tracker (which ends when the last holder of its pipe does) were still running
    50 s later.
    """

    name = "process"

    def __init__(self, workers: int | None = None, threads: int | None = None) -> None:
        self.workers = _workers(workers, threads)
        self.threads = _threads(threads, self.workers)
        _warn_if_oversubscribed(self.workers, self.threads)
        # "spawn", not "fork": forking a process that has started torch's (or any) threads
        # can deadlock the child on a lock held by a thread that was not copied. The
        # initializer runs before the first task, so before the task's module imports torch.
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=_WorkerContext(),
            initializer=_init_worker,
            initargs=(self.threads, os.getpid()),
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
    CPU and runs with ``threads`` torch threads (default: this machine's cores // workers;
    a local cluster's ``workers`` default to cores, or cores // threads).
    A failed task is raised once the tasks submitted with it have ended (none is cancelled).
    Ray is shut down on ``close`` only if this executor initialised it; a local Ray it
    started is then stopped for good: processes still running after a grace period are
    killed, and so are those of a failed start. A local Ray also ends with this process
    when it is killed (:func:`reap_when_gone`).

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
        self._reaper: subprocess.Popen | None = None  # kills a local Ray if we are killed
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
                self.workers = _workers(workers, threads)
                _warn_if_oversubscribed(self.workers, _threads(threads, self.workers))
                temp_dir = None if run_dir is None else ray_temp_dir(run_dir)
                if temp_dir is not None and not temp_dir.startswith(os.path.abspath(run_dir)):
                    self._scratch = temp_dir
                # The local raylet and its workers inherit the environment of this ray.init:
                # env vars rather than a runtime_env, so that pre-started workers are usable.
                n = str(_threads(threads, self.workers))
                env = {var: n for var in THREAD_ENV_VARS}
                with _env(PYTHONPATH=os.pathsep.join(_user_sys_path()), **env):
                    ray.init(num_cpus=self.workers, _temp_dir=temp_dir, **common)
                self._reaper = _start_reaper(_ray_node_pids(ray))
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
                # The other tasks run to their end rather than being cancelled: Ray's cancel
                # races with a task that is just finishing and then ends the driver
                # ("Tried to complete task that was not pending", ray-project/ray#54846).
                rest = refs[i + 1 :]
                if rest:
                    ray.wait(rest, num_returns=len(rest), fetch_local=False)
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
        if self._reaper is not None:  # its stdin closes: it kills what is left (nothing)
            self._reaper.stdin.close()
            try:
                self._reaper.wait(REAPER_STOP_S)
            except subprocess.TimeoutExpired:
                self._reaper.kill()
                self._reaper.wait()
            self._reaper = None
        if self._sigterm is not None:
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, self._sigterm)
            self._sigterm = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


def _ray_node_pids(ray) -> list[int]:
    """The pids of the Ray node this process started: GCS, raylet and their helpers (not
    what they started in turn); none when it joined one."""
    node = getattr(ray._private.worker, "_global_node", None)
    if node is None:
        return []
    infos = list(getattr(node, "all_processes", {}).values())
    return [info.process.pid for group in infos for info in group]


def _local_ray_processes(ray) -> list:
    """The processes of the Ray node this process started (none when it joined one).

    As ``psutil.Process`` objects (Ray ships psutil): GCS, raylet, their helpers, and what
    they started in turn (workers, agents). Empty when psutil cannot be imported.
    """
    try:
        import psutil
    except ImportError:
        return []
    found = []
    for pid in _ray_node_pids(ray):
        with contextlib.suppress(psutil.Error):
            top = psutil.Process(pid)
            found += [top, *top.children(recursive=True)]
    return found


def _start_reaper(pids: list[int]) -> subprocess.Popen | None:
    """Start :func:`reap_when_gone` in a child process for the Ray node ``pids``.

    It holds the reading end of a pipe whose only writing end is this process's (not
    inherited: PEP 446), so its stdin closes when this process ends, however it ends. None
    off POSIX (no ``select`` on pipes; Ray on Windows fate-shares through job objects) or
    without psutil."""
    if os.name != "posix" or not pids:
        return None
    try:
        import psutil  # Ray's own copy: the reaper gets its directory on its path
    except ImportError:
        return None
    path = [os.path.dirname(os.path.dirname(psutil.__file__)), *_user_sys_path()]
    code = "import sys; from coexplore.slow.executors import reap_when_gone as r; r(sys.argv[1:])"
    return subprocess.Popen(
        [sys.executable, "-c", code, str(os.getpid()), *map(str, pids)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,  # holds no pipe of the caller's open (stderr: its errors)
        env={**os.environ, "PYTHONPATH": os.pathsep.join(path)},
    )


def reap_when_gone(args: Sequence[str]) -> None:
    """The reaper process: ``args`` = driver pid, then the Ray node's pids (its children).

    Until its stdin closes (the driver ended, or closed the executor), it notes every
    process those start, then kills all of them still running. After a kill -9 of the
    driver, Ray 2.60 ends the GCS and raylet at once (their parent-death signal) and the
    workers within 2 s, but its dashboard and runtime-env agents lingered 60 s (they first
    report the raylet's death to the dead GCS). Ctrl-C and SIGTERM, sent to the whole
    process group, are ignored: the reaper's work starts when the driver has ended.
    """
    import psutil

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    driver, tops = int(args[0]), {int(a) for a in args[1:]}
    try:  # children of the driver: no pid reused by another process
        tracked = {p.pid: p for p in psutil.Process(driver).children() if p.pid in tops}
    except psutil.NoSuchProcess:  # the driver died already
        tracked = {}
        for pid in tops:
            with contextlib.suppress(psutil.Error):
                tracked[pid] = psutil.Process(pid)
    while True:
        tracked = {pid: p for pid, p in tracked.items() if p.is_running()}
        with contextlib.suppress(psutil.Error):  # one scan of the process table
            family = psutil.Process(driver).children(recursive=True)
            parents = {}
            for p in family:
                with contextlib.suppress(psutil.Error):
                    parents[p.pid] = p.ppid()
            for p in family:  # parents before children: children() walks breadth first
                if parents.get(p.pid) in tracked:
                    tracked.setdefault(p.pid, p)
        ready, _, _ = select.select([sys.stdin], [], [], REAPER_INTERVAL_S)
        if ready and not os.read(sys.stdin.fileno(), 4096):
            break
    _stop(list(tracked.values()), 0.0)


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
    ``max(1, cpu_count // workers)``; given alone, ``workers`` defaults to
    ``max(1, cpu_count // threads)``. The sequential executor ignores both (it runs in the
    caller's process, with the caller's threads). A training sets its own count inside
    (``TrainConfig.threads``), whichever executor runs it; the search passes that count.
    """
    return EXECUTORS.get(name)(workers=workers, run_dir=run_dir, address=address, threads=threads)
