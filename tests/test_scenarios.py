"""Scenario files: the catalogue loads, and every mistake names the file, field and rule."""

import copy

import pytest
import yaml

from coexplore.config import ConfigError
from coexplore.scenario import get_scenario, load_scenario, scenario_files

BASE = {
    "description": "test scenario",
    "data": {"name": "digits"},
    "space": {"name": "chain", "depth": 4},
    "hardware": {"parts": ["XC7Z020"], "max_fpgas": 1},
    "specs": {"min_throughput_fps": 1000},
    "reward": {"alpha": 0.7},
    "fast_phase": {"tuner": "exhaustive"},
    "slow_phase": {"oracle": "train", "train": {"epochs": 2}},
}


def write(tmp_path, data, name="sc.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_catalogue_scenarios_load():
    files = scenario_files()
    assert {"digits-fpga", "mnist5k-fpga", "cifar10-fpga", "nb201-fpga", "nb201-table"} <= set(
        files
    )
    for name in files:
        s = get_scenario(name)
        assert s.gym_id == f"coexplore/{name}-v0" and s.description
        if s.hardware.family == "fpga-pipeline":
            assert set(s.hardware.options.parts) <= {"XC7Z020", "XC7A50T"}
            assert s.specs.limit("throughput_fps") > 0
            assert s.objectives == ("throughput_fps", "energy_j")
        elif s.hardware.family == "diffractive":
            assert s.specs.limit("layers") > 0 and s.slow_phase.oracle == "optics"
        else:
            target = s.specs.limit("latency_s") or s.reward.target  # a spec, or a soft target
            assert s.hardware.family in ("table", "spatial", "measured", "predicted") and target > 0
    for name in ("nb201-fpga", "nb201-table", "nb201-eyeriss"):
        s = get_scenario(name)
        assert (s.space.name, s.slow_phase.oracle, s.slow_phase.table) == (
            "nb201",
            "table",
            "nb201-cifar10",
        )


def test_a_valid_file(tmp_path):
    s = load_scenario(write(tmp_path, BASE, "my-env.yaml"))
    assert s.name == "my-env" and s.space.depth == 4 and s.slow_phase.train.epochs == 2
    assert s.fast_phase.options.hw_attempts == 10 and s.reward.penalty == -1.0
    assert s.reward.name == "hotnas" and s.fast_phase.prune


def edit(path, value):
    data = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    target = data
    for p in parents:
        target = target[p]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field", "says"),
    [
        ("colour", "blue", "colour", "known fields"),
        ("specs", KeyError, "specs", "required"),
        ("data.name", "imagenet", "data.name", "digits"),
        ("data.seed", "zero", "data.seed", "an integer"),
        ("data.val_fraction", 1.5, "data.val_fraction", ""),
        ("space.name", "darts", "space.name", "chain"),
        ("space.kernels", [2, 4], "space", "odd"),
        ("hardware.parts", ["XC9000"], "hardware.parts", "XC7Z020"),
        ("hardware.max_fpgas", 0, "hardware.max_fpgas", ">= 1"),
        ("hardware.speed", 1, "hardware.speed", "known fields"),
        ("specs.min_throughput_fps", -5, "specs.min_throughput_fps", "positive"),
        ("specs.latency_s", {"below": 1}, "specs.latency_s", "max: LIMIT"),
        ("specs.speed", {"max": 1}, "specs.speed", "a metric"),
        ("specs.area_mm2", {"max": 1}, "specs", "this platform reports"),
        ("hardware.family", "asic", "hardware.family", "fpga-pipeline"),
        ("reward", {"name": "mnas", "form": "soft-ish"}, "reward.form", "hard"),
        ("reward", {"name": "mnas", "metric": "energy_j"}, "reward.target", "spec on energy_j"),
        ("objectives", ["accuracy"], "objectives", "a metric"),
        ("fast_phase.prune", "yes", "fast_phase.prune", "true or false"),
        ("reward.alpha", 1.5, "reward.alpha", "[0, 1]"),
        ("fast_phase.tuner", "bayes", "fast_phase.tuner", "tpe"),
        ("fast_phase.hw_attempts", True, "fast_phase.hw_attempts", "an integer"),
        ("slow_phase.oracle", "table", "slow_phase.table", "CSV"),
        ("slow_phase.executor", "slurm", "slow_phase.executor", "ray"),
        ("slow_phase.train", {"epochs": 0}, "slow_phase.train.epochs", ">= 1"),
        ("slow_phase.train", {"optimiser": "sgd"}, "slow_phase.train.optimiser", "known"),
    ],
)
def test_mistakes_name_file_field_and_rule(tmp_path, path, value, field, says):
    with pytest.raises(ConfigError) as err:
        load_scenario(write(tmp_path, edit(path, value)))
    assert err.value.field == field, str(err.value)
    assert "sc.yaml" in str(err.value) and says in str(err.value)


