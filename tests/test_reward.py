"""The rewards of the registry, with numbers worked out by hand (docs/rewards.md)."""

import dataclasses
import math

import pytest

from coexplore.config import ConfigError
from coexplore.core.metrics import Metrics
from coexplore.core.rewards import REWARDS
from coexplore.core.specs import Specs
from coexplore.scenario.schema import reward_from_config

FPS_SPEC = Specs.from_config({"min_throughput_fps": 1000})
LAT_SPEC = Specs.from_config({"latency_s": {"max": 0.004}})


def metrics(fps: float = 1000.0, latency_s: float = 1e-3, energy_j: float = 1e-3) -> Metrics:
    return Metrics.derived(latency_s=latency_s, throughput_fps=fps, energy_j=energy_j)


HOT = reward_from_config({"alpha": 0.7, "acc_min": 0.8, "acc_max": 1.0, "t_best_ms": 0.1}, "t")


def test_registry_holds_the_five():
    assert list(REWARDS) == ["edp", "hotnas", "mnas", "tunas-abs", "weighted"]
    assert reward_from_config(None, "t").name == "hotnas"  # the default


def test_hotnas_throughput_spec_met():
    # spec 1000 fps -> T = 1 ms; 2000 fps -> period t = 0.5 ms; T_min = 0.1 ms
    # r_acc = 2(0.95 - 0.8)/0.2 - 1 = 0.5; r_hw = 2(1 - 0.5)/0.9 - 1 = 0.1111...
    assert HOT.times_ms(metrics(2000), FPS_SPEC) == pytest.approx((0.5, 1.0))
    r = HOT(0.95, metrics(2000), FPS_SPEC)
    assert r.terms["r_acc"] == pytest.approx(0.5) and r.terms["r_hw"] == pytest.approx(1 / 9)
    assert r.reward == pytest.approx(0.7 * 0.5 + 0.3 / 9)


def test_hotnas_spec_missed_is_penalised_by_the_miss():
    # 500 fps -> t = 2 ms > T = 1 ms: r_acc = -1, r_hw = (1 - 2)/0.9; R = -0.7 - 0.3/0.9
    r = HOT(0.99, metrics(500), FPS_SPEC)
    assert r.terms["r_acc"] == -1.0
    assert r.reward == pytest.approx(-0.7 - 0.3 / 0.9)
    assert HOT(0.99, metrics(250), FPS_SPEC).reward < r.reward  # missing by more costs more


def test_hotnas_latency_spec_takes_precedence():
    # latency 3 ms against max 4 ms: r_hw = 2(4 - 3)/(4 - 0.1) - 1
    specs = Specs.from_config({"min_throughput_fps": 1000, "max_latency_ms": 4.0})
    r = HOT(0.8, metrics(10, latency_s=3e-3), specs)
    assert r.terms["r_acc"] == pytest.approx(-1.0) and r.terms["r_hw"] == pytest.approx(2 / 3.9 - 1)


def test_hotnas_monotone_in_accuracy_and_speed():
    rewards = [HOT(a, metrics(2000), FPS_SPEC).reward for a in (0.8, 0.9, 1.0)]
    assert rewards == sorted(rewards)
    rewards = [HOT(0.9, metrics(f), FPS_SPEC).reward for f in (1000, 2000, 8000)]
    assert rewards == sorted(rewards)


def test_hotnas_needs_a_time_spec_and_a_sane_best_time():
    with pytest.raises(ConfigError, match="metric"):
        HOT(0.9, metrics(100), Specs.from_config({"max_fpgas": 2}))
    with pytest.raises(ConfigError, match="t_best_ms"):
        dataclasses.replace(HOT, t_best_ms=5.0)(0.9, metrics(100), FPS_SPEC)


def test_mnas_soft_and_hard():
    soft = reward_from_config({"name": "mnas", "metric": "latency_s"}, "t")
    # 2 ms against 4 ms: 0.9 · 0.5^-0.07; 8 ms: 0.9 · 2^-0.07
    assert soft(0.9, metrics(latency_s=2e-3), LAT_SPEC).reward == pytest.approx(0.9 * 0.5**-0.07)
    assert soft(0.9, metrics(latency_s=8e-3), LAT_SPEC).reward == pytest.approx(0.9 * 2**-0.07)
    hard = dataclasses.replace(soft, form="hard")
    assert hard(0.9, metrics(latency_s=2e-3), LAT_SPEC).reward == pytest.approx(0.9)
    assert hard(0.9, metrics(latency_s=8e-3), LAT_SPEC).reward == pytest.approx(0.45)


def test_mnas_on_throughput_reads_the_inverse_ratio():
    r = reward_from_config({"name": "mnas", "form": "hard"}, "t")
    # 500 fps against min 1000 fps: ratio T/m = 2 > 1 -> 0.8 · 2^-1
    assert r(0.8, metrics(500), FPS_SPEC).reward == pytest.approx(0.4)


def test_tunas_abs_costs_any_distance_from_the_target():
    r = reward_from_config({"name": "tunas-abs", "metric": "latency_s", "beta": -0.1}, "t")
    on = r(0.9, metrics(latency_s=4e-3), LAT_SPEC).reward
    assert on == pytest.approx(0.9)
    assert r(0.9, metrics(latency_s=2e-3), LAT_SPEC).reward == pytest.approx(0.9 - 0.05)
    assert r(0.9, metrics(latency_s=6e-3), LAT_SPEC).reward == pytest.approx(0.9 - 0.05)
    with pytest.raises(ConfigError, match="beta"):
        reward_from_config({"name": "tunas-abs", "beta": 0.1}, "t")


def test_weighted_and_edp():
    w = reward_from_config(
        {"name": "weighted", "metric": "energy_j", "target": 2e-3, "alpha": 0.5}, "t"
    )
    # r_acc(0.75) = 0.5; energy 1 mJ / 2 mJ = 0.5 -> 0.5·0.5 − 0.5·0.5 = 0
    assert w(0.75, metrics(energy_j=1e-3), FPS_SPEC).reward == pytest.approx(0.0)
    e = reward_from_config({"name": "edp", "target": 1e-6, "alpha": 0.5}, "t")
    # EDP = 1 mJ × 1 ms = 1e-6 J·s -> log10(1) = 0; ten times lower EDP gains 0.5
    assert e(0.75, metrics(), FPS_SPEC).reward == pytest.approx(0.25)
    lower = e(0.75, metrics(latency_s=1e-4), FPS_SPEC).reward
    assert lower == pytest.approx(0.25 + 0.5 * math.log10(10))


def test_unknown_reward_and_fields_are_named():
    with pytest.raises(ConfigError, match="reward.name"):
        reward_from_config({"name": "best"}, "s.yaml")
    with pytest.raises(ConfigError, match="reward.gamma"):
        reward_from_config({"name": "mnas", "gamma": 1}, "s.yaml")
    with pytest.raises(ConfigError, match="metric"):
        reward_from_config({"name": "mnas", "metric": "speed"}, "s.yaml")
