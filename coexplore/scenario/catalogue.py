"""The scenario catalogue: the YAML files of ``envs/`` (a checkout) or of the installed package."""

from __future__ import annotations

import sys
from pathlib import Path

from coexplore.config import ConfigError
from coexplore.scenario.schema import Scenario, load_scenario


def envs_dirs() -> list[Path]:
    """Where scenario files live: ``envs/`` beside the package in a checkout (and an editable
    install), or ``<prefix>/share/coexplore/envs`` where a wheel puts them."""
    here = Path(__file__).resolve().parents[2] / "envs"
    installed = Path(sys.prefix) / "share" / "coexplore" / "envs"
    return [d for d in (here, installed) if d.is_dir()]


def scenario_files() -> dict[str, Path]:
    """Scenario name → file, first directory wins."""
    files: dict[str, Path] = {}
    for directory in envs_dirs():
        for path in sorted(directory.glob("*.yaml")):
            files.setdefault(path.stem, path)
    return files


def get_scenario(name_or_path: str) -> Scenario:
    """A catalogue scenario by name, or any scenario file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return load_scenario(path)
    files = scenario_files()
    if name_or_path not in files:
        raise ConfigError(name_or_path, "env", f"a scenario file or one of {sorted(files)}")
    return load_scenario(files[name_or_path])
