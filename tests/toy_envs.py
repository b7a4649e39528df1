"""Small token envs with a known optimum, shared by the agent tests."""

from types import SimpleNamespace

import gymnasium as gym
import numpy as np

from coexplore.core.tokens import TokenSpace
from coexplore.platforms import NoHardwareTokens

TARGET = (3, 1, 4, 0)


class Space:
    """A software space of ``choices`` tokens whose possible choices ``allowed(prefix, n)``
    gives (all ``n`` when None): what a token space reads of a search space."""

    def __init__(self, choices, allowed=None):
        self.choices, self.rule = list(choices), allowed

    def token_choices(self):
        return self.choices

    def allowed(self, prefix, input_size):
        n = self.choices[len(prefix)]
        return list(range(n)) if self.rule is None else self.rule(list(prefix), n)


class Evaluator:
    """What a population agent uses of an evaluator: the token space, ``parallel``, and records
    (tokens, reward) of whole candidates, each proposal also in the env's ``proposals``."""

    def __init__(self, env, parallel):
        self.env, self.parallel = env, parallel
        self.token_space = TokenSpace(Space(env.choices, env.allowed), NoHardwareTokens(), 0)
        self.batch_sizes: list[int] = []

    def evaluate_batch(self, candidates):
        self.batch_sizes.append(len(candidates))
        return [self.evaluate(tokens) for tokens in candidates]

    def evaluate(self, tokens):
        tokens = tuple(int(t) for t in tokens)
        for t in range(len(tokens)):
            if tokens[t] not in self.token_space.possible(tokens[:t]):
                raise AssertionError(f"impossible token {tokens[t]} after {tokens[:t]}")
        reward = self.env.reward(tokens)
        self.env.proposals.append((tokens, reward))
        return SimpleNamespace(tokens=list(tokens), reward=reward)


class Tokens(gym.Env):
    """``len(choices)`` tokens; reward = fraction of tokens equal to ``target``. ``allowed``
    (prefix, n -> possible choices) makes later tokens depend on earlier ones; a step (or a
    population agent's proposal, through ``evaluator``) outside the mask raises. Every finished
    candidate is recorded in ``proposals``."""

    def __init__(self, choices=(5, 5, 5, 5), target=TARGET, allowed=None, batches=False):
        self.choices = list(choices)
        self.target, self.allowed, self.batches = tuple(target), allowed, batches
        self.action_space = gym.spaces.Discrete(max(self.choices))
        self.observation_space = gym.spaces.Box(0.0, 1.0, (len(self.choices) + 1,), np.float32)
        self.tokens: list[int] = []
        self.proposals: list[tuple[tuple[int, ...], float]] = []
        self.pending: list[float] | None = None
        self.evaluator = Evaluator(self, parallel=batches)

    def reward(self, tokens):
        return float(np.mean([a == b for a, b in zip(tokens, self.target, strict=True)]))

    def _possible(self):
        return self.evaluator.token_space.possible(self.tokens)

    def action_masks(self):
        mask = np.zeros(self.action_space.n, dtype=bool)
        if len(self.tokens) < len(self.choices):
            mask[self._possible()] = True
        return mask

    def _obs(self):
        obs = np.zeros(len(self.choices) + 1, dtype=np.float32)
        obs[len(self.tokens)] = 1.0
        return obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.tokens = []
        return self._obs(), {}

    def step(self, action):
        if int(action) not in self._possible():
            raise AssertionError(f"impossible action {action} after {self.tokens}")
        self.tokens.append(int(action))
        if len(self.tokens) < len(self.choices):
            return self._obs(), 0.0, False, False, {}
        tokens = tuple(self.tokens)
        reward = self.reward(tokens)
        self.proposals.append((tokens, reward))
        if self.pending is not None:
            self.pending.append(reward)
            return self._obs(), 0.0, True, False, {"pending": len(self.pending) - 1}
        return self._obs(), reward, True, False, {}

    def begin_batch(self):
        if self.batches:
            self.pending = []
        return self.batches

    def end_batch(self):
        rewards, self.pending = self.pending or [], None
        return rewards


def episodes_to_optimum(name, seed, cap=3000, **params):
    """Proposals until agent ``name`` first proposes the optimum of :class:`Tokens` (``cap``
    when it never does)."""
    from coexplore.search.agents import make_agent

    env = Tokens()
    agent = make_agent(name, env, seed=seed, **params)
    while len(env.proposals) < cap:
        agent.run(cap - len(env.proposals))
        hits = [i for i, (_, r) in enumerate(env.proposals) if r == 1.0]
        if hits:
            return hits[0] + 1
    return cap


def trainings_to_optimum(name, seed, cap=3000, **params):
    """Distinct candidates agent ``name`` proposes until it first proposes the optimum of
    :class:`Tokens` (what a search pays for; the distinct count at ``cap`` when it never
    does)."""
    from coexplore.search.agents import make_agent

    env = Tokens()
    agent = make_agent(name, env, seed=seed, **params)
    while len(env.proposals) < cap:
        agent.run(min(50, cap - len(env.proposals)))
        seen: set[tuple[int, ...]] = set()
        for tokens, reward in env.proposals:
            seen.add(tokens)
            if reward == 1.0:
                return len(seen)
    return len({t for t, _ in env.proposals})
