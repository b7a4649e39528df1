"""Checkers for new registry entries, in the style of SB3's ``check_env``: small rules, each
failure saying what to fix. ``check_platform`` for a platform family, ``check_space`` for a
search space; the tests run both over every registered entry.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np

from coexplore.core.candidate import CAPABILITIES, Candidate
from coexplore.core.metrics import METRIC_INFO, Metrics
from coexplore.core.platform import FastResult, Platform
from coexplore.core.specs import FAILURE_KINDS, SpecFailure, Specs
from coexplore.core.tokens import walk
from coexplore.spaces.base import SearchSpace
from coexplore.workloads.layer import Network
from coexplore.workloads.suites import NamedWorkload


class CheckError(AssertionError):
    """A registry entry breaks a rule of the interface; the message says what to change."""


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise CheckError(message)


def _json(value: Any, what: str) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise CheckError(f"{what} must be JSON-serialisable (for the run log): {exc}") from None


def walk_tokens(choices: Sequence[int], allowed, rng: np.random.Generator) -> list[int]:
    """One random walk (:func:`~coexplore.core.tokens.walk`) through the possible choices of
    every token, each checked to be a non-empty list within ``range`` of its token's choices."""

    def pick(prefix: list[int], possible: list[int]) -> Any:
        t, n = len(prefix), choices[len(prefix)]
        _require(bool(possible), f"token {t}: allowed() is empty after {prefix}; leave one choice")
        _require(
            all(isinstance(v, int) and 0 <= v < n for v in possible),
            f"token {t}: allowed() gave {possible}, outside range({n}) of token_choices()",
        )
        return rng.choice(possible)

    return walk(len(choices), allowed, pick)


def check_space(space: SearchSpace, input_shape=(1, 8, 8), classes: int = 10, n: int = 8) -> None:
    """A search space's tokens, canonical strings, workloads and config are consistent."""
    choices = space.token_choices()
    _require(
        bool(choices) or space.loop_nests,
        "token_choices() is empty: a space needs at least one token (only a fixed workload, "
        "loop_nests, has none)",
    )
    _require(
        all(isinstance(c, int) and c >= 1 for c in choices), "token_choices() must be ints >= 1"
    )
    _json(space.config(), "config()")
    rng = np.random.default_rng(0)
    for _ in range(n):
        tokens = walk_tokens(choices, lambda p: space.allowed(p, input_shape[1]), rng)
        arch = space.from_tokens(tokens)
        _require(
            space.to_tokens(arch) == tokens,
            f"to_tokens(from_tokens({tokens})) gave {space.to_tokens(arch)}: make them inverse",
        )
        _require(
            space.parse(arch.canonical).canonical == arch.canonical,
            f"parse({arch.canonical!r}) does not give the same canonical string back",
        )
        net = arch.network(input_shape, classes)
        if space.loop_nests:
            _require(isinstance(net, NamedWorkload), "network() must give a NamedWorkload")
        else:
            ok = isinstance(net, Network) and len(net) > 0
            _require(ok, "network() must give layer workloads")
        if space.electronic:
            _require(net.macs > 0, f"{arch.canonical}: the workloads count no MACs")


def _check_result(cls: type[Platform], result: Any, what: str) -> None:
    _require(isinstance(result, FastResult), f"{what} must return a FastResult, got {result!r}")
    if result.metrics is not None:
        _require(isinstance(result.metrics, Metrics), f"{what}: metrics must be a Metrics")
        extra = set(result.metrics.available()) - set(cls.metrics)
        _require(not extra, f"{what} reported {sorted(extra)}: add them to {cls.__name__}.metrics")
        for name, value in result.metrics.to_dict().items():
            _require(
                math.isfinite(value) and value >= 0,
                f"{what}: metric {name} = {value!r}; metrics are finite and >= 0 in SI units",
            )
    for f in result.failed_specs:
        _require(isinstance(f, SpecFailure), f"{what}: failed_specs holds SpecFailure entries")
        _require(f.kind in FAILURE_KINDS, f"{what}: failure kind {f.kind!r} not in {FAILURE_KINDS}")
    _json(result.hardware, f"{what}: hardware")
    _json(result.details, f"{what}: details")
    _require(
        isinstance(cls.describe(None, result.hardware, result.details), str), "describe() -> str"
    )


def check_platform(
    cls: type[Platform],
    networks: Sequence[Network],
    config: Any = None,
    fast: Any = None,
    specs: Sequence[Specs] = (),
    samples: int = 4,
    space: Any = None,
) -> None:
    """A platform family keeps the interface: declared metrics and capabilities, token rules,
    well-formed and deterministic fast phase, a sound bound, picklable. ``space``: the search
    space of ``networks`` (their names are its canonical strings): the candidates then carry
    their architectures, which a measuring family needs (it must then answer a repeated
    question from its cache to be deterministic). Registration is checked by
    :func:`coexplore.platforms.check_family`."""
    unknown = [m for m in cls.metrics if m not in METRIC_INFO]
    _require(not unknown, f"metrics {unknown} are not declared ({list(METRIC_INFO)})")
    _require(
        set(cls.capabilities) <= set(CAPABILITIES),
        f"capabilities {sorted(cls.capabilities)} must be among {list(CAPABILITIES)}",
    )
    _require(
        set(cls.objectives) <= set(cls.metrics),
        f"objectives {list(cls.objectives)} must be among the metrics {list(cls.metrics)}",
    )
    for name in ("config_class", "fast_config_class"):
        _require(dataclasses.is_dataclass(getattr(cls, name)), f"{name} must be a dataclass")
    platform = cls(config, fast)
    try:
        pickle.loads(pickle.dumps(platform))
    except Exception as exc:
        raise CheckError(f"the platform must pickle (workers receive it): {exc}") from None
    hardware = platform.hardware_space()
    choices = hardware.token_choices()
    _require(
        all(isinstance(c, int) and c >= 1 for c in choices), "token_choices() must be ints >= 1"
    )
    _require(len(hardware.token_names()) == len(choices), "token_names() needs one name per token")
    rng = np.random.default_rng(0)
    for network in networks:
        arch = None if space is None else space.parse(network.name)
        for spec in (Specs(), *specs):
            for _ in range(samples):
                tokens = walk_tokens(choices, hardware.allowed, rng)
                choice = hardware.decode(tokens)
                _json(choice, "decode()")
                candidate = Candidate(arch, network, choice)
                seed = int(rng.integers(2**31))
                what = f"evaluate({network.name}, {choice!r})"
                a = platform.evaluate(candidate, spec, np.random.default_rng(seed))
                _check_result(cls, a, what)
                b = platform.evaluate(candidate, spec, np.random.default_rng(seed))
                _require(
                    (a.hardware, a.metrics, a.failed_specs)
                    == (b.hardware, b.metrics, b.failed_specs),
                    f"{what} gave two answers for one seed: seed every random draw from rng",
                )
                _require(
                    bool(a.failed_specs) or a.metrics is not None,
                    f"{what}: no metrics and no failed spec; say why (kind 'infeasible')",
                )
                _require(
                    spec.bounds or not platform.bound(network, spec),
                    "bound() with no specs must be empty: there is nothing to miss",
                )
                free = platform.evaluate(candidate, Specs(), np.random.default_rng(seed))
                if free.metrics is not None and not spec.check(free.metrics):
                    _require(
                        not platform.bound(network, spec),
                        f"bound() says {network.name} cannot meet {spec}, but {choice!r} "
                        f"meets it: the bound must be sound (never prune what could pass)",
                    )
