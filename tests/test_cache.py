"""The result cache: round trips, first writer wins, many writers at once, kill -9, the CLI."""

import csv
import inspect
import io
import json
import math
import multiprocessing
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from queue import Empty

import numpy as np
import pytest

from coexplore.cli.main import build_parser
from coexplore.config import ConfigError
from coexplore.slow.cache import CacheKey, ResultCache, hash_config


# Deterministic content per key: the writer subprocesses run the same functions' source.
def key(i):
    return CacheKey(f"arch-{i % 7}", "cifar10" if i % 3 else "mnist", "e10-s0.5", "h" * 64, i)


def payload(i, writer=None):
    curve = [((i * 7919 + j) % 1000) / 7.0 for j in range(3000)]  # ~50 KB of JSON
    return {"seed": i, "writer": writer, "diverged": i % 10 == 0, "curve": curve}


WRITER_SRC = f"""
import sys
from coexplore.slow.cache import CacheKey, ResultCache
{inspect.getsource(key)}
{inspect.getsource(payload)}
cache = ResultCache(sys.argv[1])
i = int(sys.argv[2])
while True:  # until killed
    cache.put(key(i), payload(i), wall_s=0.5)
    i += 1
"""


def test_key_id_is_stable_and_covers_every_field():
    k = CacheKey("resnet-ish", "cifar10", "e5-s0.5", "abc", 3)
    assert k.id == "137c809655063c3d8792c3a7e58a5048f533513c2ab79167c9387e37cc8a9e4e"
    variants = [
        CacheKey("resnet-isH", "cifar10", "e5-s0.5", "abc", 3),
        CacheKey("resnet-ish", "cifar100", "e5-s0.5", "abc", 3),
        CacheKey("resnet-ish", "cifar10", "e5-s0.25", "abc", 3),
        CacheKey("resnet-ish", "cifar10", "e5-s0.5", "abd", 3),
        CacheKey("resnet-ish", "cifar10", "e5-s0.5", "abc", 4),
    ]
    assert len({k.id, *(v.id for v in variants)}) == 6
    with pytest.raises(TypeError, match="seed"):
        CacheKey("a", "d", "f", "h", "3")
    assert CacheKey("resnet-ish", "cifar10", "e5-s0.5", "abc", np.int64(3)).id == k.id
    assert hash_config({"lr": 0.1, "epochs": 5}) == hash_config({"epochs": 5, "lr": 0.1})
    assert hash_config({"lr": 0.1}) != hash_config({"lr": 0.2})


def test_round_trip_and_first_writer_wins(tmp_path):
    with ResultCache(tmp_path / "sub" / "c.sqlite") as cache:
        assert len(cache) == 0 and cache.get(key(1)) is None and key(1) not in cache
        assert cache.put(key(1), payload(1), wall_s=2.0) is True
        assert cache.get(key(1)) == payload(1) and key(1) in cache and len(cache) == 1
        assert cache.put(key(1), payload(1, writer="second"), wall_s=9.0) is False
        assert cache.get(key(1)) == payload(1) and len(cache) == 1  # the first one is kept
        nan = {"loss": float("nan"), "diverged": True}  # diverged runs are results too
        assert cache.put(key(2), nan)
        assert math.isnan(cache.get(key(2))["loss"])
        with pytest.raises(TypeError):
            cache.put(key(3), {"bad": object()})
        with pytest.raises(TypeError, match="mapping"):
            cache.put(key(3), [1, 2])
        assert len(cache) == 2 and "not a key" not in cache
    with ResultCache(tmp_path / "sub" / "c.sqlite") as again:  # persisted, and pickles
        clone = pickle.loads(pickle.dumps(again))
        assert clone.get(key(1)) == payload(1) and len(clone) == 2
        assert again.stats()["journal_mode"] == "wal"


