"""Scenarios: the declarative description of one co-exploration environment (``envs/*.yaml``)."""

from coexplore.scenario.catalogue import envs_dirs, get_scenario, scenario_files
from coexplore.scenario.schema import (
    FastPhaseConfig,
    HardwarePool,
    RewardConfig,
    Scenario,
    SlowPhaseConfig,
    load_scenario,
    scenario_from_dict,
)

__all__ = [
    "FastPhaseConfig",
    "HardwarePool",
    "RewardConfig",
    "Scenario",
    "SlowPhaseConfig",
    "envs_dirs",
    "get_scenario",
    "load_scenario",
    "scenario_files",
    "scenario_from_dict",
]
