"""Scenarios: one declarative YAML file per environment of the catalogue (``envs/``).

A scenario fixes everything a co-exploration run depends on: the dataset and its fidelity, the
search space of child networks, the hardware (a platform family and its settings), the specs
on its metrics, the reward, the objectives, and the settings of the fast phase (the family's
tuner) and the slow phase (accuracy oracle, training, executor). Each
section maps onto the configuration class that owns it (``DataConfig``, a search space,
``Specs``, ``TrainConfig``, …), so a value is validated where it is used; every error names the
file, the field and what is allowed.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from coexplore.compress.oracle import CompressionSpec
from coexplore.config import (
    INPUT_FILE,
    ConfigError,
    load_mapping,
    rebase_outputs,
    require_keys,
    resolve_paths,
)
from coexplore.core.candidate import COMPRESSION, LOOP_NESTS, TRAINED_HARDWARE
from coexplore.core.evaluator import HARDWARE_MODES
from coexplore.core.oracle import AccuracyOracle
from coexplore.core.rewards import DEFAULT_REWARD, REWARDS, Reward, hardware_only_rewards
from coexplore.core.shrinking import ShrinkConfig
from coexplore.core.specs import Specs, check_metric_names
from coexplore.data import DataConfig
from coexplore.platforms import (
    DEFAULT_PLATFORM,
    PLATFORMS,
    Platform,
    load_platforms,
    platform_class,
)
from coexplore.scenario.validate import build, check, section
from coexplore.slow.executors import EXECUTORS
from coexplore.slow.oracles import ORACLES
from coexplore.slow.trainer import TrainConfig
from coexplore.spaces import SPACES, SearchSpace


@dataclass(frozen=True)
class HardwareConfig:
    """``hardware:``: the platform ``family`` (default ``fpga-pipeline``), how hardware enters
    the search, and the family's own settings (``options``, e.g. the FPGA pool).

    ``mode``: ``explore`` (co-exploration: the agent picks the hardware tokens, the fast phase
    tunes a design per candidate), ``fixed`` (hardware-aware NAS: one design, the best the
    family finds for the ``reference`` network, runs every candidate) or ``none``
    (accuracy-only NAS: no hardware in the loop).
    """

    family: str = DEFAULT_PLATFORM
    mode: str = "explore"
    reference: str | None = None  # canonical architecture, for mode "fixed"
    options: Any = None  # the family's config_class

    def __post_init__(self) -> None:
        if self.mode not in HARDWARE_MODES:
            raise ConfigError("hardware", "mode", f"one of {list(HARDWARE_MODES)}", self.mode)
        if self.mode == "fixed" and not self.reference:
            raise ConfigError(
                "hardware", "reference", "the reference network's string (mode fixed)"
            )


@dataclass(frozen=True)
class FastPhaseConfig:
    """``fast_phase:``: with ``prune: false`` a candidate that misses the specs is trained anyway
    (and rewarded as such); the other keys are the family's (``options``)."""

    prune: bool = True
    options: Any = None  # the family's fast_config_class


@dataclass(frozen=True)
class SlowPhaseConfig:
    """How survivors get their accuracy: oracle, training settings, executor."""

    oracle: str = "train"
    # the table oracle's: a built-in name (nb201-cifar10, …) or a CSV
    table: str | None = field(default=None, metadata=INPUT_FILE)
    executor: str = "sequential"
    workers: int | None = None
    address: str | None = None  # a Ray cluster to join (executor ray)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.oracle not in ORACLES:
            raise ConfigError("slow_phase", "oracle", f"one of {list(ORACLES)}", self.oracle)
        if self.oracle == "table" and not self.table:
            raise ConfigError(
                "slow_phase", "table", "a CSV path or a built-in table name for the table oracle"
            )
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
    hardware: HardwareConfig
    specs: Specs
    reward: Reward
    fast_phase: FastPhaseConfig
    slow_phase: SlowPhaseConfig
    objectives: tuple[str, ...] = ()  # metrics of the Pareto fronts (accuracy × each)
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)  # agent → hyperparameters
    source: str = ""
    compression: CompressionSpec | None = None  # every candidate compressed (oracle compress)
    shrinking: ShrinkConfig | None = None  # progressive space shrinking for every agent
    # where relative output paths go (a measurement cache): a search's run directory; None:
    # nowhere (not written). Relative input paths are resolved against the file on loading.
    output_dir: str | None = None

    @property
    def gym_id(self) -> str:
        return f"coexplore/{self.name}-v0"

    def platform(self) -> Platform:
        """The platform family configured by this scenario."""
        cls = platform_class(self.hardware.family)
        options = rebase_outputs(self.hardware.options, self.output_dir)
        return cls(options, self.fast_phase.options)