def _filled(path):
    cache = ResultCache(path)
    cache.put(CacheKey("a1", "cifar10", "f", "h", 0), {"top1": 0.5, "seed": 0}, wall_s=1.5)
    cache.put(
        CacheKey("a2", "cifar10", "f", "h", 0),
        {"top1": float("nan"), "diverged": True, "metrics": {"loss": 9.5}, "curve": [1, 2]},
        wall_s=2.5,
    )
    cache.put(CacheKey("a1", "mnist", "f", "h", 1), {"top1": 0.9, "seed": 1})
    return cache


def test_stats(tmp_path):
    with _filled(tmp_path / "c.sqlite") as cache:
        s = cache.stats()
    assert s["entries"] == 3 and s["datasets"] == {"cifar10": 2, "mnist": 1}
    assert s["diverged"] == 1 and s["wall_s"] == pytest.approx(4.0)
    assert s["size_bytes"] > 0 and s["path"] == str(tmp_path / "c.sqlite")


def test_export_jsonl_and_csv(tmp_path):
    with _filled(tmp_path / "c.sqlite") as cache:
        out = io.StringIO()
        assert cache.export(out, "jsonl") == 3
        lines = [json.loads(x) for x in out.getvalue().splitlines()]
        assert [(e["arch"], e["dataset"], e["seed"]) for e in lines] == [
            ("a1", "cifar10", 0),
            ("a2", "cifar10", 0),
            ("a1", "mnist", 1),
        ]
        first = lines[0]
        assert first["fidelity"] == "f" and first["config_hash"] == "h"
        assert first["result"] == {"top1": 0.5, "seed": 0} and first["wall_s"] == 1.5
        assert first["id"] == CacheKey("a1", "cifar10", "f", "h", 0).id
        assert lines[2]["wall_s"] is None

        out = io.StringIO()
        assert cache.export(out, "csv") == 3
        rows = list(csv.DictReader(io.StringIO(out.getvalue())))
        with pytest.raises(ValueError, match="known: jsonl, csv"):
            cache.export(io.StringIO(), "parquet")
    header = out.getvalue().splitlines()[0].split(",")
    assert header[:8] == [
        "id",
        "arch",
        "dataset",
        "fidelity",
        "config_hash",
        "seed",
        "wall_s",
        "created",
    ]
    # scalars flattened with dotted names; lists left out; a clash with a key column prefixed
    assert set(header[8:]) == {"diverged", "metrics.loss", "result.seed", "top1"}
    assert rows[0]["top1"] == "0.5" and rows[0]["result.seed"] == "0" and rows[0]["seed"] == "0"
    assert rows[1]["metrics.loss"] == "9.5" and rows[1]["diverged"] == "True"
    assert rows[1]["top1"] == "nan" and rows[0]["diverged"] == ""


def test_forked_child_opens_its_own_connection(tmp_path):
    cache = ResultCache(tmp_path / "c.sqlite")
    assert cache.put(key(1), payload(1))  # the parent's connection is open now
    pid = os.fork()
    if pid == 0:  # child: must not use the parent's connection
        code = 1
        try:
            if cache.put(key(2), payload(2)) and cache.get(key(1)) == payload(1):
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert cache.get(key(2)) == payload(2) and len(cache) == 2  # parent's still works
    cache.close()


def test_busy_timeout_waits_for_the_writer_then_gives_up(tmp_path):
    path = tmp_path / "c.sqlite"
    ResultCache(path).put(key(0), payload(0))
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    impatient = ResultCache(path, timeout_s=0.2)
    start = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        impatient.put(key(1), payload(1))
    assert 0.15 < time.monotonic() - start < 5
    assert impatient.get(key(0)) == payload(0)  # readers are not blocked by a writer (WAL)

    patient = ResultCache(path, timeout_s=10)
    threading.Timer(0.5, holder.execute, ["COMMIT"]).start()
    start = time.monotonic()
    assert patient.put(key(1), payload(1))  # waited for the lock instead of failing
    assert time.monotonic() - start > 0.4
    holder.close()
    assert len(patient) == 2


