"""Executors: same results in input order everywhere, failures name the item, clear errors.

The sequential and process executors run here. Ray runs in a child process
(tests/ray_checks.py, one Ray start for all its checks): Ray ends the process it runs in
when its raylet dies under it, which inside pytest would end the test session without a
summary. A crashed Ray fails the Ray tests here, with what the child and Ray's log said.

No worker outlives its executor's process: a child process that uses an executor is killed
with SIGKILL while its workers run, and all it started must be gone soon after.
"""

import contextlib
import glob
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from executor_tasks import (
    ITEMS,
    expected_threads,
    fail_on_three,
    square_after,
    tiny_forward,
    worker_threads,
)

from coexplore.registry import UnknownNameError
from coexplore.slow.executors import (
    EXECUTORS,
    RAY_MAX_TEMP_DIR,
    TaskError,
    make_executor,
    ray_temp_dir,
)

RAY_CHECKS = Path(__file__).with_name("ray_checks.py")
RAY_CHECKS_TIMEOUT_S = 240  # a start and seven small maps: seconds, unless Ray hangs
HAS_RAY = importlib.util.find_spec("ray") is not None
ORPHANS_GONE_S = 15  # after a kill -9 of their parent, its workers must be gone by then
WORKERS_UP_S = 120  # a pool, or a local Ray, starts its two workers within this
# Uses an executor of 2 workers (argv: executor, run dir, which thread spawns the workers),
# says the workers answer after the spawning thread has ended, then keeps both busy.
ORPHANS_PARENT = """
import sys, threading, time
from coexplore.slow.executors import make_executor
ex = make_executor(sys.argv[1], workers=2, run_dir=sys.argv[2])
if sys.argv[3] == "thread":
    spawner = threading.Thread(target=ex.map, args=(abs, [-1, -2]))
    spawner.start()
    spawner.join()
    time.sleep(0.5)  # the thread has ended for the kernel too
print("answered", ex.map(abs, [-1, -2]), flush=True)
ex.map(time.sleep, [600, 600])
"""


@pytest.fixture(scope="module")
def executors():
    """The executors that run in the test process: sequential and a 2-worker pool."""
    made = {
        "sequential": make_executor("sequential"),
        "process": make_executor("process", workers=2),
    }
    yield made
    for ex in made.values():
        ex.close()


class RayChecks:
    """The report of one run of tests/ray_checks.py; ``part(name)`` is one check's value."""

    def __init__(self, report: dict, returncode: int | None, output: str, waited_s: float):
        self.report, self.returncode, self.output = report, returncode, output
        self.waited_s = waited_s

    def part(self, name: str):
        result = self.report.get("checks", {}).get(name)
        if result is not None and "value" in result:
            return result["value"]
        if result is not None:
            pytest.fail(f"Ray check {name!r} raised in the Ray driver:\n{result['error']}")
        pytest.fail(f"Ray check {name!r} did not report: {self.why()}", pytrace=False)

    def why(self) -> str:
        if self.returncode is None:
            ended = f"the Ray driver did not finish within {self.waited_s:g} s (killed)"
        else:
            ended = f"the Ray driver ended with exit status {self.returncode}"
        running = self.report.get("running")
        if running:
            ended += f" while running check {running!r}"
        lines = [ended + "."]
        if self.report.get("session_dir"):
            lines.append(f"Ray's logs: {self.report['session_dir']}/logs")
            lines += ray_log_errors(self.report["session_dir"])
        if self.output.strip():
            lines.append("Driver output (tail):\n" + self.output[-3000:])
        return "\n".join(lines)


def ray_log_errors(session_dir: str, most: int = 12) -> list[str]:
    """The last warning/error lines of the driver's and the raylet's Ray logs."""
    found = []
    logs = sorted(glob.glob(os.path.join(session_dir, "logs", "python-core-driver-*.log")))
    for path in [*logs, os.path.join(session_dir, "logs", "raylet.out")]:
        try:
            text = Path(path).read_text(errors="replace").splitlines()
        except OSError:
            continue
        bad = [ln for ln in text if re.match(r"\[[^\]]* [WEF] \d+ \d+\]", ln)]
        found += [f"  {os.path.basename(path)}: {ln[:400]}" for ln in bad[-most:]]
    return found


