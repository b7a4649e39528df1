"""HSCoNAS: space shrinking (shrinker, env masks, resume), channel scaling (known optima),
the multi-objective evolution, and a target below anything the space reaches."""

import dataclasses
import itertools
import math

import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from coexplore.config import ConfigError
from coexplore.core.metrics import Metrics
from coexplore.core.record import CandidateRecord
from coexplore.core.shrinking import ShrinkConfig, SpaceShrinker
from coexplore.core.specs import SpecFailure
from coexplore.env.environment import CoExploreEnv
from coexplore.latency.experiment import enumerate_space
from coexplore.platforms import FastResult
from coexplore.scenario import apply_overrides, scenario_from_dict, scenario_path
from coexplore.search.agents import make_agent
from coexplore.search.agents.hsconas import constrained_ranks, crowding
from coexplore.search.channels import scale_channels
from coexplore.spaces import make_space


def rec(tokens, acc, latency, over=False, pruned=False):
    failed = [SpecFailure("spec", "slow", "latency_s", "max", 1.0, latency, 0.1)] if over else []
    return CandidateRecord(
        arch=str(tokens),
        space="toy",
        tokens=list(tokens),
        platform="table",
        choice=None,
        hardware=None,
        metrics=Metrics(latency_s=latency),
        details=None,
        pruned=pruned,
        failed_specs=failed,
        hw_attempts=1,
        fast_s=0.0,
        macs=1,
        reward=0.0,
        val_acc=None if pruned else acc,
        test_acc=None if pruned else acc,
    )


# --- the shrinker ------------------------------------------------------------------------------
def test_front_is_the_feasible_candidates_nobody_beats():
    s = SpaceShrinker([3, 3], "latency_s", ShrinkConfig(generation=0, min_samples=1))
    for r in (
        rec((0, 0), 0.90, 0.5),  # front: fastest
        rec((1, 0), 0.95, 0.7),  # front
        rec((1, 1), 0.95, 0.7),  # tied with the one above: on the front too
        rec((2, 0), 0.93, 0.8),  # beaten by (1, 0)
        rec((2, 2), 0.99, 0.6, over=True),  # misses the target: never on the front
    ):
        s.observe(r)
    assert s.front() == {(0, 0), (1, 0), (1, 1)}


def test_a_step_drops_a_dominated_choice_and_keeps_the_floor():
    cfg = ShrinkConfig(generation=0, min_samples=2, max_drop=1, keep=0.5)
    s = SpaceShrinker([4, 2], "latency_s", cfg, frozen=(1,))
    for r in (
        rec((0, 0), 0.95, 0.5),  # the front
        rec((0, 1), 0.90, 0.4),  # the front
        rec((1, 0), 0.80, 0.9),
        rec((1, 1), 0.85, 0.9),  # choice 1 of token 0: 2 samples, both dominated
        rec((2, 0), 0.70, 0.9),
        rec((2, 1), 0.60, 0.9, over=True),  # choice 2: dominated, worse than choice 1
        rec((3, 0), 0.50, 0.9),  # choice 3: one sample, not judged
    ):
        s.observe(r)
    assert s.step() == [(0, 2)]  # at most one per step: the worst dominated choice first
    assert s.step() == [(0, 1)]
    assert s.step() == []  # the floor: ceil(0.5 * 4) = 2 choices stay
    assert s.allowed == [{0, 3}, {0, 1}]  # token 1 is frozen
    assert [d["value"] for d in s.dropped] == [2, 1]
    assert s.size() == pytest.approx(math.log10(4))


def test_automatic_steps_count_distinct_candidates_and_state_round_trips():
    cfg = ShrinkConfig(generation=2, min_samples=1)
    s = SpaceShrinker([2], "latency_s", cfg)
    assert not s.observe(rec((0,), 0.9, 0.1))
    assert not s.observe(rec((0,), 0.9, 0.1))  # a repeat is not a new candidate
    assert s.observe(rec((1,), 0.5, 0.2))
    t = SpaceShrinker([2], "latency_s", cfg)
    t.load_state_dict(s.state_dict())
    assert t.step() == s.step() == [(0, 1)] and t.allowed == s.allowed


