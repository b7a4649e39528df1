"""What every search agent provides: propose candidates, and save/restore its whole state.

A token-by-step agent (SB3, REINFORCE, your own) drives a Gymnasium env whose episodes are
candidates (one token per step). A :class:`PopulationAgent` (random, regularised evolution,
HSCoNAS) proposes whole candidates: it draws their tokens from the env's evaluator's token space
and hands them to the evaluator, no episodes. Either way the evaluator's listeners get every
record. The search runner calls :meth:`Agent.run` repeatedly and checkpoints the agent between
calls, so ``run`` should return at a point where the agent's state is complete (after a policy
update): that is where a resumed search starts again, replaying the candidates since then from
the run's log.
"""

from __future__ import annotations

import inspect
import json
import random
import re
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from coexplore.config import ConfigError
from coexplore.core.record import CandidateRecord


@dataclass(frozen=True)
class Param:
    """What a hyperparameter takes from YAML (a scenario's ``agents:``, ``--agent-param``): a
    type over YAML's values (None: the default's or the signature's, see :meth:`typed`) and,
    where known, a range (``low``/``high``, exclusive where ``*_open``) or ``choices``.
    ``fields``: the known keys of a mapping (SB3's ``policy_kwargs``), checked the same way."""

    type: Any = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] = ()
    fields: Mapping[str, Param] | None = None

    def typed(self, tp: Any) -> Param:
        return self if self.type is not None else replace(self, type=tp)

    def allowed(self) -> str:
        """What the parameter allows, in words: "a number in [0, 1]", "an integer >= 1"."""
        from coexplore.scenario.validate import describe

        members = typing.get_args(self.type) if _is_union(self.type) else (self.type,)
        nullable = type(None) in members
        if self.choices:
            text = "one of " + ", ".join(_yaml_text(c) for c in self.choices)
        else:
            words = {dict: "a mapping", object: "any value"}
            text = " or ".join(words.get(m) or describe(m) for m in members if m is not type(None))
            text = (text or "null") + self._range_text()
        return text + (" or null" if nullable and text != "null" else "")

    def _range_text(self) -> str:
        low = None if self.low is None else f"{self.low:g}"
        high = None if self.high is None else f"{self.high:g}"
        if low is not None and high is not None:
            return (
                f" in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
            )
        if low is not None:
            return f" {'>' if self.low_open else '>='} {low}"
        if high is not None:
            return f" {'<' if self.high_open else '<='} {high}"
        return ""

    def check(self, source: str, field: str, value: Any) -> None:
        from coexplore.scenario.validate import matches

        if value is None and matches(None, self.type):
            return
        ok = matches(value, self.type) and (not self.choices or value in self.choices)
        if ok and isinstance(value, int | float) and not isinstance(value, bool):
            ok = self._in_range(value)
        if not ok:
            allowed = self.allowed()
            if isinstance(value, str) and _NO_POINT.fullmatch(value):  # YAML 1.1: text
                number = _NO_POINT.sub(r"\1.0\2", value)
                allowed += f" (YAML reads {value} as text: write {number})"
            raise ConfigError(source, field, allowed, value)
        if self.fields is not None and isinstance(value, dict):
            check_mapping(value, self.fields, source, f"{field}.")

    def _in_range(self, value: float) -> bool:
        # written so that NaN fails every bound
        low = self.low is None or (value > self.low if self.low_open else value >= self.low)
        high = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return bool(low and high)


# 3e-4: a number to Python, text to YAML 1.1 (which wants the point, 3.0e-4)
_NO_POINT = re.compile(r"([-+]?\d+)([eE][-+]?\d+)")

POSITIVE = Param(low=0, low_open=True)
NON_NEGATIVE = Param(low=0)
AT_LEAST_ONE = Param(low=1)
UNIT = Param(low=0, high=1)  # a probability, a share, a discount


def check_mapping(
    values: Mapping[str, Any], params: Mapping[str, Param], source: str, prefix: str = ""
) -> None:
    """Reject a key ``params`` does not know (naming the known ones) and a value its
    :class:`Param` does not allow; fields are named ``prefix + key``."""
    for key, value in values.items():
        if key not in params:
            known = ", ".join(sorted(params))
            raise ConfigError(source, f"{prefix}{key}", f"one of its parameters: {known}")
        params[key].check(source, f"{prefix}{key}", value)


