"""The joint token space: every draw is legal, mutation is one token, the env's masks are its."""

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from toy_envs import Space, Tokens

from coexplore.core.coverage import Coverage
from coexplore.core.platform import HardwareSpace
from coexplore.core.shrinking import SpaceShrinker
from coexplore.core.tokens import TokenSpace
from coexplore.env.environment import CoExploreEnv
from coexplore.platforms import NoHardwareTokens
from coexplore.search.agents import make_agent
from coexplore.spaces import make_space


def rule(salt: int, dependent: bool):
    """A non-empty subset of range(n) as a token's possible choices, a function of the prefix
    (``dependent``) or of the position alone."""

    def allowed(prefix, n):
        key = tuple(prefix) if dependent else len(prefix)
        kept = [v for v in range(n) if zlib.crc32(repr((salt, key, v)).encode()) % 3]
        return kept or [n - 1]

    return allowed


class Hardware(HardwareSpace):
    def __init__(self, choices, allowed):
        self.choices, self.rule = list(choices), allowed

    def token_choices(self):
        return self.choices

    def allowed(self, prefix):
        return self.rule(prefix, self.choices[len(prefix)])

    def decode(self, tokens):
        return list(tokens)


@st.composite
def token_spaces(draw, dependent=None):
    """A token space of 1–5 software and 0–3 hardware tokens with prefix-dependent rules, and
    maybe a shrinker that dropped some choices (all of a token's, sometimes)."""
    dependent = draw(st.booleans()) if dependent is None else dependent
    sw = draw(st.lists(st.integers(1, 4), min_size=1, max_size=5))
    hw = draw(st.lists(st.integers(1, 4), max_size=3))
    salt = draw(st.integers(0, 2**16))
    space = TokenSpace(Space(sw, rule(salt, dependent)), Hardware(hw, rule(salt + 1, dependent)), 0)
    if draw(st.booleans()):
        space.shrinker = SpaceShrinker(space.choices, "latency_s")
        for t, n in enumerate(space.choices):
            dropped = draw(st.sets(st.integers(0, n - 1)))
            space.shrinker.allowed[t] -= dropped
    return space


def legal(space: TokenSpace, tokens) -> bool:
    return len(tokens) == len(space) and all(
        v in p for v, p in zip(tokens, space.options(tokens), strict=True)
    )


@given(token_spaces(), st.integers(0, 2**32 - 1))
@settings(max_examples=200, deadline=None)
def test_sample_repair_and_mutate_give_only_legal_tokens(space, seed):
    rng = np.random.default_rng(seed)
    tokens = space.sample(rng)
    assert legal(space, tokens)
    assert space.repair(tokens, rng) == tokens  # legal tokens are kept as they are
    assert legal(space, space.mutate(tokens, rng))
    arbitrary = [int(rng.integers(n)) for n in space.choices]
    repaired = space.repair(arbitrary, rng)
    assert legal(space, repaired)
    for t, (a, b) in enumerate(zip(arbitrary, repaired, strict=True)):  # kept where possible
        assert a == b or a not in space.possible(repaired[:t])


@given(token_spaces(), st.integers(0, 2**32 - 1))
@settings(max_examples=200, deadline=None)
def test_mutation_changes_one_token_and_keeps_the_later_ones_where_possible(space, seed):
    rng = np.random.default_rng(seed)
    parent = space.sample(rng)
    child = space.mutate(parent, rng)
    options = space.options(parent)
    movable = [t for t, p in enumerate(options) if set(p) - {parent[t]}]
    if not movable:
        assert child == parent
        return
    first = next(t for t in range(len(parent)) if child[t] != parent[t])
    assert first in movable and child[first] in options[first]
    for t in range(first + 1, len(parent)):
        assert child[t] == parent[t] or parent[t] not in space.possible(child[:t])


