"""A multi-task D2NN: one physical system serving several tasks (Li et al., Sci. Rep. 11:11013,
2021). A shared path of ``shared`` diffractive layers, then a beam splitter into one optical path
per task, each with ``specific`` layers of its own and its own detectors (the group's patent: two
task-specific paths after a shared one). A task's input enters the common input plane; its
logits are read on its path's detectors.

The **task regulariser** weights the tasks' losses: L = Σ_t w_t·L_t with the weights summing to
1 (two tasks: w and 1 − w, ``task_weight``), so a user sets how much accuracy each task gets;
:func:`train_multitask` trains on a batch of every task per step, through the trainer's one loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from coexplore.optics.layers import Detectors, encode_amplitude
from coexplore.optics.layout import check_layout, layout_cost
from coexplore.optics.noise import Noise
from coexplore.optics.propagation import Propagation, check_sampling
from coexplore.optics.system import OpticalSystem, make_layer
from coexplore.slow.trainer import LoopContext, fit


class MultiTaskD2NN(nn.Module):
    """``tasks`` maps a task's name to its class count. ``forward(images, task)`` gives that
    task's logits. The planes are ``shared`` shared then ``specific`` task-specific layers, or
    those of a ``layout`` (:mod:`coexplore.optics.layout`), which may also leave planes empty."""

    def __init__(
        self,
        system: OpticalSystem,
        tasks: Mapping[str, int],
        shared: int = 0,
        specific: int = 0,
        check: bool = True,
        layout: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        if layout is None:
            if shared < 0 or specific < 0 or shared + specific < 1:
                raise ValueError(
                    f"need at least one layer per path, got shared={shared}, specific={specific}"
                )
            layout = ("shared",) * shared + ("specific",) * specific
        self.layout = check_layout(layout)
        shared, specific = self.layout.count("shared"), self.layout.count("specific")
        if not tasks:
            raise ValueError("need at least one task")
        s = system
        if check:
            check_sampling(s.n, s.pitch, s.wavelength, s.distance, s.pad)
        self.system, self.tasks = s, dict(tasks)
        self.propagate = Propagation(s.n, s.pitch, s.wavelength, s.distance, s.pad)
        self.shared = nn.ModuleList(make_layer(s) for _ in range(shared))
        self.specific = nn.ModuleDict(
            {t: nn.ModuleList(make_layer(s) for _ in range(specific)) for t in self.tasks}
        )
        self.detectors = nn.ModuleDict(
            {t: Detectors(s.n, k, s.detector_size) for t, k in self.tasks.items()}
        )
        self.split = 1 / math.sqrt(len(self.tasks))  # a lossless splitter's amplitude share

    def _gap(self, noise: Noise | None) -> Propagation:
        """The propagation between two planes, under ``noise``'s axial and wavelength error."""
        if noise is None or not (noise.level("axial") or noise.level("wavelength")):
            return self.propagate
        s = self.system
        distance = s.distance * max(noise.distance_factor(), 1e-3)
        wavelength = s.wavelength * noise.wavelength_factor()
        return Propagation(s.n, s.pitch, wavelength, distance, s.pad)

    def field_at_detectors(
        self, images: torch.Tensor, task: str, noise: Noise | None = None
    ) -> torch.Tensor:
        """The field on ``task``'s detector plane; ``noise`` perturbs every component."""
        ratio = 1.0 if noise is None else 1.0 / noise.wavelength_factor()
        field = encode_amplitude(images, self.system.n, self.system.input_size)
        if noise is not None:
            field = noise.input(field)
        field = self._gap(noise)(field)
        shared, specific = iter(self.shared), iter(self.specific[task])
        split = self.layout.index("specific") if "specific" in self.layout else len(self.layout)
        for i, slot in enumerate(self.layout):
            if i == split:
                field = field * self.split  # the splitter, before the first specific plane
            if slot == "skip":
                field = self._gap(noise)(field)
                continue
            m = next(shared if slot == "shared" else specific).modulation()
            if noise is not None:
                m = noise.modulation(m, ratio)
            field = self._gap(noise)(field * m)
        if split == len(self.layout):
            field = field * self.split
        return field

    def forward(
        self, images: torch.Tensor, task: str | None = None, noise: Noise | None = None
    ) -> torch.Tensor:
        task = task or next(iter(self.tasks))
        return self.detectors[task](self.field_at_detectors(images, task, noise), noise)

    def hardware_cost(self) -> dict[str, int]:
        """Physical layers, SLMs, detectors and beam splitters of the whole system."""
        slm = self.system.modulation == "slm"
        return layout_cost(self.layout, list(self.tasks.values()), slm)


class D2NN(MultiTaskD2NN):
    """A single-task D2NN (Lin et al., Science 361:1004, 2018): input plane → distance →
    [diffractive layer → distance] × ``system.layers`` → detectors; ``task`` names its one
    task (a dataset's name, so data keyed by dataset trains it)."""

    def __init__(
        self, system: OpticalSystem, classes: int, check: bool = True, task: str = "task"
    ) -> None:
        super().__init__(system, {task: classes}, shared=system.layers, specific=0, check=check)


