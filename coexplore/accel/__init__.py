"""Hardware and mapping co-design of spatial accelerators by constrained Bayesian optimisation
(after Shi et al., "Learned hardware/software co-design of neural accelerators"): the problem
(:mod:`.problem`) and the searchers at equal budgets (:mod:`.searchers`)."""

from coexplore.accel.problem import CodesignProblem, PointResult
from coexplore.accel.searchers import SEARCHERS, run_search

__all__ = ["SEARCHERS", "CodesignProblem", "PointResult", "run_search"]
