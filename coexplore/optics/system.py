"""An optical system: wavelength, pitch, grid, distances, layers, input and detectors (the
D2NNs it builds are in :mod:`coexplore.optics.multitask`).

Systems come from presets or YAML files, every length in metres; a wrong field is a
:class:`ConfigError` naming it. Presets:

- ``slm-visible``: the multi-task D2NN group's framework defaults: λ = 532 nm, 36 µm pixels,
  200×200, 0.1 m between layers;
- ``lin-thz``: Lin et al.'s classifier: λ = 0.75 mm (0.4 THz), 0.4 mm pixels, 200×200, 30 mm
  between layers, 5 phase-only layers.

Input size and detector size (pixels) are our choices where the sources give none.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from torch import nn

from coexplore.config import ConfigError, check_number, load_mapping, require_keys
from coexplore.optics.layers import PhaseLayer, SLMCurve, SLMLayer


@dataclass(frozen=True)
class OpticalSystem:
    wavelength: float  # m
    pitch: float  # m, pixel size of every plane
    n: int  # pixels per side of every plane
    distance: float  # m, between consecutive planes (input, layers, detectors)
    layers: int = 5
    pad: int = 2  # zero padding factor of the propagation
    input_size: int = 100  # pixels per side of the encoded image, centred
    detector_size: int = 20  # pixels per side of a class's detector
    modulation: str = "phase"  # phase | amplitude-phase | slm
    slm_curve: str | None = None  # CSV of the SLM's levels (modulation slm); None: ideal 256
    name: str = "custom"

    def __post_init__(self) -> None:
        src = f"optical system {self.name}"
        for key in ("wavelength", "pitch", "distance"):
            allowed = "a positive length in metres"
            check_number(getattr(self, key), src, key, 0, above=True, allowed=allowed)
        integers = {"n": 2, "layers": 1, "pad": 1, "input_size": 1, "detector_size": 1}
        for key, low in integers.items():
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ConfigError(src, key, f"an integer >= {low}", v)
        if not isinstance(self.name, str):
            raise ConfigError(src, "name", "a string", self.name)
        curve = self.slm_curve
        if curve is not None and (not isinstance(curve, str) or not curve.strip()):
            raise ConfigError(src, "slm_curve", "a CSV file or null", curve)
        if self.input_size > self.n:
            raise ConfigError(src, "input_size", f"at most the grid, {self.n}", self.input_size)
        if self.modulation not in MODULATIONS:
            raise ConfigError(src, "modulation", f"one of {list(MODULATIONS)}", self.modulation)

    @classmethod
    def from_dict(cls, data: Any, source: str) -> OpticalSystem:
        """A system file's fields, checked (the SLM curve it names too): errors name the file
        (or the curve's file)."""
        known = {f.name for f in fields(cls)}
        require_keys(data, source, set(), known)  # unknown keys first: a typo names itself
        require_keys(data, source, {"wavelength", "pitch", "n", "distance"}, known)
        for key in ("wavelength", "pitch", "distance"):
            if isinstance(data.get(key), str):  # YAML 1.1 reads 5e-3 as a string
                try:
                    data = {**data, key: float(data[key])}
                except ValueError:
                    raise ConfigError(source, key, "a length in metres", data[key]) from None
        try:
            system = cls(**{"name": Path(source).stem, **data})
        except ConfigError as err:
            raise ConfigError(source, err.field, err.allowed, err.got) from None
        if system.slm_curve is not None:
            SLMCurve.from_csv(system.slm_curve)
        return system

    @classmethod
    def load(cls, name_or_path: str) -> OpticalSystem:
        """A preset by name, or a YAML file."""
        if name_or_path in PRESETS:
            return PRESETS[name_or_path]
        path = Path(name_or_path)
        if not path.exists():
            raise ConfigError(
                name_or_path, "system", f"a preset ({', '.join(PRESETS)}) or a YAML file"
            )
        return cls.from_dict(load_mapping(path), str(path))

    def with_(self, **changes: Any) -> OpticalSystem:
        return replace(self, **changes)

    def at_grid(self, n: int) -> OpticalSystem:
        """This system on an n×n grid, its input and detectors scaled with it: the same
        wavelength, pitch and distances over a smaller aperture (cheaper to simulate)."""
        if n == self.n:
            return self
        scale = n / self.n
        return replace(
            self,
            n=n,
            input_size=max(1, round(self.input_size * scale)),
            detector_size=max(1, round(self.detector_size * scale)),
            name=f"{self.name}-{n}",
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


MODULATIONS = ("phase", "amplitude-phase", "slm")
PRESETS = {
    "slm-visible": OpticalSystem(532e-9, 36e-6, 200, 0.1, name="slm-visible"),
    "lin-thz": OpticalSystem(0.75e-3, 0.4e-3, 200, 30e-3, layers=5, name="lin-thz"),
}


def make_layer(system: OpticalSystem) -> nn.Module:
    if system.modulation == "slm":
        curve = SLMCurve.from_csv(system.slm_curve) if system.slm_curve else SLMCurve.ideal()
        return SLMLayer(system.n, curve)
    return PhaseLayer(system.n, amplitude=system.modulation == "amplitude-phase")
