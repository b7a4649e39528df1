"""The FPGA part catalogue: resources, clock, memory and link bandwidth, power coefficients.

Every numeric field names its source (a datasheet, a user guide, a paper) or is marked as an
estimate, in the part file's ``sources`` map. Built-in parts live in ``hardware/parts/*.yaml``;
users add their own with one small YAML file of the same form, either by
:func:`register_part_file` (the CLI's ``--part-file``) or by listing directories in the
``COEXPLORE_PART_PATH`` environment variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from coexplore.config import ConfigError, check_number, load_mapping, require_keys
from coexplore.registry import Registry

_NUMERIC = {
    "dsp": int,
    "bram18k": int,
    "lut": int,
    "clock_mhz": float,
    "dram_gbps": float,
    "link_gbps": float,
    "static_w": float,
    "dsp_mw": float,
    "bram_mw": float,
    "dram_pj_per_bit": float,
}


@dataclass(frozen=True)
class FPGAPart:
    """One FPGA part on its board.

    Bandwidths: ``dram_gbps`` in GB/s (bytes), ``link_gbps`` in Gb/s (bits) as links are quoted.
    Power: static watts for the whole part; ``dsp_mw``/``bram_mw`` per busy DSP / BRAM18K at
    ``clock_mhz``; DRAM energy in pJ per bit moved.
    """

    name: str
    family: str
    board: str
    dsp: int
    bram18k: int
    lut: int
    clock_mhz: float
    dram_gbps: float
    link_gbps: float
    static_w: float
    dsp_mw: float
    bram_mw: float
    dram_pj_per_bit: float
    sources: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def clock_hz(self) -> float:
        return self.clock_mhz * 1e6

    @property
    def dram_bits_per_cycle(self) -> int:
        """Off-chip bandwidth in bits per engine clock cycle (the budget for Ib + Wb + Ob)."""
        return int(self.dram_gbps * 8e9 / self.clock_hz)

    def estimates(self) -> list[str]:
        """The fields whose value is an estimate rather than a datasheet figure."""
        return [k for k, v in self.sources.items() if v.lower().startswith("estimate")]

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["dram_bits_per_cycle"] = self.dram_bits_per_cycle
        return d


def part_from_dict(data: dict, source: str) -> FPGAPart:
    """Validate a part mapping: every field present, positive, and with a source."""
    require_keys(data, source, required={"name", "family", "board", "sources", *_NUMERIC})
    for key in ("name", "family", "board"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise ConfigError(source, key, "a non-empty string", data[key])
    values = {}
    for key, kind in _NUMERIC.items():
        integer = kind is int
        allowed = f"a positive {'integer' if integer else 'number'}"
        value = check_number(
            data[key], source, key, 0, above=True, integer=integer, allowed=allowed
        )
        values[key] = kind(value)
    sources = data["sources"]
    if not isinstance(sources, dict):
        raise ConfigError(source, "sources", "a mapping of field name to its source")
    for key in _NUMERIC:
        if not isinstance(sources.get(key), str) or not sources[key].strip():
            raise ConfigError(
                source, f"sources.{key}", "a citation, or a text starting with 'estimate'"
            )
    unknown = sorted(set(sources) - set(_NUMERIC), key=str)
    if unknown:
        raise ConfigError(source, f"sources.{unknown[0]}", f"one of {sorted(_NUMERIC)}")
    return FPGAPart(
        name=data["name"],
        family=data["family"],
        board=data["board"],
        sources={k: str(v) for k, v in sources.items()},
        **values,
    )


PARTS: Registry[FPGAPart] = Registry("FPGA part")


def register_part_file(path: str | Path, *, overwrite: bool = False) -> FPGAPart:
    """Add the part described by a YAML/JSON file to the catalogue and return it."""
    part = part_from_dict(load_mapping(path), str(path))
    return PARTS.register(part.name, part, overwrite=overwrite)


def _load_builtin() -> None:
    dirs = [Path(__file__).parent / "parts"]
    dirs += [Path(p) for p in os.environ.get("COEXPLORE_PART_PATH", "").split(os.pathsep) if p]
    for directory in dirs:
        for path in sorted(directory.glob("*.y*ml")):
            register_part_file(path, overwrite=True)


def get_part(name: str) -> FPGAPart:
    """The catalogue part ``name``; an unknown name is an error listing the known parts."""
    return PARTS.get(name)


_load_builtin()
