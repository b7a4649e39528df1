"""Diffractive layers, an SLM quantised through its device curve, input encoding and detectors.

- :class:`PhaseLayer`: a phase-only mask, one trainable phase per pixel (Lin et al., Science
  361:1004, 2018); ``amplitude=True`` adds a trainable transmission in (0, 1) per pixel.
- :class:`SLMLayer`: a spatial light modulator whose pixels each take one of L levels; level l
  modulates by a_l·exp(i·φ_l) from the device's curve (:class:`SLMCurve`, measured per level,
  read from a CSV). Training relaxes the choice with Gumbel-softmax (Jang et al., ICLR 2017;
  the device-aware layer of the multi-task D2NN group), evaluation takes each pixel's most
  likely level: exactly what the device can show.
- :func:`encode_amplitude`: images as the amplitude of the input field, centred on the grid.
- :class:`Detectors`: square regions on the output plane, one per class; a class's score is the
  optical power on its region, as a share of the power on all regions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from coexplore.config import ConfigError


class PhaseLayer(nn.Module):
    """exp(i·φ) per pixel (times a transmission σ(t) with ``amplitude``); φ starts at 0."""

    def __init__(self, n: int, amplitude: bool = False) -> None:
        super().__init__()
        self.phase = nn.Parameter(torch.zeros(n, n))
        self.transmission = nn.Parameter(torch.full((n, n), 4.0)) if amplitude else None

    def modulation(self) -> torch.Tensor:
        amp = (
            torch.ones_like(self.phase)
            if self.transmission is None
            else torch.sigmoid(self.transmission)
        )
        return torch.polar(amp, self.phase)

    def forward(self, field: torch.Tensor) -> torch.Tensor:
        return field * self.modulation()


@dataclass(frozen=True)
class SLMCurve:
    """Phase (rad) and amplitude of each of an SLM's levels."""

    phase: tuple[float, ...]
    amplitude: tuple[float, ...]
    source: str = "ideal"

    def __post_init__(self) -> None:
        if len(self.phase) < 2 or len(self.phase) != len(self.amplitude):
            raise ConfigError(
                self.source, "levels", "at least 2 levels, a phase and an amplitude each"
            )
        if any(not 0 <= a <= 1 for a in self.amplitude):
            raise ConfigError(self.source, "amplitude", "values in [0, 1] (a passive device)")

    @classmethod
    def ideal(cls, levels: int = 256) -> SLMCurve:
        """Phase evenly over [0, 2π), unit amplitude."""
        return cls(tuple(2 * math.pi * i / levels for i in range(levels)), (1.0,) * levels)

    @classmethod
    def from_csv(cls, path: str | Path) -> SLMCurve:
        """A CSV with columns ``level`` (0, 1, …, L−1, in any order), ``phase_rad`` and
        ``amplitude`` (finite numbers), one row per level."""
        from coexplore.tables import read_table

        try:  # the one reader of CSVs: its errors name the file and the cell
            table = read_table(path, "level")
        except ConfigError as err:
            if err.field != "level":
                raise
            allowed = "a column of the levels 0, 1, …, L−1, each once"
            raise ConfigError(err.source, "level", allowed, err.got) from None
        source = table.source
        if sorted(table.archs, key=lambda v: (len(v), v)) != [str(i) for i in range(len(table))]:
            raise ConfigError(source, "level", "the levels 0, 1, …, L−1, each once", table.archs)
        order = np.argsort([int(level) for level in table.archs])
        columns = {}
        for name in ("phase_rad", "amplitude"):
            values = table.column(name)[order]
            if not np.isfinite(values).all():
                raise ConfigError(
                    source, name, "finite numbers", float(values[~np.isfinite(values)][0])
                )
            columns[name] = tuple(float(v) for v in values)
        return cls(columns["phase_rad"], columns["amplitude"], source)

    @property
    def levels(self) -> int:
        return len(self.phase)

    def responses(self) -> torch.Tensor:
        return torch.polar(
            torch.tensor(self.amplitude, dtype=torch.float32),
            torch.tensor(self.phase, dtype=torch.float32),
        )


