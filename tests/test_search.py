"""The search loop: agents, run log, determinism, resume after kill -9, W&B, CLI."""

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from toy_envs import Tokens, trainings_to_optimum

from coexplore.cli.main import main
from coexplore.config import ConfigError
from coexplore.search.agents import AGENTS, make_agent
from coexplore.search.runlog import CHECKPOINT_FILE, read_records
from coexplore.search.runner import SearchConfig, run_search
from coexplore.search.tracking import WandbConfig

OFF = WandbConfig(mode="disabled")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> str:
    """digits, a 3-layer chain, 1-epoch training: the whole pipeline in ~0.3 s a candidate."""
    path = tmp_path_factory.mktemp("scenario") / "tiny-digits.yaml"
    data = yaml.safe_load((Path(__file__).parents[1] / "envs" / "digits-fpga.yaml").read_text())
    data["space"]["depth"] = 3
    data["slow_phase"]["train"]["epochs"] = 1
    data["agents"] = {
        "ppo": {"episodes_per_update": 2},
        "recurrent-ppo": {"episodes_per_update": 2},
    }
    path.write_text(yaml.safe_dump(data))
    return str(path)


def search(scenario, out, agent="random", episodes=4, seed=0, **kw):
    cfg = SearchConfig(
        env=scenario, agent=agent, episodes=episodes, seed=seed, out=str(out), wandb=OFF, **kw
    )
    return run_search(cfg, progress=False, report=False)


@pytest.mark.parametrize("agent", list(AGENTS))
def test_every_agent_runs_exactly_the_budget(agent, scenario, tmp_path):
    result = search(scenario, tmp_path / "run", agent=agent, episodes=5)
    records = read_records(tmp_path / "run")
    assert [r.episode for r in records] == list(range(5))
    assert result.episodes == 5 == result.pruned + result.trained
    assert all(len(r.tokens) == 3 * 3 + 2 for r in records)
    assert [r.wall_s for r in records] == sorted(r.wall_s for r in records)
    assert (tmp_path / "run" / CHECKPOINT_FILE).exists()
    if result.best is not None:
        assert result.best.val_acc == max(r.val_acc for r in records if not r.pruned)


@pytest.mark.parametrize("agent", ["random", "reinforce", "ppo"])
def test_same_seed_same_search(agent, scenario, tmp_path):
    a = search(scenario, tmp_path / "a", agent=agent, episodes=4, seed=3)
    b = search(scenario, tmp_path / "b", agent=agent, episodes=4, seed=3)
    c = search(scenario, tmp_path / "c", agent=agent, episodes=4, seed=4)
    ra, rb, rc = (read_records(r.run_dir) for r in (a, b, c))
    assert [(r.tokens, r.val_acc) for r in ra] == [(r.tokens, r.val_acc) for r in rb]
    assert [r.tokens for r in ra] != [r.tokens for r in rc]


LEARNING = ["reinforce", "ppo", "maskable-ppo", "a2c", "recurrent-ppo"]


@pytest.mark.parametrize("agent", LEARNING)
def test_learning_agents_find_the_known_optimum(agent):
    """With their defaults (``repeats: lowest``) the controllers find the one optimum of 625
    candidates after far fewer distinct candidates than uniform sampling, which sees
    (625 + 1) / 2 = 313 on average before it."""
    counts = [trainings_to_optimum(agent, seed) for seed in range(3)]
    assert np.mean(counts) <= 0.6 * 313, counts


@pytest.mark.parametrize("agent", LEARNING)
def test_learning_agents_keep_proposing_new_candidates(agent):
    """A repeat teaches the lowest reward so far: on a 9-candidate problem each controller has
    tried all nine within 150 proposals, rather than settle on the first good one."""
    env = Tokens(choices=(3, 3), target=(2, 0))
    a = make_agent(agent, env, seed=0)
    while len(env.proposals) < 150:
        a.run(150 - len(env.proposals))
    assert len({t for t, _ in env.proposals}) == 9


@pytest.mark.parametrize("agent", LEARNING)
def test_repeats_own_is_the_papers_exploitation(agent):
    """``repeats: own`` (a repeat rewarded as the candidate itself, as published): the
    controllers end up proposing the optimum of a 9-candidate problem almost always; uniform
    sampling hits it 1 time in 9."""
    env = Tokens(choices=(3, 3), target=(2, 0))  # each right token is worth 0.5
    a = make_agent(agent, env, seed=0, repeats="own")
    while len(env.proposals) < 400:
        a.run(400 - len(env.proposals))
    rewards = [r for _, r in env.proposals]
    assert len(rewards) == 400
    assert np.mean(np.array(rewards[-50:]) == 1.0) > 0.8


def test_unknown_agent_and_parameter_errors(scenario, tmp_path):
    with pytest.raises(ConfigError, match="learning_rate"):
        search(scenario, tmp_path / "a", agent="ppo", agent_params={"lr": 0.1})
    with pytest.raises(ConfigError, match=r"registered agent \(a2c, "):
        search(scenario, tmp_path / "b", agent="dqn")


