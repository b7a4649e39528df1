"""Small token envs with a known optimum, shared by the agent tests."""

import gymnasium as gym
import numpy as np

TARGET = (3, 1, 4, 0)


class Tokens(gym.Env):
    """``len(choices)`` tokens; reward = fraction of tokens equal to ``target``. ``allowed``
    (prefix -> possible choices) makes later tokens depend on earlier ones; a step outside the
    mask raises. Every finished candidate is recorded in ``proposals``."""

    def __init__(self, choices=(5, 5, 5, 5), target=TARGET, allowed=None, batches=False):
        self.choices = list(choices)
        self.target, self.allowed, self.batches = tuple(target), allowed, batches
        self.action_space = gym.spaces.Discrete(max(self.choices))
        self.observation_space = gym.spaces.Box(0.0, 1.0, (len(self.choices) + 1,), np.float32)
        self.tokens: list[int] = []
        self.proposals: list[tuple[tuple[int, ...], float]] = []
        self.pending: list[float] | None = None

    def _possible(self):
        n = self.choices[len(self.tokens)]
        return list(range(n)) if self.allowed is None else self.allowed(self.tokens, n)

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
        reward = float(np.mean([a == b for a, b in zip(tokens, self.target, strict=True)]))
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
