"""Pictures of a D2NN: its phase masks, the detector-plane intensity of sample inputs, and the
noise curves (PNG, through the package's Agg figures)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from coexplore.figures import new_figure, save_figure
from coexplore.optics.multitask import MultiTaskD2NN


def _layers(model: MultiTaskD2NN) -> list[tuple[str, torch.nn.Module]]:
    named = [(f"shared {i + 1}", m) for i, m in enumerate(model.shared)]
    for task, path in model.specific.items():
        named += [(f"{task} {i + 1}", m) for i, m in enumerate(path)]
    return named


def plot_masks(model: MultiTaskD2NN, path: str | Path) -> Path:
    """Every layer's phase (0–2π) as the device would show it."""
    layers = _layers(model)
    fig, axes = new_figure(ncols=len(layers), width=2.6 * len(layers), height=2.8)
    axes = np.atleast_1d(axes)
    with torch.no_grad():
        for ax, (name, layer) in zip(axes, layers, strict=True):
            training = layer.training
            layer.eval()
            phase = torch.remainder(layer.modulation().angle(), 2 * np.pi).numpy()
            layer.train(training)
            im = ax.imshow(phase, cmap="twilight", vmin=0, vmax=2 * np.pi)
            ax.set_title(name, fontsize=9)
            ax.axis("off")
    fig.colorbar(im, ax=axes[-1], shrink=0.8, label="phase (rad)")
    return save_figure(fig, path)


def plot_detectors(model: MultiTaskD2NN, images: torch.Tensor, task: str, path: str | Path) -> Path:
    """Input amplitude and detector-plane intensity of a few images, detectors outlined."""
    from matplotlib.patches import Rectangle

    k = len(images)
    fig, axes = new_figure(ncols=k, width=2.4 * k, height=5.0, nrows=2)
    axes = np.array(axes).reshape(2, k)
    model.eval()
    with torch.no_grad():
        out = model.field_at_detectors(images, task).abs() ** 2
        scores = model(images, task).argmax(-1)
    det = model.detectors[task]
    for j in range(k):
        axes[0, j].imshow(images[j].reshape(images.shape[-2:]).numpy(), cmap="gray")
        axes[0, j].set_title("input", fontsize=9)
        axes[1, j].imshow(out[j].numpy(), cmap="inferno")
        for c, (r, col) in enumerate(det.corners):
            color = "lime" if c == int(scores[j]) else "white"
            axes[1, j].add_patch(
                Rectangle((col - 0.5, r - 0.5), det.size, det.size, fill=False, color=color, lw=0.8)
            )
        axes[1, j].set_title(f"detectors: class {int(scores[j])}", fontsize=9)
        for ax in axes[:, j]:
            ax.axis("off")
    return save_figure(fig, path)


def plot_noise(
    models: Mapping[str, Mapping[str, Mapping[str, list[dict]]]], path: str | Path
) -> Path:
    """Accuracy against the level of each kind of noise, one panel per kind (four to a row),
    a line per task and model: ``models`` maps a label ("" for one model) to its curves."""
    kinds = list(next(iter(models.values())))
    ncols = min(4, len(kinds))
    nrows = -(-len(kinds) // ncols)
    fig, axes = new_figure(ncols=ncols, nrows=nrows, width=3.0 * ncols, height=3.0 * nrows)
    axes = np.atleast_1d(axes).reshape(-1)
    for style, (label, curves) in zip(("-", "--", ":", "-."), models.items(), strict=False):
        for ax, kind in zip(axes, kinds, strict=False):
            for task, curve in curves[kind].items():
                x = [c["level"] for c in curve]
                y = np.array([c["accuracy"] for c in curve]) * 100
                sd = np.array([c["sd"] for c in curve]) * 100
                name = f"{task}, {label}" if label else task
                ax.errorbar(x, y, yerr=sd, fmt=style, marker="o", ms=3, capsize=2, label=name)
            ax.set_title(kind, fontsize=9)
            ax.set_xlabel("level")
    for ax in axes[len(kinds) :]:
        ax.axis("off")
    for ax in axes[::ncols]:
        ax.set_ylabel("test accuracy (%)")
    axes[0].legend(fontsize=6)
    return save_figure(fig, path)