def _writer(path, start, n, barrier, queue):
    cache = ResultCache(path)
    barrier.wait(timeout=60)
    stored = [k for k in range(start, start + n) if cache.put(key(k), payload(k, writer=start))]
    queue.put((start, stored))


def test_many_processes_write_at_once(tmp_path):
    path = str(tmp_path / "c.sqlite")  # a fresh file: they also race to create it
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(4), ctx.Queue()
    starts = [0, 25, 50, 75]  # 50 keys each, overlapping by half with the next
    procs = [ctx.Process(target=_writer, args=(path, s, 50, barrier, queue)) for s in starts]
    for p in procs:
        p.start()
    stored, deadline = {}, time.monotonic() + 60
    while len(stored) < len(procs):
        try:
            start, keys = queue.get(timeout=0.1)
            stored[start] = keys
        except Empty:
            assert all(p.exitcode in (None, 0) for p in procs), "a writer failed: see stderr"
            assert time.monotonic() < deadline, "the writers hang"
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    winners = [k for ks in stored.values() for k in ks]
    assert sorted(winners) == list(range(125))  # each key stored exactly once
    with ResultCache(path) as cache:
        assert len(cache) == 125
        for writer, ks in stored.items():
            for k in ks:
                assert cache.get(key(k)) == payload(k, writer=writer)
        assert cache.stats()["datasets"] == {"cifar10": 83, "mnist": 42}


def _check_after_kill(path):
    """Intact file; rows are exactly what the writer wrote, keys 0..n-1 without a gap."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute(
            "SELECT id, arch, dataset, fidelity, config_hash, seed, result FROM results"
        ).fetchall()
    finally:
        conn.close()
    for id_, arch, dataset, fidelity, config_hash, seed, result in rows:
        k = key(seed)
        assert (id_, arch, dataset, fidelity, config_hash) == (
            k.id,
            k.arch,
            k.dataset,
            k.fidelity,
            k.config_hash,
        )
        assert json.loads(result) == payload(seed)
    assert sorted(r[5] for r in rows) == list(range(len(rows)))  # puts are sequential
    return len(rows)


def test_kill_9_loses_nothing_finished_and_leaves_nothing_partial(tmp_path):
    path = tmp_path / "c.sqlite"
    done = 0
    for _ in range(5):  # five kills at whatever moment they land
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER_SRC, str(path), str(done)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 20
            while not path.exists() or len(ResultCache(path)) < done + 40:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "the writer is too slow"
                time.sleep(0.01)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
            proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL
        n = _check_after_kill(path)
        assert n >= done + 40
        done = n
    with ResultCache(path) as cache:  # and the cache keeps working
        assert len(cache) == done and cache.get(key(0)) == payload(0)
        assert cache.put(key(done), payload(done)) and cache.get(key(done)) == payload(done)
        assert cache.stats()["diverged"] == sum(1 for i in range(done + 1) if i % 10 == 0)


# -- the `coexplore cache` command line ---------------------------------------------------


def cli(*argv):
    """Run `coexplore cache ...` through coexplore.cli.main's parser."""
    args = build_parser("cache").parse_args(["cache", *argv])
    return args.func(args)


def test_cli_stats(tmp_path, capsys):
    path = tmp_path / "c.sqlite"
    _filled(path).close()
    assert cli("stats", "--cache", str(path), "--json") == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["entries"] == 3 and stats["datasets"] == {"cifar10": 2, "mnist": 1}
    assert cli("stats", "--cache", str(path)) == 0
    out = capsys.readouterr().out
    assert "3 entries, 1 diverged" in out and "mnist" in out and "cifar10" in out


