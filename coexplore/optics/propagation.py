"""Free-space propagation of complex scalar fields in torch, differentiable.

**Angular spectrum method** (Goodman, *Introduction to Fourier Optics*, 3rd ed., §3.10): a field
sampled on an N×N grid of pitch Δx is padded with zeros to P = pad·N samples per side (against
the circular wrap-around of the discrete Fourier transform), transformed, multiplied by

    H(fx, fy) = exp(i·2π·z·√(1/λ² − fx² − fy²))   for fx² + fy² < 1/λ², 0 beyond (evanescent),

transformed back and cropped to the central N×N. With ``band_limit`` (the band-limited ASM of
Matsushima & Shimobaba, Opt. Express 17:19662, 2009) H is also cut where its phase is sampled
too coarsely for the padded window: |fx|, |fy| ≤ 1/(λ·√((2·Δf·z)² + 1)), Δf = 1/(P·Δx). Without
it, long distances alias; short ones (where the cut is far out) are unaffected.

**Fresnel** (paraxial) transfer function, for comparison and where it is valid:
H = exp(ikz)·exp(−iπλz(fx² + fy²)). :func:`sampling_report` says whether it is (the Fresnel
condition z³ ≫ π/(4λ)·(max distance in the window)⁴, Goodman eq. 4-18) and how the grid samples
the propagation; :func:`check_sampling` turns what fails into an error or a warning that says
what to change.

Units are SI (metres) throughout.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from coexplore.config import ConfigError


class SamplingWarning(UserWarning):
    """A propagation the grid samples poorly (results may alias or lose energy)."""


def frequencies(n: int, pitch: float, dtype=torch.float64) -> torch.Tensor:
    """The spatial frequencies (1/m) of an n-point DFT of sample spacing ``pitch``."""
    return torch.fft.fftfreq(n, d=pitch, dtype=dtype)


def band_limit(padded: int, pitch: float, wavelength: float, distance: float) -> float:
    """Matsushima & Shimobaba's limit on |fx| and |fy| (1/m) for a window of ``padded`` samples."""
    df = 1.0 / (padded * pitch)
    return 1.0 / (wavelength * math.sqrt((2.0 * df * distance) ** 2 + 1.0))


def transfer_function(
    padded: int,
    pitch: float,
    wavelength: float,
    distance: float,
    limit: bool = True,
    method: str = "asm",
) -> torch.Tensor:
    """H on the padded frequency grid (complex128, unshifted DFT order), ``method`` ``asm``
    (exact, evanescent waves cut) or ``fresnel`` (paraxial)."""
    f = frequencies(padded, pitch)
    fx, fy = torch.meshgrid(f, f, indexing="xy")
    f2 = fx**2 + fy**2
    if method == "asm":
        arg = 1.0 / wavelength**2 - f2
        propagating = arg > 0
        phase = 2 * math.pi * distance * torch.sqrt(torch.clamp(arg, min=0.0))
        h = torch.polar(propagating.to(torch.float64), phase)
    elif method == "fresnel":
        phase = 2 * math.pi * distance / wavelength - math.pi * wavelength * distance * f2
        h = torch.polar(torch.ones_like(phase), phase)
    else:
        raise ValueError(f"method must be 'asm' or 'fresnel', got {method!r}")
    if limit:
        fl = band_limit(padded, pitch, wavelength, distance)
        h = h * ((fx.abs() <= fl) & (fy.abs() <= fl))
    return h


def _pad(field: torch.Tensor, padded: int) -> tuple[torch.Tensor, int]:
    n = field.shape[-1]
    before = (padded - n) // 2
    out = torch.nn.functional.pad(field, (before, padded - n - before, before, padded - n - before))
    return out, before