def signature_specs(
    fn: Callable, limits: Mapping[str, Param], skip: Iterable[str] = ()
) -> dict[str, Param]:
    """The keyword parameters of ``fn`` (a class: its constructor's, without ``self``) that a
    YAML value can set, typed from their annotations (or defaults), ranged by ``limits``. A
    parameter only a Python object can set (a class, a callable) is left out."""
    specs = {}
    for p in inspect.signature(fn).parameters.values():
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) or p.name in skip:
            continue
        if p.annotation is p.empty or isinstance(p.annotation, str):  # none, or unevaluated
            tp = None if p.default is p.empty else yaml_type_of(p.default)
        else:
            tp = yaml_type(p.annotation)
        if tp is not None and tp is not type(None):
            specs[p.name] = limits.get(p.name, Param()).typed(tp)
    return specs


def yaml_type(annotation: Any) -> Any:
    """The part of a type annotation that YAML values can fill (``float | Schedule`` → float,
    ``torch.device | str`` → str, ``dict[str, Any]`` → dict); None where no part can."""
    if annotation is Any:
        return object
    if _is_union(annotation):
        parts = [t for t in map(yaml_type, typing.get_args(annotation)) if t is not None]
        return typing.Union[tuple(parts)] if parts else None  # noqa: UP007 (built from a tuple)
    origin = typing.get_origin(annotation) or annotation
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        inner = yaml_type(args[0]) if args else None
        return list if inner is None else list[inner]
    if origin is dict:
        return dict
    return annotation if annotation in (bool, int, float, str, type(None)) else None


def yaml_type_of(value: Any) -> Any:
    """The YAML type of a default value (``object``: anything, for a default of None)."""
    for tp in (bool, int, float, str, list, dict):
        if isinstance(value, tp):
            return tp
    return object


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _yaml_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class Agent(ABC):
    """A search controller. ``params`` are its hyperparameters (from the scenario or CLI)."""

    name: ClassVar[str]
    defaults: ClassVar[dict[str, Any]] = {}
    # ranges (and types a default cannot tell) of the hyperparameters, by name
    limits: ClassVar[dict[str, Param]] = {}

    def __init__(self, env: gym.Env, seed: int = 0, **params: Any) -> None:
        self.check_params(params)
        self.env, self.seed = env, seed
        self.params = {**self.defaults, **params}

    @classmethod
    def param_specs(cls) -> dict[str, Param]:
        """The hyperparameters a user may set: each one's type (that of its default) and range
        (``limits``)."""
        return {
            k: cls.limits.get(k, Param()).typed(yaml_type_of(v)) for k, v in cls.defaults.items()
        }

    @classmethod
    def check_params(cls, params: Mapping[str, Any], source: str | None = None) -> None:
        """Reject an unknown hyperparameter, a wrong type or a value out of range with a
        :class:`ConfigError` naming it and what it allows: the runner calls this before it
        makes a run directory, so a bad value never gets as far as the algorithm."""
        source = source or f"agent {getattr(cls, 'name', cls.__name__)}"
        check_mapping(params, cls.param_specs(), source)
        cls.check_together({**cls.defaults, **params}, source)

    @classmethod
    def check_together(cls, params: dict[str, Any], source: str) -> None:
        """Constraints between hyperparameters, on all of them (the defaults filled in)."""
        return

    @abstractmethod
    def run(self, episodes: int) -> int:
        """Run at most ``episodes`` episodes, stopping at the next point where the agent's
        state is whole; returns how many episodes finished."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where the agent is (picklable)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class PopulationAgent(Agent):
    """An agent that proposes whole candidates to the evaluator of ``env`` (its unwrapped
    env's ``evaluator``), drawing their tokens from ``self.token_space`` with ``self.rng``."""

    def __init__(self, env: gym.Env, seed: int = 0, **params: Any) -> None:
        super().__init__(env, seed, **params)
        self.evaluator = env.unwrapped.evaluator
        self.token_space = self.evaluator.token_space
        self.rng = np.random.default_rng(seed)

    def propose(self, proposals: Iterable[Sequence[int]]) -> list[CandidateRecord]:
        """The records of ``proposals`` (token lists), in order. With a parallel executor all
        are drawn, then evaluated as one batch; else each is evaluated before the next is
        drawn, so that a shrinker stepping on its record already shapes the next draw."""
        if self.evaluator.parallel:
            return self.evaluator.evaluate_batch(list(proposals))
        return [self.evaluator.evaluate(tokens) for tokens in proposals]


def global_rng_state() -> dict[str, Any]:
    """The process-wide RNG states that torch-based agents draw from."""
    import torch  # here, so that the agent names (the CLI's help) load without torch

    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),  # noqa: NPY002 (the legacy global state SB3 seeds)
        "python": random.getstate(),
    }


def set_global_rng_state(state: dict[str, Any]) -> None:
    import torch

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
