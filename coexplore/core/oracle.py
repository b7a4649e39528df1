"""What an accuracy oracle provides: the slow phase, as the core sees it.

An oracle answers ``evaluate(candidate) -> Evaluation`` for one
:class:`~coexplore.core.candidate.Candidate` (picklable, so executors run it in worker
processes), declares its ``capabilities`` (of :data:`~coexplore.core.candidate.CAPABILITIES`)
and is built by ``build(settings)`` from the :class:`OracleSettings` a scenario hands it: the
sections it reads, never the whole scenario. Oracles register in
``coexplore.slow.oracles.ORACLES``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from coexplore.config import ConfigError
from coexplore.core.candidate import CAPABILITIES, Candidate


class OracleError(LookupError):
    """The oracle cannot give an accuracy for this architecture (e.g. not in the table)."""


@dataclass(frozen=True)
class Evaluation:
    """One candidate's accuracy, however it was obtained."""

    arch: str  # canonical string
    seed: int
    val_acc: float
    test_acc: float
    diverged: bool
    cache_hit: bool
    wall_s: float  # time this call took (near zero for a cache hit or a table lookup)
    details: dict[str, Any] = field(default_factory=dict)  # the TrainResult or the table row
    tasks: dict[str, dict[str, float]] | None = None  # per task, for a multi-task network

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class OracleSettings:
    """The scenario's sections an oracle may read: ``data`` (a DataConfig), ``train`` (the
    slow phase's TrainConfig), ``table`` (the table oracle's), ``compression`` (the
    ``compression:`` section), ``hardware`` (the family's settings, for an oracle that trains
    the hardware choice), ``space`` (the search space's name), ``cache`` (the result cache
    file) and ``source`` (the scenario file, for messages)."""

    data: Any = None
    train: Any = None
    table: str | None = None
    compression: Any = None
    hardware: Any = None
    space: str = ""
    cache: str | None = None
    source: str = ""


class AccuracyOracle(ABC):
    """``capabilities``: ``trained-hardware`` when ``evaluate`` trains the candidate's hardware
    choice too, ``compression`` when it compresses the candidate. ``measures_accuracy``: False
    for a slow phase that trains nothing (a fixed workload): the reward is then the hardware
    term alone (:meth:`~coexplore.core.rewards.Reward.hardware_only`)."""

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[str]] = frozenset()
    measures_accuracy: ClassVar[bool] = True
    # an answer is looked up, not trained: a whole space may be evaluated (a known optimum)
    lookup: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        unknown = set(cls.capabilities) - set(CAPABILITIES)
        if unknown:
            owner = f"oracle {getattr(cls, 'name', cls.__name__)}"
            raise ConfigError(owner, "capabilities", f"of {list(CAPABILITIES)}", sorted(unknown))

    @classmethod
    def build(cls, settings: OracleSettings) -> AccuracyOracle:
        """The oracle a scenario's sections ask for; needed for an oracle registered by name,
        not for one passed as an object."""
        raise NotImplementedError(f"the {cls.__name__} oracle cannot be built from settings")

    @abstractmethod
    def evaluate(self, candidate: Candidate) -> Evaluation:
        """The accuracy of ``candidate`` (its ``arch``, ``seed`` and what the capabilities
        read)."""

    def architectures(self) -> tuple[str, Collection[str]] | None:
        """The canonical architectures this oracle has answers for, with the setting that names
        them (``("table", rows)`` for a partial table of accuracies); None (the default): any.
        Searches keep to them (:class:`~coexplore.core.coverage.Coverage`)."""
        return None
