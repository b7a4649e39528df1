"""Spatial accelerators outside a search: a workload evaluated on a template, on given mappings
or the mapper's (``coexplore accel evaluate``). The hardware + mapping co-design search itself
runs through the evaluator like every search (:mod:`coexplore.search.codesign`, the agents
``cbo``, ``bo`` and ``tpe``)."""

from coexplore.accel.evaluate import evaluate_report

__all__ = ["evaluate_report"]
