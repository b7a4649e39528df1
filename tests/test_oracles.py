"""Accuracy oracles (train through the cache, table lookup) and `coexplore train`."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from coexplore.cli.main import main
from coexplore.config import ConfigError
from coexplore.core.candidate import Candidate
from coexplore.data import DataConfig
from coexplore.slow.cache import ResultCache
from coexplore.slow.oracles import ORACLES, OracleError, TableOracle, TrainOracle
from coexplore.slow.trainer import TrainConfig
from coexplore.spaces import make_space

ARCH = "k3f24s1-k3f36s2|flatten"
FAST = TrainConfig(epochs=2, precision="fp32")


def test_train_oracle_trains_once_then_hits_the_cache(tmp_path):
    space = make_space("chain", depth=2)
    arch = space.parse(ARCH)
    oracle = TrainOracle(DataConfig("digits"), FAST, tmp_path / "cache.sqlite")
    first = oracle.evaluate(Candidate(arch, seed=0))
    assert not first.cache_hit and first.val_acc > 0.5 and first.details["epochs"] == 2
    again = TrainOracle(DataConfig("digits"), FAST, tmp_path / "cache.sqlite").evaluate(
        Candidate(arch)
    )
    assert again.cache_hit and again.val_acc == first.val_acc and again.details == first.details
    other_seed = oracle.evaluate(Candidate(arch, seed=1))  # a different seed is a different key
    assert not other_seed.cache_hit
    with ResultCache(tmp_path / "cache.sqlite") as cache:
        assert len(cache) == 2
    other = TrainOracle(
        DataConfig("digits"), TrainConfig(epochs=1, precision="fp32"), tmp_path / "cache.sqlite"
    )
    assert not other.evaluate(Candidate(arch)).cache_hit  # another train config is another key


def test_table_oracle(tmp_path):
    space = make_space("nb201")
    archs = [space.sample(np.random.default_rng(i)) for i in range(5)]
    path = tmp_path / "bench.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["arch", "val_acc", "test_acc", "params"])
        for i, a in enumerate(archs[:4]):
            w.writerow([a.canonical, 0.5 + i / 10, 0.4 + i / 10, 1000 * i])
    oracle = ORACLES.get("table")(path)
    ev = oracle.evaluate(Candidate(archs[2]))
    assert (ev.val_acc, ev.test_acc, ev.details["params"]) == (0.7, pytest.approx(0.6), 2000.0)
    with pytest.raises(OracleError, match="one of the table.s 4 architectures"):
        oracle.evaluate(Candidate(archs[4]))
    bad = tmp_path / "bad.csv"
    bad.write_text("architecture,acc\nx,1\n")
    with pytest.raises(ConfigError, match="arch"):
        TableOracle(bad).evaluate(Candidate(archs[0]))


def test_train_cli_json(capsys, tmp_path):
    arch_file = tmp_path / "arch.txt"
    arch_file.write_text(ARCH + "\n")
    argv = [
        "train",
        "--space",
        "chain",
        "--arch",
        str(arch_file),
        "--dataset",
        "digits",
        "--epochs",
        "1",
        "--precision",
        "fp32",
        "--cache",
        str(tmp_path / "c.sqlite"),
        "--json",
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("val_acc", "test_acc", "epochs", "wall_s", "diverged", "params", "macs"):
        assert key in out
    assert out["arch"] == ARCH and out["epochs"] == 1 and not out["cache_hit"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["cache_hit"]


def test_train_cli_errors(capsys):
    assert main(["train", "--space", "chain", "--arch", "k3f24", "--dataset", "digits"]) == 2
    assert "chain space" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "--space",
                "chain",
                "--arch",
                ARCH,
                "--dataset",
                "mnist",
                "--data-root",
                "/nonexistent",
            ]
        )
        == 2
    )
    assert "/nonexistent" in capsys.readouterr().err


def trained_on(executor: str, run_dir: str) -> list:
    """The essentials of three seeded trainings run by ``executor`` (2 workers)."""
    from coexplore.slow.executors import make_executor

    space = make_space("chain", depth=2)
    jobs = [
        Candidate(space.parse(a), seed=s)
        for a, s in [(ARCH, 0), ("k5f24s2-k1f36s1|flatten", 1), ("k3f36s1-k3f24s1|gap", 2)]
    ]
    oracle = TrainOracle(DataConfig("digits"), TrainConfig(epochs=1, precision="fp32", threads=1))
    with make_executor(executor, workers=2, run_dir=run_dir) as ex:
        evs = ex.map(oracle.evaluate, jobs)
    return [[e.arch, e.seed, e.val_acc, e.test_acc, e.details["loss_curve"]] for e in evs]


def test_executors_give_identical_trained_results(tmp_path_factory):
    """The same candidates and seeds trained in-process, in a process pool and on Ray (Ray in
    a child process: a dying raylet ends the process it runs in, see tests/ray_checks.py)."""
    import importlib.util

    results = {
        name: trained_on(name, str(tmp_path_factory.mktemp("r")))
        for name in ("sequential", "process")
    }
    if importlib.util.find_spec("ray") is not None:
        code = (
            "import json, sys; sys.path.insert(0, sys.argv[1]); import test_oracles as t; "
            "print(json.dumps(t.trained_on('ray', sys.argv[2])))"
        )
        run_dir = str(tmp_path_factory.mktemp("r"))  # short: Ray's socket paths are limited
        cmd = [sys.executable, "-c", code, str(Path(__file__).parent), run_dir]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"the Ray driver ended ({proc.returncode}): {proc.stderr}"
        results["ray"] = json.loads(proc.stdout.strip().splitlines()[-1])
    reference = json.loads(json.dumps(results["sequential"]))  # as JSON, like Ray's answer
    for name, got in results.items():
        assert json.loads(json.dumps(got)) == reference, name