class Propagation(nn.Module):
    """Propagation over ``distance`` between planes of ``n``×``n`` samples of pitch ``pitch``:
    ``forward(field)`` takes a complex tensor (..., n, n) and returns the field at the next
    plane, same shape. H is computed once (a buffer)."""

    def __init__(
        self,
        n: int,
        pitch: float,
        wavelength: float,
        distance: float,
        pad: int = 2,
        limit: bool = True,
        method: str = "asm",
    ) -> None:
        super().__init__()
        if pad < 1 or n < 2:
            raise ValueError(f"need n >= 2 and pad >= 1, got n={n}, pad={pad}")
        for name, value in (("pitch", pitch), ("wavelength", wavelength), ("distance", distance)):
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError("propagation", name, "a positive length in metres", value)
        self.n, self.pitch, self.wavelength, self.distance = n, pitch, wavelength, distance
        self.padded, self.method = pad * n, method
        h = transfer_function(self.padded, pitch, wavelength, distance, limit, method)
        self.register_buffer("h", h.to(torch.complex64), persistent=False)

    def forward(self, field: torch.Tensor) -> torch.Tensor:
        if field.shape[-2:] != (self.n, self.n):
            raise ValueError(f"expected a field of {self.n}x{self.n}, got {tuple(field.shape)}")
        padded, start = _pad(field, self.padded)
        h = self.h if field.dtype == torch.complex64 else self.h.to(field.dtype)
        out = torch.fft.ifft2(torch.fft.fft2(padded) * h)
        return out[..., start : start + self.n, start : start + self.n]


@dataclass(frozen=True)
class SamplingReport:
    """How a grid samples a propagation (all lengths in metres)."""

    fresnel_number: float  # a²/(λz), a the half-width of the window
    fresnel_valid: bool  # the Fresnel condition holds with a factor 10 to spare
    band_limit_share: float  # share of the propagating frequencies the band limit keeps
    max_angle_deg: float  # the steepest diffraction angle the pitch samples: asin(λ/(2Δx))
    pitch_over_wavelength: float

    def problems(self) -> list[str]:
        """What a user should change, one sentence each (empty when nothing)."""
        out = []
        if self.band_limit_share < 0.25:
            out.append(
                f"the band limit keeps only {self.band_limit_share:.0%} of the propagating "
                "frequencies: the distance is long for this window; pad more (pad), enlarge "
                "the grid, or shorten the distance"
            )
        if self.pitch_over_wavelength < 0.5:
            out.append(
                f"the pitch is {self.pitch_over_wavelength:.2f} wavelengths: below λ/2 every "
                "extra frequency is evanescent, so the grid is finer than the light can use; "
                "a coarser pitch costs nothing"
            )
        return out


def sampling_report(
    n: int, pitch: float, wavelength: float, distance: float, pad: int = 2
) -> SamplingReport:
    half = n * pitch / 2
    reach = math.sqrt(2) * 2 * half  # the largest distance between two points of the windows
    fresnel_ok = distance**3 >= 10 * math.pi / (4 * wavelength) * reach**4
    padded = pad * n
    fl = band_limit(padded, pitch, wavelength, distance)
    f = frequencies(padded, pitch)
    fx, fy = torch.meshgrid(f, f, indexing="xy")
    propagating = (fx**2 + fy**2) < 1 / wavelength**2
    kept = propagating & (fx.abs() <= fl) & (fy.abs() <= fl)
    share = float(kept.sum() / propagating.sum())
    return SamplingReport(
        fresnel_number=half**2 / (wavelength * distance),
        fresnel_valid=fresnel_ok,
        band_limit_share=share,
        max_angle_deg=math.degrees(math.asin(min(1.0, wavelength / (2 * pitch)))),
        pitch_over_wavelength=pitch / wavelength,
    )


def check_sampling(
    n: int, pitch: float, wavelength: float, distance: float, pad: int = 2, method: str = "asm"
) -> SamplingReport:
    """The report; Fresnel asked for where it is not valid is a :class:`ConfigError`, a poorly
    sampled propagation a :class:`SamplingWarning` naming what to change."""
    report = sampling_report(n, pitch, wavelength, distance, pad)
    if method == "fresnel" and not report.fresnel_valid:
        raise ConfigError(
            "propagation",
            "method",
            "asm: the Fresnel approximation does not hold at this distance for this window "
            f"(Fresnel number {report.fresnel_number:.3g}); use the angular spectrum method",
            method,
        )
    for problem in report.problems():
        warnings.warn(problem, SamplingWarning, stacklevel=2)
    return report
