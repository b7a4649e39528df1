"""Spatial accelerator templates: a storage hierarchy over a MAC array, read from YAML files.

A template lists its storage levels outer to inner (DRAM first). Every level holds some of the
three tensors (``keeps``; the others bypass it), has a size in words, a word width, a block of
``block_words`` words per access with its read / write energy, optional leakage per instance and
cycle, area per instance, and read / write bandwidth in words per cycle per instance. A level's
``fanout`` ``{x, y}`` is how many instances of the next level (or MACs, after the innermost)
each of its instances feeds: Eyeriss's global buffer fans out to 14 × 12 PEs. Optional
dataflow constraints name the dims that may be split over the array's axes
(``spatial_x_dims``, ``spatial_y_dims``) or tiled temporally at a level (``temporal_dims``),
as in Timeloop's architecture constraints. The built-in templates are in ``templates/``; a user
adds one with a YAML file of the same form (``--template my.yaml``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coexplore.config import ConfigError, check_number, load_mapping, require_keys
from coexplore.workloads.problem import DIMS, TENSORS

TEMPLATE_DIR = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class MacUnit:
    energy_pj: float  # per MAC
    leak_pj: float = 0.0  # per MAC unit and cycle
    area_um2: float = 0.0  # per MAC unit


@dataclass(frozen=True)
class Level:
    """One storage level of the hierarchy (see the module docstring for the fields)."""

    name: str
    keeps: tuple[str, ...]
    word_bits: int
    read_pj: float  # per block access
    write_pj: float  # per block access (fills and updates)
    size_words: int | None = None  # None: unbounded (DRAM)
    block_words: int = 1
    leak_pj: float = 0.0
    area_um2: float = 0.0
    read_bw: float | None = None  # words per cycle per instance; None: unbounded
    write_bw: float | None = None
    fanout_x: int = 1
    fanout_y: int = 1
    bypass: bool = False  # a mapping may leave out tensors the level keeps
    spatial_x_dims: tuple[str, ...] | None = None  # None: every dim
    spatial_y_dims: tuple[str, ...] | None = None
    temporal_dims: tuple[str, ...] | None = None

    @property
    def fanout(self) -> int:
        return self.fanout_x * self.fanout_y

    def allowed(self, kind: str) -> tuple[str, ...]:
        """The dims that may have a factor > 1 in this level's ``temporal`` / ``spatial_x`` / …"""
        dims = getattr(self, f"{kind}_dims")
        return DIMS if dims is None else dims


@dataclass(frozen=True)
class Template:
    """A spatial accelerator: storage levels outer to inner, the MAC unit, the clock."""

    name: str
    levels: tuple[Level, ...]
    mac: MacUnit
    clock_hz: float
    description: str = ""
    source: str = ""
    space: dict[str, Any] | None = field(default=None, compare=False)  # the design space
    path: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        _check_template(self)

    def level_index(self, name: str) -> int:
        for i, level in enumerate(self.levels):
            if level.name == name:
                return i
        raise ConfigError(self.name, "level", f"one of {[lv.name for lv in self.levels]}", name)

    def instances(self, index: int) -> int:
        """Instances of level ``index`` (``len(levels)``: the MAC units)."""
        return math.prod(lv.fanout for lv in self.levels[:index])

    @property
    def pes(self) -> int:
        return self.instances(len(self.levels))

    @property
    def area_mm2(self) -> float | None:
        """Σ instances × area of every level and MAC, or None when the template has no areas."""
        parts = [lv.area_um2 * self.instances(i) for i, lv in enumerate(self.levels)]
        total = sum(parts) + self.mac.area_um2 * self.pes
        return total * 1e-6 if total > 0 else None

    @property
    def sram_words(self) -> int:
        """On-chip storage in words, over all instances (DRAM and unbounded levels excluded)."""
        return sum(
            lv.size_words * self.instances(i)
            for i, lv in enumerate(self.levels)
            if lv.size_words is not None
        )

    def replace_level(self, name: str, **changes: Any) -> Template:
        i = self.level_index(name)
        levels = list(self.levels)
        levels[i] = dataclasses.replace(levels[i], **changes)
        return dataclasses.replace(self, levels=tuple(levels))

    def without_dataflow(self) -> Template:
        """The same hardware with every dataflow constraint lifted (any dim on any axis)."""
        free = dict.fromkeys(("spatial_x_dims", "spatial_y_dims", "temporal_dims"))
        levels = tuple(dataclasses.replace(lv, **free) for lv in self.levels)
        return dataclasses.replace(self, name=f"{self.name}[free]", levels=levels)

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "clock_hz": self.clock_hz, "mac": dataclasses.asdict(self.mac)}
        levels = []
        for lv in self.levels:
            d = {
                k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(lv).items()
                if v is not None
            }
            d["fanout"] = {"x": d.pop("fanout_x"), "y": d.pop("fanout_y")}
            levels.append(d)
        return {**out, "levels": levels}


_LEVEL_REQUIRED = {"name", "keeps", "word_bits", "read_pj", "write_pj"}
_LEVEL_OPTIONAL = {
    "size_words",
    "block_words",
    "leak_pj",
    "area_um2",
    "read_bw",
    "write_bw",
    "fanout",
    "bypass",
    "spatial_x_dims",
    "spatial_y_dims",
    "temporal_dims",
}


# No hardware has a size, energy, area or clock this large; beyond it the model overflows.
MAX_VALUE = 1e15


