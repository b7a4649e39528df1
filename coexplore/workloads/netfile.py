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

from coexplore.config import ConfigError, load_mapping, require_keys
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
    if not (isinstance(shape, list) and len(shape) == 3 and all(isinstance(v, int) for v in shape)):
        raise ConfigError(source, "input", "a list of three integers [channels, height, width]")
    builder = NetworkBuilder(str(data.get("name", Path(source).stem)), tuple(shape))
    if not isinstance(data["layers"], list) or not data["layers"]:
        raise ConfigError(source, "layers", "a non-empty list of layers")
    for i, spec in enumerate(data["layers"]):
        where = f"layers[{i}]"
        if not isinstance(spec, dict) or spec.get("type") not in _LAYER_KEYS:
            raise ConfigError(source, f"{where}.type", f"one of {sorted(_LAYER_KEYS)}")
        required, optional = _LAYER_KEYS[spec["type"]]
        require_keys(spec, source, required=required, optional=optional | {"type"}, prefix=where)
        kwargs = {k: v for k, v in spec.items() if k not in ("type", "out")}
        try:
            if spec["type"] == "conv":
                builder.conv(spec["out"], **kwargs)
            elif spec["type"] == "fc":
                builder.fc(spec["out"], **kwargs)
            else:
                getattr(builder, spec["type"])(**kwargs)
        except (TypeError, ValueError) as exc:
            raise ConfigError(source, where, f"a layer that fits its input ({exc})") from None
    return builder.build()


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
