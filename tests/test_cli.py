"""The `coexplore hw` command line: JSON contract, tables, round trips, errors."""

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coexplore.cli.main import main

STAGE_KEYS = {"part", "layers", "design", "dsp_used", "bram18k_used", "cycles", "bottleneck"}
TOP_KEYS = {
    "throughput_fps",
    "latency_ms",
    "energy_mj",
    "gops_per_w",
    "pipeline_efficiency",
    "valid",
    "violations",
    "stages",
}


def run_json(capsys, *argv):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_parts_json(capsys):
    parts = run_json(capsys, "hw", "parts")["parts"]
    names = {p["name"] for p in parts}
    assert {"XC7A50T", "XC7Z020", "XC7Z045", "XCZU3EG", "XCZU9EG", "XC7VX485T"} <= names
    assert all(p["sources"]["dsp"] for p in parts)


def test_parts_table(capsys):
    assert main(["hw", "parts"]) == 0
    out = capsys.readouterr().out
    assert "XC7VX485T" in out and "VC707" in out and "estimate" in out.lower()


def test_tune_json_contract_and_evaluate_round_trip(capsys, tmp_path):
    report = run_json(
        capsys,
        "hw",
        "tune",
        "--net",
        "lenet5",
        "--parts",
        "XC7Z020,XC7A50T",
        "--partition",
        "auto",
        "--tuner",
        "exhaustive",
        "--min-fps",
        "1e9",
    )
    assert report.keys() >= TOP_KEYS and report["valid"] is True
    assert all(s.keys() >= STAGE_KEYS for s in report["stages"])
    assert [s["part"] for s in report["stages"]] == ["XC7Z020", "XC7A50T"]
    layers = [i for s in report["stages"] for i in s["layers"]]
    assert layers == list(range(7))
    failure = report["spec_violations"][0]
    assert (failure["kind"], failure["metric"], failure["bound"]) == (
        "spec",
        "throughput_fps",
        "min",
    )

    design = tmp_path / "tuned.json"
    design.write_text(json.dumps(report))  # the whole report is accepted as a design file
    again = run_json(capsys, "hw", "evaluate", "--net", "lenet5", "--design", str(design))
    assert again["throughput_fps"] == pytest.approx(report["throughput_fps"])
    assert again["stages"] == report["stages"]


def test_tune_fixed_partition_with_tpe_and_out_file(capsys, tmp_path):
    out = tmp_path / "d.json"
    report = run_json(
        capsys,
        "hw",
        "tune",
        "--net",
        "lenet5",
        "--parts",
        "XC7Z020,XC7Z020",
        "--partition",
        "3",
        "--tuner",
        "tpe",
        "--budget",
        "15",
        "--seed",
        "1",
        "--out",
        str(out),
    )
    assert [s["layers"][0] for s in report["stages"]] == [0, 3]
    assert json.loads(out.read_text()) == report["hardware"]
    assert report["tuner"] == "tpe" and report["evaluations"] > 0
    assert report["method"] == "exact"  # a space this small is solved exactly


