"""Where the scenario files are: light on purpose, so ``import coexplore`` registers the
Gymnasium ids without importing torch or the data stack."""

from __future__ import annotations

import sys
from pathlib import Path


def envs_dirs() -> list[Path]:
    """Where scenario files live: ``envs/`` beside the package in a checkout (and an editable
    install), or ``<prefix>/share/coexplore/envs`` where a wheel puts them."""
    here = Path(__file__).resolve().parents[1] / "envs"
    installed = Path(sys.prefix) / "share" / "coexplore" / "envs"
    return [d for d in (here, installed) if d.is_dir()]


def scenario_files() -> dict[str, Path]:
    """Scenario name → file, first directory wins."""
    files: dict[str, Path] = {}
    for directory in envs_dirs():
        for path in sorted(directory.glob("*.yaml")):
            files.setdefault(path.stem, path)
    return files


def register_envs() -> list[str]:
    """Register every scenario as the Gymnasium id ``coexplore/<name>-v0`` (lazy entry point)."""
    import gymnasium as gym

    ids = []
    for name in scenario_files():
        env_id = f"coexplore/{name}-v0"
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point="coexplore.env.environment:CoExploreEnv",
                kwargs={"scenario": name},
            )
        ids.append(env_id)
    return ids
