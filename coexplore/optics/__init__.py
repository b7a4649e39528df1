"""Diffractive optics in torch (multi-task D2NN, Li et al., Sci. Rep. 11:11013, 2021): free-space
propagation so far (:mod:`coexplore.optics.propagation`); docs/optics.md."""

from coexplore.optics.propagation import (
    Propagation,
    SamplingReport,
    SamplingWarning,
    band_limit,
    check_sampling,
    sampling_report,
    transfer_function,
)

__all__ = [
    "Propagation",
    "SamplingReport",
    "SamplingWarning",
    "band_limit",
    "check_sampling",
    "sampling_report",
    "transfer_function",
]