def task_weights(
    tasks: Sequence[str], task_weight: float | Mapping[str, float]
) -> dict[str, float]:
    """The regulariser's weights: a number w for two tasks (w, 1 − w), or one per task,
    normalised to sum to 1."""
    if isinstance(task_weight, Mapping):
        raw = {t: float(task_weight[t]) for t in tasks}
    elif len(tasks) == 2:
        if not 0 <= task_weight <= 1:
            raise ValueError(f"task_weight must be in [0, 1], got {task_weight}")
        raw = {tasks[0]: float(task_weight), tasks[1]: 1.0 - float(task_weight)}
    else:
        raw = {t: 1.0 for t in tasks}
    total = sum(raw.values())
    if total <= 0 or any(v < 0 for v in raw.values()):
        raise ValueError(f"task weights must be >= 0 with a positive sum, got {raw}")
    return {t: v / total for t, v in raw.items()}


@dataclass(frozen=True)
class TaskData:
    """One task's images and labels, split as a :class:`~coexplore.data.Dataset` is: training
    reports accuracy on the validation split and never reads the test split."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def accuracy(
    model: MultiTaskD2NN,
    x: torch.Tensor,
    y: torch.Tensor,
    task: str | None = None,
    noise: Noise | None = None,
) -> float:
    """Accuracy of ``task`` on ``x``, ``y``, under ``noise`` (one realisation per batch of 512)."""
    model.eval()
    with torch.no_grad():
        correct = 0
        for i in range(0, len(x), 512):
            out = model(x[i : i + 512], task, noise)
            correct += int((out.argmax(-1) == y[i : i + 512]).sum())
    return correct / len(x)


def train_multitask(
    model: MultiTaskD2NN,
    data: Mapping[str, TaskData],
    task_weight: float | Mapping[str, float] = 0.5,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 0.05,
    seed: int = 0,
    noise: Callable[[], Noise] | None = None,
) -> dict[str, float]:
    """Adam on the weighted sum of the tasks' cross-entropies, one batch of every task per step
    (an epoch is as long as the largest task's training set; a smaller task's order wraps
    around); each task's validation accuracy. ``noise`` (e.g.
    :func:`~coexplore.optics.noise.noise_aware`) gives a fresh realisation per step:
    noise-aware training. It runs the trainer's one loop (:func:`~coexplore.slow.trainer.fit`),
    so a non-finite loss ends training early, as there."""
    tasks = list(model.tasks)
    weights = task_weights(tasks, task_weight)
    gen = torch.Generator().manual_seed(seed)
    steps = max(math.ceil(len(data[t].x_train) / batch_size) for t in tasks)

    def batches() -> Iterator[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], int]]:
        orders = {t: torch.randperm(len(data[t].x_train), generator=gen) for t in tasks}
        for step in range(steps):
            x, y = {}, {}
            for t, order in orders.items():
                start = (step * batch_size) % len(order)
                idx = order[start : start + batch_size]
                x[t], y[t] = data[t].x_train[idx], data[t].y_train[idx]
            yield x, y, sum(len(v) for v in y.values())

    def weighted_loss(
        model: nn.Module, x: Mapping[str, torch.Tensor], y: Mapping[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        realisation = None if noise is None else noise()
        out, loss = {}, torch.zeros(())
        for t in tasks:
            out[t] = model(x[t], t, realisation)
            loss = loss + weights[t] * nn.functional.cross_entropy(out[t], y[t])
        return out, loss

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    fit(model, LoopContext(optimizer=opt, steps_per_epoch=steps), epochs, batches, weighted_loss)
    return {t: accuracy(model, data[t].x_val, data[t].y_val, t) for t in tasks}


def load_task(
    name: str,
    data_root: str | None = None,
    train_subset: int | None = None,
    test_subset: int | None = None,
    seed: int = 0,
) -> TaskData:
    """A dataset as a task: images in [0, 1] (no normalisation: they are light amplitudes),
    the first ``train_subset`` training and ``test_subset`` test images."""
    from coexplore.data import load_dataset

    d = load_dataset(name, data_root=data_root, seed=seed, normalize=False)
    n, m = train_subset or len(d.x_train), test_subset or len(d.x_test)
    return TaskData(d.x_train[:n], d.y_train[:n], d.x_val, d.y_val, d.x_test[:m], d.y_test[:m])


def noise_curves(
    model: MultiTaskD2NN,
    data: Mapping[str, TaskData],
    levels: Mapping[str, Sequence[float]],
    repeats: int = 3,
    seed: int = 0,
) -> dict[str, dict[str, list[dict[str, float]]]]:
    """Per noise kind, per task: accuracy (mean and sd over ``repeats`` realisations) at each
    level."""
    out: dict[str, dict[str, list[dict[str, float]]]] = {}
    for kind, values in levels.items():
        out[kind] = {}
        for task in model.tasks:
            curve = []
            for level in values:
                accs = [
                    accuracy(model, data[task].x_test, data[task].y_test, task,
                             Noise({kind: level}, seed=seed + r))
                    for r in range(repeats)
                ]  # fmt: skip
                mean = sum(accs) / len(accs)
                sd = math.sqrt(sum((a - mean) ** 2 for a in accs) / max(len(accs) - 1, 1))
                curve.append({"level": float(level), "accuracy": mean, "sd": sd})
            out[kind][task] = curve
    return out
