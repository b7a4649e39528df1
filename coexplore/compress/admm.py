"""ADMM pruning and quantisation, masked retraining and starting weights, as trainer callbacks.

ADMM-NN (Ren et al., ASPLOS 2019, §3) writes compression as ``min loss(W) s.t. Wᵢ ∈ Sᵢ`` and
splits it with an auxiliary ``Zᵢ ∈ Sᵢ`` and a scaled dual ``Uᵢ``:

- SGD on ``loss(W) + Σᵢ ρ/2‖Wᵢ − Zᵢ + Uᵢ‖²_F`` (the callback's extra loss);
- every ADMM iteration (here every ``every`` epochs): ``Zᵢ = Πᵢ(Wᵢ + Uᵢ)``, ``Uᵢ += Wᵢ − Zᵢ``;
- at the end a hard projection ``Wᵢ = Πᵢ(Wᵢ)``, then masked retraining (:class:`Masked`).

Πᵢ is :mod:`coexplore.compress.projections`' sparsity or quantisation projection. These are
:class:`~coexplore.slow.trainer.TrainCallback` objects: the trainer's own loop runs them, so
precision, seeding and divergence handling are the plain training's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from coexplore.compress.models import WeightLayer, weight_layers
from coexplore.compress.projections import STRUCTURES, fit_step, prune_mask, quantize
from coexplore.slow.trainer import TrainCallback, TrainContext


def tensor_digest(tensors: Mapping[str, torch.Tensor]) -> str:
    """A sha256 of named tensors (names, shapes, dtypes and bytes): their identity in a key."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{tuple(t.shape)}|{t.dtype}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def _layers(model: nn.Module, context: TrainContext) -> dict[str, WeightLayer]:
    ds = context.dataset
    return {w.name: w for w in weight_layers(context.arch, model, ds.input_shape, ds.num_classes)}


