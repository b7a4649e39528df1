"""The co-exploration environment: Gymnasium/SB3 API, masks, pruning, determinism, vec envs."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import coexplore  # noqa: F401  (registers the ids)
from coexplore.core.candidate import Candidate
from coexplore.core.record import CandidateRecord
from coexplore.core.specs import Specs
from coexplore.env import CoExploreEnv
from coexplore.scenario import get_scenario


def quick(min_fps=3500.0, **train):
    """digits-fpga with 1-epoch training: the real pipeline, fast enough for tests."""
    s = get_scenario("digits-fpga")
    slow = dataclasses.replace(
        s.slow_phase, train=dataclasses.replace(s.slow_phase.train, epochs=1, **train)
    )
    return dataclasses.replace(
        s, slow_phase=slow, specs=Specs.from_config({"throughput_fps": {"min": min_fps}})
    )


def rollout(env, rng, masked=True):
    obs, _ = env.reset()
    while True:
        if env.mode == "one-shot":
            action = env.action_space.sample()
        elif masked:
            action = int(rng.choice(np.flatnonzero(env.action_masks())))
        else:
            action = int(rng.integers(env.action_space.n))
        obs, reward, done, truncated, info = env.step(action)
        assert env.observation_space.contains(obs)
        if done:
            return reward, info


@pytest.mark.parametrize("mode", ["sequential", "one-shot"])
def test_env_checkers_pass(mode):
    env = CoExploreEnv(quick(), mode=mode)
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(env)


def test_registered_ids():
    ids = {k for k in gym.registry if k.startswith("coexplore/")}
    assert {"coexplore/digits-fpga-v0", "coexplore/mnist5k-fpga-v0"} <= ids
    env = gym.make("coexplore/digits-fpga-v0", scenario=quick())
    assert env.unwrapped.scenario.data.name == "digits"


def test_candidate_record_and_reward(tmp_path):
    env = CoExploreEnv(quick(min_fps=1.0), cache=str(tmp_path / "c.sqlite"))
    env.reset(seed=0)
    reward, info = rollout(env, np.random.default_rng(0))
    assert not info["pruned"] and info["failed_specs"] == []
    for key in (
        "arch",
        "hardware",
        "metrics",
        "val_acc",
        "test_acc",
        "fast_s",
        "slow_s",
        "cache_hit",
        "platform",
        "choice",
        "details",
        "hw_attempts",
        "reward_terms",
        "version",
    ):
        assert key in info
    assert set(info["reward_terms"]) >= {"r_acc", "r_hw"}
    assert CandidateRecord.from_json(info).to_json() == info  # the record, as JSON
    assert info["metrics"]["throughput_fps"] >= 1.0 and info["reward"] == reward
    assert env.scenario.space.parse(info["arch"]).canonical == info["arch"]


def test_impossible_spec_prunes_without_training():
    env = CoExploreEnv(quick(min_fps=1e12))
    env.reset(seed=0)
    reward, info = rollout(env, np.random.default_rng(1))
    assert info["pruned"] and reward == env.scenario.reward.penalty
    failure = info["failed_specs"][0]
    assert (failure["kind"], failure["metric"], failure["bound"]) == (
        "spec",
        "throughput_fps",
        "min",
    )
    assert failure["reason"] == "upper bound over the pool" and failure["miss_ratio"] > 0
    assert info["hw_attempts"] == 0  # no hardware design can reach it: none is tried
    assert info["val_acc"] is None and info["slow_s"] == 0.0


def test_throughput_bound_is_never_beaten():
    """The early-prune bound is sound: no tuned pipeline of pool parts exceeds it."""
    from coexplore.platforms.fpga_pipeline.fast_phase import throughput_upper_bound
    from coexplore.platforms.fpga_pipeline.tuning.pipeline import StageTuner, tune_partition

    env = CoExploreEnv(quick())
    rng = np.random.default_rng(3)
    for _ in range(4):
        arch = env.space.sample(rng, input_size=8)
        net = arch.network(env.input_shape, env.num_classes)
        tuner = StageTuner(net)
        bound = throughput_upper_bound(tuner, list(env.scenario.hardware.options.parts))
        for parts in (["XC7Z020"], ["XC7A50T", "XC7Z020"], ["XC7Z020", "XC7Z020"]):
            fps = tune_partition(net, parts, stage_tuner=tuner).metrics.throughput_fps
            assert fps <= bound * (1 + 1e-9)


def test_masks_and_remapping_of_impossible_actions():
    env = CoExploreEnv(quick(min_fps=1e12))
    env.reset(seed=0)
    # three stride-2 layers take 8x8 to 1x1: the fourth stride token allows stride 1 only
    for _ in range(3):
        for a in (0, 0, 1):  # kernel 1, 24 filters, stride 2
            env.step(a)
    env.step(0)
    env.step(0)
    assert env.action_masks().tolist() == [True, False, False, False]
    env.step(1)  # an agent ignoring the mask asks for stride 2 anyway: mapped to stride 1
    assert env._tokens[-1] == 0
    for _ in range(6 + 2):
        env.step(int(np.flatnonzero(env.action_masks())[0]))
    assert env._tokens[-1] is not None  # the episode completed without an exception


def test_same_seed_same_episode():
    def episode():
        env = CoExploreEnv(quick(min_fps=1.0))
        env.reset(seed=5)
        return rollout(env, np.random.default_rng(5))

    (r1, i1), (r2, i2) = episode(), episode()
    assert r1 == r2 and i1["arch"] == i2["arch"] and i1["hardware"] == i2["hardware"]


def test_vec_envs_share_one_cache(tmp_path):
    """Envs in this process (DummyVecEnv) and in worker processes (SubprocVecEnv) write to and
    read from one result cache: the same candidates a second time are all cache hits."""
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    from coexplore.slow.cache import ResultCache

    cache = str(tmp_path / "shared.sqlite")
    space = CoExploreEnv(quick(min_fps=1.0), mode="one-shot").action_space
    space.seed(0)
    actions = np.array([space.sample(), space.sample()])
    runs = []
    for vec_cls in (DummyVecEnv, SubprocVecEnv):
        vec = vec_cls([lambda: CoExploreEnv(quick(min_fps=1.0), mode="one-shot", cache=cache)] * 2)
        vec.reset()
        _, _, dones, infos = vec.step(actions)
        vec.close()
        assert dones.all()
        runs.append(list(infos))
    first, second = runs
    archs = {i["arch"] for i in first}
    assert len(archs) == 2 and not any(i["pruned"] for i in first + second)  # min 1 frame/s
    assert not any(i["cache_hit"] for i in first)  # two new architectures: two trainings
    assert all(i["cache_hit"] for i in second)  # the worker processes found them
    assert [i["val_acc"] for i in second] == [i["val_acc"] for i in first]
    with ResultCache(cache) as c:
        assert len(c) == 2


@pytest.mark.parametrize("algo", ["ppo", "maskable-ppo"])
def test_sb3_agents_learn_on_the_env(algo, tmp_path, monkeypatch):
    """Real SB3 / sb3-contrib algorithms run their learn() loop on the environment: they play
    its episodes (every candidate evaluated) and update their policy from the rewards."""
    import torch

    monkeypatch.setenv("SB3_LOGDIR", str(tmp_path))
    env = CoExploreEnv(quick(min_fps=1.0), cache=str(tmp_path / "c.sqlite"))
    records = []
    env.listeners.append(records.append)
    if algo == "ppo":
        from stable_baselines3 import PPO as Algo
    else:
        from sb3_contrib import MaskablePPO as Algo
    model = Algo("MlpPolicy", env, n_steps=40, batch_size=20, n_epochs=1, seed=0, device="cpu")
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(total_timesteps=40)  # two episodes of 20 tokens, then one update
    assert model.num_timesteps == 40 and len(records) == 2
    assert len(model.ep_info_buffer) == 2
    rewards = sorted(e["r"] for e in model.ep_info_buffer)
    assert rewards == pytest.approx(sorted(r.reward for r in records), abs=1e-6)  # Monitor rounds
    after = list(model.policy.parameters())
    changed = [not torch.equal(a, b) for a, b in zip(before, after, strict=True)]
    assert any(changed), "learn() made no update of the policy"


def test_custom_agent_example_runs(tmp_path):
    """launch/custom_agent.py: the documented bring-your-own-agent example benchmarks its agent
    against random search (two processes), and `coexplore search` runs it by file path."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "launch" / "custom_agent.py"
    out = subprocess.run(
        [sys.executable, str(script), "--seeds", "2", "--trainings", "6", "--out", "b"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
        cwd=tmp_path,
    ).stdout
    assert "custom_agent.py:SoftmaxPolicy: best" in out and "against random:" in out
    assert (tmp_path / "b" / "benchmark.md").exists()
    done = subprocess.run(
        [sys.executable, "-m", "coexplore.cli.main", "search", "--env", "nb201-table",
         "--agent", f"{script}:SoftmaxPolicy", "--agent-param", "learning_rate=0.2",
         "--trainings", "5", "--out", "s", "--json", "--quiet", "--no-report",
         "--wandb-mode", "disabled"],
        capture_output=True, text=True, check=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert json.loads(done.stdout)["trainings"] == 5
    meta = json.loads((tmp_path / "s" / "run.json").read_text())
    assert meta["agent_params"] == {"learning_rate": 0.2}


# --- the baselines' settings: fixed hardware, no hardware, no pruning ---------------------------

REFERENCE = "k3f24s1-k3f36s1-k3f48s2-k3f48s1-k3f64s2-k3f64s1|flatten"


def with_hardware(scenario, **changes):
    return dataclasses.replace(scenario, hardware=dataclasses.replace(scenario.hardware, **changes))


def test_fixed_hardware_keeps_the_reference_design():
    """Hardware-aware NAS: one design, tuned for the reference network, runs every candidate."""
    env = CoExploreEnv(with_hardware(quick(), mode="fixed", reference=REFERENCE))
    assert env.choices == env.sw_choices  # the agent picks the network only
    reference = env.space.parse(REFERENCE)
    _, info = env.evaluate(env.space.to_tokens(reference))
    assert not info["pruned"] and info["hw_attempts"] == 1
    network = reference.network(env.input_shape, env.num_classes)
    tuned = env.evaluator.platform.reference(Candidate(network=network), env.scenario.specs)
    assert info["hardware"] == tuned.hardware.to_dict()
    assert info["metrics"]["throughput_fps"] == pytest.approx(tuned.metrics.throughput_fps)
    # A heavier network on the same engines: slower, and its 7x7x64 kernels need more weight
    # buffer than the design has, so it breaks a budget or the spec: pruned.
    heavy = env.space.parse("k7f64s1-k7f64s1-k7f64s2-k7f64s1-k7f64s2-k7f64s1|flatten")
    _, info = env.evaluate(env.space.to_tokens(heavy))
    assert info["pruned"] and info["hardware"] == tuned.hardware.to_dict()
    assert {(f["kind"], f["metric"]) for f in info["failed_specs"]} & {
        ("budget", None),
        ("spec", "throughput_fps"),
    }


def test_fixed_mode_needs_a_reference():
    from coexplore.config import ConfigError

    with pytest.raises(ConfigError, match="reference"):
        with_hardware(quick(), mode="fixed")


def test_no_hardware_mode_rewards_accuracy_only():
    env = CoExploreEnv(with_hardware(quick(), mode="none"))
    assert env.choices == env.sw_choices
    reward, info = rollout(env, np.random.default_rng(0))
    assert info["metrics"] is None and info["hardware"] is None and not info["pruned"]
    r = env.scenario.reward
    assert reward == pytest.approx(2 * (info["val_acc"] - r.acc_min) / (r.acc_max - r.acc_min) - 1)


def test_without_pruning_a_candidate_missing_the_specs_is_trained():
    """Co-exploration without pruning: trained anyway, given the penalty, not feasible."""
    s = quick(min_fps=30000.0)
    s = dataclasses.replace(s, fast_phase=dataclasses.replace(s.fast_phase, prune=False))
    env = CoExploreEnv(s)
    reward, info = rollout(env, np.random.default_rng(1))
    assert not info["pruned"] and info["failed_specs"] and info["val_acc"] is not None
    # 30,000 frames/s is beyond the pool's bound: no design, so the penalty and no reward terms
    assert info["metrics"] is None and info["failed_specs"][0]["kind"] == "spec"
    assert reward == env.scenario.reward.penalty and info["reward_terms"] == {}
    assert not CandidateRecord.from_json(info).feasible
