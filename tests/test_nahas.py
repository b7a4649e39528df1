"""NAHAS: the Edge-TPU-like template (golden numbers by hand), its hardware tokens, the
``nb201-edgetpu`` and ``ibn-edgetpu`` scenarios (``check_env``) and a short joint search."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from coexplore.cli.main import main
from coexplore.config import ConfigError, load_mapping
from coexplore.platforms.spatial.arch import load_template
from coexplore.platforms.spatial.family import (
    DesignTokens,
    SpatialAccelerator,
    SpatialFastConfig,
    SpatialHardware,
)
from coexplore.platforms.spatial.mapping import Mapping
from coexplore.platforms.spatial.model import evaluate_batch, violations
from coexplore.platforms.spatial.space import template_space
from coexplore.scenario import apply_overrides, get_scenario, scenario_from_dict, scenario_path
from coexplore.workloads.problem import Problem

# --- the template ------------------------------------------------------------------------------


def test_default_point_is_zigzags_edge_tpu():
    """1 core × 128 SIMD units × 8 lanes = 1,024 MACs, 2 MiB PE memory, 32 KiB weight SRAM.

    Area (µm²), by hand: MACs 1,024 × 191.82 = 196,423.68; PE memory 2 MiB × 1.658351 per byte
    = 3,477,813.9; weight SRAM 32 KiB = 54,340.8; output registers 128 × 61.814 = 7,912.19;
    weight registers 1,024 × 30.294 = 31,021.06; total 3,767,511.6 µm² = 3.7675 mm².
    """
    t = load_template("edge-tpu-like")
    assert t.pes == 1024 and t.instances(3) == 128  # one output register per SIMD unit
    assert t.sram_words == 2**21 + 2**15 + 128 + 1024
    assert t.area_mm2 == pytest.approx(3.7675116, abs=1e-6)
    space = template_space(t)
    assert space.size() == 5 * 5 * 4 * 4 * 5 * 5
    assert space.values(space.baseline_indices()) == {
        "x_pes": 1, "y_pes": 1, "n_simds": 128, "n_lanes": 8,
        "pe_memory": 2**21, "register_file": 2**15,
    }  # fmt: skip


def test_hand_computed_gemv_on_the_default():
    """A 1×1 conv, C=16 → M=128 on one pixel (2,048 MACs): M over the 128 SIMD units, C over
    the 8 lanes and 2 steps in the output register.

    Weights: every weight used once: DRAM → weight SRAM → weight register, 2,048 words each.
    Inputs: 16 words DRAM → PE memory, read once and multicast over the 128 SIMD units.
    Outputs: the 8 lanes reduce spatially, so the 128 output registers take 2,048 / 8 = 256
    updates, of which the first 128 read nothing; 128 drains to PE memory and on to DRAM.
    Cycles: DRAM reads 2,064 words / 8 per cycle = 258 (compute alone: 2).
    Energy (pJ): DRAM 2,064/8 × 700 + 128/8 × 750 = 192,600; PE memory 16/256 × 416.16 +
    144/256 × 378.4 = 238.86; weight SRAM 32 × 22.9 + 32 × 52.01 = 2,397.12; output registers
    (128 + 256) × 0.02 = 7.68; weight registers 4,096 × 0.01 = 40.96; MACs 2,048 × 0.04 = 81.92;
    total 195,366.54.
    """
    t = load_template("edge-tpu-like")
    p = Problem("gemv", C=16, M=128)
    m = Mapping.from_dict({
        "weight_sram": {"spatial_x": {"M": 128}},
        "output_reg": {"temporal": {"C": 2}, "spatial_y": {"C": 8}},
    })  # fmt: skip
    b = m.batch(t)
    assert not violations(t, p, b)
    s = evaluate_batch(t, p, b)
    w, i, o = 0, 1, 2
    assert s.cycles[0] == 258 and s.compute_cycles[0] == 2
    assert s.reads[0, 0, w] == 2048 and s.reads[0, 0, i] == 16 and s.writes[0, 0, o] == 128
    assert s.reads[0, 1].tolist() == [0, 16, 0] and s.writes[0, 1].tolist() == [0, 16, 128]
    assert s.reads[0, 2, w] == 2048 and s.writes[0, 2, w] == 2048
    assert s.updates[0, 3] == 256 and s.reads[0, 3, o] == 128
    assert s.reads[0, 4, w] == 2048 and s.writes[0, 4, w] == 2048
    expected = [192_600, 238.86, 2_397.12, 7.68, 40.96]
    assert s.level_energy_pj[0] == pytest.approx(expected, rel=1e-12)
    assert s.energy_pj[0] == pytest.approx(195_366.54, rel=1e-12)
    # a 64-word DRAM port (hardware.dram_bw): DRAM 2,064 / 64 = 32.25 cycles, the bound now
    wide = SpatialAccelerator(SpatialHardware(template="edge-tpu-like", dram_bw=64)).template
    assert evaluate_batch(wide, p, m.batch(wide)).cycles[0] == pytest.approx(32.25)


def test_lanes_reduce_input_channels_only():
    """Depthwise convolutions (C = 1 per group) leave all but one lane of a SIMD unit idle."""
    t = load_template("edge-tpu-like")
    platform = SpatialAccelerator(SpatialHardware(template="edge-tpu-like"),
                                  SpatialFastConfig(mapper_budget=300))  # fmt: skip
    dw = Problem("dw", R=3, S=3, P=14, Q=14, G=64, stride_h=1, stride_w=1)
    dense = Problem("pw", P=14, Q=14, C=64, M=64)
    r_dw, r_pw = platform.map_problem(dw, t), platform.map_problem(dense, t)
    assert r_dw.valid and r_pw.valid
    lanes_used = r_dw.batch.spatial_y.prod(axis=2).max()
    assert lanes_used == 1 and r_dw.cycles >= dw.macs / 128
    assert r_pw.batch.spatial_y.prod(axis=2).max() > 1


def test_bad_dram_bw_names_the_field():
    with pytest.raises(ConfigError, match="dram_bw"):
        SpatialHardware(template="edge-tpu-like", dram_bw=0)


# --- the hardware tokens -------------------------------------------------------------------------


def test_tokens_are_masked_to_the_default_area():
    platform = SpatialAccelerator(SpatialHardware(template="edge-tpu-like"))
    tokens = platform.hardware_space()
    assert isinstance(tokens, DesignTokens)
    assert tokens.token_names() == ["x_pes", "y_pes", "n_simds", "n_lanes", "pe_memory",
                                    "register_file"]  # fmt: skip
    assert tokens.allowed([]) == [0, 1, 2]  # 1, 2 or 4 cores: 6 PE memories exceed the area
    space = platform.design_space
    points = space.feasible_points()
    m = space.measures(points)
    assert (m["area_mm2"] <= space.budget.area_mm2).all()
    assert m["pes"].max() == 2048  # memory traded for MACs: 2 cores of 1,024 with 0.5 MiB
    rng = np.random.default_rng(0)
    for _ in range(50):  # every completion the masks allow fits the budget
        prefix: list[int] = []
        for _ in tokens.token_choices():
            prefix.append(int(rng.choice(tokens.allowed(prefix))))
        assert space.fits(prefix)


# --- scenarios -----------------------------------------------------------------------------------


def test_nb201_edgetpu_passes_check_env_and_a_joint_search_runs(tmp_path, capsys):
    env = gym.make("coexplore/nb201-edgetpu-v0")
    check_env(env.unwrapped, skip_render_check=True)
    assert env.unwrapped.choices[-6:] == [5, 5, 4, 4, 5, 5]
    argv = ["search", "--env", "nb201-edgetpu", "--agent", "rea", "--episodes", "8",
            "--set", "fast_phase.mapper_budget=100", "--out", str(tmp_path / "run"), "--json",
            "--quiet", "--wandb-mode", "disabled"]  # fmt: skip
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["episodes"] == 8 and result["pruned"] == 0  # a reward target prunes nothing
    best = json.loads(result["best"]) if isinstance(result["best"], str) else result["best"]
    assert set(best["hardware"]["design"]) == {"x_pes", "y_pes", "n_simds", "n_lanes",
                                               "pe_memory", "register_file"}  # fmt: skip


def test_ibn_edgetpu_passes_check_env(tmp_path):
    s = get_scenario("ibn-edgetpu")
    assert s.space.name == "ibn" and s.slow_phase.oracle == "train"
    cheap = ["data.train_subset=64", "data.resize=16", "slow_phase.train.epochs=1",
             "fast_phase.mapper_budget=30"]  # fmt: skip
    source = scenario_path("ibn-edgetpu")
    small = scenario_from_dict(apply_overrides(load_mapping(source), cheap), str(source))
    env = gym.make("coexplore/ibn-edgetpu-v0", scenario=small)
    check_env(env.unwrapped, skip_render_check=True)
    assert env.unwrapped.choices == [3, 3, 3, 3, 2] * 4 + [5, 5, 4, 4, 5, 5]