@given(token_spaces(dependent=False), st.integers(0, 2**32 - 1))
@settings(max_examples=100, deadline=None)
def test_with_independent_tokens_mutation_changes_exactly_one(space, seed):
    rng = np.random.default_rng(seed)
    parent = space.sample(rng)
    child = space.mutate(parent, rng)
    movable = any(set(p) - {v} for v, p in zip(parent, space.options(parent), strict=True))
    assert sum(a != b for a, b in zip(parent, child, strict=True)) == int(movable)


@given(token_spaces(), st.integers(0, 2**32 - 1))
@settings(max_examples=100, deadline=None)
def test_the_shrinker_narrows_possible_choices_but_never_to_none(space, seed):
    rng = np.random.default_rng(seed)
    tokens = space.sample(rng)
    for t in range(len(space)):
        prefix = tokens[:t]
        possible = space.possible(prefix)
        assert possible
        if space.shrinker is not None:
            kept = [v for v in possible if v in space.shrinker.allowed[t]]
            assert possible == (kept or possible)


def test_coverage_keeps_draws_to_the_table_rows():
    nb201 = make_space("nb201")
    rng = np.random.default_rng(0)
    rows = {nb201.from_tokens([int(rng.integers(n)) for n in nb201.token_choices()]).canonical}
    rows |= {nb201.from_tokens([0] * len(nb201.token_choices())).canonical}
    coverage = Coverage.of(nb201, {"hardware.table": sorted(rows)})
    space = TokenSpace(nb201, NoHardwareTokens(), 32, coverage)
    drawn = [space.sample(rng) for _ in range(20)]
    drawn += [space.mutate(t, rng) for t in drawn] + [space.repair([1] * len(space), rng)]
    assert {nb201.from_tokens(t).canonical for t in drawn} == rows


@pytest.mark.parametrize("scenario", ["nb201-fpga", "digits-fpga"])
def test_the_env_masks_are_the_token_space_and_accept_its_draws(scenario):
    """Hardware slots (a pool part or "no further FPGA") and chain strides depend on earlier
    tokens: a token-space draw stepped through the env is taken token for token (the last one
    is not stepped: that would train the candidate)."""
    env = CoExploreEnv(scenario)
    space = env.token_space
    assert space is env.evaluator.token_space and space.choices == env.choices
    rng = np.random.default_rng(1)
    for _ in range(10):
        tokens = space.sample(rng)
        env.reset()
        for t, v in enumerate(tokens):
            mask = env.action_masks()
            assert np.flatnonzero(mask).tolist() == space.possible(tokens[:t])
            assert mask[v] and env._take(tokens[:t], v) == v
            if t + 1 < len(tokens):
                env.step(v)
    env.close()


@pytest.mark.parametrize("agent", ["random", "rea", "hsconas"])
def test_population_agents_send_each_proposal_to_the_listeners_once(agent):
    env = CoExploreEnv("nb201-table")
    seen = []
    env.listeners.append(seen.append)
    params = {
        "random": {"batch_episodes": 4},
        "rea": {"population": 4, "sample_size": 2, "batch_episodes": 4},
        "hsconas": {"population": 4},
    }
    a = make_agent(agent, env, seed=0, **params[agent])
    done = sum(a.run(12 - k) for k in range(0, 12, 4))
    assert len(seen) == done == 12  # hsconas's members are the batch's records, no look-ups
    assert all(legal(env.token_space, r.tokens) for r in seen)
    env.close()


@pytest.mark.parametrize("parallel", [False, True])
def test_each_proposal_is_evaluated_before_the_next_draw_unless_batched(parallel):
    """Without a parallel executor a record (which may step a shrinker) comes before the next
    draw, as in an env episode; with one the call's draws go as one batch."""
    env = Tokens(batches=parallel)
    agent = make_agent("random", env, seed=0, batch_episodes=3)
    events = []
    sample, evaluate = agent.token_space.sample, env.evaluator.evaluate
    agent.token_space.sample = lambda rng: events.append("draw") or sample(rng)
    env.evaluator.evaluate = lambda tokens: events.append("eval") or evaluate(tokens)
    agent.run(3)
    expected = ["draw"] * 3 + ["eval"] * 3 if parallel else ["draw", "eval"] * 3
    assert events == expected
