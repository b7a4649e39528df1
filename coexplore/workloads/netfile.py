"""Network files: a YAML or JSON list of layers, shapes inferred by :class:`NetworkBuilder`.

name: mynet
input: [3, 32, 32]          # channels, height, width
layers:
  - {type: conv, out: 32, kernel: 3, stride: 1, padding: same}
  - {type: pool, kernel: 2}
  - {type: dwconv, kernel: 3, padding: 1}
  - {type: conv, out: 64, kernel: 1}
  - {type: fc, out: 10}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coexplore.config import ConfigError, check_number, load_mapping, require_keys
from coexplore.workloads.layer import Network, NetworkBuilder
from coexplore.workloads.presets import PRESETS, preset

_LAYER_KEYS = {
    "conv": ({"out", "kernel"}, {"stride", "padding", "groups", "name"}),
    "dwconv": ({"kernel"}, {"stride", "padding", "name"}),
    "pool": ({"kernel"}, {"stride", "padding", "name"}),
    "fc": ({"out"}, {"name"}),
}


def network_from_dict(data: dict[str, Any], source: str = "<network>") -> Network:
    require_keys(data, source, required={"input", "layers"}, optional={"name"})
    shape = data["input"]
    if not (isinstance(shape, list) and len(shape) == 3):
        raise ConfigError(source, "input", "a list of three integers [channels, height, width]")
    shape = [check_number(v, source, f"input[{i}]", 1, integer=True) for i, v in enumerate(shape)]
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str):
        raise ConfigError(source, "name", "a string", name)
    builder = NetworkBuilder(name, tuple(shape))
    if not isinstance(data["layers"], list) or not data["layers"]:
        raise ConfigError(source, "layers", "a non-empty list of layers")
    for i, spec in enumerate(data["layers"]):
        where = f"layers[{i}]"
        if (
            not isinstance(spec, dict)
            or not isinstance(spec.get("type"), str)
            or spec["type"] not in _LAYER_KEYS
        ):
            got = spec.get("type") if isinstance(spec, dict) else spec
            raise ConfigError(source, f"{where}.type", f"one of {sorted(_LAYER_KEYS)}", got)
        required, optional = _LAYER_KEYS[spec["type"]]
        require_keys(spec, source, required=required, optional=optional | {"type"}, prefix=where)
        kwargs = {k: _layer_field(k, v, source, f"{where}.{k}") for k, v in spec.items()}
        kind, out = kwargs.pop("type"), kwargs.pop("out", None)
        try:
            if kind in ("conv", "fc"):
                getattr(builder, kind)(out, **kwargs)
            else:
                getattr(builder, kind)(**kwargs)
        except ValueError as exc:
            raise ConfigError(source, where, f"a layer that fits its input ({exc})") from None
    return builder.build()


def _layer_field(key: str, value: Any, source: str, where: str) -> Any:
    """A layer's field checked: sizes are integers >= 1, padding >= 0 or same/valid."""
    if key in ("type", "name"):
        if not isinstance(value, str):
            raise ConfigError(source, where, "a string", value)
        return value
    if key == "padding" and value in ("same", "valid"):
        return value
    low = 0 if key == "padding" else 1
    return check_number(value, source, where, low, integer=True)


def load_network(name_or_path: str) -> Network:
    """A preset by name, or a network file (``.yaml``, ``.yml`` or ``.json``) by path."""
    if name_or_path in PRESETS:
        return preset(name_or_path)
    path = Path(name_or_path)
    if not path.exists():
        raise ConfigError(
            name_or_path,
            "network",
            f"a preset ({', '.join(PRESETS)}) or an existing network file",
        )
    return network_from_dict(load_mapping(path), str(path))
