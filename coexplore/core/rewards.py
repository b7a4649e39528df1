"""Rewards by name (registry ``REWARDS``): accuracy plus a hardware metric, one number.

Each reward is a frozen dataclass whose fields are its scenario settings
(``reward: {name: mnas, metric: latency_s, ...}``); calling it gives :class:`RewardTerms`.
The formulas and their sources are in docs/rewards.md. ``m`` is the metric the reward reads and
``T`` its target: the scenario's spec on that metric unless the reward sets ``target``. For a
metric that is maximised (throughput) the ratio is ``T/m``, so a ratio ≤ 1 always means "meets
the target". A candidate the fast phase prunes gets ``penalty`` and is never trained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

from coexplore.config import ConfigError
from coexplore.core.metrics import METRIC_INFO, Metrics, check_metric
from coexplore.core.specs import Specs
from coexplore.registry import Registry


@dataclass(frozen=True)
class RewardTerms:
    reward: float
    terms: dict[str, float] = field(default_factory=dict)  # the parts, for logs and plots


@dataclass(frozen=True)
class Reward:
    """Accuracy term ``r_acc = 2(acc − acc_min)/(acc_max − acc_min) − 1`` (1 at ``acc_max``,
    −1 at ``acc_min``) shared by the rewards that weigh it against hardware."""

    name: ClassVar[str]
    metric: str | None = None  # None: the reward's default metric for these specs
    alpha: float = 0.7
    acc_min: float = 0.0
    acc_max: float = 1.0
    target: float | None = None  # T in SI units; None: the spec's limit on the metric
    penalty: float = -1.0

    def __post_init__(self) -> None:
        if self.metric is not None:
            check_metric(self.metric, "reward", "metric")
        if not 0 <= self.alpha <= 1:
            raise ConfigError("reward", "alpha", "a number in [0, 1]", self.alpha)
        if not 0 <= self.acc_min < self.acc_max <= 1:
            raise ConfigError(
                "reward", "acc_min", "0 <= acc_min < acc_max <= 1", (self.acc_min, self.acc_max)
            )
        if self.target is not None and self.target <= 0:
            raise ConfigError("reward", "target", "a positive number or null", self.target)

    def accuracy_term(self, accuracy: float) -> float:
        return 2 * (accuracy - self.acc_min) / (self.acc_max - self.acc_min) - 1

    def accuracy_only(self, accuracy: float) -> RewardTerms:
        """The reward without hardware (accuracy-only NAS): ``r_acc``."""
        r_acc = self.accuracy_term(accuracy)
        return RewardTerms(r_acc, {"r_acc": r_acc})

    def hardware_only(self, metrics: Metrics, specs: Specs) -> RewardTerms:
        """The reward without accuracy (a fixed workload, nothing trained: hardware-only
        search): the hardware term alone, where the reward has one (see :func:`hardware_only`)."""
        raise ConfigError(
            "reward", "name", f"one of {hardware_only_rewards()} with nothing trained", self.name
        )

    def penalized(self) -> RewardTerms:
        """The reward of a candidate that was pruned, or that no design runs: ``penalty``."""
        return RewardTerms(float(self.penalty))

    def read_metric(self, specs: Specs) -> str:
        """The metric this reward reads for ``specs``."""
        if self.metric is not None:
            return self.metric
        for name in ("latency_s", "throughput_fps"):
            if specs.limit(name) is not None:
                return name
        raise ConfigError("reward", "metric", "set, or a latency or throughput spec to read")

    def target_of(self, metric: str, specs: Specs) -> float:
        target = self.target if self.target is not None else specs.limit(metric)
        if target is None:
            raise ConfigError("reward", "target", f"set, or a spec on {metric}")
        return target

    def ratio(self, metrics: Metrics, specs: Specs) -> tuple[str, float, float]:
        """(metric, value m, m/T or T/m): ≤ 1 when the target is met."""
        metric = self.read_metric(specs)
        value, target = metrics.get(metric), self.target_of(metric, specs)
        if value is None:
            raise ConfigError("reward", "metric", "a metric the platform reports", metric)
        return metric, value, (target / value if METRIC_INFO[metric].maximize else value / target)

    def __call__(self, accuracy: float, metrics: Metrics, specs: Specs) -> RewardTerms:
        raise NotImplementedError


REWARDS: Registry[type[Reward]] = Registry("reward")


@REWARDS.decorator("hotnas")
@dataclass(frozen=True)
class HotNASReward(Reward):
    """HotNAS form (Jiang et al.): ``R = α·r_acc + (1 − α)·r_hw`` with
    ``r_hw = 2(T − t)/(T − T_min) − 1`` when ``t ≤ T``, else ``r_acc = −1`` and
    ``r_hw = (T − t)/(T − T_min)`` (more negative the larger the miss). ``t`` is a time in ms:
    the latency, or the pipeline period 1000/throughput; ``T_min`` is ``t_best_ms``."""

    name = "hotnas"
    t_best_ms: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.metric not in (None, "latency_s", "throughput_fps"):
            raise ConfigError("reward", "metric", "latency_s or throughput_fps", self.metric)
        if self.t_best_ms < 0:
            raise ConfigError("reward", "t_best_ms", "a number >= 0", self.t_best_ms)

    def times_ms(self, metrics: Metrics, specs: Specs) -> tuple[float, float]:
        """(t, T) in ms: latency against its target, or the period against throughput's."""
        metric = self.read_metric(specs)
        target = self.target_of(metric, specs)
        if metric == "latency_s":
            return metrics.latency_s * 1e3, target * 1e3
        return 1e3 / metrics.throughput_fps, 1e3 / target

    def __call__(self, accuracy: float, metrics: Metrics, specs: Specs) -> RewardTerms:
        t, target = self.times_ms(metrics, specs)
        if target <= self.t_best_ms:
            raise ConfigError(
                "reward", "t_best_ms", f"below the spec's target {target:g} ms", self.t_best_ms
            )
        span = target - self.t_best_ms
        if t <= target:
            r_acc, r_hw = self.accuracy_term(accuracy), 2 * (target - t) / span - 1
        else:
            r_acc, r_hw = -1.0, (target - t) / span
        reward = self.alpha * r_acc + (1 - self.alpha) * r_hw
        return RewardTerms(reward, {"r_acc": r_acc, "r_hw": r_hw})


