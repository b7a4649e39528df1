"""Every Ray check of tests/test_executors.py, on one local Ray, in a process of its own.

    python tests/ray_checks.py RUN_DIR OUT_JSON

Ray ends the process it runs in, with exit status 1 and nothing on stderr, when the local
raylet dies under it and the process then touches the object store (every ``map`` does), or
when the GCS stays unreachable for a minute. Run inside pytest, that ends the whole test
session without a summary; so the tests run Ray here, in a child process, and read the
results. OUT_JSON is rewritten after every check: if this process dies, the checks done so
far are there, and ``running`` names the one it died in.

RAY_CHECKS_KILL_RAYLET_BEFORE=<check> kills the raylet just before that check, to see what
such a crash looks like from pytest (the Ray tests fail, saying why; the session goes on).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import warnings

import executor_tasks as tasks

from coexplore.slow.executors import TaskError, make_executor

WORKERS = 2


def raised(call) -> dict:
    """What ``call()`` raised (type, message and TaskError details), or that it did not."""
    try:
        value = call()
    except Exception as exc:
        info = {"raised": type(exc).__name__, "message": str(exc)}
        if isinstance(exc, TaskError):
            info.update(index=exc.index, item=exc.item, cause=type(exc.__cause__).__name__)
        return info
    return {"raised": None, "value": value}


def live(processes) -> list[int]:
    """The pids of ``processes`` still running (zombies are over)."""
    import psutil  # Ray ships it

    alive = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc.pid)
        except psutil.Error:
            pass
    return alive


def kill_raylet() -> None:
    """SIGKILL this process's raylet, as the OOM killer or a failed health check would."""
    import psutil

    for proc in psutil.Process().children(recursive=True):
        if os.path.basename(proc.exe()) == "raylet":
            proc.kill()
            proc.wait(timeout=10)


def main(run_dir: str, out: str) -> int:
    report: dict = {"driver_pid": os.getpid(), "running": None, "checks": {}}

    def save() -> None:
        with open(out + ".tmp", "w") as f:
            json.dump(report, f)
        os.replace(out + ".tmp", out)

    def check(name: str, fn) -> None:
        report["running"] = name
        save()
        if name == os.environ.get("RAY_CHECKS_KILL_RAYLET_BEFORE"):
            kill_raylet()  # to see what a crash looks like from pytest
        started = time.monotonic()
        try:
            report["checks"][name] = {"value": fn()}
        except Exception:
            report["checks"][name] = {"error": traceback.format_exc()}
        report["checks"][name]["seconds"] = round(time.monotonic() - started, 3)
        report["running"] = None
        save()

    def bad_threads():  # refused before anything starts: no Ray is left behind
        info = raised(lambda: make_executor("ray", threads=0))
        ray = sys.modules.get("ray")
        info["ray_started"] = ray is not None and ray.is_initialized()
        return info

    check("bad_threads", bad_threads)

    import ray

    state: dict = {}

    def start():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a long basetemp only moves Ray's files to /tmp
            state["ex"] = make_executor("ray", workers=WORKERS, run_dir=run_dir)
        node = ray._private.worker._global_node
        return {"session_dir": node.get_session_dir_path(), "initialized": ray.is_initialized()}

    check("start", start)
    ex = state.get("ex")
    if ex is None:
        return 1
    report["session_dir"] = report["checks"]["start"]["value"]["session_dir"]

    check(
        "input_order",
        lambda: {
            "items": ex.map(tasks.square_after, tasks.ITEMS),
            "empty": ex.map(tasks.square_after, []),
        },
    )
    check("torch", lambda: ex.map(tasks.tiny_forward, tasks.ITEMS))

    def failure():
        info = raised(lambda: ex.map(tasks.fail_on_three, tasks.ITEMS))
        info["after"] = ex.map(tasks.fail_on_three, [0, 1])  # still usable
        return info

    check("failure", failure)
    check("unpicklable", lambda: raised(lambda: ex.map(lambda x: x, tasks.ITEMS)))
    check(
        "threads",
        lambda: {
            "workers": ex.workers,
            "threads": ex.threads,
            "seen": ex.map(tasks.worker_threads, list(range(2 * WORKERS))),
        },
    )

    def guest():
        with make_executor("ray", threads=2) as joined:  # joins the Ray started above
            result = joined.map(tasks.square_after, [2, 3])
            owns = joined._owns_ray
            threads = joined.map(tasks.worker_threads, list(range(2 * WORKERS)))
        return {
            "result": result,
            "guest_owns": owns,
            "after_guest": ray.is_initialized(),
            "guest_threads": threads,  # an explicit count, on the same Ray workers
            "owner_threads": ex.map(tasks.worker_threads, list(range(2 * WORKERS))),
        }

    check("guest", guest)

    def close():
        import psutil  # Ray ships it (importable once ray is)

        started = psutil.Process().children(recursive=True)  # all Ray's: nothing else here
        ex.close()
        return {
            "after_owner": ray.is_initialized(),
            "started": len(started),
            "still_running": live(started),
        }

    check("close", close)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
