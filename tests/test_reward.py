"""The HotNAS-form reward, with numbers worked out by hand."""

import dataclasses

import pytest

from coexplore.config import ConfigError
from coexplore.platforms.fpga_pipeline.pipeline import PipelineMetrics, Specs
from coexplore.scenario.reward import hotnas_reward
from coexplore.scenario.schema import RewardConfig


def metrics(fps: float, latency_ms: float = 1.0) -> PipelineMetrics:
    return PipelineMetrics(fps, latency_ms, 1.0, 1.0, 1.0, 0, [], [])


CFG = RewardConfig(alpha=0.7, acc_min=0.8, acc_max=1.0, t_best_ms=0.1)


def test_throughput_spec_met():
    # spec 1000 fps -> T = 1 ms; 2000 fps -> period t = 0.5 ms; T_min = 0.1 ms
    # r_acc = 2(0.95 - 0.8)/0.2 - 1 = 0.5; r_hw = 2(1 - 0.5)/0.9 - 1 = 0.1111...
    # R = 0.7 * 0.5 + 0.3 * 0.1111 = 0.38333...
    r = hotnas_reward(0.95, metrics(2000), Specs(min_throughput_fps=1000), CFG)
    assert r.meets_spec and r.t_ms == pytest.approx(0.5) and r.target_ms == pytest.approx(1.0)
    assert r.r_acc == pytest.approx(0.5) and r.r_hw == pytest.approx(1 / 9)
    assert r.reward == pytest.approx(0.7 * 0.5 + 0.3 / 9)


def test_spec_missed_is_penalised_by_the_miss():
    # 500 fps -> t = 2 ms > T = 1 ms: r_acc = -1, r_hw = (1 - 2)/0.9; R = -0.7 - 0.3/0.9
    r = hotnas_reward(0.99, metrics(500), Specs(min_throughput_fps=1000), CFG)
    assert not r.meets_spec and r.r_acc == -1.0
    assert r.reward == pytest.approx(-0.7 - 0.3 / 0.9)
    worse = hotnas_reward(0.99, metrics(250), Specs(min_throughput_fps=1000), CFG)
    assert worse.reward < r.reward  # missing by more costs more


def test_latency_spec_takes_precedence():
    # latency 3 ms against max 4 ms: r_hw = 2(4 - 3)/(4 - 0.1) - 1
    r = hotnas_reward(
        0.8, metrics(10, latency_ms=3.0), Specs(min_throughput_fps=1000, max_latency_ms=4.0), CFG
    )
    assert r.r_acc == pytest.approx(-1.0) and r.r_hw == pytest.approx(2 / 3.9 - 1)


def test_monotone_in_accuracy_and_speed():
    specs = Specs(min_throughput_fps=1000)
    rewards = [hotnas_reward(a, metrics(2000), specs, CFG).reward for a in (0.8, 0.9, 1.0)]
    assert rewards == sorted(rewards)
    rewards = [hotnas_reward(0.9, metrics(f), specs, CFG).reward for f in (1000, 2000, 8000)]
    assert rewards == sorted(rewards)


def test_needs_a_hardware_spec_and_a_sane_best_time():
    with pytest.raises(ConfigError, match="min_throughput_fps"):
        hotnas_reward(0.9, metrics(100), Specs(max_fpgas=2), CFG)
    with pytest.raises(ConfigError, match="t_best_ms"):
        hotnas_reward(
            0.9,
            metrics(100),
            Specs(min_throughput_fps=1000),
            dataclasses.replace(CFG, t_best_ms=5.0),
        )
