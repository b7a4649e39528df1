"""What a controller learns from a repeated candidate (agents/repeats.py), by hand."""

import pytest
from toy_envs import Tokens

from coexplore.search.agents.base import begin_batch, end_batch
from coexplore.search.agents.repeats import RepeatReward

# target (2, 0): each right token is worth 0.5
SEQUENCE = [(2, 0), (0, 1), (2, 0), (0, 0), (0, 0)]
OWN = [1.0, 0.0, 1.0, 0.5, 0.5]
LOWEST = [1.0, 0.0, 0.0, 0.5, 0.0]  # a repeat earns the lowest reward so far


def propose(env, tokens):
    env.reset()
    for a in tokens:
        _, reward, done, _, info = env.step(a)
    assert done
    return reward, info


@pytest.mark.parametrize(("repeats", "expected"), [("lowest", LOWEST), ("own", OWN)])
def test_learning_rewards_one_at_a_time(repeats, expected):
    env = RepeatReward(Tokens(choices=(3, 3), target=(2, 0)), repeats)
    assert [propose(env, t)[0] for t in SEQUENCE] == expected
    assert [r for _, r in env.unwrapped.proposals] == OWN  # the env's own rewards, untouched


def test_a_batch_learns_what_one_at_a_time_learns():
    env = RepeatReward(Tokens(choices=(3, 3), target=(2, 0), batches=True))
    assert begin_batch(env)
    infos = [propose(env, t) for t in SEQUENCE]
    assert [info["pending"] for _, info in infos] == list(range(5))
    assert end_batch(env) == LOWEST


def test_state_round_trips():
    env = RepeatReward(Tokens(choices=(3, 3), target=(2, 0)))
    for t in SEQUENCE[:2]:
        propose(env, t)
    state = env.state_dict()
    other = RepeatReward(Tokens(choices=(3, 3), target=(2, 0)))
    other.load_state_dict(state)
    assert [propose(other, t)[0] for t in SEQUENCE[2:]] == LOWEST[2:]


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="repeats must be one of"):
        RepeatReward(Tokens(), "forget")