def scenario_from_dict(data: dict[str, Any], source: str) -> Scenario:
    require_keys(
        data,
        source,
        required={"description", "space", "hardware", "specs"},
        optional={
            "data",
            "name",
            "reward",
            "objectives",
            "fast_phase",
            "slow_phase",
            "compression",
            "agents",
            "shrinking",
        },
    )
    name = check(data.get("name", Path(source).stem), str, source, "name")
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
    space_class = SPACES.get(space_cfg["name"])
    if "data" not in data and not space_class.loop_nests:  # a fixed workload needs no data
        raise ConfigError(source, "data", "present (the dataset the networks are trained on)")
    hardware = _hardware(data["hardware"], source)
    family = platform_class(hardware.family)
    fast = section(data.get("fast_phase"), source, "fast_phase")
    prune = fast.pop("prune", True)
    if not isinstance(prune, bool):
        raise ConfigError(source, "fast_phase.prune", "true or false", prune)
    fast_options = build(family.fast_config_class, fast, source, "fast_phase")
    specs = Specs.from_config(data["specs"], source)
    reward = reward_from_config(data.get("reward"), source)
    produced = list(family(hardware.options, fast_options).reported_metrics())
    default = [m for m in family.objectives if m in produced] or produced[:1]
    objectives = check(data.get("objectives") or default, tuple[str, ...], source, "objectives")
    check_metric_names(list(objectives), produced, source, "objectives")
    check_metric_names(specs.metrics, produced, source, "specs")
    if hardware.mode != "none":
        metric = _in_file(source, reward.read_metric, specs)
        check_metric_names([metric], produced, source, "reward.metric")
        _in_file(source, reward.target_of, metric, specs)
    slow = section(data.get("slow_phase"), source, "slow_phase")
    slow_phase = build(SlowPhaseConfig, slow, source, "slow_phase")
    compression = data.get("compression")
    check_capabilities(
        family, hardware.mode, slow_phase.oracle, compression is not None, source, space_class,
        reward,
    )  # fmt: skip
    # a fixed workload's networks ignore the data: its shape is any dataset's
    data_config = build(DataConfig, data.get("data", {"name": "digits"}), source, "data")
    _check_table(slow_phase, data_config, source)
    if compression is not None:
        compression = build(CompressionSpec, compression, source, "compression")
    return Scenario(
        name=name,
        description=data["description"].strip(),
        data=data_config,
        space=build(space_class, space_options, source, "space"),
        hardware=hardware,
        specs=specs,
        reward=reward,
        fast_phase=FastPhaseConfig(prune, fast_options),
        slow_phase=slow_phase,
        objectives=objectives,
        agents=_agent_params(data.get("agents") or {}, source),
        source=source,
        compression=compression,
        shrinking=_shrinking(data.get("shrinking"), objectives, source),
    )


def _shrinking(data: Any, objectives: tuple[str, ...], source: str) -> ShrinkConfig | None:
    """``shrinking:`` (coexplore/core/shrinking.py); its metric defaults to the first objective."""
    if data is None or data is False:
        return None
    config = _in_file(source, ShrinkConfig.from_dict, data)
    if config.metric is None:
        if not objectives:
            raise ConfigError(source, "shrinking.metric", "a metric (there are no objectives)")
        config = replace(config, metric=objectives[0])
    elif config.metric not in objectives:
        allowed = f"one of the objectives {list(objectives)}"
        raise ConfigError(source, "shrinking.metric", allowed, config.metric)
    return config


