"""What a platform family provides: the hardware side of co-design, as the core sees it.

A family is its scenario settings (two dataclasses, validated field by field), its **hardware
tokens** (a :class:`HardwareSpace`, the mirror of a search space's tokens), the **metrics** it
reports (declared as data, :class:`~coexplore.core.metrics.Metric`), the **capabilities** it
has (:data:`~coexplore.core.candidate.CAPABILITIES`), and the **fast phase**:
``evaluate(candidate, specs, rng)`` tunes the design for a :class:`~coexplore.core.candidate.
Candidate` and returns it with its metrics and failed specs. Optionally a sound ``bound`` and a
``reference`` design for the fixed-hardware baseline. Families register in
``coexplore.platforms.PLATFORMS``; :func:`coexplore.core.checkers.check_platform` keeps new
entries honest.
"""

from __future__ import annotations

import dataclasses
import json
from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from coexplore.config import ConfigError
from coexplore.core.candidate import CAPABILITIES, Candidate
from coexplore.core.metrics import Metric, Metrics, register_metrics
from coexplore.core.specs import SpecFailure, Specs

if TYPE_CHECKING:
    from coexplore.workloads.layer import Network


class HardwareSpace(ABC):
    """The hardware tokens of a family: the choices per token, the possible choices given
    the tokens so far, and the hardware choice a full token list names."""

    @abstractmethod
    def token_choices(self) -> list[int]: ...

    def allowed(self, prefix: list[int]) -> list[int]:
        """The possible choices of token ``len(prefix)`` after ``prefix``."""
        return list(range(self.token_choices()[len(prefix)]))

    @abstractmethod
    def decode(self, tokens: list[int]) -> Any:
        """The hardware choice (JSON-able) a full list of hardware tokens names."""

    def token_names(self) -> list[str]:
        return [f"hw{i}" for i in range(len(self.token_choices()))]


class NoHardwareTokens(HardwareSpace):
    """No hardware tokens (fixed hardware, accuracy-only NAS, or a family with no choices)."""

    def token_choices(self) -> list[int]:
        return []

    def decode(self, tokens: list[int]) -> Any:
        return None


@dataclass
class FastResult:
    """The fast phase of one candidate: the design kept, its metrics, what failed."""

    hardware: dict[str, Any] | None  # the design (family JSON); None when none was found
    metrics: Metrics | None
    failed_specs: list[SpecFailure]
    attempts: int = 1  # hardware designs tried
    wall_s: float = 0.0
    details: dict[str, Any] | None = None  # the family's full report

    @property
    def pruned(self) -> bool:
        return self.metrics is None or bool(self.failed_specs)


@dataclass(frozen=True)
class NoOptions:
    """A family with nothing to set in this section."""


class Platform(ABC):
    """A platform family configured by a scenario's ``hardware`` and ``fast_phase`` sections.

    Class attributes: ``name`` (the registry key), ``config_class`` (``hardware:`` less the
    generic ``family``, ``mode``, ``reference``), ``fast_config_class`` (``fast_phase:`` less
    the generic ``prune``), ``metrics`` (what it reports: :class:`Metric` declarations, or the
    names of shared ones; a subclass's declarations register on definition and ``metrics``
    then holds their names), ``objectives`` (the default metrics of Pareto fronts) and
    ``capabilities`` (of :data:`~coexplore.core.candidate.CAPABILITIES`: ``compression`` when
    it prices a candidate's planned compression, ``trained-hardware`` when its choice is part
    of the model the slow phase trains).
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    config_class: ClassVar[type] = NoOptions
    fast_config_class: ClassVar[type] = NoOptions
    metrics: ClassVar[tuple[str, ...]]
    objectives: ClassVar[tuple[str, ...]]
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        owner = f"platform family {getattr(cls, 'name', cls.__name__)}"
        if "metrics" in cls.__dict__:
            declared: tuple[Metric | str, ...] = cls.__dict__["metrics"]
            cls.metrics = register_metrics(declared, owner)
        unknown = set(cls.capabilities) - set(CAPABILITIES)
        if unknown:
            raise ConfigError(owner, "capabilities", f"of {list(CAPABILITIES)}", sorted(unknown))
        cls.capabilities = frozenset(cls.capabilities)

    def __init__(self, config: Any = None, fast: Any = None) -> None:
        self.config = self.config_class() if config is None else config
        self.fast = self.fast_config_class() if fast is None else fast

    def reported_metrics(self) -> tuple[str, ...]:
        """The metrics this configured platform reports; the class's ``metrics`` unless they
        depend on the settings (the ``table`` family: its file's columns)."""
        return self.metrics

    def architectures(self) -> tuple[str, Collection[str]] | None:
        """The canonical architectures this platform has answers for, with the setting that
        names them (``("table", rows)`` for a partial table of measurements); None (the
        default): any. Searches keep to them (:class:`~coexplore.core.coverage.Coverage`)."""
        return None

    @abstractmethod
    def hardware_space(self) -> HardwareSpace: ...

    @abstractmethod
    def evaluate(self, candidate: Candidate, specs: Specs, rng: np.random.Generator) -> FastResult:
        """Tune the design of ``candidate.choice`` for ``candidate.network`` (compressed as
        ``candidate.compression`` plans, for a family with that capability) and check
        ``specs``."""

    def bound(self, network: Network, specs: Specs) -> list[SpecFailure]:
        """Specs no design of this family can meet for ``network``, dense (sound: an empty
        list when unsure). A family's ``evaluate`` may answer with them before tuning (the FPGA
        family does); :func:`~coexplore.core.checkers.check_platform` checks it is sound."""
        return []

    def reference(self, candidate: Candidate, specs: Specs) -> Any:
        """The design this family would fix for a candidate (hardware mode ``fixed``)."""
        raise NotImplementedError(f"the {self.name} family has no fixed-hardware baseline")

    def evaluate_fixed(self, candidate: Candidate, design: Any, specs: Specs) -> FastResult:
        """A candidate on a fixed ``design`` (from :meth:`reference`)."""
        raise NotImplementedError(f"the {self.name} family has no fixed-hardware baseline")

    @classmethod
    def describe(cls, choice: Any, hardware: dict[str, Any] | None, details: Any) -> str:
        """A short label of a candidate's hardware, for tables and plots."""
        return "–" if hardware is None else str(hardware)

    @classmethod
    def design_markdown(cls, hardware: dict[str, Any] | None, details: Any) -> str:
        """The tuned design of a report's best candidate, as markdown."""
        return "–" if hardware is None else f"`{json.dumps(hardware)}`"

    @classmethod
    def design_lines(cls, hardware: dict[str, Any] | None) -> list[str]:
        """Lines on a design for the terminal (after the best candidate's line)."""
        return []

    @classmethod
    def info(cls) -> dict[str, Any]:
        """What ``coexplore platforms`` lists: settings, metrics, capabilities, objectives."""
        return {
            "name": cls.name,
            "description": cls.description,
            "metrics": list(cls.metrics),
            "objectives": list(cls.objectives),
            "capabilities": sorted(cls.capabilities),
            "hardware": _fields(cls.config_class),
            "fast_phase": _fields(cls.fast_config_class),
        }

    def tokens_info(self) -> list[dict[str, Any]]:
        space = self.hardware_space()
        return [
            {"token": n, "choices": c}
            for n, c in zip(space.token_names(), space.token_choices(), strict=True)
        ]


def _fields(cls: type) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
        else:
            out[f.name] = "(required)"
    return out
