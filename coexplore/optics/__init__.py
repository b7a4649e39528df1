"""Diffractive optics in torch (multi-task D2NN, Li et al., Sci. Rep. 11:11013, 2021): free-space
propagation, diffractive and SLM layers, detectors, optical systems and the D2NN they build
(docs/optics.md)."""

from coexplore.optics.layers import (
    Detectors,
    PhaseLayer,
    SLMCurve,
    SLMLayer,
    detector_layout,
    encode_amplitude,
)
from coexplore.optics.multitask import D2NN, MultiTaskD2NN, task_weights, train_multitask
from coexplore.optics.noise import KINDS, Noise, noise_aware
from coexplore.optics.propagation import (
    Propagation,
    SamplingReport,
    SamplingWarning,
    band_limit,
    check_sampling,
    sampling_report,
    transfer_function,
)
from coexplore.optics.system import PRESETS, OpticalSystem

__all__ = [
    "D2NN",
    "KINDS",
    "MultiTaskD2NN",
    "Noise",
    "noise_aware",
    "task_weights",
    "train_multitask",
    "PRESETS",
    "Detectors",
    "OpticalSystem",
    "PhaseLayer",
    "Propagation",
    "SLMCurve",
    "SLMLayer",
    "SamplingReport",
    "SamplingWarning",
    "band_limit",
    "check_sampling",
    "detector_layout",
    "encode_amplitude",
    "sampling_report",
    "transfer_function",
]