def test_shrink_config_names_bad_fields():
    with pytest.raises(ConfigError, match="min_samples"):
        ShrinkConfig(min_samples=0)
    with pytest.raises(ConfigError, match="keep"):
        ShrinkConfig(keep=1.5)
    with pytest.raises(ConfigError, match="generations"):
        ShrinkConfig.from_dict({"generations": 3})


# --- shrinking through the env -----------------------------------------------------------------
def nb201(*overrides):
    path = scenario_path("nb201-table")
    from coexplore.config import load_mapping

    return scenario_from_dict(apply_overrides(load_mapping(path), list(overrides)), str(path))


def test_the_scenario_shrinks_the_masks_of_every_agent():
    env = CoExploreEnv(nb201("shrinking.generation=20", "shrinking.min_samples=3"))
    assert env.shrinker is not None and env.shrinker.metric == "latency_s"
    agent = make_agent("random", env, 0)
    while not env.shrinker.dropped:
        agent.run(8)
    t, v = env.shrinker.dropped[0]["token"], env.shrinker.dropped[0]["value"]
    env.reset()
    for _ in range(t):
        env.step(env.possible(env._tokens)[0])
    assert not env.action_masks()[v]  # the dropped choice is masked
    assert env._take(env._tokens, v) != v  # and a mask-blind agent's action is mapped away
    clone = CoExploreEnv(nb201("shrinking.generation=20", "shrinking.min_samples=3"))
    clone.load_state_dict(env.state_dict())
    assert clone.shrinker.allowed == env.shrinker.allowed
    gym_check_env(clone, skip_render_check=True)
    sb3_check_env(clone)


def test_a_bad_shrinking_section_names_the_field():
    with pytest.raises(ConfigError, match="shrinking.metric"):
        nb201("shrinking.metric=energy_j")
    with pytest.raises(ConfigError, match="max_drop"):
        nb201("shrinking.max_drop=0")


# --- channel scaling ---------------------------------------------------------------------------
class AnalyticEvaluator:
    """Just what channel scaling reads of an evaluator, with latency = MACs × 1 ns (a stand-in
    cost model whose optimum is known by enumeration)."""

    def __init__(self, space, target):
        self.space, self.target = space, target
        self.sw_choices = space.token_choices()
        self.coverage = None
        self.calls = 0

    def candidate(self, tokens):
        return tokens

    def network(self, arch):
        return arch.network((1, 16, 16), 10)

    def latency(self, tokens):
        return self.network(self.space.from_tokens(tokens)).macs * 1e-9

    def fast_phase(self, tokens):  # a FastResult, as the evaluator's
        self.calls += 1
        latency = self.latency(tokens)
        over = latency > self.target
        failed = [SpecFailure("spec", "slow", "latency_s", "max", self.target, latency, 0.1)]
        return FastResult(None, Metrics(latency_s=latency), failed if over else [])


def widths_of(space, tokens):
    positions = sorted(space.width_tokens())
    return [tokens[t] for t in positions], positions


@pytest.mark.parametrize("exhaustive", [256, 1])  # enumerated, and the greedy ascent
def test_channel_scaling_meets_the_target_with_the_most_macs(exhaustive):
    space = make_space("chain", depth=3, kernels=[3, 5], filters=[32, 8, 16], strides=[1, 2])
    assert space.width_tokens() == {1: (1, 2, 0), 4: (1, 2, 0), 7: (1, 2, 0)}  # by width
    tokens = [1, 0, 0, 0, 0, 1, 1, 0, 0]
    env = AnalyticEvaluator(space, target=0.9e-3)
    s = scale_channels(env, tokens, "latency_s", "macs", exhaustive=exhaustive)
    assert s.feasible and s.latency <= env.target and s.queries == env.calls
    _, positions = widths_of(space, tokens)
    best = max(
        env.latency(t)
        for t in (
            [v if i not in positions else combo[positions.index(i)] for i, v in enumerate(tokens)]
            for combo in itertools.product(range(3), repeat=3)
        )
        if env.latency(t) <= env.target
    )
    if exhaustive > 1:  # latency is MACs here: the enumeration finds the very best
        assert s.latency == pytest.approx(best)
    else:  # greedy: no single further widening still meets the target
        for i, t in enumerate(positions):
            order = space.width_tokens()[t]
            level = order.index(s.tokens[t])
            if level + 1 < len(order):
                wider = list(s.tokens)
                wider[t] = order[level + 1]
                assert env.latency(wider) > env.target, i
    untouched = [v for i, v in enumerate(s.tokens) if i not in positions]
    assert untouched == [v for i, v in enumerate(tokens) if i not in positions]


