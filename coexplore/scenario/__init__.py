"""Scenarios: the declarative description of one co-exploration environment (``envs/*.yaml``)."""

from coexplore.scenario.catalogue import envs_dirs, get_scenario, scenario_files, scenario_path
from coexplore.scenario.reward import RewardTerms, hotnas_reward
from coexplore.scenario.schema import (
    FastPhaseConfig,
    HardwarePool,
    RewardConfig,
    Scenario,
    SlowPhaseConfig,
    apply_overrides,
    load_scenario,
    scenario_from_dict,
)

__all__ = [
    "FastPhaseConfig",
    "HardwarePool",
    "RewardConfig",
    "RewardTerms",
    "Scenario",
    "SlowPhaseConfig",
    "apply_overrides",
    "envs_dirs",
    "get_scenario",
    "hotnas_reward",
    "load_scenario",
    "scenario_files",
    "scenario_from_dict",
    "scenario_path",
]