def test_unknown_scenario_lists_the_catalogue():
    with pytest.raises(ConfigError, match="digits-fpga"):
        get_scenario("no-such-env")


def test_the_wheel_ships_the_scenarios_and_parts(tmp_path):
    """Scenario files must be found from an installed wheel too, not only from a checkout."""
    import shutil
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    # built from a copy: setuptools writes build/ and *.egg-info next to the sources
    root = Path(__file__).resolve().parents[1]
    source = tmp_path / "src"
    skip = (".git", ".venv", "runs", "build", "*.egg-info", ".*cache", ".hypothesis")
    shutil.copytree(root, source, ignore=shutil.ignore_patterns(*skip, "__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("coexplore-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for scenario in scenario_files():
        assert any(n.endswith(f"share/coexplore/envs/{scenario}.yaml") for n in names)
    assert any(n.endswith("coexplore/platforms/fpga_pipeline/parts/XC7Z020.yaml") for n in names)
    assert any(n.endswith("coexplore/platforms/spatial/templates/eyeriss-like.yaml") for n in names)
    for table in ("nb201_accuracy.csv.gz", "nb201_latency_help.csv.gz"):
        assert any(n.endswith(f"coexplore/tables/files/{table}") for n in names)


def test_envs_command(capsys):
    import json

    from coexplore.cli.main import main

    assert main(["envs", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)["envs"]}
    assert rows["coexplore/digits-fpga-v0"]["dataset"] == "digits"
    assert rows["coexplore/mnist5k-fpga-v0"]["specs"]["throughput_fps"]["min"] > 0
    assert rows["coexplore/mnist5k-fpga-v0"]["platform"] == "fpga-pipeline"
    assert [t["choices"] for t in rows["coexplore/digits-fpga-v0"]["hardware_tokens"]] == [2, 3]
    assert main(["envs"]) == 0
    assert "coexplore/cifar10-fpga-v0" in capsys.readouterr().out


def test_relative_paths_resolve_against_the_scenario_file_or_the_run_directory(
    tmp_path, monkeypatch
):
    """A path in a scenario file is relative to the file's directory, a ``--set`` path to the
    working directory, and a file the search writes (a measurement cache) to the run
    directory: never to wherever the process happens to run."""
    import dataclasses
    from pathlib import Path

    import yaml

    from coexplore.scenario import apply_overrides, load_scenario, scenario_from_dict
    from coexplore.tables import DEVICES

    table = DEVICES.get("pixel2").table()
    rows = "".join(f"{a},9.0\n" for a in table.archs[:5])
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "lat.csv").write_text("arch,latency_ms\n" + rows)
    data = yaml.safe_load(Path(get_scenario("nb201-table").source).read_text())
    data["hardware"] = {"family": "table", "table": "lat.csv"}
    data["specs"] = {"latency_s": {"max": 0.05}}
    path = tmp_path / "scenarios" / "mine.yaml"
    path.write_text(yaml.safe_dump(data))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    scenario = load_scenario(path)
    assert scenario.hardware.options.table == str(tmp_path / "scenarios" / "lat.csv")
    assert scenario.slow_phase.table == "nb201-cifar10"  # a built-in name stays a name
    (elsewhere / "other.csv").write_text("arch,latency_ms\n" + rows)
    overridden = apply_overrides(data, ["hardware.table=other.csv"])
    assert overridden["hardware"]["table"] == str(elsewhere / "other.csv")
    assert scenario_from_dict(overridden, str(path)).hardware.options.table == str(
        elsewhere / "other.csv"
    )
    cpu = get_scenario("mnist5k-cpu")
    assert cpu.hardware.options.cache == "latency-cache.sqlite"  # placed when used
    assert cpu.platform().config.cache is None  # no run directory: not written
    in_run = dataclasses.replace(cpu, output_dir=str(tmp_path / "run"))
    assert in_run.platform().config.cache == str(tmp_path / "run" / "latency-cache.sqlite")
