"""Free-space propagation against analytical results: plane waves, a Gaussian beam's width,
energy conservation, the band limit and the evanescent cut, and the sampling checks."""

import math

import pytest
import torch

from coexplore.config import ConfigError
from coexplore.optics import (
    Propagation,
    SamplingWarning,
    band_limit,
    check_sampling,
    sampling_report,
    transfer_function,
)
from coexplore.optics.propagation import frequencies

LAMBDA, PITCH = 532e-9, 8e-6  # visible light on a fine grid


def grid(n, pitch):
    x = (torch.arange(n, dtype=torch.float64) - n / 2) * pitch
    return torch.meshgrid(x, x, indexing="xy")


@pytest.mark.parametrize("k", [0, 3])
def test_a_plane_wave_only_gains_its_phase(k):
    """On a periodic grid (no padding) a plane wave of grid frequency fx = k/(NΔx) is an
    eigenfunction: it leaves as itself times exp(i2πz√(1/λ² − fx²))."""
    n, z = 64, 1e-3
    x, _ = grid(n, PITCH)
    fx = k / (n * PITCH)
    field = torch.polar(torch.ones(n, n, dtype=torch.float64), 2 * math.pi * fx * x)
    prop = Propagation(n, PITCH, LAMBDA, z, pad=1, limit=False)
    out = prop(field.to(torch.complex128))
    expected = field * complex(math.cos(p := 2 * math.pi * z * math.sqrt(1 / LAMBDA**2 - fx**2)),
                               math.sin(p))  # fmt: skip
    assert torch.allclose(out, expected, atol=1e-6)


def gaussian_width(field, pitch):
    """The 1/e² intensity radius from the second moment: w = 2·sqrt(<x²>)."""
    n = field.shape[-1]
    x, _ = grid(n, pitch)
    intensity = field.abs() ** 2
    return 2 * math.sqrt(float((intensity * x**2).sum() / intensity.sum()))


def test_a_gaussian_beam_spreads_as_the_closed_form():
    """w(z) = w0·√(1 + (z/zR)²), zR = πw0²/λ (Goodman; Saleh & Teich), within 1%, at z = zR
    and z = 3zR."""
    n, w0 = 256, 20 * PITCH
    x, y = grid(n, PITCH)
    field = torch.exp(-(x**2 + y**2) / w0**2).to(torch.complex128)
    zr = math.pi * w0**2 / LAMBDA
    assert gaussian_width(field, PITCH) == pytest.approx(w0, rel=1e-3)
    for z in (zr, 3 * zr):
        out = Propagation(n, PITCH, LAMBDA, z, pad=2)(field)
        assert gaussian_width(out, PITCH) == pytest.approx(
            w0 * math.sqrt(1 + (z / zr) ** 2), rel=0.01
        )


def test_energy_is_conserved_and_fresnel_agrees_in_its_regime():
    n, w0, z = 128, 12 * PITCH, 5e-3
    x, y = grid(n, PITCH)
    field = torch.exp(-(x**2 + y**2) / w0**2).to(torch.complex128)
    out = Propagation(n, PITCH, LAMBDA, z)(field)
    energy = lambda f: float((f.abs() ** 2).sum())  # noqa: E731
    assert energy(out) == pytest.approx(energy(field), rel=1e-3)
    paraxial = Propagation(n, PITCH, LAMBDA, z, method="fresnel")(field)
    assert float((out - paraxial).abs().max()) < 0.01 * float(out.abs().max())


def test_the_band_limit_and_the_evanescent_cut():
    padded, pitch, z = 128, 0.3e-6, 5e-3  # a pitch below λ/2: some frequencies are evanescent
    h = transfer_function(padded, pitch, LAMBDA, z, limit=False)
    f = frequencies(padded, pitch)
    fx, fy = torch.meshgrid(f, f, indexing="xy")
    evanescent = fx**2 + fy**2 >= 1 / LAMBDA**2
    assert evanescent.any() and (h[evanescent] == 0).all()
    assert torch.allclose(h[~evanescent].abs(), torch.ones(1, dtype=torch.float64))
    hl = transfer_function(128, PITCH, LAMBDA, 0.5)  # a long distance: the limit cuts in
    fl = band_limit(128, PITCH, LAMBDA, 0.5)
    assert fl == pytest.approx(1 / (LAMBDA * math.sqrt((2 * 0.5 / (128 * PITCH)) ** 2 + 1)))
    f = frequencies(128, PITCH)
    fx, fy = torch.meshgrid(f, f, indexing="xy")
    outside = (fx.abs() > fl) | (fy.abs() > fl)
    assert outside.any() and (hl[outside] == 0).all() and (hl[~outside].abs() > 0.99).all()


def test_gradients_flow_through_propagation():
    phase = torch.zeros(32, 32, requires_grad=True)
    out = Propagation(32, PITCH, LAMBDA, 1e-3)(torch.polar(torch.ones(32, 32), phase))
    (out.abs() ** 2)[10:20, 10:20].sum().backward()
    assert phase.grad is not None and phase.grad.abs().sum() > 0


def test_sampling_checks_of_the_known_systems():
    lin = sampling_report(200, 0.4e-3, 0.75e-3, 30e-3)  # Lin et al.'s THz classifier
    assert lin.pitch_over_wavelength == pytest.approx(0.4 / 0.75)
    assert not lin.fresnel_valid and lin.max_angle_deg > 60
    slm = sampling_report(200, 36e-6, 532e-9, 0.1)  # the visible SLM system
    assert slm.max_angle_deg == pytest.approx(math.degrees(math.asin(532e-9 / 72e-6)))
    assert slm.band_limit_share > 0.25 and slm.problems() == []
    with pytest.raises(ConfigError, match="angular spectrum"):
        check_sampling(200, 0.4e-3, 0.75e-3, 30e-3, method="fresnel")
    with pytest.warns(SamplingWarning, match="pad more"):
        check_sampling(64, PITCH, LAMBDA, 2.0)  # far too long for a 0.5 mm window
    with pytest.raises(ConfigError, match="distance"):
        Propagation(32, PITCH, LAMBDA, -1.0)
