"""Properties of the engine model and the tuners (hypothesis)."""

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coexplore.platforms.fpga_pipeline.engine import EngineDesign, evaluate_batch
from coexplore.platforms.fpga_pipeline.engine_reference import evaluate_reference
from coexplore.platforms.fpga_pipeline.parts import get_part
from coexplore.platforms.fpga_pipeline.precision import PRECISIONS
from coexplore.platforms.fpga_pipeline.tuning.space import StageProblem
from coexplore.platforms.fpga_pipeline.tuning.tuners import SEARCHES, TUNERS
from coexplore.workloads import NetworkBuilder

PRECISION_NAMES = sorted(PRECISIONS)
PART_NAMES = ["XC7A50T", "XC7Z020", "XCZU3EG"]


@st.composite
def networks(draw, max_layers=4):
    """Small random chains of conv / dwconv / pool layers ending in an fc layer."""
    c, size = draw(st.integers(1, 8)), draw(st.integers(6, 20))
    b = NetworkBuilder("h", (c, size, size))
    for _ in range(draw(st.integers(1, max_layers))):
        h = b.shape[1]
        kind = draw(st.sampled_from(["conv", "conv", "dwconv", "pool"]))
        k = draw(st.sampled_from([1, 3, 5]).filter(lambda k, h=h: k <= h))
        s = draw(st.integers(1, 2))
        if kind == "conv":
            b.conv(
                draw(st.integers(1, 40)), k, stride=s, padding=draw(st.sampled_from([0, "same"]))
            )
        elif kind == "dwconv":
            b.dwconv(k, stride=s, padding="same")
        elif h >= 2:
            b.pool(2)
    b.fc(draw(st.integers(1, 20)))
    return b.build()


designs = st.builds(
    EngineDesign,
    *(st.integers(1, 48) for _ in range(4)),
    *(st.integers(1, 256) for _ in range(3)),
)


@settings(max_examples=150, deadline=None)
@given(
    net=networks(),
    design=designs,
    precision=st.sampled_from(PRECISION_NAMES),
    part=st.sampled_from(PART_NAMES),
)
def test_vectorised_model_equals_reference(net, design, precision, part):
    p, prec = get_part(part), PRECISIONS.get(precision)
    batch = evaluate_batch(net.layers, design.as_array(), p, prec, per_layer=True)
    ref = evaluate_reference(net.layers, design, p, prec)
    assert batch.layer_cycles[0].tolist() == ref.layer_cycles
    assert [int(b) for b in batch.layer_bottleneck[0]] == [int(b) for b in ref.layer_bottleneck]
    assert batch.cycles[0] == ref.cycles
    assert (batch.dsp[0], batch.bram18k[0], batch.lut[0]) == (ref.dsp, ref.bram18k, ref.lut)
    assert batch.violations(0) == ref.violations


@settings(max_examples=150, deadline=None)
@given(net=networks(), design=designs)
def test_cycles_at_least_macs_over_array(net, design):
    batch = evaluate_batch(
        net.layers,
        design.as_array(),
        get_part("XC7Z020"),
        PRECISIONS.get("fixed16"),
        per_layer=True,
    )
    for layer, cycles in zip(net.layers, batch.layer_cycles[0], strict=True):
        assert cycles * design.tm * design.tn >= layer.macs
        assert cycles > 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    net=networks(max_layers=3),
    part=st.sampled_from(PART_NAMES),
    precision=st.sampled_from(PRECISION_NAMES),
    tuner=st.sampled_from(["exhaustive", "random"]),
)
def test_tuned_design_never_breaks_a_budget(net, part, precision, tuner):
    problem = StageProblem(net.layers, get_part(part), PRECISIONS.get(precision))
    front = (SEARCHES.get(tuner) or TUNERS.get(tuner))(problem, 200, np.random.default_rng(0))
    if front.empty:  # nothing fits: then no design of the space may fit either
        assert len(problem.tilings) == 0
        return
    batch = evaluate_batch(net.layers, front.designs, problem.part, problem.precision)
    assert batch.valid.all()
    assert (np.diff(front.cycles) >= 0).all()  # fastest first


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    net=networks(max_layers=3),
    extra_dsp=st.integers(1, 300),
    extra_gbps=st.floats(0.1, 8.0),
    part=st.sampled_from(PART_NAMES),
)
def test_more_dsps_or_bandwidth_never_lower_tuned_throughput(net, extra_dsp, extra_gbps, part):
    base = get_part(part)
    prec = PRECISIONS.get("fixed16")

    def best(p):
        front = TUNERS.get("exhaustive")(StageProblem(net.layers, p, prec), 0, None)
        return np.inf if front.empty else front.cycles[0]

    cycles = best(base)
    assert best(dataclasses.replace(base, dsp=base.dsp + extra_dsp)) <= cycles
    assert best(dataclasses.replace(base, dram_gbps=base.dram_gbps + extra_gbps)) <= cycles