def test_run_dir_is_not_overwritten_and_resume_needs_a_run(scenario, tmp_path):
    search(scenario, tmp_path / "run", episodes=2)
    with pytest.raises(ConfigError, match="--resume"):
        search(scenario, tmp_path / "run", episodes=2)
    with pytest.raises(ConfigError, match="run directory"):
        run_search(SearchConfig(env=scenario, out=str(tmp_path / "none"), wandb=OFF), resume=True)


def test_resume_extends_a_finished_search_without_redoing_it(scenario, tmp_path):
    search(scenario, tmp_path / "run", agent="reinforce", episodes=3)
    before = (tmp_path / "run" / "candidates.jsonl").read_text()
    cfg = SearchConfig(
        env=scenario, agent="reinforce", episodes=6, out=str(tmp_path / "run"), wandb=OFF
    )
    result = run_search(cfg, resume=True, progress=False, report=False)
    after = (tmp_path / "run" / "candidates.jsonl").read_text()
    assert after.startswith(before) and result.episodes == 6
    straight = search(scenario, tmp_path / "straight", agent="reinforce", episodes=6)
    assert [r.tokens for r in read_records(straight.run_dir)] == [
        r.tokens for r in read_records(tmp_path / "run")
    ]


def test_scenario_overrides_reach_the_run(scenario, tmp_path):
    search(scenario, tmp_path / "run", episodes=1, overrides=("reward.alpha=0.25",))
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["scenario_data"]["reward"]["alpha"] == 0.25
    with pytest.raises(ConfigError, match="reward.*alpha"):
        search(scenario, tmp_path / "bad", episodes=1, overrides=("reward.alpha=2",))


@pytest.mark.parametrize("agent", ["ppo", "reinforce"])
def test_resume_after_kill_9_loses_nothing(agent, scenario, tmp_path):
    """A real `kill -9` mid-search; `--resume` replays the episodes after the last checkpoint
    from the log (no re-evaluation) and ends exactly where an uninterrupted search ends."""
    out, episodes = tmp_path / "killed", 10
    cmd = [sys.executable, "-m", "coexplore.cli.main", "search", "--env", scenario]
    cmd += ["--agent", agent, "--episodes", str(episodes), "--out", str(out), "--quiet"]
    key = "episodes_per_update" if agent == "ppo" else "batch_episodes"  # a checkpoint per 4
    cmd += ["--wandb-mode", "disabled", "--no-report", "--agent-param", f"{key}=4"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = out / "candidates.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and log.read_text().count("\n") >= 6:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stderr.close()
    before = log.read_text()
    logged = before.count("\n")
    checkpointed = pickle.loads((out / CHECKPOINT_FILE).read_bytes())["episodes"]
    assert checkpointed < logged < episodes  # killed between two checkpoints, before the end

    assert (
        main(
            [
                "search",
                "--resume",
                "--out",
                str(out),
                "--quiet",
                "--wandb-mode",
                "disabled",
                "--no-report",
            ]
        )
        == 0
    )
    after = log.read_text()
    assert after.startswith(before)  # nothing lost, nothing rewritten
    records = read_records(out)
    assert [r.episode for r in records] == list(range(episodes))
    straight = tmp_path / "straight"
    cfg = SearchConfig(
        env=scenario,
        agent=agent,
        episodes=episodes,
        out=str(straight),
        wandb=OFF,
        agent_params={key: 4},
    )
    run_search(cfg, progress=False, report=False)
    assert [(r.tokens, r.val_acc) for r in records] == [
        (r.tokens, r.val_acc) for r in read_records(straight)
    ]


def test_cli_search_json_and_report(scenario, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "search",
            "--env",
            scenario,
            "--agent",
            "random",
            "--episodes",
            "3",
            "--out",
            str(out),
            "--json",
            "--quiet",
            "--wandb-mode",
            "disabled",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert {"episodes", "pruned", "trained", "best", "out"} <= result.keys()
    assert result["episodes"] == 3 and result["out"] == str(out)
    assert (out / "report" / "README.md").exists()
    assert main(["search", "--env", scenario, "--out", str(out), "--quiet"]) == 2
    assert "--resume" in capsys.readouterr().err


def test_cli_help_explains_agents(capsys):
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    text = capsys.readouterr().out
    for word in ("--resume", "--wandb-mode", "maskable-ppo", "reinforce", "--agent-param"):
        assert word in text


def test_wandb_offline_run_is_written_in_the_run_dir(scenario, tmp_path, monkeypatch):
    """A real offline W&B run, all files inside the run directory."""
    monkeypatch.delenv("WANDB_MODE", raising=False)
    for key in (
        "WANDB_DIR",
        "WANDB_CACHE_DIR",
        "WANDB_CONFIG_DIR",
        "WANDB_DATA_DIR",
        "WANDB_SILENT",
    ):
        monkeypatch.delenv(key, raising=False)
    cfg = SearchConfig(
        env=scenario,
        agent="random",
        episodes=2,
        out=str(tmp_path / "run"),
        wandb=WandbConfig(mode="offline", tags=("test",)),
    )
    run_search(cfg, progress=False, report=True)
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))
    os.environ["WANDB_MODE"] = "disabled"  # back to the test-suite default


