"""The co-exploration reward (HotNAS form, DESIGN.md §5): accuracy plus hardware efficiency.

    R = α·r_acc + (1 − α)·r_hw
    r_acc = 2(acc − A_min)/(A_max − A_min) − 1
    r_hw  = 2(T − t)/(T − T_min) − 1             when the spec t ≤ T holds
    r_acc = −1,  r_hw = (T − t)/(T − T_min)      when it does not (negative, grows with the miss)

``t`` is the hardware time the spec constrains: the latency when the scenario has a latency spec
(``T = max_latency_ms``), otherwise the pipeline period 1000/throughput in ms (``T`` =
1000/``min_throughput_fps``). ``T_min`` is ``reward.t_best_ms``. A candidate the fast phase
prunes never reaches this function: it gets ``reward.penalty`` without training.
"""

from __future__ import annotations

from dataclasses import dataclass

from coexplore.config import ConfigError
from coexplore.platforms.fpga_pipeline.pipeline import PipelineMetrics, Specs
from coexplore.scenario.schema import RewardConfig


@dataclass(frozen=True)
class RewardTerms:
    reward: float
    r_acc: float
    r_hw: float
    t_ms: float  # the constrained hardware time
    target_ms: float  # T
    meets_spec: bool


def hardware_time(specs: Specs, metrics: PipelineMetrics) -> tuple[float, float]:
    """(t, T) in ms: latency against its spec, else the pipeline period against throughput's."""
    if specs.max_latency_ms is not None:
        return metrics.latency_ms, specs.max_latency_ms
    if specs.min_throughput_fps is not None:
        return 1e3 / metrics.throughput_fps, 1e3 / specs.min_throughput_fps
    raise ConfigError("specs", "min_throughput_fps", "set (or max_latency_ms) for the reward")


def accuracy_term(accuracy: float, config: RewardConfig) -> float:
    """r_acc = 2(acc − A_min)/(A_max − A_min) − 1: 1 at A_max, −1 at A_min."""
    return 2 * (accuracy - config.acc_min) / (config.acc_max - config.acc_min) - 1


def hotnas_reward(
    accuracy: float, metrics: PipelineMetrics, specs: Specs, config: RewardConfig
) -> RewardTerms:
    t, target = hardware_time(specs, metrics)
    if target <= config.t_best_ms:
        raise ConfigError(
            "reward", "t_best_ms", f"below the spec's target {target:g} ms", config.t_best_ms
        )
    span = target - config.t_best_ms
    meets = t <= target
    if meets:
        r_acc = accuracy_term(accuracy, config)
        r_hw = 2 * (target - t) / span - 1
    else:
        r_acc, r_hw = -1.0, (target - t) / span
    reward = config.alpha * r_acc + (1 - config.alpha) * r_hw
    return RewardTerms(reward, r_acc, r_hw, t, target, meets)
