"""Load a scenario by catalogue name or by path."""

from __future__ import annotations

from pathlib import Path

from coexplore.catalogue import envs_dirs, scenario_files
from coexplore.config import ConfigError
from coexplore.scenario.schema import Scenario, load_scenario

__all__ = ["envs_dirs", "get_scenario", "scenario_files", "scenario_path"]


def scenario_path(name_or_path: str) -> Path:
    """The file of a catalogue scenario name, or the given scenario file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    files = scenario_files()
    if name_or_path not in files:
        raise ConfigError(name_or_path, "env", f"a scenario file or one of {sorted(files)}")
    return files[name_or_path]


def get_scenario(name_or_path: str) -> Scenario:
    """A catalogue scenario by name, or any scenario file by path."""
    return load_scenario(scenario_path(name_or_path))