def check_capabilities(
    family: type[Platform],
    mode: str,
    oracle: str,
    compression: bool,
    source: str,
    space: type[SearchSpace] | None = None,
    reward: Reward | None = None,
) -> None:
    """Whether a family (in ``mode``), an oracle and a space fit, by the capabilities they
    declare: a family whose hardware choice is trained needs an oracle that trains it, and the
    other way round; an oracle that compresses needs ``compression:`` (and a family that prices
    compressed networks, unless no hardware is priced), and ``compression:`` such an oracle; a
    space of loop nests (a fixed workload) needs a family that prices them and an oracle that
    trains nothing, and such an oracle a fixed workload, hardware and a hardware-only reward."""

    def able(registry, capability: str) -> list[str]:
        return [n for n in registry if capability in registry.get(n).capabilities]

    oracle_class = ORACLES.get(oracle)
    if space is not None:
        _check_fixed_workload(family, mode, oracle_class, compression, source, space, reward)
    oracle_caps = oracle_class.capabilities
    trains = TRAINED_HARDWARE in family.capabilities and mode == "explore"
    if trains and TRAINED_HARDWARE not in oracle_caps:
        why = f"the {family.name} family's choice is part of the trained model"
        allowed = f"one of {able(ORACLES, TRAINED_HARDWARE)} ({why})"
        raise ConfigError(source, "slow_phase.oracle", allowed, oracle)
    if not trains and TRAINED_HARDWARE in oracle_caps:
        families = ", ".join(able(PLATFORMS, TRAINED_HARDWARE))
        why = f"a family that trains its hardware choice ({families}), mode explore"
        raise ConfigError(source, "hardware.family", why, f"{family.name} ({mode})")
    compresses = COMPRESSION in oracle_caps
    if compresses and not compression:
        raise ConfigError(source, "compression", f"present for slow_phase.oracle {oracle}")
    if compression and not compresses:
        allowed = f"{' or '.join(able(ORACLES, COMPRESSION))} when compression: is given"
        raise ConfigError(source, "slow_phase.oracle", allowed, oracle)
    if compresses and mode != "none" and COMPRESSION not in family.capabilities:
        families = ", ".join(able(PLATFORMS, COMPRESSION))
        allowed = f"given only with a family that prices compressed networks ({families})"
        raise ConfigError(source, "compression", allowed, family.name)


def _check_fixed_workload(
    family: type[Platform],
    mode: str,
    oracle: type[AccuracyOracle],
    compression: bool,
    source: str,
    space: type[SearchSpace],
    reward: Reward | None,
) -> None:
    """A fixed workload (a space of loop nests) and a slow phase that trains nothing go
    together, with hardware to search and a reward without accuracy."""
    untrained = [n for n in ORACLES if not ORACLES.get(n).measures_accuracy]
    if space.loop_nests:
        if LOOP_NESTS not in family.capabilities:
            families = [n for n in PLATFORMS if LOOP_NESTS in platform_class(n).capabilities]
            allowed = f"one of {families} (space {space.name} is loop nests)"
            raise ConfigError(source, "hardware.family", allowed, family.name)
        if oracle.measures_accuracy:
            allowed = f"one of {untrained} (space {space.name} is a fixed workload)"
            raise ConfigError(source, "slow_phase.oracle", allowed, oracle.name)
        if compression:
            raise ConfigError(source, "compression", f"absent with space {space.name}")
    elif not oracle.measures_accuracy:
        fixed = [n for n in SPACES if SPACES.get(n).loop_nests]
        allowed = f"one of {fixed} with slow_phase.oracle {oracle.name} (nothing is trained)"
        raise ConfigError(source, "space.name", allowed, space.name)
    if not oracle.measures_accuracy:
        if mode == "none":
            raise ConfigError(source, "hardware.mode", "explore or fixed (nothing is trained)")
        if reward is not None and type(reward).hardware_only is Reward.hardware_only:
            allowed = f"one of {hardware_only_rewards()} (nothing is trained)"
            raise ConfigError(source, "reward.name", allowed, reward.name)