def test_human_output_has_stage_and_layer_tables(capsys):
    assert main(["hw", "tune", "--net", "lenet5", "--parts", "XC7Z020"]) == 0
    out = capsys.readouterr().out
    assert "throughput" in out and "bottleneck" in out and "conv1" in out and "fc3" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["hw", "tune", "--net", "lenet5", "--parts", "XC9"], "known: XC7A50T"),
        (["hw", "tune", "--net", "nonet", "--parts", "XC7Z020"], "lenet5"),
        (["hw", "tune", "--net", "lenet5", "--parts", "XC7Z020", "--partition", "x"], "auto"),
        (
            ["hw", "tune", "--net", "lenet5", "--parts", "XC7Z020,XC7Z020", "--partition", "9"],
            "increase strictly",
        ),
        (["hw", "evaluate", "--net", "lenet5", "--design", "/no/such.yaml"], "readable file"),
    ],
)
def test_errors_exit_2_with_a_clear_message(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_design_file_names_the_field(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "precision: fixed16\nstages:\n  - {part: XC7Z020, layers: 0-6, design: {tm: 4}}\n"
    )
    assert main(["hw", "evaluate", "--net", "lenet5", "--design", str(bad)]) == 2
    assert "stages[0].design" in capsys.readouterr().err


def test_part_file_option(capsys, tmp_path):
    import yaml

    from coexplore.platforms.fpga_pipeline.parts import PARTS, get_part

    data = get_part("XC7Z020").to_dict()
    data.pop("dram_bits_per_cycle")
    data.update(name="MYBOARD", dsp=100)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    try:
        report = run_json(
            capsys, "--part-file", str(path), "hw", "tune", "--net", "lenet5", "--parts", "MYBOARD"
        )
        assert report["stages"][0]["dsp_used"] <= 100
    finally:
        PARTS._items.pop("MYBOARD", None)


def test_console_script_help():
    # the installed entry point, next to the interpreter running the tests
    script = shutil.which("coexplore", path=str(Path(sys.executable).parent))
    assert script, "the coexplore console script is not installed"
    out = subprocess.run(
        [script, "hw", "tune", "--help"], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert "--partition" in out and "--tuner" in out and "exhaustive" in out


LIGHT_CHECK = """
import contextlib, io, json, sys
from coexplore.cli.main import main
for argv in {argvs!r}:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        main(argv)
print(json.dumps(sorted(m for m in ("torch", "wandb", "stable_baselines3") if m in sys.modules)))
"""


@pytest.mark.parametrize(
    "argvs",
    [
        [["--help"]],
        [["hw", "--help"], ["hw", "parts", "--json"]],
        [["hw", "tune", "--net", "lenet5", "--parts", "XC7Z020,XC7A50T", "--json"]],
        [["--part-file", "no-such.yaml", "hw", "parts"]],
        [["platforms", "--json"]],
    ],
    ids=["help", "hw-parts", "hw-tune", "part-file", "platforms"],
)
def test_light_commands_do_not_import_torch_wandb_or_sb3(argvs):
    out = subprocess.run(
        [sys.executable, "-c", LIGHT_CHECK.format(argvs=argvs)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert json.loads(out.splitlines()[-1]) == []


def test_every_command_has_its_full_parser():
    from coexplore.cli.main import COMMANDS, build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(COMMANDS)
    for name, command in sub.choices.items():  # a full parser, not the one-line entry
        assert command.description and len(command._actions) > 1, name


# --- help generated from the registries --------------------------------------------------------
def help_text(capsys, monkeypatch, *argv) -> str:
    monkeypatch.setenv("COLUMNS", "1000")  # one line per entry: no name wrapped at its hyphen
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    return capsys.readouterr().out


def test_search_help_names_every_registered_agent(capsys, monkeypatch):
    from coexplore.search.agents import AGENTS, DEFAULT_AGENT

    text = help_text(capsys, monkeypatch, "search")
    listed = text.partition("\nagents: ")[2].partition(". Example")[0].split(", ")
    assert listed == [f"{a} (default)" if a == DEFAULT_AGENT else a for a in AGENTS]
    assert "FPGA" not in text  # candidates carry the design of any family with hardware tokens


def test_top_level_help_names_every_platform_family(capsys, monkeypatch):
    """The families are listed from their registry, and only the commands about FPGA parts
    speak of FPGAs."""
    from coexplore.platforms import PLATFORMS, load_platforms

    load_platforms()
    text = help_text(capsys, monkeypatch)
    listed = text.partition("Platform families: ")[2].partition(" (see")[0].split(", ")
    assert listed == list(PLATFORMS) and len(listed) > 1
    fpga = {line.split()[0] for line in text.splitlines() if "FPGA" in line}
    assert fpga == {"hw", "compress", "--part-file"}


def test_listed_names_follow_their_registries(capsys, monkeypatch):
    from coexplore.optics import PRESETS as SYSTEMS
    from coexplore.workloads import PRESETS
    from coexplore.workloads.suites import WORKLOADS

    text = help_text(capsys, monkeypatch, "accel", "search")
    assert all(name in text for name in [*WORKLOADS, *PRESETS])
    text = help_text(capsys, monkeypatch, "optics", "train")  # written out: no torch for help
    assert all(name in text for name in SYSTEMS)


def test_search_and_report_help_do_not_import_torch_wandb_or_sb3():
    test_light_commands_do_not_import_torch_wandb_or_sb3(
        [["search", "--help"], ["report", "--help"]]
    )
