"""``Candidate``: one proposal, built once by the evaluator and handed to every stage.

A candidate is named by the tokens an agent emitted (software, then hardware). The evaluator
turns them into everything the stages read, once: the architecture, its layer workloads on the
scenario's data, the hardware choice and, when the scenario compresses every network, its
planned compression. The platform's fast phase and the accuracy oracle both receive this one
object, so no family parses a network's name back into an architecture and no oracle receives
a tuple whose length depends on the family.

Capabilities: a platform family and an accuracy oracle declare, in ``capabilities``, which of
:data:`CAPABILITIES` they have; a scenario's pair is checked once, where it is assembled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coexplore.spaces.base import Architecture
    from coexplore.workloads.layer import Network
    from coexplore.workloads.suites import NamedWorkload

COMPRESSION = "compression"
"""A family prices, and an oracle trains, the candidate's planned compression."""
TRAINED_HARDWARE = "trained-hardware"
"""The hardware choice is part of the trained model (an optical layout): a family whose choice
is, and an oracle that trains it (the candidate's ``choice`` then keys its training)."""
LOOP_NESTS = "loop-nests"
"""A family prices a network given as loop nests (a space whose ``loop_nests`` is true: a
fixed workload such as ResNet-50 with its branches), not only a layer chain."""
CAPABILITIES = (COMPRESSION, TRAINED_HARDWARE, LOOP_NESTS)


@dataclass(frozen=True)
class Candidate:
    """A child network and a hardware choice, with what follows from them.

    ``network``: the architecture's layer workloads on the scenario's input shape and classes
    (a :class:`~coexplore.workloads.suites.NamedWorkload` for a space of loop nests);
    ``choice``: the family's hardware choice (JSON), None without hardware tokens;
    ``compression``: the planned compression as the family prices it (None: dense);
    ``seed``: the data seed, which seeds trainings and, with the tokens, the fast phase.
    Only ``network`` is needed to price a network with a family outside a search.
    """

    arch: Architecture | None = None
    network: Network | NamedWorkload | None = None
    choice: Any = None
    compression: Any = None
    seed: int = 0
    tokens: tuple[int, ...] = ()
