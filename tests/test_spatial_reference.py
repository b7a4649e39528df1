"""The vectorised spatial model against its scalar transcription (model_reference)."""

import math

import numpy as np
import pytest

from coexplore.platforms.spatial.arch import load_template
from coexplore.platforms.spatial.mapper import MapSpace
from coexplore.platforms.spatial.mapping import Mapping, MappingBatch
from coexplore.platforms.spatial.model import RULES, BatchStats, evaluate_batch, violations
from coexplore.platforms.spatial.model_reference import LoopNest, evaluate_reference
from coexplore.workloads.problem import TENSORS, Problem

TEMPLATES = {name: load_template(name) for name in ("eyeriss-like", "eyeriss")}
REF_LAYER = Problem("ref", R=3, S=3, P=112, Q=112, C=3, M=32, stride_h=2, stride_w=2)
PROBLEMS = [
    REF_LAYER,
    Problem("dw", R=3, S=3, P=28, Q=28, G=32, kind="dwconv"),
    Problem("fc", C=3136, M=512, kind="fc"),
    Problem.gemm("g", 128, 64, 128),
    Problem("batch2", R=3, S=3, P=14, Q=14, C=16, M=24, N=2),
]
VALID_WANTED = 150  # valid mappings compared per case (mutated from valid samples if needed)
MIXED = 150  # plus this many random samples, valid or not


def rules_of(stats: BatchStats, i: int) -> tuple[str, ...]:
    return tuple(rule for bit, rule in enumerate(RULES) if int(stats.broken[i]) >> bit & 1)


def assert_agree(template, problem, batch: MappingBatch, stats: BatchStats, i: int) -> None:
    """Row ``i``: the same broken rules and the same numbers (valid or not: both models price
    every mapping by the same formulas; only EDP is left out, NaN, for an invalid one)."""
    ref = evaluate_reference(template, problem, batch, i)
    where = f"{template.name}/{problem.name} mapping {batch.mapping(i, template).to_dict()}"
    assert rules_of(stats, i) == ref.broken, where

    def close(got, want, what):
        assert math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-9), (
            f"{where}: {what} vectorised {float(got)} != scalar {float(want)}"
        )

    close(stats.cycles[i], ref.cycles, "cycles")
    close(stats.compute_cycles[i], ref.compute_cycles, "compute cycles")
    close(stats.mac_energy_pj[i], ref.mac_energy_pj, "MAC energy")
    for li, level in enumerate(template.levels):
        close(stats.level_energy_pj[i, li], ref.level_energy_pj[li], f"{level.name} energy")
        close(stats.instances[i, li], ref.instances[li], f"{level.name} instances")
        close(stats.used_words[i, li], ref.used_words[li], f"{level.name} used words")
        close(stats.updates[i, li], ref.updates[li], f"{level.name} updates")
        for ti, tensor in enumerate(TENSORS):
            at = f"{level.name} {tensor}"
            close(stats.tiles[i, li, ti], ref.tiles[li][ti], f"{at} tile")
            close(stats.fills[i, li, ti], ref.fills[li][ti], f"{at} fills")
            close(stats.reads[i, li, ti], ref.reads[li][ti], f"{at} reads")
            close(stats.writes[i, li, ti], ref.writes[li][ti], f"{at} writes")
    close(stats.instances[i, -1], ref.instances[-1], "MAC units")
    if ref.valid:
        close(stats.energy_pj[i], ref.energy_pj, "energy")
        close(stats.edp[i], ref.edp, "EDP")
        close(
            ref.mac_energy_pj - template.mac.leak_pj * ref.instances[-1] * ref.cycles,
            problem.macs * template.mac.energy_pj,
            "MACs",
        )


