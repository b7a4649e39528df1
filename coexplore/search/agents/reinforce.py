"""``reinforce``: the paper's controller (Jiang et al., after Zoph & Le 2017).

An LSTM cell emits the candidate token by token: at step t the embedding of token t−1 (a learnt
start vector at t = 0) enters the cell, and a softmax head of its own gives token t's choices
(impossible choices masked out). A finished episode's reward R trains the controller with
REINFORCE, ∇J ≈ (R − b) Σ_t ∇ log π(a_t), where b is an exponential moving average of past
rewards; the optimiser is RMSProp. ``batch_episodes`` episodes are averaged per update; they are
sampled from the same policy, so with a parallel executor they are evaluated as one batch and
the update is the same as one candidate at a time.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from coexplore.search.agents.base import (
    AT_LEAST_ONE,
    NON_NEGATIVE,
    POSITIVE,
    UNIT,
    Agent,
    begin_batch,
    end_batch,
)
from coexplore.search.agents.repeats import REPEATS_PARAM, RepeatReward


class Controller(nn.Module):
    """Token embeddings → LSTM cell → one softmax head per token position."""

    def __init__(self, choices: list[int], hidden: int) -> None:
        super().__init__()
        self.start = nn.Parameter(torch.zeros(1, hidden))
        self.embed = nn.ModuleList(nn.Embedding(c, hidden) for c in choices)
        self.cell = nn.LSTMCell(hidden, hidden)
        self.heads = nn.ModuleList(nn.Linear(hidden, c) for c in choices)


class ReinforceAgent(Agent):
    name = "reinforce"
    defaults = {
        "hidden": 64,
        "learning_rate": 5e-3,
        "baseline_decay": 0.9,
        "entropy_coef": 1e-3,
        "batch_episodes": 1,
        "temperature": 1.0,
        "max_grad_norm": 5.0,
        "repeats": "lowest",
    }
    limits = {
        "hidden": AT_LEAST_ONE,
        "learning_rate": POSITIVE,
        "baseline_decay": UNIT,
        "entropy_coef": NON_NEGATIVE,
        "batch_episodes": AT_LEAST_ONE,
        "temperature": POSITIVE,
        "repeats": REPEATS_PARAM,
        "max_grad_norm": POSITIVE,
    }

    def __init__(self, env, seed: int = 0, **params: Any) -> None:
        super().__init__(env, seed, **params)
        self.env = RepeatReward(env, self.params["repeats"])
        self.choices = list(env.get_wrapper_attr("choices"))
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.controller = Controller(self.choices, self.params["hidden"])
        self.optimizer = torch.optim.RMSprop(
            self.controller.parameters(), lr=float(self.params["learning_rate"])
        )
        self.generator = torch.Generator().manual_seed(seed)
        self.baseline: float | None = None

    def _episode(self) -> tuple[float, torch.Tensor, torch.Tensor]:
        """Sample one candidate on the env: (reward, Σ log π, Σ entropy)."""
        c = self.controller
        self.env.reset()
        h = torch.zeros_like(c.start)
        state, x = (h, h), c.start
        log_prob, entropy = torch.zeros(()), torch.zeros(())
        for t, n in enumerate(self.choices):
            state = c.cell(x, state)
            logits = c.heads[t](state[0])[0] / self.params["temperature"]
            mask = torch.as_tensor(self.env.get_wrapper_attr("action_masks")()[:n])
            logp = torch.log_softmax(logits.masked_fill(~mask, float("-inf")), dim=-1)
            action = int(torch.multinomial(logp.exp(), 1, generator=self.generator))
            log_prob = log_prob + logp[action]
            p = logp.exp()
            entropy = entropy - (p[mask] * logp[mask]).sum()
            _, reward, terminated, truncated, _ = self.env.step(action)
            x = c.embed[t](torch.tensor([action]))
        if not (terminated or truncated):
            raise RuntimeError("the env did not end the episode after the last token")
        return float(reward), log_prob, entropy

    def run(self, episodes: int) -> int:
        n = min(episodes, self.params["batch_episodes"])
        if n < 1:
            return 0
        deferred = begin_batch(self.env)
        sampled = [self._episode() for _ in range(n)]
        rewards = end_batch(self.env) if deferred else [e[0] for e in sampled]
        losses = []
        for reward, (_, log_prob, entropy) in zip(rewards, sampled, strict=True):
            b = reward if self.baseline is None else self.baseline
            losses.append(-(reward - b) * log_prob - self.params["entropy_coef"] * entropy)
            decay = self.params["baseline_decay"]
            self.baseline = reward if self.baseline is None else decay * b + (1 - decay) * reward
        self.optimizer.zero_grad()
        torch.stack(losses).mean().backward()
        nn.utils.clip_grad_norm_(self.controller.parameters(), self.params["max_grad_norm"])
        self.optimizer.step()
        return n

    def state_dict(self) -> dict[str, Any]:
        return {
            "controller": self.controller.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "baseline": self.baseline,
            "repeats": self.env.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.controller.load_state_dict(state["controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.baseline = state["baseline"]
        self.env.load_state_dict(state["repeats"])


class PaperReinforceAgent(ReinforceAgent):
    """``reinforce-paper``: the controller with the settings it was published with, a repeated
    candidate rewarded as itself (``repeats: own``). It converges onto the best candidates it
    has found and proposes them again and again (see :mod:`~coexplore.search.agents.repeats`);
    ``reinforce`` is the same controller with ``repeats: lowest``."""

    name = "reinforce-paper"
    defaults = {**ReinforceAgent.defaults, "repeats": "own"}