class InitialWeights(TrainCallback):
    """Start training from ``state_dict`` (a previous stage's weights) instead of a fresh
    initialisation."""

    def __init__(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        self.state_dict = {k: v.detach().cpu().clone() for k, v in state_dict.items()}
        self.digest = tensor_digest(self.state_dict)

    def config(self) -> dict[str, Any]:
        return {"weights": self.digest}

    def on_train_start(self, model: nn.Module, context: TrainContext) -> None:
        model.load_state_dict(self.state_dict)


class Masked(TrainCallback):
    """Keep pruned weights at zero: the masks are applied at the start and after every step
    (masked retraining; also holds the sparsity during ADMM quantisation)."""

    def __init__(self, masks: Mapping[str, torch.Tensor]) -> None:
        self.masks = {k: v.detach().cpu().bool() for k, v in masks.items()}
        self._live: list[tuple[nn.Parameter, torch.Tensor]] = []

    def config(self) -> dict[str, Any]:
        return {"masks": tensor_digest(self.masks)}

    def on_train_start(self, model: nn.Module, context: TrainContext) -> None:
        layers = _layers(model, context)
        self._live = []
        for name, mask in self.masks.items():
            w = layers[name].weight
            if mask.shape != w.shape:
                raise ValueError(f"mask of {name}: shape {tuple(mask.shape)}, weight {w.shape}")
            m = mask.to(w.device).reshape(w.shape)
            self._live.append((w, m))
        with torch.no_grad():
            self.after_step(model, -1)

    def after_step(self, model: nn.Module, step: int) -> None:
        for w, m in self._live:
            w.mul_(m)

    def __getstate__(self) -> dict[str, Any]:
        return {"masks": self.masks, "_live": []}


class SparseDropout(TrainCallback):
    """Han et al.'s dropout for retraining a pruned network ("Learning both Weights and
    Connections", NIPS 2015, §3.2): a dropout after weight layer i keeps the dense rate scaled
    by √(kept fraction of layer i), since fewer connections already regularise and a sparse
    layer loses a unit's few inputs entirely under dense-rate dropout."""

    def __init__(self, keep: Mapping[str, float]) -> None:
        self.keep = {k: float(v) for k, v in keep.items()}

    def config(self) -> dict[str, Any]:
        return {"keep": dict(sorted(self.keep.items()))}

    def on_train_start(self, model: nn.Module, context: TrainContext) -> None:
        names = {id(w.module): n for n, w in _layers(model, context).items()}
        last = None
        for module in model.modules():
            if id(module) in names:
                last = names[id(module)]
            elif isinstance(module, nn.Dropout) and last is not None:
                module.p = module.p * self.keep.get(last, 1.0) ** 0.5


@dataclass(frozen=True)
class Prune:
    """The constraint "keep a fraction ``keep`` of the weights" (element-wise or structured)."""

    keep: float
    structure: str = "element"

    def __post_init__(self) -> None:
        if self.structure not in STRUCTURES:
            raise ValueError(f"structure must be one of {STRUCTURES}, got {self.structure!r}")

    def project(self, w: torch.Tensor) -> torch.Tensor:
        return w * prune_mask(w, self.keep, self.structure)

    def config(self) -> dict[str, Any]:
        return {"prune": self.keep, "structure": self.structure}


@dataclass(frozen=True)
class Quantize:
    """The constraint "every non-zero on ±j·q, j = 1 … 2ⁿ⁻¹" with q refitted at each
    projection (zeros, the pruned weights, stay zero)."""

    bits: int

    def project(self, w: torch.Tensor) -> torch.Tensor:
        nz = w[w != 0]
        if nz.numel() == 0:
            return w.clone()
        return quantize(w, fit_step(nz, self.bits), self.bits)

    def config(self) -> dict[str, Any]:
        return {"quantize": self.bits}


Constraint = Prune | Quantize


class ADMM(TrainCallback):
    """ADMM on the weight layers named in ``constraints`` (layer name → :class:`Prune` or
    :class:`Quantize`).

    ``rho`` is ρ (ADMM-NN uses 3·10⁻³ and reports results insensitive within an order of
    magnitude); ``rho_growth`` multiplies it after each ADMM iteration (1: fixed), a common
    way to pull W onto the constraint set by the end; ``every``: epochs per ADMM iteration.
    Each epoch logs ρ and, per layer, ‖W − Z‖/‖W‖ (the primal residual; it falls as ADMM
    converges). ``project_at_end`` applies the hard projection before the final accuracies.
    """

    def __init__(
        self,
        constraints: Mapping[str, Constraint],
        rho: float = 3e-3,
        rho_growth: float = 1.0,
        every: int = 1,
        project_at_end: bool = True,
    ) -> None:
        if not rho > 0:
            raise ValueError(f"rho must be > 0, got {rho}")
        if not rho_growth >= 1:
            raise ValueError(f"rho_growth must be >= 1, got {rho_growth}")
        if int(every) != every or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every}")
        self.constraints = dict(constraints)
        self.rho0, self.rho_growth, self.every = float(rho), float(rho_growth), int(every)
        self.project_at_end = project_at_end
        self.rho = self.rho0
        self._state: dict[str, tuple[nn.Parameter, torch.Tensor, torch.Tensor]] = {}

    def config(self) -> dict[str, Any]:
        return {
            "constraints": {k: c.config() for k, c in sorted(self.constraints.items())},
            "rho": self.rho0,
            "rho_growth": self.rho_growth,
            "every": self.every,
            "project_at_end": self.project_at_end,
        }

    def on_train_start(self, model: nn.Module, context: TrainContext) -> None:
        layers = _layers(model, context)
        self.rho = self.rho0
        self._state = {}
        with torch.no_grad():
            for name, constraint in self.constraints.items():
                w = layers[name].weight
                z = constraint.project(w.detach().float())
                self._state[name] = (w, z, torch.zeros_like(z))

    def extra_loss(self, model: nn.Module, batch) -> torch.Tensor | None:
        if not self._state:
            return None
        total = sum((w.float() - z + u).pow(2).sum() for w, z, u in self._state.values())
        return 0.5 * self.rho * total

    def on_epoch_end(self, model: nn.Module, epoch: int, context: TrainContext) -> Any:
        log: dict[str, Any] = {"rho": self.rho}
        residual = {}
        for name, (w, z, _) in self._state.items():
            wf = w.detach().float()
            residual[name] = float((wf - z).norm() / wf.norm().clamp_min(1e-12))
        log["residual"] = residual
        if (epoch + 1) % self.every == 0:
            with torch.no_grad():
                for name, (w, z, u) in self._state.items():
                    wf = w.detach().float()
                    z.copy_(self.constraints[name].project(wf + u))
                    u.add_(wf - z)
            self.rho *= self.rho_growth
        return log

    def on_train_end(self, model: nn.Module, result_extra: dict[str, Any]) -> None:
        if not self.project_at_end:
            return
        with torch.no_grad():
            for name, (w, _, _) in self._state.items():
                w.copy_(self.constraints[name].project(w.detach().float()).to(w.dtype))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_state"] = {}
        return state
