"""The architectures a search may propose when a component answers for only some of them.

A user's table (the ``table`` family's measured metrics, the ``table`` oracle's accuracies) may
hold only the cells someone could measure: 50 NAS-Bench-201 cells of 15,625, say. A search over
the whole space would then propose a candidate the table cannot answer for. Components say
which canonical architectures they answer for (``architectures()``: None for any); a
:class:`Coverage` is what they all cover, as a prefix tree over the space's tokens, so the env's
masks offer only a token that leads to a covered architecture. Every agent draws its tokens
among the env's possible choices (the population agents' first draws and mutations included),
so every candidate it proposes is in the table.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from coexplore.config import ConfigError
from coexplore.spaces.base import SearchSpace


@dataclass(frozen=True)
class Coverage:
    """The covered architectures of a space (canonical strings, with their tokens).

    ``sources``: which settings restrict the space (``hardware.table``, ``slow_phase.table``);
    ``outside``: the rows that name no architecture of the space (left out, counted);
    ``bound``: the product of the token choices, an upper bound on the space's size.
    """

    space: str
    sources: tuple[str, ...]
    archs: tuple[str, ...]
    tokens: tuple[tuple[int, ...], ...]
    outside: tuple[str, ...]
    bound: int
    _next: dict[tuple[int, ...], set[int]] = field(repr=False)  # prefix -> next tokens
    _all: frozenset[tuple[int, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_all", frozenset(self.tokens))

    @classmethod
    def of(
        cls,
        space: SearchSpace,
        named: Mapping[str, Collection[str] | None],
        source: str = "scenario",
    ) -> Coverage | None:
        """What every component in ``named`` (setting → architectures, None for any) covers
        of ``space``; None when nothing restricts it. A :class:`ConfigError` naming the
        setting when no architecture of the space is covered: a search could propose none."""
        given = {name: archs for name, archs in named.items() if archs is not None}
        if not given:
            return None
        bound = math.prod(space.token_choices())
        archs: list[str] = []
        tokens: list[tuple[int, ...]] = []
        outside: list[str] = []
        reason = ""  # why the first row outside the space is not in it
        common = set.intersection(*(set(a) for a in given.values()))
        for arch in dict.fromkeys(next(iter(given.values()))):  # the first table's row order
            if arch not in common:
                continue
            try:
                t = tuple(space.to_tokens(space.parse(arch)))
                if space.from_tokens(list(t)).canonical != arch:
                    raise ValueError(f"not the space's canonical string for {arch!r}")
            except (ValueError, LookupError) as exc:
                reason = reason or str(exc)
                outside.append(arch)
                continue
            archs.append(arch)
            tokens.append(t)
        if not archs:
            example = f"; e.g. {outside[0]!r}: {reason}" if outside else ""
            what = "rows" if len(given) == 1 else "rows in common"
            raise ConfigError(
                source,
                " and ".join(given),
                f"a table of architectures of the {space.name} space (none of its "
                f"{len(common)} {what} names one{example})",
            )
        if len(archs) >= bound:  # every architecture there is: nothing to restrict
            return None
        following: dict[tuple[int, ...], set[int]] = {}
        for t in tokens:
            for i in range(len(t)):
                following.setdefault(t[:i], set()).add(t[i])
        return cls(
            space.name, tuple(given), tuple(archs), tuple(tokens), tuple(outside), bound, following
        )

    def __len__(self) -> int:
        return len(self.archs)

    def allowed(self, prefix: list[int], possible: list[int]) -> list[int]:
        """Of ``possible`` (the space's choices of the next software token), those that lead
        to a covered architecture after ``prefix``."""
        following = self._next.get(tuple(prefix), ())
        return [v for v in possible if v in following]

    def covers(self, tokens: list[int] | tuple[int, ...]) -> bool:
        """Whether the software ``tokens`` name a covered architecture."""
        return tuple(tokens) in self._all

    def to_json(self) -> dict[str, Any]:
        return {
            "sources": list(self.sources),
            "covered": len(self.archs),
            "space_bound": self.bound,
            "outside_space": len(self.outside),
        }

    def statement(self) -> str:
        """One line for the start of a run: what is covered, and what the search keeps to."""
        share = 100 * len(self.archs) / self.bound
        text = (
            f"{' and '.join(self.sources)} cover{'s' if len(self.sources) == 1 else ''} "
            f"{len(self.archs):,} of at most {self.bound:,} architectures of the {self.space} "
            f"space ({share:.2g}%): the search proposes only these"
        )
        if self.outside:
            text += (
                f"; {len(self.outside):,} row(s) name no architecture of the space and are "
                f"left out (e.g. {self.outside[0]!r})"
            )
        return text
