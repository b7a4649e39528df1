"""``local``: local search (White et al. 2021) on small envs with a known optimum."""

import pickle

import numpy as np
from toy_envs import Tokens, episodes_to_optimum

from coexplore.search.agents import make_agent


def test_local_search_finds_the_optimum_much_sooner_than_random():
    """625 candidates, one optimum, no local optima: each move fixes one more token, after at
    most 16 neighbours; uniform sampling needs ~625 draws on average."""
    local = [episodes_to_optimum("local", s) for s in range(5)]
    rand = [episodes_to_optimum("random", s) for s in range(5)]
    assert max(local) <= 1 + 4 * 16, local
    assert 5 * np.mean(local) < np.mean(rand), (local, rand)


def test_it_evaluates_the_whole_neighbourhood_then_moves_to_the_best():
    env = Tokens()
    agent = make_agent("local", env, seed=0)
    agent.run(1)
    start = env.proposals[0][0]
    for _ in range(16):  # 4 tokens x 4 other choices
        agent.run(1)
    neighbours = [t for t, _ in env.proposals[1:]]
    assert len(set(neighbours)) == 16
    assert all(sum(a != b for a, b in zip(n, start, strict=True)) == 1 for n in neighbours)
    best = max(env.proposals[1:], key=lambda p: p[1])
    assert agent.current[1] == best[1] > env.reward(start)


def test_a_local_optimum_restarts_from_a_random_candidate():
    env = Tokens(choices=(3,), target=(2,))  # one token: the optimum's neighbours are worse
    agent = make_agent("local", env, seed=1)
    while agent.restarts == 0:
        agent.run(1)
    assert max(r for _, r in env.proposals) == 1.0 and agent.current is None
    agent.run(1)  # a fresh random start
    assert agent.current is not None and agent.queue


def test_same_seed_same_proposals_and_state_round_trip():
    def proposals(seed, split):
        env = Tokens()
        agent = make_agent("local", env, seed=seed)
        for _ in range(split):
            agent.run(1)
        state = pickle.loads(pickle.dumps(agent.state_dict()))
        fresh = make_agent("local", env, seed=seed + 99)  # another seed: the state decides
        fresh.load_state_dict(state)
        for _ in range(40 - split):
            fresh.run(1)
        return [t for t, _ in env.proposals]

    assert proposals(3, 7) == proposals(3, 25) == proposals(3, 40)
    assert proposals(3, 7) != proposals(4, 7)