def test_sweep_grid_runs_offline(scenario, tmp_path):
    """launch/sweep.yaml's grid, run locally: every point a search of its own."""
    import runpy

    root = Path(__file__).resolve().parents[1]
    sweep = runpy.run_path(str(root / "launch" / "sweep_search.py"))
    points = sweep["grid"](str(root / "launch" / "sweep.yaml"))
    assert len(points) == 3 * 2 * 3 and {p["agent"] for p in points} == {"ppo", "reinforce"}
    cmd = [sys.executable, str(root / "launch" / "sweep_search.py"), "--env", scenario]
    cmd += ["--episodes", "2", "--agent", "reinforce", "--alpha", "0.5", "--out", str(tmp_path)]
    subprocess.run(
        cmd + ["--quiet", "--wandb-mode", "disabled"], check=True, capture_output=True, timeout=300
    )
    (run,) = tmp_path.iterdir()
    meta = json.loads((run / "run.json").read_text())
    assert meta["scenario_data"]["reward"]["alpha"] == 0.5 and meta["agent"] == "reinforce"


def test_a_repeated_candidate_is_logged_as_a_repeat(scenario, tmp_path):
    """A space of one network and a 2-part pool has 6 candidates: 10 proposals must repeat;
    a repeat is answered from the env's records and logged with zero phase times."""
    space = ("space.depth=1", "space.kernels=[3]", "space.filters=[24]", "space.strides=[1]")
    search(scenario, tmp_path / "run", episodes=10, overrides=space)
    records = read_records(tmp_path / "run")
    first = {}
    for r in records:
        key = tuple(r.tokens)
        assert r.repeat == (key in first)
        if key in first:
            assert r.fast_s == r.slow_s == 0.0 and r.reward == first[key].reward
        first.setdefault(key, r)
    assert len(first) <= 6 and sum(bool(r.repeat) for r in records) == 10 - len(first)


def test_agent_hyperparameters_from_scenario_and_cli(scenario, tmp_path):
    """The scenario's agents: section, then --agent-param on top, reach the agent."""
    search(
        scenario, tmp_path / "run", agent="ppo", episodes=2, agent_params={"learning_rate": 0.01}
    )
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["agent_params"] == {"episodes_per_update": 2, "learning_rate": 0.01}
    state = pickle.loads((tmp_path / "run" / CHECKPOINT_FILE).read_bytes())
    assert state["episodes"] == 2  # one update of 2 candidates, then the checkpoint
    import io

    from stable_baselines3 import PPO

    model = PPO.load(io.BytesIO(state["agent"]["model"]), device="cpu")
    assert model.learning_rate == 0.01 and model.n_steps == 2 * (3 * 3 + 2)


@pytest.mark.parametrize("agent", ["ppo", "reinforce", "random"])
def test_same_records_whatever_the_executor(agent, scenario, tmp_path):
    """The executor is a speed knob: at default settings, batches through a pool of 2 workers
    (and Ray's) give the sequential search's records, record for record, floats included.
    Float results of training depend on torch's thread count (docs/machine-notes.md#threads);
    each training runs at its config's count (default 2) in whichever process it lands, here
    a search process with one torch thread per core or a worker with the trainings' count.
    Each search runs in its own process, so Ray never starts inside pytest."""
    import importlib.util

    from coexplore.search.runlog import record_differences

    key = {"ppo": "episodes_per_update", "reinforce": "batch_episodes"}.get(agent)
    common = ["--agent", agent, "--episodes", "8", "--quiet", "--no-report"]  # 2 updates
    common += ["--wandb-mode", "disabled", "--set", "slow_phase.workers=2"]
    common += ["--agent-param", f"{key}=4"] if key else []
    runs = {"sequential": [], "process": ["--set", "slow_phase.executor=process"]}
    if importlib.util.find_spec("ray") is not None and agent == "ppo":
        runs["ray"] = ["--set", "slow_phase.executor=ray"]
    for name, extra in runs.items():
        cmd = [sys.executable, "-m", "coexplore.cli.main", "search", "--env", scenario]
        cmd += ["--out", str(tmp_path / name), *common, *extra]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{name}: {proc.stderr[-2000:]}"
    reference = read_records(tmp_path / "sequential")
    assert len(reference) == 8 and len({tuple(r.tokens) for r in reference}) > 1
    for name in runs:
        assert record_differences(reference, read_records(tmp_path / name)) == [], name
