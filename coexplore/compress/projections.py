"""Euclidean projections onto ADMM-NN's constraint sets: sparsity and quantisation levels.

ADMM (Ren et al., "ADMM-NN", ASPLOS 2019, §3) alternates SGD on the loss plus ρ/2‖W − Z + U‖²
with ``Z = Π(W + U)``; Π is the projection onto the constraint set, which for both sets here
has a closed form:

- **pruning**, "at most k non-zeros": keep the k entries of largest magnitude (element-wise),
  or the k rows (filters, output units) / columns (input channels) of largest L2 norm
  (structured). Ties go to the lower index, so the projection is deterministic;
- **quantisation** to ``n`` bits: 2ⁿ levels ±j·q, j = 1 … 2ⁿ⁻¹; zero is not a level (a zero
  weight is a pruned one). Each non-zero goes to its nearest level; the layer's q minimises
  Σ(w − f(w))² (:func:`fit_step`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

STRUCTURES = ("element", "filter", "channel")


def kept_count(numel: int, keep: float, what: str = "layer") -> int:
    """How many of ``numel`` entries a kept fraction ``keep`` leaves: keep·numel rounded half
    up; a fraction that would leave none is an error (a projection never empties a layer)."""
    if not 0 < keep <= 1:
        raise ValueError(f"{what}: kept fraction must be in (0, 1], got {keep}")
    k = min(numel, math.floor(keep * numel + 0.5))
    if k < 1:
        raise ValueError(
            f"{what}: a kept fraction of {keep:.3g} leaves none of its {numel} entries "
            f"(at least {0.5 / numel:.3g} keeps one)"
        )
    return k


def _top(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the ``k`` largest ``scores`` (ties to the lower index)."""
    return torch.argsort(scores, descending=True, stable=True)[:k]


def prune_mask(weight: torch.Tensor, keep: float, structure: str = "element") -> torch.Tensor:
    """The boolean mask of the projection of ``weight`` onto "a fraction ``keep`` kept".

    ``element`` keeps the largest-magnitude entries; ``filter`` whole output rows (dim 0),
    ``channel`` whole input columns (dim 1), ranked by L2 norm."""
    if structure not in STRUCTURES:
        raise ValueError(f"structure must be one of {STRUCTURES}, got {structure!r}")
    w = weight.detach().float()
    if structure == "element":
        flat = torch.zeros(w.numel(), dtype=torch.bool, device=w.device)
        flat[_top(w.abs().flatten(), kept_count(w.numel(), keep))] = True
        return flat.reshape(w.shape)
    dim = 0 if structure == "filter" else 1
    if w.ndim < 2:
        raise ValueError(f"{structure} pruning needs a weight of 2 or more dimensions")
    norms = w.transpose(0, dim).reshape(w.shape[dim], -1).norm(dim=1)
    keep_rows = torch.zeros(w.shape[dim], dtype=torch.bool, device=w.device)
    keep_rows[_top(norms, kept_count(w.shape[dim], keep))] = True
    shape = [1] * w.ndim
    shape[dim] = w.shape[dim]
    return keep_rows.reshape(shape).expand(w.shape).clone()


def levels(bits: int) -> int:
    """Levels per sign of an ``bits``-bit code without zero: 2ⁿ⁻¹ (1 bit: ±q only)."""
    if isinstance(bits, bool) or int(bits) != bits or bits < 1:
        raise ValueError(f"bits must be an integer >= 1, got {bits}")
    return 2 ** (int(bits) - 1)


def quantize(weight: torch.Tensor, step: float, bits: int) -> torch.Tensor:
    """Each non-zero of ``weight`` to its nearest level ±j·step, j = 1 … 2ⁿ⁻¹; zeros stay."""
    top = levels(bits)
    w = weight.detach()
    j = torch.clamp(torch.round(w.abs() / step), 1, top)
    sign = torch.where(w < 0, -1.0, 1.0).to(w.dtype)
    return torch.where(w != 0, sign * j * step, torch.zeros_like(w))


def fit_step(values: np.ndarray | torch.Tensor, bits: int, starts: int = 64) -> float:
    """The step q minimising Σ(w − f(w))² over the non-zero ``values`` at ``bits`` bits.

    The error is piecewise quadratic in q, so it is minimised by alternating the nearest-level
    assignment with the closed-form step of an assignment, q = Σ|w|·j / Σj², from ``starts``
    steps spread over (0, 2·max|w|]; the best fixed point wins (ADMM-NN searches q by
    bisection; this finds the same or a lower error, deterministically)."""
    a = np.abs(np.asarray(values.detach().cpu() if torch.is_tensor(values) else values))
    a = a[a > 0].astype(np.float64).ravel()
    if a.size == 0:
        raise ValueError("fit_step needs at least one non-zero value")
    top = levels(bits)
    best_q, best_err = a.max(), math.inf
    for q in np.linspace(0, 2 * a.max() / top, starts + 1)[1:]:
        for _ in range(100):
            j = np.clip(np.round(a / q), 1, top)
            q_new = float((a * j).sum() / (j * j).sum())
            if abs(q_new - q) <= 1e-12 * q:
                break
            q = q_new
        j = np.clip(np.round(a / q), 1, top)
        err = float(((a - j * q) ** 2).sum())
        if err < best_err:
            best_q, best_err = q, err
    return float(best_q)


def quantization_error(values: np.ndarray | torch.Tensor, step: float, bits: int) -> float:
    """Σ(w − f(w))² of the non-zero ``values`` at step ``step``."""
    w = torch.as_tensor(np.asarray(values) if not torch.is_tensor(values) else values).double()
    return float(((w - quantize(w, step, bits)) ** 2).sum())
