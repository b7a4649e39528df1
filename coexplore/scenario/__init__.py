"""Scenarios: the declarative description of one co-exploration environment (``envs/*.yaml``)."""

from coexplore.scenario.assemble import make_evaluator, make_oracle
from coexplore.scenario.catalogue import envs_dirs, get_scenario, scenario_files, scenario_path
from coexplore.scenario.schema import (
    FastPhaseConfig,
    HardwareConfig,
    Scenario,
    SlowPhaseConfig,
    apply_overrides,
    load_scenario,
    scenario_from_dict,
)

__all__ = [
    "FastPhaseConfig",
    "HardwareConfig",
    "Scenario",
    "SlowPhaseConfig",
    "apply_overrides",
    "envs_dirs",
    "get_scenario",
    "load_scenario",
    "make_evaluator",
    "make_oracle",
    "scenario_files",
    "scenario_from_dict",
    "scenario_path",
]
