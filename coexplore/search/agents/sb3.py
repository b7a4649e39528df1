"""stable-baselines3 agents: ``ppo``, ``a2c`` and sb3-contrib's ``maskable-ppo``, ``recurrent-ppo``.

Each wraps the SB3 algorithm on a one-env ``DummyVecEnv``. A rollout holds
``episodes_per_update`` whole episodes (``n_steps`` = that × tokens per candidate), so every
update — and every checkpoint the runner takes after it — falls between two episodes. The
reward comes only at a candidate's end, so ``gamma`` and ``gae_lambda`` default to 1 (Monte
Carlo returns). Any other keyword of the SB3 class (``learning_rate``, ``ent_coef``,
``policy_kwargs``, …) passes through, checked first: its type comes from the class's signature
(the part YAML can give: a number for ``learning_rate``, not a schedule), its range from
``_LIMITS``, the keys of ``policy_kwargs`` from the policy's signature; an unknown one is an
error listing the known ones.

With a parallel executor a rollout's candidates are evaluated as one batch: the policy is fixed
during a rollout and its actions depend on the observations (tokens) only, so the env defers
each candidate's reward, and the batch's rewards are written into the rollout buffer before SB3
computes returns and advantages — the same update as one candidate at a time.
"""

from __future__ import annotations

import importlib
import io
from dataclasses import replace
from typing import Any, ClassVar

import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import DummyVecEnv

from coexplore.config import ConfigError
from coexplore.search.agents.base import (
    AT_LEAST_ONE,
    NON_NEGATIVE,
    POSITIVE,
    UNIT,
    Agent,
    Param,
    begin_batch,
    end_batch,
    global_rng_state,
    set_global_rng_state,
    signature_specs,
)
from coexplore.search.agents.repeats import REPEATS_PARAM, RepeatReward

# Set by the agent itself, never by the user; gSDE needs continuous actions (the env's are not).
_FIXED = {"policy", "env", "seed", "n_steps", "verbose", "tensorboard_log", "_init_setup_model"}
_FIXED |= {"use_sde", "sde_sample_freq"}
# Set by the algorithm for its policy.
_POLICY_FIXED = {"observation_space", "action_space", "lr_schedule", "use_sde"}

# The ranges SB3's keywords need (of the algorithms' and their policies'; types come from the
# signatures), and the agent's own ``episodes_per_update``.
_LIMITS = {
    "episodes_per_update": AT_LEAST_ONE,
    "repeats": REPEATS_PARAM,
    "learning_rate": POSITIVE,
    "n_epochs": AT_LEAST_ONE,
    "batch_size": AT_LEAST_ONE,
    "gamma": UNIT,
    "gae_lambda": UNIT,
    "clip_range": POSITIVE,
    "clip_range_vf": POSITIVE,
    "ent_coef": NON_NEGATIVE,
    "vf_coef": NON_NEGATIVE,
    "max_grad_norm": POSITIVE,
    "target_kl": POSITIVE,
    "rms_prop_eps": POSITIVE,
    "stats_window_size": AT_LEAST_ONE,
    "lstm_hidden_size": AT_LEAST_ONE,
    "n_lstm_layers": AT_LEAST_ONE,
}


class _StopAfter(BaseCallback):
    """Ends ``learn()`` as soon as ``limit`` episodes have finished (mid-rollout if needed),
    and batches each rollout's candidates when the env can (see the module docstring)."""

    def __init__(self, limit: int, env) -> None:
        super().__init__()
        self.limit, self.finished, self.env = limit, 0, env
        self.deferred = False
        self.positions: list[int] = []  # rollout buffer rows of the deferred candidates

    def _on_rollout_start(self) -> None:
        self.flush()
        self.deferred = begin_batch(self.env)
        buffer = self.model.rollout_buffer
        if "compute_returns_and_advantage" not in vars(buffer):  # once per buffer
            compute = buffer.compute_returns_and_advantage

            def with_rewards(*args, **kwargs):
                buffer.before_returns()  # the callback of the rollout in progress
                return compute(*args, **kwargs)

            buffer.compute_returns_and_advantage = with_rewards
        buffer.before_returns = self.flush

    def _on_step(self) -> bool:
        if self.deferred and "pending" in self.locals["infos"][0]:
            self.positions.append(self.model.rollout_buffer.pos)
        self.finished += int(self.locals["dones"].sum())
        return self.finished < self.limit

    def flush(self) -> None:
        """Evaluate the deferred candidates; their rewards go into the rollout buffer."""
        if not self.deferred:
            return
        rewards = end_batch(self.env)
        buffer = self.model.rollout_buffer
        for pos, reward in zip(self.positions, rewards, strict=True):
            if pos < buffer.buffer_size:  # the stopping step is never added to the buffer
                buffer.rewards[pos, 0] = reward
        self.deferred, self.positions = False, []


