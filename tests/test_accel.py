"""Co-design search over a template's design space: the searchers at equal budgets."""

from __future__ import annotations

import math

import pytest

from coexplore.accel import SEARCHERS, CodesignProblem, run_search
from coexplore.accel.run import make_problem
from coexplore.config import ConfigError
from coexplore.platforms.spatial.arch import load_template
from coexplore.platforms.spatial.space import template_space
from coexplore.workloads.suites import load_workload

SMALL_SPACE = {
    "pe_x": {"level": "shared_glb", "field": "fanout_x", "choices": [7, 14, 28]},
    "pe_y": {"level": "shared_glb", "field": "fanout_y", "choices": [6, 12, 24]},
    "weights_spad": {"level": "weights_spad", "field": "size_words",
                     "choices": [96, 192, 384, 768]},
    "glb": {"level": "shared_glb", "field": "size_words", "choices": [32768, 131072]},
}  # fmt: skip


@pytest.fixture(scope="module")
def small():
    """DQN on 72 design points of the Eyeriss-like template, 46 within its area; every point
    priced once (the problem caches), so the exhaustive optimum is known."""
    space = template_space(load_template("eyeriss-like"), SMALL_SPACE)
    problem = CodesignProblem(space, load_workload("dqn"), mapper_budget=300)
    every = [problem.evaluate(p) for p in space.feasible_points()]
    return problem, min(p.edp for p in every if p.ok)


def test_every_searcher_keeps_the_budget_and_is_deterministic(small):
    problem, _ = small
    for method in SEARCHERS:
        a = run_search(problem, method, 10, seed=4)
        b = run_search(problem, method, 10, seed=4)
        assert len(a) == 10 and len({p.indices for p in a}) == 10, method
        assert [p.indices for p in a] == [p.indices for p in b], method


def test_cbo_finds_the_known_optimum_and_never_evaluates_an_invalid_point(small):
    problem, best = small
    for seed in range(3):
        points = run_search(problem, "cbo", 12, seed)
        assert not any(not p.fits for p in points)
        assert min(p.edp for p in points if p.ok) == pytest.approx(best), seed


def test_the_penalty_baselines_spend_evaluations_on_invalid_points(small):
    problem, _ = small
    for method in ("bo", "tpe"):
        points = run_search(problem, method, 12, 0)
        invalid = [p for p in points if not p.fits]
        assert invalid, method
        assert all(math.isinf(p.edp) and "area" in p.broken[0] for p in invalid)
    assert all(p.fits for p in run_search(problem, "random", 12, 0))


def test_the_latency_limit_is_a_constraint_known_after_evaluation(small):
    problem, _ = small
    base = problem.price(problem.template)
    limited = CodesignProblem(problem.space, problem.workload, 300, max_cycles=base.cycles)
    points = run_search(limited, "cbo", 10, 0)
    assert all(p.fits for p in points)
    for p in points:
        assert p.feasible == (p.cycles <= base.cycles)
        assert (limited.constraint_slack(p) <= 0) == p.feasible


def test_bad_search_arguments():
    problem, _ = make_problem("eyeriss-like", "mlp", 100, None)
    with pytest.raises(ConfigError, match="budget"):
        run_search(problem, "cbo", 0, 0)
    with pytest.raises(ValueError, match="cbo"):
        run_search(problem, "annealing", 5, 0)
    with pytest.raises(ConfigError, match="max_latency"):
        make_problem("eyeriss-like", "mlp", 100, "fast")
