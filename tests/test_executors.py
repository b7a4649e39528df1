"""Executors: same results in input order everywhere, failures name the item, clear errors.

The sequential and process executors run here. Ray runs in a child process
(tests/ray_checks.py, one Ray start for all its checks): Ray ends the process it runs in
when its raylet dies under it, which inside pytest would end the test session without a
summary. A crashed Ray fails the Ray tests here, with what the child and Ray's log said.
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
        returncode = self.proc.wait()
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