def draw(template, problem, seed: int) -> MappingBatch:
    """Random mappings of the map space, topped up with mutants of the valid ones so that
    templates with small scratchpads (few valid samples) are compared on valid mappings too."""
    rng = np.random.default_rng(seed)
    space = MapSpace(template, problem)
    pool = space.sample(1500, rng)
    valid = pool.take(np.flatnonzero(evaluate_batch(template, problem, pool).valid))
    assert len(valid) > 0
    while len(valid) < VALID_WANTED:
        children = space.mutate(valid.take(rng.integers(len(valid), size=500)), rng)
        ok = evaluate_batch(template, problem, children).valid
        valid = MappingBatch.concat([valid, children.take(np.flatnonzero(ok))])
    return MappingBatch.concat([valid.take(np.arange(VALID_WANTED)), pool.take(np.arange(MIXED))])


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.name)
@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_vectorised_model_equals_reference(name, problem):
    template = TEMPLATES[name]
    batch = draw(template, problem, seed=len(problem.name) + 7 * len(name))
    stats = evaluate_batch(template, problem, batch)
    assert stats.valid.sum() >= VALID_WANTED
    for i in range(len(batch)):
        assert_agree(template, problem, batch, stats, i)
    # A mapping as a Mapping (level dicts), as a LoopNest and as a batch row: the same result.
    for i in range(0, len(batch), 37):
        row = evaluate_reference(template, problem, batch, i)
        assert evaluate_reference(template, problem, batch.mapping(i, template)) == row
        assert evaluate_reference(template, problem, LoopNest.of_row(batch, i)) == row


def test_samples_exercise_the_model():
    """The random cases above reach bandwidth-bound cycles, output refills, multicast and
    spatial reduction (eyeriss-like: DRAM, shared_glb, ifmap_spad, weights_spad, psum_spad)."""
    template = TEMPLATES["eyeriss-like"]
    batch = draw(template, REF_LAYER, seed=1)
    s = evaluate_batch(template, REF_LAYER, batch)
    v = s.valid
    assert (s.cycles > s.compute_cycles)[v].any()  # bandwidth-bound
    assert (s.writes[:, 1:, 2] > s.updates[:, 1:])[v].any()  # output refills
    assert (s.reads[:, 0, 0] < s.writes[:, 3, 0])[v].any()  # weights multicast over Q
    assert (s.reads[:, 1, 1] < s.writes[:, 2, 1])[v].any()  # inputs multicast over M
    assert (s.updates[:, 1] < s.fills[:, 4, 2] * s.instances[:, 4])[v].any()  # reduction


def m(**levels) -> Mapping:
    return Mapping.from_dict(levels)


ALL_ON_DRAM = {"temporal": {"R": 3, "S": 3, "P": 112, "Q": 112, "C": 3, "M": 32}}
ON_DRAM_BUT = {  # DRAM's temporal loops without some dims (they go elsewhere)
    dims: {"temporal": {d: f for d, f in ALL_ON_DRAM["temporal"].items() if d not in dims}}
    for dims in ("M", "C", "MC")
}
LIKE_CASES = [  # eyeriss-like, the reference layer: (mapping, the rules it breaks)
    (m(DRAM=ALL_ON_DRAM), ()),
    (m(DRAM=ON_DRAM_BUT["M"], shared_glb={"spatial_x": {"M": 8}, "spatial_y": {"M": 4}}), ()),
    (m(DRAM={"temporal": {**ALL_ON_DRAM["temporal"], "M": 64}}), ("factors",)),
    (m(DRAM=ON_DRAM_BUT["M"], shared_glb={"temporal": {"M": 16}}), ("factors",)),
    (m(DRAM=ON_DRAM_BUT["M"], shared_glb={"spatial_x": {"M": 32}}), ("fanout",)),
    (
        m(DRAM=ON_DRAM_BUT["M"], shared_glb={"spatial_y": {"M": 16}, "spatial_x": {"M": 2}}),
        ("fanout",),
    ),
    (
        m(
            DRAM={"temporal": {**ON_DRAM_BUT["M"]["temporal"], "M": 16}},
            psum_spad={"spatial_x": {"M": 2}},
        ),
        ("fanout",),
    ),
    (m(DRAM=ON_DRAM_BUT["M"], psum_spad={"temporal": {"M": 32}}), ("capacity",)),
    (
        m(
            DRAM=ON_DRAM_BUT["MC"],
            weights_spad={"temporal": {"C": 3}},
            psum_spad={"temporal": {"M": 32}},
        ),
        ("capacity",),
    ),
    (m(DRAM=ON_DRAM_BUT["C"], ifmap_spad={"temporal": {"C": 3}}), ("dataflow",)),
    (m(DRAM=ON_DRAM_BUT["C"], shared_glb={"spatial_x": {"C": 3}}), ("dataflow",)),
    (m(DRAM=ON_DRAM_BUT["M"], weights_spad={"temporal": {"M": 32}}), ("dataflow",)),
    (m(DRAM=ALL_ON_DRAM, shared_glb={"keep": ["weights", "inputs", "outputs"]}), ("keep",)),
    (m(DRAM=ALL_ON_DRAM, shared_glb={"keep": ["inputs"]}), ("keep",)),
    (m(DRAM={**ALL_ON_DRAM, "keep": ["weights", "inputs"]}), ("keep",)),
    (
        m(
            DRAM={"temporal": {**ON_DRAM_BUT["MC"]["temporal"], "M": 2}},
            shared_glb={"keep": ["inputs"]},
            ifmap_spad={"temporal": {"C": 3}},
            psum_spad={"temporal": {"M": 32}},
        ),
        ("factors", "capacity", "dataflow", "keep"),
    ),
    (
        m(DRAM=ON_DRAM_BUT["M"], shared_glb={"spatial_x": {"M": 16}, "spatial_y": {"M": 2}}),
        ("fanout",),
    ),
]
EYERISS_CASES = [  # eyeriss (glb may bypass, no dataflow constraints), the reference layer
    (m(DRAM=ALL_ON_DRAM), ()),
    (m(DRAM=ALL_ON_DRAM, glb={"keep": ["inputs"]}), ()),
    (m(DRAM=ALL_ON_DRAM, glb={"keep": []}), ()),
    (m(DRAM=ON_DRAM_BUT["M"], glb={"spatial_y": {"M": 16}, "spatial_x": {"M": 2}}), ("fanout",)),
    (m(DRAM=ON_DRAM_BUT["M"], filter_spad={"spatial_y": {"M": 32}}), ("fanout",)),
    (m(DRAM=ON_DRAM_BUT["M"], psum_spad={"temporal": {"M": 32}}), ("capacity",)),
    (m(DRAM=ON_DRAM_BUT["M"], glb={"temporal": {"M": 32}, "keep": ["weights"]}), ()),
    (m(DRAM=ALL_ON_DRAM, ifmap_spad={"keep": []}), ("keep",)),
    (m(DRAM=ALL_ON_DRAM, ifmap_spad={"keep": ["inputs", "outputs"]}), ("keep",)),
    (m(DRAM={"temporal": {**ALL_ON_DRAM["temporal"], "C": 1}}, glb={"keep": []}), ("factors",)),
]


