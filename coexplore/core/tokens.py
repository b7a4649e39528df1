"""The joint token space of a scenario: the one place that knows which tokens are legal.

A candidate is a list of tokens: the search space's software tokens, then the hardware space's
(Jiang et al.'s order). Token t's possible choices after a prefix are those its component
allows (the search space's given the input size, the hardware space's given the earlier
hardware tokens), within a partial table's rows (:class:`~coexplore.core.coverage.Coverage`)
and within the shrunk space when a :class:`~coexplore.core.shrinking.SpaceShrinker` is
attached (never none: a token whose kept choices are all impossible keeps the possible ones).

The env's action masks and every population agent's draws come from :meth:`TokenSpace.possible`,
and every draw walks the tokens with :func:`walk`: :meth:`~TokenSpace.sample` (uniform),
:meth:`~TokenSpace.repair` (keep what is still possible, redraw the rest) and
:meth:`~TokenSpace.mutate` (regularised evolution's one-token mutation). Each draw is one
``rng.choice`` over a token's possible choices, in token order, so a seed gives the same tokens
token-by-step on the env or whole here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from coexplore.core.coverage import Coverage
from coexplore.core.shrinking import SpaceShrinker

Pick = Callable[[list[int], list[int]], Any]  # (prefix, its next token's choices) -> the token
Options = tuple[tuple[int, ...], ...]  # the possible choices of each token of a candidate


def walk(n: int, possible: Callable[[list[int]], list[int]], pick: Pick) -> list[int]:
    """The legal-token walk: ``n`` tokens, each ``pick(prefix, possible(prefix))``."""
    tokens: list[int] = []
    for _ in range(n):
        tokens.append(int(pick(tokens, possible(tokens))))
    return tokens


class TokenSpace:
    """The software tokens of ``space`` (a :class:`~coexplore.spaces.base.SearchSpace` for
    inputs ``input_size`` wide), then those of ``hardware`` (a
    :class:`~coexplore.core.platform.HardwareSpace`), within ``coverage`` (None: every
    architecture) and ``shrinker`` (set by whoever turns shrinking on; None: no shrinking)."""

    def __init__(
        self, space: Any, hardware: Any, input_size: int, coverage: Coverage | None = None
    ) -> None:
        self.space, self.hardware, self.input_size = space, hardware, input_size
        self.coverage = coverage
        self.software = len(space.token_choices())  # how many tokens are the software's
        self.choices: list[int] = [*space.token_choices(), *hardware.token_choices()]
        self.shrinker: SpaceShrinker | None = None

    def __len__(self) -> int:
        return len(self.choices)

    def possible(self, prefix: Sequence[int]) -> list[int]:
        """The choices of token ``len(prefix)`` after ``prefix``."""
        prefix = list(prefix)
        if len(prefix) < self.software:
            possible = self.space.allowed(prefix, self.input_size)
            if self.coverage is not None:  # a partial table: only the rows it has
                possible = self.coverage.allowed(prefix, possible)
        else:
            possible = self.hardware.allowed(prefix[self.software :])
        if self.shrinker is None:
            return possible
        kept = self.shrinker.allowed[len(prefix)]
        return [v for v in possible if v in kept] or possible  # never a token without a choice

    def size(self) -> int:
        """Candidates of the box: every combination of choices, possible or not."""
        return math.prod(self.choices)

    def box(self) -> np.ndarray:
        """Every combination of choices (one row each, the masks ignored), in token order."""
        grids = np.meshgrid(*(np.arange(n) for n in self.choices), indexing="ij")
        return np.stack([g.ravel() for g in grids], axis=1).reshape(-1, len(self.choices))

    def legal(self, limit: int) -> np.ndarray:
        """Every possible candidate (one row each, in token order); ValueError when there are
        more than ``limit`` (a space too large to list)."""
        rows: list[list[int]] = []

        def extend(prefix: list[int]) -> None:
            if len(prefix) == len(self.choices):
                if len(rows) >= limit:
                    raise ValueError(f"more than {limit} possible candidates")
                rows.append(prefix)
                return
            for value in self.possible(prefix):
                extend([*prefix, int(value)])

        extend([])
        return np.array(rows, dtype=np.int64).reshape(-1, len(self.choices))

    def options(self, tokens: Sequence[int]) -> Options:
        """The possible choices of every token of ``tokens``, each given the ones before it."""
        return tuple(tuple(self.possible(tokens[:t])) for t in range(len(tokens)))

    def walk(self, pick: Pick) -> list[int]:
        """A full candidate, each token ``pick(prefix, possible(prefix))``."""
        return walk(len(self.choices), self.possible, pick)

    def sample(self, rng: np.random.Generator) -> list[int]:
        """Every token drawn uniformly among its possible choices."""
        return self.walk(lambda _, possible: rng.choice(possible))

    def repair(
        self,
        tokens: Sequence[int],
        rng: np.random.Generator,
        prefer: Mapping[int, int] | None = None,
    ) -> list[int]:
        """``tokens`` made legal: each keeps its value where it is still possible after the
        tokens before it (as repaired), else is drawn uniformly among the possible ones;
        ``prefer`` (position → value) is tried first at its positions."""
        prefer = prefer or {}

        def pick(prefix: list[int], possible: list[int]) -> Any:
            for value in (prefer.get(len(prefix)), tokens[len(prefix)]):
                if value in possible:
                    return value
            return rng.choice(possible)

        return self.walk(pick)

    def mutate(
        self, tokens: Sequence[int], rng: np.random.Generator, options: Options | None = None
    ) -> list[int]:
        """Regularised evolution's mutation: one position drawn uniformly among those where
        ``options`` (default: :meth:`options` of ``tokens`` now; the ones ``tokens`` were drawn
        from, for a member of a population) hold another choice, a new value drawn uniformly
        among those, then :meth:`repair`; ``tokens`` repaired when no position has another
        choice."""
        options = self.options(tokens) if options is None else options
        positions = [t for t, p in enumerate(options) if any(v != tokens[t] for v in p)]
        if not positions:
            return self.repair(tokens, rng)
        t = int(rng.choice(positions))
        value = int(rng.choice([v for v in options[t] if v != tokens[t]]))
        return self.repair(tokens, rng, {t: value})
