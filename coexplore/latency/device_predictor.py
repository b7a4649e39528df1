"""A latency predictor for one device, as a file: the fitted model, the kernel table it sums,
and what it was measured with (settings, device fingerprint, input shape).

``coexplore latency fit`` writes one (:func:`fit_device_predictor`, :meth:`save`); the
``predicted`` platform family reads it. A network with a kernel the table never measured is
an error that names the kernel, unless the predictor may measure it (same device, a
:class:`~coexplore.latency.lab.Lab` given): a predictor never guesses an operator.

The file is a pickle (the scikit-learn model inside it is): load only files you made.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from coexplore.config import ConfigError, check_number, require_keys
from coexplore.latency.device import fingerprint, require_device
from coexplore.latency.experiment import (
    device_data,
    enumerate_space,
    network_features,
    sample_distinct,
)
from coexplore.latency.kernels import distinct_kernels, kernel_sum, signature
from coexplore.latency.lab import Lab
from coexplore.latency.measure import MeasureConfig
from coexplore.latency.predictor import LatencyPredictor
from coexplore.spaces.base import SearchSpace
from coexplore.workloads.layer import Network

VERSION = 1


class UnknownKernelError(ConfigError):
    """A network has a layer kernel the predictor's table never measured."""


@dataclass
class DevicePredictor:
    predictor: LatencyPredictor
    kernels: dict[str, float]  # signature → seconds
    settings: dict[str, Any]  # MeasureConfig.key()
    device: dict[str, Any]  # the fingerprint
    space: str
    input_shape: tuple[int, int, int]
    source: str = "<predictor>"

    def missing(self, networks: Sequence[Network]) -> list[str]:
        return [s for s in distinct_kernels(networks) if s not in self.kernels]

    def learn_kernels(self, networks: Sequence[Network], lab: Lab, progress: bool = False) -> None:
        """Measure the kernels of ``networks`` the table lacks, on this same device."""
        require_device(self.device, lab.config.device, self.source, "to measure new kernels")
        if lab.config.key() != self.settings:
            raise ConfigError(self.source, "settings", f"the predictor's {self.settings}")
        todo = [n for n in networks if any(signature(ly) not in self.kernels for ly in n.layers)]
        if todo:
            measured = lab.kernels(todo, progress)
            self.kernels.update({s: m.median_s for s, m in measured.items()})

    def learn_space(
        self, space: SearchSpace, num_classes: int, lab: Lab, progress: bool = False
    ) -> int:
        """Measure every kernel of every architecture of ``space`` (small spaces only, see
        :func:`enumerate_space`) the table lacks; how many networks the space has."""
        networks = [
            space.from_tokens(t).network(self.input_shape, num_classes)
            for t in enumerate_space(space, self.input_shape[1])
        ]
        self.learn_kernels(networks, lab, progress)
        return len(networks)

    def predict(self, networks: Sequence[Network]) -> tuple[np.ndarray, np.ndarray]:
        """(latency in seconds, relative standard deviation) of each network."""
        missing = self.missing(networks)
        if missing:
            raise UnknownKernelError(
                self.source,
                "kernels",
                f"kernels it has measured ({len(self.kernels)}); fit it on networks with "
                "this kernel, or let it measure new kernels on its own device",
                missing[0],
            )
        base = np.array([kernel_sum(n, self.kernels) for n in networks])
        features = np.stack([network_features(n) for n in networks])
        return self.predictor.predict(features, base)

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(pickle.dumps({"version": VERSION, **self.__dict__}))

    @classmethod
    def load(cls, path: str | Path) -> DevicePredictor:
        """A predictor file, every field checked: errors name the file and the field."""
        source = str(path)
        try:
            data = pickle.loads(Path(path).read_bytes())
        except OSError as exc:
            allowed = "a file written by coexplore latency fit"
            raise ConfigError(source, "<file>", allowed, str(exc)) from None
        except Exception as exc:  # unpickling garbage raises almost anything
            allowed = "a coexplore latency fit file"
            raise ConfigError(source, "<file>", allowed, f"{type(exc).__name__}: {exc}") from None
        if not isinstance(data, dict) or data.get("version") != VERSION:
            got = data.get("version") if isinstance(data, dict) else type(data).__name__
            raise ConfigError(source, "version", f"{VERSION} (coexplore latency fit)", got)
        data = {k: v for k, v in data.items() if k != "version"}
        fields = [f.name for f in dataclasses.fields(cls)]
        require_keys(data, source, set(fields) - {"source"}, {"source"})
        if not isinstance(data["predictor"], LatencyPredictor):
            raise ConfigError(source, "predictor", "a fitted LatencyPredictor")
        data["predictor"].check_fitted(source)
        for name in ("kernels", "device"):
            if not isinstance(data[name], dict):
                raise ConfigError(source, name, "a mapping", data[name])
        for kernel, seconds in data["kernels"].items():
            check_number(seconds, source, f"kernels.{kernel}", 0, above=True)
        require_keys(data["settings"], source, set(MeasureConfig().key()), prefix="settings")
        try:
            MeasureConfig(**data["settings"])
        except ConfigError as err:
            raise ConfigError(source, f"settings.{err.field}", err.allowed, err.got) from None
        if not isinstance(data["space"], str):
            raise ConfigError(source, "space", "a search space's name", data["space"])
        shape = data["input_shape"]
        if not isinstance(shape, tuple | list) or len(shape) != 3:
            raise ConfigError(source, "input_shape", "(channels, height, width)", shape)
        for i, v in enumerate(shape):
            check_number(v, source, f"input_shape[{i}]", 1, integer=True)
        return cls(**{**data, "input_shape": tuple(shape), "source": source})


def fit_device_predictor(
    space: SearchSpace,
    input_shape: tuple[int, int, int],
    num_classes: int,
    n_fit: int,
    lab: Lab,
    seed: int = 0,
    correction: str = "ridge",
    progress: bool = False,
) -> DevicePredictor:
    """Measure ``n_fit`` distinct architectures of ``space`` and their kernels here, and fit."""
    archs = sample_distinct(space, n_fit, seed, input_shape[1])
    d = device_data(lab, archs, input_shape, num_classes, progress)
    predictor = LatencyPredictor(correction, seed=seed)
    predictor.fit(d["features"], d["y"], d["base"])
    return DevicePredictor(
        predictor,
        d["kernels"],
        lab.config.key(),
        fingerprint(lab.config.device),
        space.name,
        tuple(input_shape),
    )