def check_case(template, problem, mapping: Mapping, rules: tuple[str, ...]) -> None:
    batch = mapping.batch(template)
    stats = evaluate_batch(template, problem, batch)
    assert evaluate_reference(template, problem, mapping).broken == rules, mapping.to_dict()
    assert bool(violations(template, problem, batch)) == bool(rules)  # the sentences, too
    assert_agree(template, problem, batch, stats, 0)


@pytest.mark.parametrize(("mapping", "rules"), LIKE_CASES)
def test_hand_built_mappings_eyeriss_like(mapping, rules):
    check_case(TEMPLATES["eyeriss-like"], REF_LAYER, mapping, rules)


@pytest.mark.parametrize(("mapping", "rules"), EYERISS_CASES)
def test_hand_built_mappings_eyeriss(mapping, rules):
    check_case(TEMPLATES["eyeriss"], REF_LAYER, mapping, rules)


def test_dataflow_rule_on_a_constrained_eyeriss():
    template = TEMPLATES["eyeriss"].replace_level("glb", spatial_x_dims=("Q",), temporal_dims=())
    ok = m(
        DRAM=ON_DRAM_BUT["M"],
        glb={"spatial_x": {"Q": 1}, "spatial_y": {"M": 8}},
        psum_spad={"temporal": {"M": 4}},
    )
    check_case(template, REF_LAYER, ok, ())
    check_case(
        template,
        REF_LAYER,
        m(DRAM=ON_DRAM_BUT["M"], glb={"spatial_x": {"M": 8}}, psum_spad={"temporal": {"M": 4}}),
        ("dataflow",),
    )
    check_case(
        template, REF_LAYER, m(DRAM=ON_DRAM_BUT["M"], glb={"temporal": {"M": 32}}), ("dataflow",)
    )
    check_case(
        template,
        REF_LAYER,
        m(DRAM=ON_DRAM_BUT["M"], glb={"spatial_x": {"M": 32}}),
        ("fanout", "dataflow"),
    )


def test_every_rule_is_covered():
    covered = {rule for _, rules in LIKE_CASES + EYERISS_CASES for rule in rules}
    assert covered == set(RULES)