class RayDriver:
    """tests/ray_checks.py running in a child process, in a process group of its own."""

    def __init__(self, run_dir: Path) -> None:
        self.out, self.log = run_dir / "ray_checks.json", run_dir / "ray_checks.out"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(RAY_CHECKS), str(run_dir), str(self.out)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: Ray's processes join it
            )
        self.checks: RayChecks | None = None

    def finish(self, timeout_s: float) -> RayChecks:
        """Wait for the driver, then kill its group: what Ray left, or all of it on timeout.

        A driver that Ray ended leaves the raylet's agents running. The group is killed
        while the driver is a zombie not yet reaped, so its id cannot have been reused.
        """
        if self.checks is not None:
            return self.checks
        pid, deadline = self.proc.pid, time.monotonic() + timeout_s
        flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
        while os.waitid(os.P_PID, pid, flags) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        finished = os.waitid(os.P_PID, pid, flags) is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        returncode = self.proc.wait(timeout=60)
        try:
            report = json.loads(self.out.read_text())
        except (OSError, ValueError):
            report = {}
        output = self.log.read_text(errors="replace")
        self.checks = RayChecks(report, returncode if finished else None, output, timeout_s)
        return self.checks


@pytest.fixture(scope="module", autouse=True)
def ray_driver(request, tmp_path_factory):
    """The Ray driver, started as the module starts so that it runs while the tests here do.

    Started only when Ray is installed and a selected test reads its results.
    """
    wanted = any("ray_checks" in item.fixturenames for item in request.session.items)
    if not (HAS_RAY and wanted):
        yield None
        return
    driver = RayDriver(tmp_path_factory.mktemp("r"))  # short: Ray's socket paths are limited
    yield driver
    driver.finish(0)  # stopped at once if still running


@pytest.fixture(scope="module")
def ray_checks(ray_driver, tmp_path_factory):
    """All Ray checks, run once in a child process (a Ray crash cannot end pytest)."""
    if not HAS_RAY:
        pytest.skip("the ray extra is not installed")
    driver = ray_driver or RayDriver(tmp_path_factory.mktemp("r"))
    return driver.finish(RAY_CHECKS_TIMEOUT_S)


def test_registry_lists_the_three():
    assert list(EXECUTORS) == ["process", "ray", "sequential"]


def test_same_results_in_input_order(executors):
    reference = [square_after(i) for i in ITEMS]
    for name, ex in executors.items():
        assert ex.map(square_after, ITEMS) == reference, name
        assert ex.map(square_after, []) == [], name


def _without_pid(results):
    return [{k: v for k, v in r.items() if k != "pid"} for r in results]


def test_torch_results_identical_across_executors(executors):
    runs = {name: ex.map(tiny_forward, ITEMS) for name, ex in executors.items()}
    reference = _without_pid(runs["sequential"])
    assert [r["item"] for r in reference] == ITEMS
    assert reference[0]["out"] != reference[1]["out"]  # the seed matters
    for name, results in runs.items():
        assert _without_pid(results) == reference, name
    assert all(r["pid"] != os.getpid() for r in runs["process"])  # the pool ran elsewhere


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


def test_bad_thread_count():
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        make_executor("process", workers=1, threads=0)


def test_process_workers_share_the_cores(executors):
    """workers x threads = cores: each of 2 workers gets cores // 2 torch threads."""
    ex = executors["process"]
    n = expected_threads(2)
    assert ex.threads == n
    seen = ex.map(worker_threads, list(range(4)))
    assert [s["item"] for s in seen] == list(range(4))
    for s in seen:
        assert (s["torch"], s["omp"], s["mkl"]) == (n, str(n), str(n)), s
        assert s["pid"] != os.getpid()


def test_process_workers_take_an_explicit_thread_count():
    with make_executor("process", workers=1, threads=2) as ex:
        assert ex.threads == 2
        [seen] = ex.map(worker_threads, [0])
    assert (seen["torch"], seen["omp"], seen["mkl"]) == (2, "2", "2")