def _number(source: str, where: str, value: Any, minimum: float, integer: bool = False) -> Any:
    value = check_number(value, source, where, minimum, MAX_VALUE, integer=integer)
    return value if integer else float(value)


def _dims(source: str, where: str, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or any(d not in DIMS for d in value):
        raise ConfigError(source, where, f"a list of dims from {list(DIMS)}", value)
    return tuple(value)


def _level(data: Any, source: str, i: int) -> Level:
    where = f"levels[{i}]"
    if not isinstance(data, dict):
        raise ConfigError(source, where, "a mapping of level fields")
    require_keys(data, source, _LEVEL_REQUIRED, _LEVEL_OPTIONAL, prefix=where)
    keeps = data["keeps"]
    if not isinstance(keeps, list) or not keeps or any(t not in TENSORS for t in keeps):
        raise ConfigError(source, f"{where}.keeps", f"a non-empty list from {list(TENSORS)}", keeps)
    fanout = data.get("fanout", {})
    if not isinstance(fanout, dict) or set(fanout) - {"x", "y"}:
        raise ConfigError(source, f"{where}.fanout", "a mapping {x: int, y: int}", fanout)
    size = data.get("size_words")
    bws = {k: data.get(k) for k in ("read_bw", "write_bw")}
    return Level(
        name=str(data["name"]),
        keeps=tuple(keeps),
        word_bits=_number(source, f"{where}.word_bits", data["word_bits"], 1, integer=True),
        read_pj=_number(source, f"{where}.read_pj", data["read_pj"], 0),
        write_pj=_number(source, f"{where}.write_pj", data["write_pj"], 0),
        size_words=None if size is None else _number(source, f"{where}.size_words", size, 1, True),
        block_words=_number(source, f"{where}.block_words", data.get("block_words", 1), 1, True),
        leak_pj=_number(source, f"{where}.leak_pj", data.get("leak_pj", 0.0), 0),
        area_um2=_number(source, f"{where}.area_um2", data.get("area_um2", 0.0), 0),
        **{
            k: None if v is None else _number(source, f"{where}.{k}", v, 1e-9)
            for k, v in bws.items()
        },
        fanout_x=_number(source, f"{where}.fanout.x", fanout.get("x", 1), 1, integer=True),
        fanout_y=_number(source, f"{where}.fanout.y", fanout.get("y", 1), 1, integer=True),
        bypass=bool(data.get("bypass", False)),
        spatial_x_dims=_dims(source, f"{where}.spatial_x_dims", data.get("spatial_x_dims")),
        spatial_y_dims=_dims(source, f"{where}.spatial_y_dims", data.get("spatial_y_dims")),
        temporal_dims=_dims(source, f"{where}.temporal_dims", data.get("temporal_dims")),
    )


def _check_template(t: Template) -> None:
    source = t.path or t.name
    if not t.levels:
        raise ConfigError(source, "levels", "a non-empty list of storage levels (outer first)")
    names = [lv.name for lv in t.levels]
    if len(set(names)) != len(names):
        raise ConfigError(source, "levels", "levels with distinct names", names)
    top = t.levels[0]
    if set(top.keeps) != set(TENSORS) or top.bypass:
        raise ConfigError(
            source, "levels[0].keeps", f"all of {list(TENSORS)} (the outermost level holds all)"
        )
    for i, lv in enumerate(t.levels[1:], 1):
        if lv.size_words is None:
            raise ConfigError(source, f"levels[{i}].size_words", "set on every on-chip level")
    for tensor in TENSORS:
        if not any(tensor in lv.keeps for lv in t.levels):
            raise ConfigError(source, "levels", f"a level that keeps {tensor}")
    if not t.clock_hz > 0:
        raise ConfigError(source, "clock_hz", "a positive clock in Hz", t.clock_hz)


def template_from_dict(data: dict[str, Any], source: str = "<template>") -> Template:
    require_keys(
        data, source, {"name", "levels", "mac", "clock_hz"}, {"description", "source", "space"}
    )
    mac = data["mac"]
    if not isinstance(mac, dict):
        raise ConfigError(source, "mac", "a mapping {energy_pj, leak_pj, area_um2}")
    require_keys(mac, source, {"energy_pj"}, {"leak_pj", "area_um2"}, prefix="mac")
    if not isinstance(data["levels"], list):
        raise ConfigError(source, "levels", "a list of storage levels, outer first")
    return Template(
        name=str(data["name"]),
        levels=tuple(_level(lv, source, i) for i, lv in enumerate(data["levels"])),
        mac=MacUnit(
            energy_pj=_number(source, "mac.energy_pj", mac["energy_pj"], 0),
            leak_pj=_number(source, "mac.leak_pj", mac.get("leak_pj", 0.0), 0),
            area_um2=_number(source, "mac.area_um2", mac.get("area_um2", 0.0), 0),
        ),
        clock_hz=_number(source, "clock_hz", data["clock_hz"], 1e-9),
        description=str(data.get("description", "")),
        source=str(data.get("source", "")),
        space=data.get("space"),
        path=source,
    )


def builtin_templates() -> list[str]:
    return sorted(p.stem for p in TEMPLATE_DIR.glob("*.yaml"))


def load_template(name_or_path: str) -> Template:
    """A built-in template by name (``eyeriss-like``, ``eyeriss``, …) or a YAML file."""
    path = TEMPLATE_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError(
                name_or_path, "template", f"one of {builtin_templates()} or a template YAML file"
            )
    return template_from_dict(load_mapping(path), str(path))


__all__ = ["Level", "MacUnit", "Template", "builtin_templates", "load_template"]
