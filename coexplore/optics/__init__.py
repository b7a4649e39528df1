"""Diffractive optics in torch (multi-task D2NN, Li et al., Sci. Rep. 11:11013, 2021): free-space
propagation, diffractive and SLM layers, detectors, optical systems and the D2NN they build
(docs/optics.md).

Names load on first use (PEP 562), so the torch-free parts (:mod:`coexplore.optics.layout`,
which the ``diffractive`` platform family prices layouts with) import without torch.
"""

from __future__ import annotations

from coexplore.lazy import lazy_exports

_WHERE = {
    "Detectors": "layers",
    "PhaseLayer": "layers",
    "SLMCurve": "layers",
    "SLMLayer": "layers",
    "detector_layout": "layers",
    "encode_amplitude": "layers",
    "D2NN": "multitask",
    "MultiTaskD2NN": "multitask",
    "task_weights": "multitask",
    "train_multitask": "multitask",
    "KINDS": "noise",
    "Noise": "noise",
    "noise_aware": "noise",
    "Propagation": "propagation",
    "SamplingReport": "propagation",
    "SamplingWarning": "propagation",
    "band_limit": "propagation",
    "check_sampling": "propagation",
    "sampling_report": "propagation",
    "transfer_function": "propagation",
    "PRESETS": "system",
    "OpticalSystem": "system",
    "SLOTS": "layout",
    "check_layout": "layout",
    "layout_cost": "layout",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _WHERE)