class SB3Agent(Agent):
    algorithm: ClassVar[str]  # "module:Class"
    policy: ClassVar[str] = "MlpPolicy"
    defaults: ClassVar[dict[str, Any]] = {
        "episodes_per_update": 8,
        "gamma": 1.0,
        "gae_lambda": 1.0,
        "ent_coef": 0.01,
        "learning_rate": 1e-3,
        "device": "cpu",  # a small MLP runs faster on the CPU than through a GPU
        "repeats": "lowest",  # what a repeated candidate teaches (agents/repeats.py)
    }
    limits = _LIMITS

    def __init__(self, env, seed: int = 0, **params: Any) -> None:
        super().__init__(env, seed, **params)
        self.cls = self.algorithm_class()
        kwargs = dict(self.params)
        steps = len(env.get_wrapper_attr("choices")) * kwargs.pop("episodes_per_update")
        self.env = RepeatReward(env, kwargs.pop("repeats"))
        if "batch_size" in self.param_specs():
            kwargs.setdefault("batch_size", steps)  # one minibatch: the whole rollout
        self.vec_env = DummyVecEnv([lambda: self.env])
        self.model = self.cls(self.policy, self.vec_env, n_steps=steps, seed=seed, **kwargs)
        self._quiet()

    @classmethod
    def algorithm_class(cls) -> type:
        module, name = cls.algorithm.split(":")
        return getattr(importlib.import_module(module), name)

    @classmethod
    def param_specs(cls) -> dict[str, Param]:
        """The SB3 class's keywords (less those the agent sets), typed from its signature, plus
        ``episodes_per_update``; ``policy_kwargs`` knows its policy's keywords."""
        algorithm = cls.algorithm_class()
        specs = super().param_specs() | signature_specs(algorithm, cls.limits, _FIXED)
        if "policy_kwargs" in specs:
            policy = algorithm.policy_aliases[cls.policy]
            fields = signature_specs(policy, cls.limits, _POLICY_FIXED)
            specs["policy_kwargs"] = replace(specs["policy_kwargs"], fields=fields)
        return specs

    @classmethod
    def check_together(cls, params: dict[str, Any], source: str) -> None:
        if params.get("batch_size") == 1 and params.get("normalize_advantage", True):
            # SB3 normalises advantages over a minibatch: one sample has no spread
            allowed = "an integer >= 2 (or normalize_advantage: false)"
            raise ConfigError(source, "batch_size", allowed, 1)
        device = params["device"]
        try:
            if device != "auto":
                torch.device(device)
        except RuntimeError:
            allowed = "a torch device: auto, cpu, cuda, cuda:N, ..."
            raise ConfigError(source, "device", allowed, device) from None

    def _quiet(self) -> None:
        # A logger with no outputs: SB3 would otherwise create an SB3-* folder per learn().
        self.model.set_logger(Logger(folder=None, output_formats=[]))

    def run(self, episodes: int) -> int:
        if episodes < 1:
            return 0
        stop = _StopAfter(episodes, self.env)
        try:
            self.model.learn(self.model.n_steps, callback=stop, reset_num_timesteps=False)
        finally:
            stop.flush()  # a rollout cut short still records its candidates
        return stop.finished

    def state_dict(self) -> dict[str, Any]:
        buffer = io.BytesIO()
        self.model.save(buffer)
        return {
            "model": buffer.getvalue(),
            "rng": global_rng_state(),
            "repeats": self.env.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        device = self.params["device"]
        self.model = self.cls.load(io.BytesIO(state["model"]), env=self.vec_env, device=device)
        self._quiet()
        set_global_rng_state(state["rng"])  # load() reseeds; the saved states win
        self.env.load_state_dict(state["repeats"])


class PPOAgent(SB3Agent):
    name = "ppo"
    algorithm = "stable_baselines3:PPO"


class A2CAgent(SB3Agent):
    name = "a2c"
    algorithm = "stable_baselines3:A2C"
    defaults = {**SB3Agent.defaults, "episodes_per_update": 1, "learning_rate": 7e-4}


class MaskablePPOAgent(SB3Agent):
    """PPO that samples only the possible tokens, reading the env's ``action_masks()``."""

    name = "maskable-ppo"
    algorithm = "sb3_contrib:MaskablePPO"


class RecurrentPPOAgent(SB3Agent):
    """PPO with an LSTM policy: the token history lives in its memory, like the paper's RNN."""

    name = "recurrent-ppo"
    algorithm = "sb3_contrib:RecurrentPPO"
    policy = "MlpLstmPolicy"
