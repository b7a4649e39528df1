"""Scenarios: one declarative YAML file per environment of the catalogue (``envs/``).

A scenario fixes everything a co-exploration run depends on: the dataset and its fidelity, the
search space of child networks, the FPGA pool, the hardware specs, the reward, and the settings
of the fast phase (design tuner) and the slow phase (accuracy oracle, training, executor). Each
section maps onto the configuration class that owns it (``DataConfig``, a search space,
``Specs``, ``TrainConfig``, …), so a value is validated where it is used; every error names the
file, the field and what is allowed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from coexplore.config import ConfigError, load_mapping, require_keys
from coexplore.data import DataConfig
from coexplore.platforms.fpga_pipeline.parts import PARTS
from coexplore.platforms.fpga_pipeline.pipeline import Specs
from coexplore.platforms.fpga_pipeline.precision import PRECISIONS
from coexplore.platforms.fpga_pipeline.tuning.pipeline import DEFAULT_BUDGET
from coexplore.platforms.fpga_pipeline.tuning.tuners import TUNERS
from coexplore.scenario.validate import build
from coexplore.slow.executors import EXECUTORS
from coexplore.slow.oracles import ORACLES
from coexplore.slow.trainer import TrainConfig
from coexplore.spaces import SPACES, SearchSpace

SECTIONS = ("data", "space", "hardware", "specs", "reward", "fast_phase", "slow_phase", "agents")


HARDWARE_MODES = ("explore", "fixed", "none")


@dataclass(frozen=True)
class HardwarePool:
    """The FPGAs a candidate's pipeline may use: one part per stage, at most ``max_fpgas``.

    ``mode`` says how hardware enters the search: ``explore`` (co-exploration: the agent picks
    the parts, the fast phase tunes the design per candidate), ``fixed`` (hardware-aware NAS: one
    design, the best the tuner finds for the ``reference`` network, is kept for every candidate)
    or ``none`` (accuracy-only NAS: no hardware in the loop).
    """

    parts: tuple[str, ...]
    max_fpgas: int = 2
    precision: str = "fixed16"
    link_gbps: float | None = None
    mode: str = "explore"
    reference: str | None = None  # canonical architecture, for mode "fixed"

    def __post_init__(self) -> None:
        if not self.parts:
            raise ConfigError("hardware", "parts", "a non-empty list of part names")
        for name in self.parts:
            if name not in PARTS:
                raise ConfigError("hardware", "parts", f"known parts ({', '.join(PARTS)})", name)
        if self.max_fpgas < 1:
            raise ConfigError("hardware", "max_fpgas", "an integer >= 1", self.max_fpgas)
        if self.precision not in PRECISIONS:
            raise ConfigError("hardware", "precision", f"one of {list(PRECISIONS)}", self.precision)
        if self.link_gbps is not None and self.link_gbps <= 0:
            raise ConfigError("hardware", "link_gbps", "a positive number or null", self.link_gbps)
        if self.mode not in HARDWARE_MODES:
            raise ConfigError("hardware", "mode", f"one of {list(HARDWARE_MODES)}", self.mode)
        if self.mode == "fixed" and not self.reference:
            raise ConfigError(
                "hardware", "reference", "the reference network's string (mode fixed)"
            )


@dataclass(frozen=True)
class RewardConfig:
    """HotNAS-style reward (DESIGN.md §5): R = α·r_acc + (1 − α)·r_hw.

    ``r_acc = 2(acc − acc_min)/(acc_max − acc_min) − 1``; the hardware term compares the
    pipeline period with the spec's target T and a best-case ``t_best_ms``. A candidate pruned
    by the fast phase gets ``penalty`` without training.
    """

    alpha: float = 0.7
    acc_min: float = 0.0
    acc_max: float = 1.0
    t_best_ms: float = 0.0
    penalty: float = -1.0

    def __post_init__(self) -> None:
        if not 0 <= self.alpha <= 1:
            raise ConfigError("reward", "alpha", "a number in [0, 1]", self.alpha)
        if not 0 <= self.acc_min < self.acc_max <= 1:
            raise ConfigError(
                "reward", "acc_min", "0 <= acc_min < acc_max <= 1", (self.acc_min, self.acc_max)
            )
        if self.t_best_ms < 0:
            raise ConfigError("reward", "t_best_ms", "a number >= 0", self.t_best_ms)


@dataclass(frozen=True)
class FastPhaseConfig:
    """Design tuning and pruning: tries ``hw_attempts`` hardware designs per network; with
    ``prune: false`` a candidate that misses the specs is trained anyway (and rewarded as such)."""

    tuner: str = "exhaustive"
    budget: int = DEFAULT_BUDGET
    hw_attempts: int = 10
    prune: bool = True

    def __post_init__(self) -> None:
        if self.tuner not in TUNERS:
            raise ConfigError("fast_phase", "tuner", f"one of {list(TUNERS)}", self.tuner)
        for name in ("budget", "hw_attempts"):
            if getattr(self, name) < 1:
                raise ConfigError("fast_phase", name, "an integer >= 1", getattr(self, name))


@dataclass(frozen=True)
class SlowPhaseConfig:
    """How survivors get their accuracy: oracle, training settings, executor."""

    oracle: str = "train"
    table: str | None = None  # CSV for the table oracle
    executor: str = "sequential"
    workers: int | None = None
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.oracle not in ORACLES:
            raise ConfigError("slow_phase", "oracle", f"one of {list(ORACLES)}", self.oracle)
        if self.oracle == "table" and not self.table:
            raise ConfigError("slow_phase", "table", "the CSV path the table oracle reads")
        if self.executor not in EXECUTORS:
            raise ConfigError("slow_phase", "executor", f"one of {list(EXECUTORS)}", self.executor)
        if self.workers is not None and self.workers < 1:
            raise ConfigError("slow_phase", "workers", "null or an integer >= 1", self.workers)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    data: DataConfig
    space: SearchSpace
    hardware: HardwarePool
    specs: Specs
    reward: RewardConfig
    fast_phase: FastPhaseConfig
    slow_phase: SlowPhaseConfig
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)  # agent → hyperparameters
    source: str = ""

    @property
    def gym_id(self) -> str:
        return f"coexplore/{self.name}-v0"


def scenario_from_dict(data: dict[str, Any], source: str) -> Scenario:
    require_keys(
        data,
        source,
        required={"description", "data", "space", "hardware", "specs"},
        optional={"name", "reward", "fast_phase", "slow_phase", "agents"},
    )
    name = str(data.get("name", Path(source).stem))
    if not isinstance(data["description"], str) or not data["description"].strip():
        raise ConfigError(source, "description", "a one-line description")
    space_cfg = data["space"]
    if not isinstance(space_cfg, dict) or space_cfg.get("name") not in SPACES:
        raise ConfigError(
            source,
            "space.name",
            f"one of {list(SPACES)}",
            space_cfg.get("name") if isinstance(space_cfg, dict) else space_cfg,
        )
    space_options = {k: v for k, v in space_cfg.items() if k != "name"}
    slow = dict(data.get("slow_phase") or {})
    train = build(TrainConfig, slow.pop("train", {}), source, "slow_phase.train")
    return Scenario(
        name=name,
        description=data["description"].strip(),
        data=build(DataConfig, data["data"], source, "data"),
        space=build(SPACES.get(space_cfg["name"]), space_options, source, "space"),
        hardware=build(HardwarePool, data["hardware"], source, "hardware"),
        specs=build(Specs, data["specs"], source, "specs"),
        reward=build(RewardConfig, data.get("reward") or {}, source, "reward"),
        fast_phase=build(FastPhaseConfig, data.get("fast_phase") or {}, source, "fast_phase"),
        slow_phase=build(SlowPhaseConfig, slow, source, "slow_phase", train=train),
        agents=_agent_params(data.get("agents") or {}, source),
        source=source,
    )


def _agent_params(data: Any, source: str) -> dict[str, dict[str, Any]]:
    """``agents:`` maps an agent name to its hyperparameters (checked when the agent is built)."""
    if not isinstance(data, dict):
        raise ConfigError(source, "agents", "a mapping of agent name to hyperparameters", data)
    for name, params in data.items():
        if not isinstance(params, dict):
            raise ConfigError(source, f"agents.{name}", "a mapping of hyperparameters", params)
    return {str(k): dict(v) for k, v in data.items()}


def apply_overrides(data: dict[str, Any], overrides: list[str], source: str = "--set") -> dict:
    """A copy of a scenario mapping with ``section.field=VALUE`` overrides (VALUE is YAML)."""
    data = copy.deepcopy(data)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(source, item, "of the form section.field=VALUE")
        *parents, leaf = key.split(".")
        node = data
        for i, part in enumerate(parents):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                where = ".".join(parents[: i + 1])
                raise ConfigError(source, key, f"a path through mappings ({where} is not one)")
        node[leaf] = yaml.safe_load(text)
    return data


def load_scenario(path: str | Path) -> Scenario:
    return scenario_from_dict(load_mapping(path), str(path))
