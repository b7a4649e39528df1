"""Agent hyperparameters are checked like scenario fields, before a search makes its run
directory: from ``--agent-param`` and from the scenario's ``agents:`` section, for every agent."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from coexplore.catalogue import scenario_files
from coexplore.config import ConfigError, load_mapping
from coexplore.search.agents import AGENTS, check_agent_sections

# agent -> (parameter, a value of the wrong type, a value out of range), as --agent-param text
BAD = {
    "ppo": ("learning_rate", "abc", "0"),
    "a2c": ("gamma", "high", "1.5"),
    "maskable-ppo": ("batch_size", "2.5", "0"),
    "recurrent-ppo": ("clip_range", "wide", "-0.2"),
    "reinforce": ("baseline_decay", "[0.9]", "1.5"),
    "reinforce-paper": ("repeats", "[own]", "forget"),
    "rea": ("population", "many", "0"),
    "random": ("batch_episodes", "1.5", "0"),
    "hsconas": ("crossover", "half", "2"),
    "cbo": ("initial", "many", "0"),
    "nas-bo": ("refit_every", "often", "0"),
    "bo": ("penalty", "big", "0"),
    "tpe": ("max_repeats", "1.5", "0"),
    "local": ("max_neighbours", "many", "0"),
}


def search(tmp_path, *argv):
    from coexplore.cli.main import main

    out = tmp_path / "run"
    argv = ["search", "--env", "digits-fpga", "--out", str(out), "--quiet", *argv]
    return main([*argv, "--wandb-mode", "disabled", "--no-report"]), out


def test_every_agent_has_a_bad_value_here():
    assert set(BAD) == set(AGENTS)
    for name in AGENTS:
        assert AGENTS.get(name).name == name  # the lazy entry names its class


@pytest.mark.parametrize("which", [1, 2], ids=["type", "range"])
@pytest.mark.parametrize("agent", sorted(BAD))
def test_a_bad_value_is_a_named_error_before_the_run_directory(agent, which, tmp_path, capsys):
    key, value = BAD[agent][0], BAD[agent][which]
    code, out = search(tmp_path, "--agent", agent, "--agent-param", f"{key}={value}")
    err = capsys.readouterr().err
    assert code == 2
    assert f"agent {agent}: field '{key}' must be" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("agent", sorted(BAD))
def test_an_unknown_parameter_lists_the_known_ones(agent, tmp_path, capsys):
    code, out = search(tmp_path, "--agent", agent, "--agent-param", "no_such=1")
    err = capsys.readouterr().err
    assert code == 2 and "'no_such'" in err and not out.exists()
    known = err.strip().rpartition("one of its parameters: ")[2].split(", ")
    assert known == sorted(AGENTS.get(agent).param_specs()) and BAD[agent][0] in known
    assert "self" not in known


def test_the_issue_command_ends_in_one_line(tmp_path):
    """The command of issue 27, as a user runs it: no SB3 AssertionError traceback."""
    cmd = [sys.executable, "-m", "coexplore.cli.main", "search", "--env", "digits-fpga"]
    cmd += ["--agent", "ppo", "--agent-param", "learning_rate=abc", "--out", str(tmp_path / "r")]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "field 'learning_rate' must be" in proc.stderr and "> 0" in proc.stderr
    assert not (tmp_path / "r").exists()


def scenario_with(tmp_path: Path, agents: dict) -> str:
    data = load_mapping(scenario_files()["digits-fpga"])
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({**data, "agents": agents}))
    return str(path)


@pytest.mark.parametrize(
    ("agents", "field"),
    [
        ({"ppo": {"learning_rate": "abc"}}, "agents.ppo.learning_rate"),
        ({"rea": {"sample_size": 0}}, "agents.rea.sample_size"),
        ({"reinforce": {"lr": 0.1}}, "agents.reinforce.lr"),
        ({"dqn": {}}, "agents.dqn"),
    ],
)
def test_the_scenario_agents_section_is_checked_for_every_agent(agents, field, tmp_path, capsys):
    """Every section, not only the running agent's, with the file and the field named."""
    from coexplore.cli.main import main

    path, out = scenario_with(tmp_path, agents), tmp_path / "run"
    code = main(["search", "--env", path, "--agent", "random", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and f"{path}: field '{field}' must be" in err and not out.exists()


def test_the_catalogue_scenarios_have_valid_agent_sections():
    for name, path in scenario_files().items():
        check_agent_sections(load_mapping(path).get("agents") or {}, name)


@pytest.mark.parametrize(
    ("agent", "params", "field", "allowed"),
    [
        ("ppo", {"learning_rate": "3e-4"}, "learning_rate", "write 3.0e-4"),
        ("ppo", {"policy_kwargs": {"net_arch": [8], "act": 1}}, "policy_kwargs.act", "net_arch"),
        (
            "recurrent-ppo",
            {"policy_kwargs": {"n_lstm_layers": 0}},
            "policy_kwargs.n_lstm_layers",
            ">= 1",
        ),
        ("ppo", {"batch_size": 1}, "batch_size", "normalize_advantage: false"),
        ("ppo", {"device": "gpu0"}, "device", "a torch device"),
        ("a2c", {"use_sde": True}, "use_sde", "one of its parameters"),  # discrete actions
        ("a2c", {"episodes_per_update": 0}, "episodes_per_update", "an integer >= 1"),
        ("rea", {"population": 5, "sample_size": 6}, "sample_size", "<= population 5"),
        ("hsconas", {"metric": "speed"}, "metric", "latency_s"),
        ("hsconas", {"proxy": "flops"}, "proxy", "one of macs, weights"),
        ("reinforce", {"hidden": True}, "hidden", "an integer >= 1"),
        ("ppo", {"repeats": "forget"}, "repeats", "one of lowest, own"),
    ],
)
def test_what_each_check_says(agent, params, field, allowed):
    with pytest.raises(ConfigError) as err:
        AGENTS.get(agent).check_params(params)
    assert err.value.field == field and allowed in err.value.allowed


@pytest.mark.parametrize(
    ("agent", "params"),
    [
        ("ppo", {"learning_rate": 3.0e-4, "gamma": 1, "batch_size": 16, "target_kl": None}),
        ("ppo", {"policy_kwargs": {"net_arch": {"pi": [16], "vf": [16]}}, "device": "cuda"}),
        ("maskable-ppo", {"batch_size": None, "clip_range": 0.1, "normalize_advantage": False}),
        ("a2c", {"ent_coef": 0, "use_rms_prop": False}),
        ("recurrent-ppo", {"policy_kwargs": {"lstm_hidden_size": 32, "shared_lstm": True}}),
        ("reinforce", {"temperature": 2, "baseline_decay": 0}),
        ("rea", {"population": 4, "sample_size": 4}),
        ("hsconas", {"metric": "latency_s", "margin": 0.1, "shrink": False}),
        ("random", {"batch_episodes": 1}),
    ],
)
def test_good_values_pass(agent, params):
    AGENTS.get(agent).check_params(params)
