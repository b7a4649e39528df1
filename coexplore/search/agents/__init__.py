"""Search agents by name: SB3 ``ppo`` (default), ``a2c``; sb3-contrib ``maskable-ppo``,
``recurrent-ppo``; the paper's ``reinforce`` controller; ``rea`` (regularised evolution);
``random``; ``local`` (local search, White et al. 2021); ``hsconas`` (HSCoNAS's multi-objective
evolution with channel scaling and space shrinking); ``cbo`` (constrained Bayesian
optimisation), ``bo`` and ``tpe`` (its penalty baselines) for spaces small enough to list, such
as a template's design space. Adding one is a class (:class:`Agent`; :class:`PopulationAgent`
for one that proposes whole candidates to the evaluator) plus one entry here.

The classes load at their first use (most import torch or stable-baselines3), so the names are
known without them: ``coexplore search --help`` lists the agents without importing torch.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    "rea": "evolution:RegularizedEvolutionAgent",
    "hsconas": "hsconas:HSCoNASAgent",
    "random": "random_search:RandomAgent",
    "local": "local_search:LocalSearchAgent",
    "cbo": "bayes:ConstrainedBO",
    "bo": "bayes:PenaltyBO",
    "tpe": "bayes:TPE",
}.items():
    AGENTS.register_lazy(_name, f"{__name__}.{_target}")

DEFAULT_AGENT = "ppo"


def make_agent(name: str, env: gym.Env, seed: int = 0, **params: Any) -> Agent:
    return AGENTS.get(name)(env, seed, **params)


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
    "check_agent_sections",
    "make_agent",
]
