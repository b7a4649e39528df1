"""Noise of every component of a D2NN, applied inside the forward pass (one code path for clean,
noisy and noise-aware runs):

| kind | what | level |
|---|---|---|
| ``phase`` | Gaussian phase error per pixel of every layer | σ in radians |
| ``quantisation`` | every layer's phase rounded to this many levels over 2π | levels (0 = none) |
| ``shift`` | lateral misalignment of every layer, a random direction | pixels (Fourier shift) |
| ``rotation`` | in-plane rotation of every layer, random sign | degrees |
| ``axial`` | error of every distance, Gaussian, relative | σ of Δz/z |
| ``wavelength`` | the source's wavelength off by this share (and the masks' phase by λ₀/λ) | Δλ/λ |
| ``detector`` | additive Gaussian noise on each detector's power, relative to the mean power | σ |
| ``input`` | multiplicative Gaussian noise on the input intensity per pixel | σ |

A :class:`Noise` holds levels per kind and a generator; ``draw()`` fixes one realisation per
forward pass (one misalignment of the whole system, as a real assembly has). Noise-aware
training (:func:`noise_aware`) draws each kind's level uniformly up to a maximum per batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from coexplore.config import ConfigError

KINDS = ("phase", "quantisation", "shift", "rotation", "axial", "wavelength", "detector", "input")
# the sweep of each kind (the first level: none)
DEFAULT_LEVELS = {
    "phase": (0.0, 0.25, 0.5, 1.0, 1.5),
    "quantisation": (0, 16, 8, 4, 2),
    "shift": (0.0, 0.5, 1.0, 2.0, 4.0),
    "rotation": (0.0, 1.0, 2.0, 5.0, 10.0),
    "axial": (0.0, 0.02, 0.05, 0.1, 0.2),
    "wavelength": (0.0, 0.01, 0.02, 0.05, 0.1),
    "detector": (0.0, 0.05, 0.1, 0.2, 0.5),
    "input": (0.0, 0.1, 0.2, 0.5, 1.0),
}


@dataclass
class Noise:
    """Levels per kind (absent: none) and the generator of the realisations."""

    levels: dict[str, float] = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self) -> None:
        for kind, level in self.levels.items():
            if kind not in KINDS:
                raise ConfigError("noise", kind, f"one of {', '.join(KINDS)}", level)
            if not (isinstance(level, int | float) and math.isfinite(level) and level >= 0):
                raise ConfigError("noise", kind, "a level >= 0", level)
        self.gen = torch.Generator().manual_seed(self.seed)

    def level(self, kind: str) -> float:
        return float(self.levels.get(kind, 0.0))

    def normal(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=self.gen)

    # --- hooks the models call ---------------------------------------------------------------
    def input(self, field: torch.Tensor) -> torch.Tensor:
        s = self.level("input")
        if not s:
            return field
        gain = (1 + s * self.normal(*field.shape)).clamp(min=0).sqrt()  # intensity noise
        return field * gain.to(field.real.dtype)

    def modulation(self, m: torch.Tensor, wavelength_ratio: float) -> torch.Tensor:
        """One layer's modulation under this realisation; ``wavelength_ratio`` λ₀/λ scales a
        thin mask's phase delay."""
        amp, phase = m.abs(), m.angle()
        if wavelength_ratio != 1.0:
            phase = phase * wavelength_ratio
        if q := int(self.level("quantisation")):
            step = 2 * math.pi / q
            wrapped = torch.remainder(phase, 2 * math.pi)
            phase = wrapped + (torch.round(wrapped / step) * step - wrapped).detach()
        if s := self.level("phase"):
            phase = phase + s * self.normal(*phase.shape)
        out = torch.polar(amp, phase)
        if (d := self.level("shift")) > 0:
            angle = 2 * math.pi * float(torch.rand(1, generator=self.gen))
            out = fourier_shift(out, d * math.cos(angle), d * math.sin(angle))
        if (r := self.level("rotation")) > 0:
            sign = 1.0 if float(torch.rand(1, generator=self.gen)) < 0.5 else -1.0
            out = rotate(out, sign * r)
        return out

    def distance_factor(self) -> float:
        s = self.level("axial")
        return 1.0 + s * float(self.normal(1)) if s else 1.0

    def wavelength_factor(self) -> float:
        return 1.0 + self.level("wavelength")

    def detector(self, power: torch.Tensor) -> torch.Tensor:
        s = self.level("detector")
        if not s:
            return power
        scale = power.mean(-1, keepdim=True).detach()
        return (power + s * scale * self.normal(*power.shape)).clamp(min=0)


def fourier_shift(m: torch.Tensor, dx: float, dy: float) -> torch.Tensor:
    """``m`` shifted by (dx, dy) pixels (sub-pixel, periodic) through the Fourier shift theorem."""
    n = m.shape[-1]
    f = torch.fft.fftfreq(n, dtype=torch.float32)
    fx, fy = torch.meshgrid(f, f, indexing="xy")
    ramp = torch.polar(torch.ones_like(fx), -2 * math.pi * (fx * dx + fy * dy))
    return torch.fft.ifft2(torch.fft.fft2(m) * ramp)


def rotate(m: torch.Tensor, degrees: float) -> torch.Tensor:
    """``m`` rotated in its plane about the centre (bilinear, zero outside)."""
    t = math.radians(degrees)
    theta = torch.tensor([[math.cos(t), -math.sin(t), 0.0], [math.sin(t), math.cos(t), 0.0]])
    n = m.shape[-1]
    grid = torch.nn.functional.affine_grid(theta[None], [1, 2, n, n], align_corners=False)
    parts = torch.stack([m.real, m.imag])[None]
    out = torch.nn.functional.grid_sample(parts, grid, align_corners=False)[0]
    return torch.complex(out[0], out[1])


def noise_aware(maxima: dict[str, float], seed: int = 0):
    """A noise source for training: each call gives a :class:`Noise` whose levels are drawn
    uniformly in [0, max] per kind (quantisation: a level count between max and 256)."""
    gen = torch.Generator().manual_seed(seed)
    count = [0]

    def draw() -> Noise:
        levels = {}
        for kind, top in maxima.items():
            u = float(torch.rand(1, generator=gen))
            levels[kind] = round(top + u * (256 - top)) if kind == "quantisation" else u * top
        count[0] += 1
        return Noise(levels, seed=seed * 1_000_003 + count[0])

    return draw