def test_channel_scaling_returns_the_narrowest_when_nothing_fits():
    space = make_space("chain", depth=2, kernels=[5], filters=[8, 16], strides=[1])
    env = AnalyticEvaluator(space, target=1e-9)
    s = scale_channels(env, [0, 1, 0, 0, 1, 0], "latency_s")
    assert not s.feasible and s.tokens == (0, 0, 0, 0, 0, 0)


def test_spaces_name_their_width_tokens():
    ibn = make_space("ibn")
    assert ibn.width_tokens() == {2: (0, 1, 2), 7: (0, 1, 2), 12: (0, 1, 2), 17: (0, 1, 2)}
    assert make_space("nb201").width_tokens() == {}


def test_enumerate_space_lists_every_possible_architecture():
    space = make_space("chain", depth=3, kernels=[3], filters=[8], strides=[1, 2])
    # 2x2 input: stride 2 once brings it to 1x1, after which only stride 1 is possible
    assert sorted(enumerate_space(space, 2)) == [
        [0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0, 0, 0, 0, 0],
    ]
    with pytest.raises(ValueError, match="more than 3"):
        enumerate_space(space, 2, limit=3)


# --- the evolution -----------------------------------------------------------------------------
def member(acc, latency, feasible=True, violation=0.0):
    return {"acc": acc, "latency": latency, "feasible": feasible, "violation": violation}


def test_constrained_ranks_and_crowding():
    pop = [
        member(0.9, 1.0),
        member(0.8, 0.5),
        member(0.85, 1.2),  # beaten by the first
        member(-math.inf, 3.0, feasible=False, violation=3.0),
        member(-math.inf, 2.0, feasible=False, violation=2.0),
    ]
    ranks = constrained_ranks(pop)
    assert ranks == [0, 0, 1, 3, 2]  # feasible first; infeasible by their violation
    d = crowding(pop, ranks)
    assert d[0] == d[1] == math.inf  # the ends of the front


def search_nb201(seed, queries, **params):
    env = CoExploreEnv(nb201())
    accs: dict[str, float] = {}
    env.listeners.append(lambda r: r.pruned or accs.setdefault(r.arch, r.val_acc))
    agent = make_agent("hsconas", env, seed, **params)
    while len(accs) < queries:
        agent.run(16)
    return agent, accs


@pytest.fixture(scope="module")
def small_problem(tmp_path_factory):
    """A 1,728-network chain space on 8x8 digits whose accuracy and latency are tables of this
    test's own: latency from the MACs, accuracy rising with width and kernel, with a seeded
    jitter, so the constrained optimum (known by enumeration) sits at the latency target."""
    import numpy as np
    import yaml

    root = tmp_path_factory.mktemp("small")
    space_cfg = {"name": "chain", "depth": 3, "kernels": [3, 5], "filters": [8, 16, 24]}
    space = make_space("chain", **{k: v for k, v in space_cfg.items() if k != "name"})
    rng = np.random.default_rng(7)
    rows = []
    for tokens in enumerate_space(space, 8):
        arch = space.from_tokens(tokens)
        layers = arch.layers
        acc = 0.5 + 0.1 * np.mean([ly.filters / 24 for ly in layers])
        acc += 0.05 * np.mean([ly.kernel == 5 for ly in layers]) + 0.02 * (layers[0].stride == 1)
        latency_ms = arch.network((1, 8, 8), 10).macs / 1e4
        rows.append((arch.canonical, acc + rng.uniform(0, 0.01), latency_ms))
    target = float(np.quantile([r[2] for r in rows], 0.3))
    (root / "acc.csv").write_text("arch,val_acc\n" + "".join(f"{a},{v}\n" for a, v, _ in rows))
    (root / "hw.csv").write_text("arch,latency_ms\n" + "".join(f"{a},{t}\n" for a, _, t in rows))
    scenario = {
        "description": "a small chain problem with known optimum (tables of the test's own)",
        "data": {"name": "digits"},
        "space": space_cfg,
        "hardware": {"family": "table", "table": str(root / "hw.csv")},
        "specs": {"latency_s": {"max": target * 1e-3}},
        "objectives": ["latency_s"],
        "reward": {"name": "mnas", "form": "hard", "metric": "latency_s"},
        "slow_phase": {"oracle": "table", "table": str(root / "acc.csv")},
    }
    path = root / "small.yaml"
    path.write_text(yaml.safe_dump(scenario))
    best = max(v for _, v, t in rows if t <= target)
    return str(path), best, len(rows)