MNAS_FORMS = {"soft": (-0.07, -0.07), "hard": (0.0, -1.0)}


@REWARDS.decorator("mnas")
@dataclass(frozen=True)
class MnasReward(Reward):
    """MnasNet (Tan et al., CVPR 2019): ``R = acc · (m/T)^w`` with ``w = a`` when the target
    is met and ``w = b`` when it is not; ``form: soft`` (a = b = −0.07) or ``hard`` (a = 0,
    b = −1), or explicit ``a`` and ``b``."""

    name = "mnas"
    form: str = "soft"
    a: float | None = None
    b: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.form not in MNAS_FORMS:
            raise ConfigError("reward", "form", f"one of {list(MNAS_FORMS)}", self.form)

    def __call__(self, accuracy: float, metrics: Metrics, specs: Specs) -> RewardTerms:
        _, _, ratio = self.ratio(metrics, specs)
        a, b = MNAS_FORMS[self.form]
        w = (a if self.a is None else self.a) if ratio <= 1 else (b if self.b is None else self.b)
        factor = ratio**w
        return RewardTerms(accuracy * factor, {"acc": accuracy, "ratio": ratio, "factor": factor})


@REWARDS.decorator("tunas-abs")
@dataclass(frozen=True)
class TunasAbsReward(Reward):
    """TuNAS absolute reward (Bender et al., CVPR 2020): ``R = acc + β·|m/T − 1|``, β < 0:
    any distance from the target costs, faster or slower."""

    name = "tunas-abs"
    beta: float = -0.10

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.beta >= 0:
            raise ConfigError("reward", "beta", "a negative number", self.beta)

    def __call__(self, accuracy: float, metrics: Metrics, specs: Specs) -> RewardTerms:
        _, _, ratio = self.ratio(metrics, specs)
        penalty = self.beta * abs(ratio - 1)
        return RewardTerms(accuracy + penalty, {"acc": accuracy, "ratio": ratio, "hw": penalty})


@REWARDS.decorator("weighted")
@dataclass(frozen=True)
class WeightedReward(Reward):
    """``R = α·r_acc − (1 − α)·ratio``: a linear trade of the accuracy term against the metric
    normalised by its target (``target`` or the spec's limit)."""

    name = "weighted"

    def __call__(self, accuracy: float, metrics: Metrics, specs: Specs) -> RewardTerms:
        _, _, ratio = self.ratio(metrics, specs)
        r_acc = self.accuracy_term(accuracy)
        reward = self.alpha * r_acc - (1 - self.alpha) * ratio
        return RewardTerms(reward, {"r_acc": r_acc, "ratio": ratio})

    def hardware_only(self, metrics: Metrics, specs: Specs) -> RewardTerms:
        """``R = −ratio``."""
        _, _, ratio = self.ratio(metrics, specs)
        return RewardTerms(-ratio, {"ratio": ratio})


@REWARDS.decorator("edp")
@dataclass(frozen=True)
class EDPReward(Reward):
    """``R = α·r_acc − (1 − α)·log10(EDP/T)``: energy-delay product (Shi et al. minimise it),
    on a log scale because EDPs of candidates span orders of magnitude; ``T`` = ``target``
    (J·s) or the spec on ``edp_js``."""

    name = "edp"
    metric: str | None = "edp_js"

    def __call__(self, accuracy: float, metrics: Metrics, specs: Specs) -> RewardTerms:
        _, _, ratio = self.ratio(metrics, specs)
        r_acc = self.accuracy_term(accuracy)
        hw = math.log10(ratio)
        return RewardTerms(self.alpha * r_acc - (1 - self.alpha) * hw, {"r_acc": r_acc, "hw": hw})

    def hardware_only(self, metrics: Metrics, specs: Specs) -> RewardTerms:
        """``R = −log10(EDP/T)``: minimising the EDP, as Shi et al. do."""
        _, _, ratio = self.ratio(metrics, specs)
        hw = math.log10(ratio)
        return RewardTerms(-hw, {"hw": hw})


def hardware_only_rewards() -> list[str]:
    """The rewards with a form without accuracy (for a slow phase that trains nothing)."""
    return [n for n in REWARDS if REWARDS.get(n).hardware_only is not Reward.hardware_only]


DEFAULT_REWARD = "hotnas"