def test_cli_export(tmp_path, capsys):
    path = tmp_path / "c.sqlite"
    _filled(path).close()
    assert cli("export", "--cache", str(path)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and json.loads(lines[1])["result"]["diverged"] is True
    out = tmp_path / "all.csv"
    assert cli("export", "--cache", str(path), "--format", "csv", "--out", str(out)) == 0
    assert "wrote 3 entries" in capsys.readouterr().err
    rows = list(csv.DictReader(out.open()))
    assert [r["arch"] for r in rows] == ["a1", "a2", "a1"]


def test_cli_missing_or_foreign_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.sqlite"
    with pytest.raises(ConfigError, match="existing result cache file"):
        cli("stats", "--cache", str(missing))
    assert not missing.exists()  # reading never creates a cache
    foreign = tmp_path / "notes.txt"
    foreign.write_text("not a database " * 100)
    with pytest.raises(ConfigError, match="coexplore result cache"):
        cli("export", "--cache", str(foreign))


# -- kept weights ----------------------------------------------------------------------------


def test_weights_live_beside_the_cache_keyed_by_the_entry_id(tmp_path):
    torch = pytest.importorskip("torch")
    cache = ResultCache(tmp_path / "c.sqlite")
    k = key(1)
    assert cache.weights_dir == tmp_path / "c.sqlite.weights"
    assert cache.weights_path(k) == tmp_path / "c.sqlite.weights" / f"{k.id}.pt"
    assert not cache.has_weights(k)
    state = {"w": torch.arange(6.0).reshape(1, 2, 3, 1).to(memory_format=torch.channels_last)}
    state["n"] = torch.tensor(3)
    assert cache.save_weights(k, state) == cache.weights_path(k) and cache.has_weights(k)
    loaded = cache.load_weights(k)
    assert torch.equal(loaded["w"], state["w"]) and torch.equal(loaded["n"], state["n"])
    assert loaded["w"].is_contiguous()  # stored plain, on the CPU
    assert os.listdir(cache.weights_dir) == [f"{k.id}.pt"]  # nothing else left behind
    assert not cache.has_weights(key(2)) and len(cache) == 0  # weights are not an entry
    clone = pickle.loads(pickle.dumps(cache))
    assert torch.equal(clone.load_weights(k)["w"], state["w"])


def test_weights_are_written_atomically(tmp_path, monkeypatch):
    """A save that dies midway leaves the previous checkpoint (or none) and no temporary file;
    the file appears under its name only through os.replace."""
    torch = pytest.importorskip("torch")
    cache = ResultCache(tmp_path / "c.sqlite")
    k = key(1)
    cache.save_weights(k, {"w": torch.ones(3)})
    real_save, replaced = torch.save, []

    def dying_save(obj, fh):
        real_save(obj, fh)
        fh.truncate(10)  # a partial file on disk, then the writer dies
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        cache.save_weights(k, {"w": torch.zeros(3)})
    with pytest.raises(KeyboardInterrupt):
        cache.save_weights(key(2), {"w": torch.zeros(3)})
    assert torch.equal(cache.load_weights(k)["w"], torch.ones(3))  # the old one, whole
    assert not cache.has_weights(key(2))
    assert os.listdir(cache.weights_dir) == [f"{k.id}.pt"]
    monkeypatch.setattr(torch, "save", real_save)

    real_replace = os.replace

    def recording_replace(src, dst):
        replaced.append((os.path.dirname(src), os.path.basename(src), dst))
        assert os.path.getsize(src) > 0 and not os.path.exists(dst)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", recording_replace)
    cache.save_weights(key(3), {"w": torch.zeros(3)})
    [(folder, tmp_name, dst)] = replaced
    assert folder == str(cache.weights_dir) and tmp_name.endswith(".tmp")
    assert dst == cache.weights_path(key(3))


def test_missing_weights_are_a_clear_error(tmp_path):
    pytest.importorskip("torch")
    cache = ResultCache(tmp_path / "c.sqlite")
    with pytest.raises(FileNotFoundError, match=r"no kept weights for 'arch-1' \(seed 1") as e:
        cache.load_weights(key(1))
    assert str(cache.weights_path(key(1))) in str(e.value) and "never trained" in str(e.value)
    assert not cache.path.exists()  # the error did not create a cache file
    cache.put(key(1), payload(1))
    with pytest.raises(FileNotFoundError, match="trained without keeping weights"):
        cache.load_weights(key(1))