def _check_table(slow: SlowPhaseConfig, data: DataConfig, source: str) -> None:
    """The table oracle's table. A built-in one belongs to one dataset: ``data`` must name it
    (the shapes of the networks, their MACs and the hardware metrics follow from it). A CSV is
    read now, so a wrong one is an error before anything runs (like the table family's)."""
    from coexplore.tables import ACCURACY_TABLES

    if slow.oracle != "table":
        return
    if slow.table in ACCURACY_TABLES:
        dataset = ACCURACY_TABLES.get(slow.table).dataset
        if data.name != dataset:
            raise ConfigError(
                source, "data.name", f"{dataset!r}, the dataset of table {slow.table}", data.name
            )
        return
    try:
        ORACLES.get("table")(slow.table).columns  # noqa: B018 (reading the table checks it)
    except ConfigError as err:
        if err.source == slow.table:  # the CSV itself is wrong: its error names it
            raise
        raise ConfigError(source, f"slow_phase.{err.field}", err.allowed, err.got) from None


def _in_file(source: str, fn, *args):
    """``fn(*args)``; a ConfigError about a section (``reward``…) is re-raised against the file."""
    try:
        return fn(*args)
    except ConfigError as err:
        if err.source == source:
            raise
        raise ConfigError(source, f"{err.source}.{err.field}", err.allowed, err.got) from None


def _hardware(data: Any, source: str) -> HardwareConfig:
    """``hardware:``: the generic keys, then the family's own settings."""
    if not isinstance(data, dict):
        raise ConfigError(source, "hardware", "a mapping of field names to values", data)
    data = dict(data)
    family = data.pop("family", DEFAULT_PLATFORM)
    load_platforms()
    if family not in PLATFORMS:
        raise ConfigError(source, "hardware.family", f"one of {list(PLATFORMS)}", family)
    generic = {k: data.pop(k) for k in ("mode", "reference") if k in data}
    options = build(PLATFORMS.get(family).config_class, data, source, "hardware")
    return build(HardwareConfig, {"family": family, **generic}, source, "hardware", options=options)


def reward_from_config(data: Any, source: str) -> Reward:
    """The reward a scenario's ``reward:`` section names (default ``hotnas``), validated."""
    data = section(data, source, "reward")
    name = data.pop("name", DEFAULT_REWARD)
    if name not in REWARDS:
        raise ConfigError(source, "reward.name", f"one of {list(REWARDS)}", name)
    return build(REWARDS.get(name), data, source, "reward")


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
        try:
            node[leaf] = yaml.safe_load(text)
        except yaml.YAMLError:  # not YAML (e.g. an NB201 string, "|op~0|+..."): the text itself
            node[leaf] = text
        if len(parents) == 1 and isinstance(node[leaf], str):  # typed here: the working dir's
            cls = _section_class(data, parents[0])
            if cls is not None:
                node[leaf] = resolve_paths(cls, {leaf: node[leaf]}, os.getcwd()).get(leaf)
    return data


def _section_class(data: dict[str, Any], section: str) -> type | None:
    """The settings dataclass of a scenario section whose fields may be paths."""
    if section == "hardware":
        load_platforms()
        family = (data.get("hardware") or {}).get("family", DEFAULT_PLATFORM)
        return PLATFORMS.get(family).config_class if family in PLATFORMS else None
    return {"slow_phase": SlowPhaseConfig, "data": DataConfig}.get(section)


def load_scenario(path: str | Path) -> Scenario:
    return scenario_from_dict(load_mapping(path), str(path))
