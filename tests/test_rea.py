"""``rea``: regularised evolution (Real et al. 2019) on small envs with a known optimum."""

import pickle

import numpy as np
import pytest
from toy_envs import Tokens, episodes_to_optimum

from coexplore.config import ConfigError
from coexplore.search.agents import make_agent


def run_until(agent, env, episodes):
    while len(env.proposals) < episodes:
        assert agent.run(episodes - len(env.proposals)) >= 1
    return env.proposals


def test_rea_finds_the_optimum_much_sooner_than_random():
    """625 candidates, one optimum: uniform sampling needs ~625 draws on average, REA ~50."""
    rea = [episodes_to_optimum("rea", s, population=20, sample_size=5) for s in range(5)]
    rand = [episodes_to_optimum("random", s) for s in range(5)]
    assert max(rea) <= 300, rea
    assert 3 * np.mean(rea) < np.mean(rand), (rea, rand)


def test_population_fills_uniformly_then_children_mutate_one_token():
    p = 20
    env = Tokens()
    agent = make_agent("rea", env, seed=1, population=p, sample_size=5)
    proposals = [t for t, _ in run_until(agent, env, 200)]
    # phase 1 draws exactly as uniform random search does
    uniform = Tokens()
    run_until(make_agent("random", uniform, seed=1, batch_episodes=1), uniform, p)
    assert proposals[:p] == [t for t, _ in uniform.proposals]
    # phase 2: every child is one token away from a member of the population it was bred from
    for i in range(p, len(proposals)):
        members = proposals[i - p : i]  # ageing: the last p candidates
        distances = [sum(a != b for a, b in zip(proposals[i], m, strict=True)) for m in members]
        assert 1 in distances, (i, proposals[i])
    assert [m[0] for m in agent.state_dict()["population"]] == proposals[-p:]


def dependent(prefix, n):
    """token 1 is 0 when token 0 is 0; token 2 is 2 when token 1 is 2."""
    if len(prefix) == 1 and prefix[0] == 0:
        return [0]
    if len(prefix) == 2 and prefix[1] == 2:
        return [2]
    return list(range(n))


def test_children_respect_the_possible_choices():
    env = Tokens(choices=(3, 3, 3), target=(0, 0, 1), allowed=dependent)
    agent = make_agent("rea", env, seed=0, population=10, sample_size=3)
    proposals = [t for t, _ in run_until(agent, env, 300)]  # Tokens.step raises otherwise
    children = proposals[10:]
    assert any(t[0] == 0 for t in children) and any(t[0] != 0 for t in children)
    assert any(t[1] == 2 for t in children)
    assert (0, 0, 1) in children


def test_a_parent_with_nothing_to_mutate_is_copied():
    env = Tokens(choices=(1, 1), target=(0, 0))
    agent = make_agent("rea", env, seed=0, population=2, sample_size=2)
    assert [t for t, _ in run_until(agent, env, 6)] == [(0, 0)] * 6


def test_batches_breed_from_the_population_at_the_call_start():
    env = Tokens(batches=True)
    agent = make_agent("rea", env, seed=0, population=10, sample_size=3, batch_episodes=4)
    assert agent.run(100) == 4
    assert agent.run(100) == 4
    assert agent.run(100) == 2  # the population fills: the next calls breed children
    assert agent.run(100) == 4
    assert agent.run(0) == 0 and agent.run(-3) == 0
    population = agent.state_dict()["population"]
    assert len(population) == 10
    assert env.evaluator.batch_sizes == [4, 4, 2, 4]  # each call's candidates: one batch
    assert [(t, r) for t, r, _ in population] == env.proposals[-10:]
    assert any(r > 0 for _, r in env.proposals)


def test_same_seed_same_proposals_and_state_round_trip():
    def agent(seed):
        env = Tokens()
        return env, make_agent("rea", env, seed=seed, population=10, sample_size=4)

    (ea, a), (eb, b), (ec, c) = agent(3), agent(3), agent(4)
    for ag, env in ((a, ea), (b, eb), (c, ec)):
        run_until(ag, env, 30)
    assert ea.proposals == eb.proposals != ec.proposals
    state = pickle.loads(pickle.dumps(a.state_dict()))
    run_until(a, ea, 50)
    ed, d = agent(99)
    d.load_state_dict(state)
    run_until(d, ed, 20)
    assert ed.proposals == ea.proposals[30:50]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"mutation_rate": 0.5}, "mutation_rate"),
        ({"population": 5, "sample_size": 6}, "sample_size"),
        ({"population": 0}, "population"),
        ({"sample_size": 0}, "sample_size"),
        ({"batch_episodes": 0}, "batch_episodes"),
        ({"population": 2.5}, "population"),
    ],
)
def test_bad_parameters(params, field):
    with pytest.raises(ConfigError, match=field) as err:
        make_agent("rea", Tokens(), **params)
    assert err.value.field == field