def test_given_threads_the_workers_fill_the_cores():
    """Given the trainings' threads alone (as the search does), a pool has as many workers as
    the cores hold; more is allowed, with a warning: oversubscribed OpenMP threads spin-wait."""
    cores = os.cpu_count() or 1
    with make_executor("process", threads=2) as ex:
        assert (ex.workers, ex.threads) == (max(1, cores // 2), 2)
    with pytest.warns(UserWarning, match=f"{cores} workers x 2 torch threads exceed"):
        make_executor("process", workers=cores, threads=2).close()
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        make_executor("process", threads=0)


def test_sequential_keeps_the_callers_threads():
    before = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    [seen] = make_executor("sequential", threads=1).map(worker_threads, [0])
    assert (seen["torch"], seen["omp"]) == before
    assert seen["pid"] == os.getpid()
    assert (torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")) == before


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


def _stat(pid: int) -> tuple[int, str, str] | None:
    """(parent pid, state, start time) of ``pid`` from /proc(5), or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after the command name, which may hold ")"
    return int(fields[1]), fields[0], fields[19]


def descendants(pid: int) -> dict[int, str]:
    """The processes below ``pid`` now, as pid -> start time (together, an identity)."""
    children: dict[int, list[int]] = {}
    starts = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            children.setdefault(stat[0], []).append(int(entry))
            starts[int(entry)] = stat[2]
    found, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = starts[child]
            todo.append(child)
    return found


def running(procs: dict[int, str]) -> list[int]:
    """Those of ``procs`` still running: the same start time, and not a zombie."""
    alive = []
    for pid, start in procs.items():
        stat = _stat(pid)
        if stat is not None and stat[2] == start and stat[1] not in "ZX":
            alive.append(pid)
    return alive


def command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return "?"


def kill_9_while_busy(run_dir: Path, executor: str, spawner: str, worker: str) -> dict:
    """Start ORPHANS_PARENT, wait until it says its workers answered and 2 of them
    (``worker`` in their command line) run its sleeping tasks, SIGKILL it, and wait up to
    ORPHANS_GONE_S for all it had started to end.

    Returns ``started`` (pid -> command), ``left`` (those still running) and ``output``.
    Whatever happens, nothing is left behind: the parent runs in a process group of its own,
    killed at the end (the parent is reaped only after, so the group id is still its own),
    and so is every process it was seen to start.
    """
    log = run_dir / "parent.out"
    with open(log, "w") as out:
        parent = subprocess.Popen(
            [sys.executable, "-c", ORPHANS_PARENT, executor, str(run_dir), spawner],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started: dict[int, str] = {}
    try:
        deadline = time.monotonic() + WORKERS_UP_S
        while time.monotonic() < deadline and parent.poll() is None:
            started = descendants(parent.pid)
            answered = "answered" in log.read_text(errors="replace")
            if answered and sum(worker in command(pid) for pid in started) >= 2:
                break
            time.sleep(0.2)
        output = log.read_text(errors="replace")
        assert parent.poll() is None, f"the parent ended early:\n{output[-3000:]}"
        names = {pid: command(pid) for pid in started}
        assert sum(worker in c for c in names.values()) >= 2, (names, output[-3000:])
        time.sleep(0.5)  # the workers have picked up their tasks
        started = {**started, **descendants(parent.pid)}
        names = {pid: command(pid) for pid in started}
        os.kill(parent.pid, signal.SIGKILL)
        deadline = time.monotonic() + ORPHANS_GONE_S
        while running(started) and time.monotonic() < deadline:
            time.sleep(0.1)
        return {
            "started": names,
            "left": {pid: names[pid] for pid in running(started)},
            "output": log.read_text(errors="replace"),
        }
    finally:
        for pid in running({**started, **descendants(parent.pid)}):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)
        parent.wait(timeout=30)


@pytest.mark.skipif(sys.platform != "linux", reason="finds processes through /proc")
@pytest.mark.parametrize("spawner", ["main", "thread"])
def test_kill_9_leaves_no_pool_worker(spawner, tmp_path):
    """Busy pool workers end with their parent's kill -9, and so does multiprocessing's
    resource tracker (once its last pipe holder is gone). Workers that a since-ended thread
    spawned must not get the parent-death signal (it fires when the spawning *thread* ends)
    but still end with the parent, through their watchdog."""
    seen = kill_9_while_busy(tmp_path, "process", spawner, worker="spawn_main")
    assert "answered [1, 2]" in seen["output"]  # the thread's end did not kill its workers
    assert any("resource_tracker" in c for c in seen["started"].values()), seen["started"]
    assert seen["left"] == {}, f"still running {ORPHANS_GONE_S} s after the kill: {seen}"


def test_no_ray_in_the_test_process():
    """Nothing here initialised Ray: a dying raylet cannot take pytest down with it."""
    ray = sys.modules.get("ray")
    assert ray is None or not ray.is_initialized()


# Ray: the checks ran in tests/ray_checks.py, a child process started with the module;
# these tests come last so that it runs while the ones above do.


def test_same_results_in_input_order_on_ray(ray_checks):
    part = ray_checks.part("input_order")
    assert part["items"] == [square_after(i) for i in ITEMS]
    assert part["empty"] == []


def test_torch_results_on_ray_identical_to_sequential(ray_checks):
    """Floats come back from the Ray driver through JSON exactly (repr round-trips)."""
    reference = _without_pid(make_executor("sequential").map(tiny_forward, ITEMS))
    results = ray_checks.part("torch")
    assert _without_pid(results) == reference
    # Ray really ran elsewhere: in its workers, not the driver (nor this process)
    assert all(r["pid"] not in (os.getpid(), ray_checks.report["driver_pid"]) for r in results)


def test_exception_names_the_failed_item_on_ray(ray_checks):
    part = ray_checks.part("failure")
    assert part["raised"] == "TaskError", part
    assert re.search(r"fail_on_three failed on item 3 \(3\)", part["message"]), part
    assert part["index"] == 3 and part["item"] == 3
    assert part["cause"] == "ValueError"
    assert "bad item 3" in part["message"]
    assert part["after"] == [0, 1]  # still usable


def test_unpicklable_function_is_refused_clearly_on_ray(ray_checks):
    part = ray_checks.part("unpicklable")
    assert part["raised"] == "TypeError", part
    assert "top-level function" in part["message"]


def test_bad_thread_count_on_ray_starts_nothing(ray_checks):
    part = ray_checks.part("bad_threads")
    assert part["raised"] == "ValueError", part
    assert "threads must be a positive integer" in part["message"]
    assert part["ray_started"] is False


def test_ray_workers_share_the_cores(ray_checks):
    part = ray_checks.part("threads")
    n = expected_threads(2)
    assert (part["workers"], part["threads"]) == (2, n)
    assert [s["item"] for s in part["seen"]] == list(range(4))
    for s in part["seen"]:
        assert (s["torch"], s["omp"], s["mkl"]) == (n, str(n), str(n)), s
        assert s["pid"] != ray_checks.report["driver_pid"]


def test_ray_workers_take_an_explicit_thread_count(ray_checks):
    """Ray reuses workers: each task gets its executor's count, whatever ran there before."""
    part = ray_checks.part("guest")
    for s in part["guest_threads"]:
        assert (s["torch"], s["omp"], s["mkl"]) == (2, "2", "2"), s
    n = expected_threads(2)
    for s in part["owner_threads"]:
        assert (s["torch"], s["omp"], s["mkl"]) == (n, str(n), str(n)), s


def test_ray_is_shut_down_only_by_the_executor_that_started_it(ray_checks):
    guest = ray_checks.part("guest")
    assert guest["result"] == [4, 9]
    assert guest["guest_owns"] is False
    assert guest["after_guest"] is True  # the guest's close left the owner's Ray up
    closed = ray_checks.part("close")
    assert closed["after_owner"] is False  # the owner's close shut it down


def test_closing_a_local_ray_leaves_no_process_behind(ray_checks):
    closed = ray_checks.part("close")
    assert closed["started"] > 0  # GCS, raylet, workers...
    assert closed["still_running"] == []


@pytest.mark.slow
@pytest.mark.skipif(not HAS_RAY, reason="the ray extra is not installed")
@pytest.mark.skipif(sys.platform != "linux", reason="finds processes through /proc")
def test_kill_9_leaves_no_ray_process(tmp_path_factory):
    """A local Ray ends with its driver's kill -9: GCS and raylet (Ray's parent-death
    signal), workers, and the agents, which Ray alone leaves running for a minute (the
    executor's reaper kills them). Last in the module: the Ray checks' driver is done."""
    run_dir = tmp_path_factory.mktemp("k")  # short: Ray's socket paths are limited
    seen = kill_9_while_busy(run_dir, "ray", "main", worker="ray::_apply")
    assert "answered [1, 2]" in seen["output"]
    assert any("raylet" in c for c in seen["started"].values()), seen["started"]
    assert seen["left"] == {}, f"still running {ORPHANS_GONE_S} s after the kill: {seen}"
