"""What every search agent provides: run episodes on the env, and save/restore its whole state.

An agent drives a Gymnasium env whose episodes are candidates (one token per step). The search
runner calls :meth:`Agent.run` repeatedly and checkpoints the agent between calls, so ``run``
should return at a point where the agent's state is complete (after a policy update): that is
where a resumed search starts again, replaying the episodes since then from the run's log.
"""

from __future__ import annotations

import inspect
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from coexplore.config import ConfigError


class Agent(ABC):
    """A search controller. ``params`` are its hyperparameters (from the scenario or CLI)."""

    name: ClassVar[str]
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, env: gym.Env, seed: int = 0, **params: Any) -> None:
        self.env, self.seed = env, seed
        self.params = {**self.defaults, **params}

    @abstractmethod
    def run(self, episodes: int) -> int:
        """Run at most ``episodes`` episodes, stopping at the next point where the agent's
        state is whole; returns how many episodes finished."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where the agent is (picklable)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def check_params(agent: str, params: dict[str, Any], allowed: set[str]) -> None:
    """Reject a hyperparameter the agent does not know, naming the ones it does."""
    for key in sorted(params):
        if key not in allowed:
            raise ConfigError(
                f"agent {agent}", key, f"one of its parameters: {', '.join(sorted(allowed))}"
            )


def signature_params(fn: Callable) -> set[str]:
    return {
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def global_rng_state() -> dict[str, Any]:
    """The process-wide RNG states that torch-based agents draw from."""
    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),  # noqa: NPY002 (the legacy global state SB3 seeds)
        "python": random.getstate(),
    }


def set_global_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    random.setstate(state["python"])


def begin_batch(env: gym.Env) -> bool:
    """Defer the env's evaluations to :func:`end_batch` (True), or evaluate each candidate at
    once (False: a sequential executor, or an env without batches)."""
    try:
        begin = env.get_wrapper_attr("begin_batch")
    except AttributeError:
        return False
    return bool(begin())


def end_batch(env: gym.Env) -> list[float]:
    """Evaluate the deferred candidates together; their rewards in the order they finished."""
    return list(env.get_wrapper_attr("end_batch")())


def masked_choices(env: gym.Env) -> np.ndarray:
    """Indices of the possible actions of the env's current token."""
    return np.flatnonzero(env.get_wrapper_attr("action_masks")())
