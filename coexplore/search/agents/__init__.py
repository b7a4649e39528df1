"""Search agents by name: SB3 ``ppo`` (default), ``a2c``; sb3-contrib ``maskable-ppo``,
``recurrent-ppo``; the paper's ``reinforce`` controller (``reinforce-paper``: with its
published settings, which converge early); ``rea`` (regularised evolution);
``random``; ``local`` (local search, White et al. 2021); ``hsconas`` (HSCoNAS's multi-objective
evolution with channel scaling and space shrinking); ``cbo`` (constrained Bayesian
optimisation), ``bo`` and ``tpe`` (its penalty baselines) for spaces small enough to list, such
as a template's design space. Adding one is a class (:class:`Agent`; :class:`PopulationAgent`
for one that proposes whole candidates to the evaluator) plus one entry here.

The classes load at their first use (most import torch or stable-baselines3), so the names are
known without them: ``coexplore search --help`` lists the agents without importing torch.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym

from coexplore.config import ConfigError
from coexplore.registry import Registry
from coexplore.search.agents.base import Agent, PopulationAgent, check_mapping

AGENTS: Registry[type[Agent]] = Registry("agent")
for _name, _target in {
    "ppo": "sb3:PPOAgent",
    "a2c": "sb3:A2CAgent",
    "maskable-ppo": "sb3:MaskablePPOAgent",
    "recurrent-ppo": "sb3:RecurrentPPOAgent",
    "reinforce": "reinforce:ReinforceAgent",
    "reinforce-paper": "reinforce:PaperReinforceAgent",
    "rea": "evolution:RegularizedEvolutionAgent",
    "hsconas": "hsconas:HSCoNASAgent",
    "random": "random_search:RandomAgent",
    "local": "local_search:LocalSearchAgent",
    "cbo": "bayes:ConstrainedBO",
    "nas-bo": "bayes:ArchitectureBO",
    "bo": "bayes:PenaltyBO",
    "tpe": "bayes:TPE",
}.items():
    AGENTS.register_lazy(_name, f"{__name__}.{_target}")

DEFAULT_AGENT = "ppo"
IMPORT_PATH = "an import path module:Class or file.py:Class"


def agent_class(name: str) -> type[Agent]:
    """The agent class of ``name``: a registered agent, or a user's :class:`Agent` subclass by
    import path, ``my_pkg.my_agent:MyAgent`` or ``path/to/agent.py:MyAgent`` (so a controller
    of one's own runs in ``coexplore search`` and ``coexplore benchmark`` as the built-in ones
    do). A name that is neither is a :class:`ConfigError` listing what is allowed."""
    if name in AGENTS:
        return AGENTS.get(name)
    where, sep, attr = name.rpartition(":")
    allowed = f"a registered agent ({', '.join(AGENTS)}) or {IMPORT_PATH}"
    if not (sep and where and attr.isidentifier()):
        raise ConfigError("search", "agent", allowed, name)
    try:
        module = _load_file(where) if where.endswith(".py") else importlib.import_module(where)
    except ImportError as exc:
        reason = f"{allowed}; importing {where!r}: {exc}"
        raise ConfigError("search", "agent", reason, name) from None
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Agent)):
        raise ConfigError("search", "agent", f"{IMPORT_PATH} naming an Agent subclass", name)
    return cls


def _load_file(path: str):
    """The module of a Python file, loaded once under a name of its own (its classes and the
    objects in a checkpoint pickle by that name)."""
    file = Path(path).resolve()
    if not file.is_file():
        raise ImportError(f"no such file {path}")
    module_name = "coexplore_user_" + "".join(c if c.isalnum() else "_" for c in str(file))
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
    return sys.modules[module_name]


def make_agent(name: str, env: gym.Env, seed: int = 0, **params: Any) -> Agent:
    return agent_class(name)(env, seed, **params)


def check_agent_sections(sections: Mapping[str, Mapping[str, Any]], source: str) -> None:
    """Check a scenario's ``agents:`` section as ``--agent-param`` is checked: every name a
    registered agent, every hyperparameter one it knows, of its type and in its range. (The
    constraints between parameters wait for ``--agent-param``: see :meth:`Agent.check_params`.)"""
    for name, params in sections.items():
        if name not in AGENTS:
            raise ConfigError(source, f"agents.{name}", f"a registered agent: {', '.join(AGENTS)}")
        check_mapping(params, AGENTS.get(name).param_specs(), source, f"agents.{name}.")


__all__ = [
    "AGENTS",
    "DEFAULT_AGENT",
    "Agent",
    "PopulationAgent",
    "agent_class",
    "check_agent_sections",
    "make_agent",
]