def test_hsconas_finds_the_known_optimum_of_a_small_problem(small_problem):
    """Every seed finds the constrained optimum of the 1,728 networks within 100 queries;
    channel scaling puts the children at the target, so few are pruned."""
    path, best, n = small_problem
    assert n == 1728
    for seed in range(3):
        env = CoExploreEnv(path)
        accs: dict[str, float] = {}
        env.listeners.append(lambda r, accs=accs: r.pruned or accs.setdefault(r.arch, r.val_acc))
        agent = make_agent("hsconas", env, seed, population=8)
        while len(accs) < 100 and max(accs.values(), default=0) < best:
            agent.run(8)
        assert max(accs.values()) == pytest.approx(best), seed
        assert agent.scaling_queries > 0


def test_hsconas_is_seeded_and_resumes_exactly():
    a, accs_a = search_nb201(5, 60)
    b, accs_b = search_nb201(5, 60)
    assert list(accs_a) == list(accs_b)
    env = CoExploreEnv(nb201())
    c = make_agent("hsconas", env, 5)
    for _ in range(2):
        c.run(16)
    state, env_state = c.state_dict(), env.state_dict()
    env2 = CoExploreEnv(nb201())
    env2.load_state_dict(env_state)
    d = make_agent("hsconas", env2, 5)
    d.load_state_dict(state)
    c.run(16)
    d.run(16)
    assert [m["tokens"] for m in c.population] == [m["tokens"] for m in d.population]


def test_hsconas_checks_its_parameters():
    env = CoExploreEnv(nb201())
    with pytest.raises(ConfigError, match="population"):
        make_agent("hsconas", env, 0, population=1)
    with pytest.raises(ConfigError, match="proxy"):
        make_agent("hsconas", env, 0, proxy="flops")
    with pytest.raises(ConfigError, match="mutation"):
        make_agent("hsconas", env, 0, mutation=0.1)


# --- bad input ---------------------------------------------------------------------------------
def test_a_target_below_the_space_is_a_clear_error():
    env = CoExploreEnv(nb201("specs.latency_s.max=1.0e-6"))
    with pytest.raises(ConfigError, match=r"specs\.latency_s\.max.*least-work network"):
        env.check_target()
    with pytest.raises(ConfigError, match="can reach"):
        make_agent("hsconas", env, 0)
    fast = CoExploreEnv(nb201()).check_target()  # 12 ms is reachable
    assert fast is not None and not fast.failed_specs


def test_a_search_that_cannot_reach_its_target_stops_before_it_starts(tmp_path):
    from coexplore.search.runner import SearchConfig, run_search
    from coexplore.search.tracking import WandbConfig

    out = tmp_path / "run"
    cfg = SearchConfig(
        env="nb201-table",
        agent="rea",
        episodes=3,
        out=str(out),
        overrides=("specs.latency_s.max=1.0e-6",),
        wandb=WandbConfig(mode="disabled"),
    )
    with pytest.raises(ConfigError, match="can reach"):
        run_search(cfg, progress=False, report=False)
    assert not out.exists()  # nothing left behind: the same --out works once the target is fixed
    fixed = dataclasses.replace(cfg, overrides=())
    assert run_search(fixed, progress=False, report=False).episodes == 3