class SLMLayer(nn.Module):
    """Each pixel one of the curve's levels: Gumbel-softmax at temperature ``tau`` in training
    (``hard`` straight-through), the most likely level in evaluation."""

    def __init__(self, n: int, curve: SLMCurve, tau: float = 5.0, hard: bool = False) -> None:
        super().__init__()
        self.curve, self.tau, self.hard = curve, tau, hard
        self.logits = nn.Parameter(0.01 * torch.randn(n, n, curve.levels))
        self.register_buffer("responses", curve.responses(), persistent=False)

    def levels(self) -> torch.Tensor:
        """The level each pixel shows on the device."""
        return self.logits.argmax(-1)

    def modulation(self) -> torch.Tensor:
        if self.training:
            w = nn.functional.gumbel_softmax(self.logits, tau=self.tau, hard=self.hard)
            return (w.to(self.responses.dtype) * self.responses).sum(-1)
        return self.responses[self.levels()]

    def forward(self, field: torch.Tensor) -> torch.Tensor:
        return field * self.modulation()


def encode_amplitude(images: torch.Tensor, n: int, size: int) -> torch.Tensor:
    """Images (B, 1, H, W) or (B, H, W) in [0, 1], resized to ``size``×``size`` and placed at the
    centre of an ``n``×``n`` grid, as the amplitude of a complex field (B, n, n)."""
    if images.dim() == 4:
        images = images[:, 0]
    if size > n:
        raise ValueError(f"an input of {size} pixels does not fit a {n}-pixel grid")
    x = nn.functional.interpolate(images[:, None].float(), size=(size, size), mode="bilinear")
    start = (n - size) // 2
    amp = torch.zeros(images.shape[0], n, n)
    amp[:, start : start + size, start : start + size] = x[:, 0].clamp(min=0)
    return torch.complex(amp, torch.zeros_like(amp))


def detector_layout(classes: int, n: int, size: int) -> list[tuple[int, int]]:
    """Top-left corners of ``classes`` square detectors of ``size`` pixels, in rows as even as
    possible (10 classes: 3, 4, 3, as Lin et al.), centred, with a detector's width of gap."""
    rows = max(1, round(math.sqrt(classes)))
    base, extra = divmod(classes, rows)
    counts = [base + (1 if r < extra else 0) for r in range(rows)]
    if rows == 3 and classes == 10:
        counts = [3, 4, 3]
    pitch = 2 * size
    height = rows * pitch - size
    if max(counts) * pitch - size > n or height > n:
        raise ConfigError(
            "detectors",
            "size",
            f"detectors that fit the {n}-pixel plane ({classes} of {size} px do not)",
            size,
        )
    top = (n - height) // 2
    corners = []
    for r, count in enumerate(counts):
        width = count * pitch - size
        left = (n - width) // 2
        corners += [(top + r * pitch, left + c * pitch) for c in range(count)]
    return corners


class Detectors(nn.Module):
    """The share of the optical power on each class's region (B, classes); ``temperature``
    scales it into logits for a cross-entropy loss."""

    def __init__(self, n: int, classes: int, size: int, temperature: float = 10.0) -> None:
        super().__init__()
        self.corners, self.size, self.temperature = (
            detector_layout(classes, n, size),
            size,
            temperature,
        )
        mask = torch.zeros(classes, n, n)
        for k, (r, c) in enumerate(self.corners):
            mask[k, r : r + size, c : c + size] = 1.0
        self.register_buffer("masks", mask, persistent=False)

    def power(self, field: torch.Tensor) -> torch.Tensor:
        intensity = field.abs() ** 2
        return torch.einsum("bij,kij->bk", intensity, self.masks)

    def forward(self, field: torch.Tensor, noise=None) -> torch.Tensor:
        p = self.power(field)
        if noise is not None:
            p = noise.detector(p)
        return self.temperature * p / p.sum(-1, keepdim=True).clamp(min=1e-12)
