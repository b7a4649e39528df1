"""Reproduce the case study of Zhang et al., FPGA'15, with coexplore's engine model.

"Optimizing FPGA-based Accelerator Design for Deep Convolutional Neural Networks" (FPGA'15)
accelerates the five convolutional layers of AlexNet in 32-bit floating point on a Virtex-7
VX485T (VC707 board) at 100 MHz with one cross-layer unroll <Tm, Tn> = <64, 7>, and reports
61.62 GFLOPS measured on the board. That figure is the only published number this script uses.

The script:
1. fixes Tm = 64, Tn = 7 and searches every remaining free parameter of the engine (square
   tiles Tr = Tc over the stage's tile sizes, every port split of the DRAM bandwidth) for the
   fastest valid design;
2. prints the per-layer shapes, MACs, cycles, bottleneck and attained GFLOPS, then the totals
   next to the published 61.62 GFLOPS;
3. cross-checks the model against a hand-computed compute-bound lower bound for <64, 7> and
   against the pipeline evaluator, and reports what the exhaustive tuner finds when Tm and Tn
   are free too (what co-designing the unroll buys);
4. explains where the analytical model and the measured figure differ.

    .venv/bin/python launch/fpga15_alexnet.py [--json] [--net alexnet-2tower|alexnet]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

import numpy as np

from coexplore.platforms.fpga_pipeline.engine import Bottleneck, EngineDesign, evaluate_batch
from coexplore.platforms.fpga_pipeline.parts import get_part
from coexplore.platforms.fpga_pipeline.pipeline import evaluate_pipeline, single_stage
from coexplore.platforms.fpga_pipeline.precision import PRECISIONS
from coexplore.platforms.fpga_pipeline.tuning.space import StageProblem
from coexplore.platforms.fpga_pipeline.tuning.tuners import TUNERS
from coexplore.workloads import LayerKind, preset

PART = "XC7VX485T"  # Virtex-7 VX485T on the VC707 board, 100 MHz
PRECISION = "fp32"  # 5 DSPs per MAC unit (3 for the multiplier, 2 for the adder)
TM, TN = 64, 7  # FPGA'15's cross-layer unroll
PUBLISHED_GFLOPS = 61.62  # FPGA'15, AlexNet conv layers on the VC707, measured
PAPER_NET = "alexnet-2tower"  # the grouped conv2/4/5 shapes FPGA'15 accelerates


def conv_layers(net_name: str):
    return preset(net_name).subset({LayerKind.CONV})


def search_fixed_unroll(problem: StageProblem, tm: int, tn: int) -> dict[str, Any]:
    """The fastest valid design with the unroll fixed to <tm, tn>.

    Every square tile Tr = Tc of the problem's tile sizes is combined with every port split;
    (tm, tn) need not be among the problem's useful tile sizes, so the rows are built here.
    Ties in cycles go to the lower dynamic energy (fewer BRAMs), as in the tuners' fronts.
    """
    part, precision = problem.part, problem.precision
    sides = np.union1d(problem.tr_values, problem.tc_values)
    splits = problem.splits
    rows = np.array([[tm, tn, t, t, *s] for t in sides for s in splits], dtype=np.int64)
    batch = evaluate_batch(problem.table, rows, part, precision, per_layer=True)
    valid = np.flatnonzero(batch.valid)
    if len(valid) == 0:
        raise SystemExit(f"no valid design with <Tm, Tn> = <{tm}, {tn}> on {part.name}")
    energy = batch.dynamic_energy_j(part)
    best = valid[np.lexsort((energy[valid], batch.cycles[valid]))[0]]
    fastest = batch.cycles[best]
    same_side = rows[:, 2] == rows[best, 2]
    per_side = []
    for t in sides:
        m = rows[:, 2] == t
        ok = m & batch.valid
        per_side.append(
            {
                "tr": int(t),
                "bram18k": int(batch.bram18k[m][0]),
                "valid": bool(ok.any()),
                "best_cycles": int(batch.cycles[ok].min()) if ok.any() else None,
                "violations": [] if ok.any() else batch.violations(int(np.flatnonzero(m)[0])),
            }
        )
    return {
        "design": rows[best],
        "cycles": int(fastest),
        "layer_cycles": batch.layer_cycles[best],
        "layer_bottleneck": [Bottleneck(int(b)).label for b in batch.layer_bottleneck[best]],
        "dsp": int(batch.dsp[best]),
        "bram18k": int(batch.bram18k[best]),
        "lut": int(batch.lut[best]),
        "bandwidth": int(batch.bandwidth[best]),
        "searched": len(rows),
        "valid": len(valid),
        "splits_tied": int((batch.valid & same_side & (batch.cycles == fastest)).sum()),
        # How much the port split matters at the chosen tile.
        "splits_at_tile": int((batch.valid & same_side).sum()),
        "splits_all_compute": int(
            (
                batch.valid & same_side & (batch.layer_bottleneck == Bottleneck.COMPUTE).all(axis=1)
            ).sum()
        ),
        "split_cycles_range": [
            int(batch.cycles[batch.valid & same_side].min()),
            int(batch.cycles[batch.valid & same_side].max()),
        ],
        "per_side": per_side,
    }


def hand_bounds(layers, tm: int, tn: int, tr: int, tc: int) -> list[dict[str, int]]:
    """Cycle bounds per layer for unroll <tm, tn>, written out by hand (not the library's model).

    ``ideal``: every one of the tm·tn MAC units busy every cycle, MACs / (tm·tn).
    ``channel``: full channel tiles, Σ G·⌈M_g/tm⌉·⌈N_g/tn⌉·R·C·K² (compute-bound lower bound).
    ``spatial``: also full Tr×Tc tiles, ⌈R/Tr⌉·min(Tr,R) rows and likewise columns.
    """
    out = []
    for ly in layers:
        m_g, n_g = ly.channels_per_group
        g, r, c, k = ly.groups, ly.out_h, ly.out_w, ly.kernel
        channel_tiles = g * math.ceil(m_g / tm) * math.ceil(n_g / tn)
        rows = math.ceil(r / tr) * min(tr, r)
        cols = math.ceil(c / tc) * min(tc, c)
        out.append(
            {
                "ideal": math.ceil(ly.macs / (tm * tn)),
                "channel": channel_tiles * r * c * k * k,
                "spatial": channel_tiles * rows * cols * k * k,
            }
        )
    return out


def _design_dict(row) -> dict[str, int]:
    return EngineDesign.from_array(row).to_dict()


def bram_by_hand(layers, design, act_bits: int, weight_bits: int, words_per_block: int) -> int:
    """Double-buffered BRAM18K banks of a design: Tn input, Tm output, Tm·Tn weight banks,
    each as deep as the largest tile, with ``words_per_block`` words per BRAM18K."""
    tm, tn, tr, tc = (int(x) for x in design[:4])
    depth_in = max(
        (ly.stride * min(tr, ly.out_h) + ly.kernel - ly.stride)
        * (ly.stride * min(tc, ly.out_w) + ly.kernel - ly.stride)
        for ly in layers
    )
    depth_out = max(min(tr, ly.out_h) * min(tc, ly.out_w) for ly in layers)
    depth_w = max(ly.kernel**2 for ly in layers)
    assert act_bits == weight_bits  # one word width for every buffer (fp32 here)
    blocks = [math.ceil(depth / words_per_block) for depth in (depth_in, depth_out, depth_w)]
    return 2 * tn * blocks[0] + 2 * tm * blocks[1] + 2 * tm * tn * blocks[2]


def run(net_name: str) -> dict[str, Any]:
    part, precision = get_part(PART), PRECISIONS.get(PRECISION)
    net = conv_layers(net_name)
    layers = net.layers
    clock = part.clock_hz
    problem = StageProblem(tuple(layers), part, precision)

    def gflops(ops: float, cycles: float) -> float:
        return ops / (cycles / clock) / 1e9

    # 1. <64, 7> fixed, everything else searched.
    fixed = search_fixed_unroll(problem, TM, TN)
    d = fixed["design"]
    cycles = fixed["cycles"]

    # Cross-check: the pipeline evaluator on the same design must give the same cycles.
    design = EngineDesign.from_array(d)
    metrics = evaluate_pipeline(net, single_stage(PART, design, len(layers), PRECISION))
    stage = metrics.stages[0]
    if stage.cycles != cycles or stage.violations:
        raise SystemExit(
            f"pipeline evaluator disagrees: {stage.cycles} cycles, violations {stage.violations}"
        )

    # 3. Hand-computed bounds for the same unroll and tile.
    bounds = hand_bounds(layers, TM, TN, int(d[2]), int(d[3]))

    per_layer = []
    for i, ly in enumerate(layers):
        lc = int(fixed["layer_cycles"][i])
        per_layer.append(
            {
                "name": ly.name,
                "M": ly.out_channels,
                "N": ly.in_channels,
                "R": ly.out_h,
                "C": ly.out_w,
                "K": ly.kernel,
                "S": ly.stride,
                "groups": ly.groups,
                "macs": ly.macs,
                "cycles": lc,
                "bottleneck": fixed["layer_bottleneck"][i],
                "gflops": gflops(ly.ops, lc),
                "mac_util": ly.macs / (lc * TM * TN),
                **{f"bound_{k}": v for k, v in bounds[i].items()},
            }
        )
    totals = {k: sum(b[k] for b in bounds) for k in ("ideal", "channel", "spatial")}
    prologue = sum(int(fixed["layer_cycles"][i]) - bounds[i]["spatial"] for i in range(len(layers)))

    # BRAM by hand: 18 Kbit / 32 bit = 576 words per block (the library's packing), and 512,
    # the depth of a BRAM18K in its 36-bit-wide mode (the widest that holds one fp32 word).
    bits = precision.act_bits
    bram_576 = bram_by_hand(layers, d, bits, precision.weight_bits, 18 * 1024 // bits)
    bram_512 = bram_by_hand(layers, d, bits, precision.weight_bits, 512) if bits == 32 else None

    # Co-design: Tm and Tn free too, the exhaustive tuner over the whole space.
    front = TUNERS.get("exhaustive")(problem, 0, None)
    free = front.designs[0]
    free_batch = evaluate_batch(problem.table, free[None, :], part, precision, per_layer=True)
    free_cycles = int(front.cycles[0])

    # Non-square tiles over every Tr, Tc in 1..max(R, C): does the square, useful-size space
    # the script searches lose anything?
    top = int(max(max(ly.out_h, ly.out_w) for ly in layers))
    tr, tc = np.meshgrid(np.arange(1, top + 1), np.arange(1, top + 1), indexing="ij")
    rc = np.stack([tr.ravel(), tc.ravel()], axis=1)
    ns_rows = np.concatenate(
        [
            np.tile([[TM, TN]], (len(rc) * len(problem.splits), 1)),
            np.repeat(rc, len(problem.splits), axis=0),
            np.tile(problem.splits, (len(rc), 1)),
        ],
        axis=1,
    )
    ns = evaluate_batch(problem.table, ns_rows, part, precision)
    ns_valid = np.flatnonzero(ns.valid)
    ns_best = ns_valid[np.argmin(ns.cycles[ns_valid])]

    published_ms = net.ops / (PUBLISHED_GFLOPS * 1e9) * 1e3
    model_gflops = gflops(net.ops, cycles)
    return {
        "net": net_name,
        "paper_shapes": net_name == PAPER_NET,
        "part": part.name,
        "board": part.board,
        "clock_mhz": part.clock_mhz,
        "precision": precision.name,
        "dsp_per_mac": precision.dsp_per_mac,
        "dram_bits_per_cycle": part.dram_bits_per_cycle,
        "budgets": {"dsp": part.dsp, "bram18k": part.bram18k, "lut": part.lut},
        "ops": net.ops,
        "macs": net.macs,
        "fixed_unroll": {
            "tm": TM,
            "tn": TN,
            "design": _design_dict(d),
            "searched": fixed["searched"],
            "valid": fixed["valid"],
            "splits_tied": fixed["splits_tied"],
            "splits_at_tile": fixed["splits_at_tile"],
            "splits_all_compute": fixed["splits_all_compute"],
            "split_cycles_range": fixed["split_cycles_range"],
            "dsp": fixed["dsp"],
            "bram18k": fixed["bram18k"],
            "lut": fixed["lut"],
            "bandwidth": fixed["bandwidth"],
            "cycles": cycles,
            "time_ms": cycles / clock * 1e3,
            "gflops": model_gflops,
            "per_side": fixed["per_side"],
            "layers": per_layer,
            "bounds": totals,
            "prologue_epilogue_and_stalls": prologue,
            "bram18k_by_hand_576_words": bram_576,
            "bram18k_by_hand_512_words": bram_512,
            "pipeline_cross_check": {
                "cycles": stage.cycles,
                "dsp_util": stage.dsp_util,
                "bram_util": stage.bram_util,
                "energy_mj_estimate": metrics.energy_mj,
            },
            "nonsquare_best": {
                "design": [int(x) for x in ns_rows[ns_best]],
                "cycles": int(ns.cycles[ns_best]),
                "searched": len(ns_rows),
            },
        },
        "published": {
            "gflops": PUBLISHED_GFLOPS,
            "implied_ms": published_ms,
            "implied_cycles": published_ms * 1e-3 * clock,
            "model_over_published": model_gflops / PUBLISHED_GFLOPS,
        },
        "codesign": {
            "design": _design_dict(free),
            "cycles": free_cycles,
            "time_ms": free_cycles / clock * 1e3,
            "gflops": gflops(net.ops, free_cycles),
            "dsp": int(free_batch.dsp[0]),
            "bram18k": int(free_batch.bram18k[0]),
            "layer_cycles": [int(x) for x in free_batch.layer_cycles[0]],
            "layer_bottleneck": [Bottleneck(int(b)).label for b in free_batch.layer_bottleneck[0]],
            "evaluations": int(front.evaluations),
            "speedup_over_fixed": cycles / free_cycles,
        },
    }


def _pct(a: float, b: float) -> str:
    return f"{(a / b - 1) * 100:+.1f}%"


def report(r: dict[str, Any]) -> str:
    f, p, co = r["fixed_unroll"], r["published"], r["codesign"]
    d = f["design"]
    b = f["bounds"]
    units = f["tm"] * f["tn"]
    clock = r["clock_mhz"] * 1e6
    out: list[str] = []
    w = out.append

    w(
        f"FPGA'15 case study: {r['net']} conv layers, {r['precision']} "
        f"({r['dsp_per_mac']} DSPs per MAC), {r['part']} ({r['board']}) at {r['clock_mhz']:g} MHz"
    )
    w(f"  workload: {r['macs']:,} MACs = {r['ops'] / 1e9:.4f} GOP (ops = 2·MACs)")
    w(
        f"  budgets: {r['budgets']['dsp']} DSP, {r['budgets']['bram18k']} BRAM18K, "
        f"{r['budgets']['lut']:,} LUT, DRAM {r['dram_bits_per_cycle']} bits/cycle"
    )
    if not r["paper_shapes"]:
        w(
            f"  NOTE: FPGA'15 ran the grouped (2-tower) AlexNet; '{r['net']}' has other shapes, "
            "so the comparison with the published figure is only indicative."
        )
    w("")
    w(f"1. Unroll fixed at <Tm, Tn> = <{f['tm']}, {f['tn']}>; Tr = Tc and the port split searched")
    w(
        f"   {f['searched']} designs ({f['valid']} valid): best Tr = Tc = {d['tr']}, ports "
        f"Ib/Wb/Ob = {d['ib']}/{d['wb']}/{d['ob']} bits/cycle "
        f"({f['splits_tied']} port split(s) reach these cycles at this tile; ties go to the "
        "lower BRAM/energy)"
    )
    lo, hi = f["split_cycles_range"]
    w(
        f"   at Tr = Tc = {d['tr']}, {f['splits_all_compute']} of {f['splits_at_tile']} valid "
        f"port splits keep every layer compute-bound; cycles over the splits: {lo:,} .. {hi:,} "
        f"({_pct(hi, lo)})"
    )
    w(
        f"   resources: DSP {f['dsp']}/{r['budgets']['dsp']} "
        f"({f['dsp'] / r['budgets']['dsp']:.0%}), BRAM18K {f['bram18k']}/{r['budgets']['bram18k']} "
        f"({f['bram18k'] / r['budgets']['bram18k']:.0%}), LUT {f['lut']:,} (estimate), "
        f"DRAM {f['bandwidth']}/{r['dram_bits_per_cycle']} bits/cycle"
    )
    sides = "  ".join(
        f"{s['tr']}:{s['best_cycles'] / 1e6:.3f}M"
        if s["valid"]
        else f"{s['tr']}:over {'+'.join(s['violations'])} ({s['bram18k']} BRAM)"
        for s in f["per_side"]
    )
    w(f"   best cycles per Tr=Tc: {sides}")
    ns = f["nonsquare_best"]
    w(
        f"   non-square check, every Tr x Tc in 1..{max(ly['R'] for ly in f['layers'])}"
        f" ({ns['searched']:,} designs): best Tr x Tc = {ns['design'][2]} x {ns['design'][3]}, "
        f"{ns['cycles']:,} cycles ({_pct(ns['cycles'], f['cycles'])} vs the square search)"
    )
    w("")
    w("2. Per layer (model, best <64,7> design)")
    hdr = (
        f"   {'layer':<6}{'M':>5}{'N':>5}{'R':>4}{'C':>4}{'K':>4}{'S':>3}{'G':>3}"
        f"{'MACs':>13}{'cycles':>11}{'bottleneck':>12}{'GFLOPS':>8}{'MAC util':>10}"
    )
    w(hdr)
    for ly in f["layers"]:
        w(
            f"   {ly['name']:<6}{ly['M']:>5}{ly['N']:>5}{ly['R']:>4}{ly['C']:>4}{ly['K']:>4}"
            f"{ly['S']:>3}{ly['groups']:>3}{ly['macs']:>13,}{ly['cycles']:>11,}"
            f"{ly['bottleneck']:>12}{ly['gflops']:>8.2f}{ly['mac_util']:>10.1%}"
        )
    w(
        f"   {'total':<6}{'':>28}{r['macs']:>13,}{f['cycles']:>11,}{'':>12}"
        f"{f['gflops']:>8.2f}{r['macs'] / (f['cycles'] * units):>10.1%}"
    )
    w("   (MAC util = MACs / (cycles x Tm·Tn): the share of the 448 MAC units doing useful work)")
    w("")
    w(
        f"   model:     {f['cycles']:>10,} cycles = {f['time_ms']:.2f} ms at {r['clock_mhz']:g} MHz"
        f" -> {f['gflops']:.2f} GFLOPS"
    )
    w(
        f"   published: {PUBLISHED_GFLOPS:.2f} GFLOPS (measured on the VC707) -> implies "
        f"{p['implied_ms']:.2f} ms = {p['implied_cycles']:,.0f} cycles for {r['ops'] / 1e9:.4f} GOP"
    )
    w(
        f"   model / published = {p['model_over_published']:.3f} "
        f"({_pct(f['gflops'], PUBLISHED_GFLOPS)} in GFLOPS)"
    )
    w("")
    w(f"3. Cross-checks for <{f['tm']},{f['tn']}> (bounds computed by hand in this script)")
    rows = [
        ("ideal: MACs / 448, every MAC unit busy", b["ideal"]),
        ("full channel tiles: sum G·ceil(M_g/64)·ceil(N_g/7)·R·C·K²", b["channel"]),
        (f"+ full {d['tr']}x{d['tc']} spatial tiles", b["spatial"]),
        (
            "model (adds prologue/epilogue"
            + ("; no memory stalls here)" if all_compute(f) else " and memory stalls)"),
            f["cycles"],
        ),
    ]
    for label, cyc in rows:
        w(
            f"   {label:<60}{cyc:>11,} cycles {cyc / clock * 1e3:6.2f} ms "
            f"{r['ops'] / (cyc / clock) / 1e9:6.2f} GFLOPS"
        )
    w(
        "   per layer, cycles: "
        + "  ".join(
            f"{ly['name']} {ly['bound_channel']:,}/{ly['bound_spatial']:,}/{ly['cycles']:,}"
            for ly in f["layers"]
        )
        + "  (channel bound / spatial bound / model)"
    )
    pc = f["pipeline_cross_check"]
    w(
        f"   pipeline evaluator on the same design: {pc['cycles']:,} cycles (same), "
        f"DSP {pc['dsp_util']:.0%}, BRAM {pc['bram_util']:.0%}, "
        f"energy {pc['energy_mj_estimate']:.1f} mJ/image (estimated power coefficients)"
    )
    w("")
    cd = co["design"]
    w(
        f"   co-design, Tm/Tn free (exhaustive tuner, {co['evaluations']:,} designs): "
        f"<Tm,Tn,Tr,Tc> = <{cd['tm']},{cd['tn']},{cd['tr']},{cd['tc']}>, "
        f"ports {cd['ib']}/{cd['wb']}/{cd['ob']}"
    )
    w(
        f"     {co['cycles']:,} cycles = {co['time_ms']:.2f} ms -> {co['gflops']:.2f} GFLOPS, "
        f"DSP {co['dsp']}, BRAM18K {co['bram18k']}; {co['speedup_over_fixed']:.3f}x over <64,7>"
    )
    w(
        "     per layer: "
        + "  ".join(
            f"{ly['name']} {c:,} ({bn})"
            for ly, c, bn in zip(
                f["layers"], co["layer_cycles"], co["layer_bottleneck"], strict=True
            )
        )
    )
    w("")
    w("4. Why the numbers differ")
    for para in explain(r):
        w("   - " + para)
    return "\n".join(out)


def _lanes(channels: int, lanes: int, kind: str) -> str:
    tiles = math.ceil(channels / lanes)
    return f"{channels} channels on {tiles}x{lanes} {kind} lanes"


def all_compute(f: dict[str, Any]) -> bool:
    return all(ly["bottleneck"] == "compute" for ly in f["layers"])


def explain(r: dict[str, Any]) -> list[str]:
    f, p, co = r["fixed_unroll"], r["published"], r["codesign"]
    b = f["bounds"]
    units = f["tm"] * f["tn"]
    worst = max(f["layers"], key=lambda ly: ly["bound_channel"] - ly["bound_ideal"])
    worst_share = (worst["bound_channel"] - worst["bound_ideal"]) / max(
        1, b["channel"] - b["ideal"]
    )
    channel_cost = b["channel"] - b["ideal"]
    spatial_cost = b["spatial"] - b["channel"]
    pro = f["prologue_epilogue_and_stalls"]
    faster = p["model_over_published"] >= 1
    gap = p["implied_cycles"] - f["cycles"]
    ref = (
        "The measured run"
        if r["paper_shapes"]
        else "The published rate applied to this workload (not the one measured)"
    )
    moves = ", ".join(
        f"{ly['name']} {_pct(c, ly['cycles'])}"
        for ly, c in zip(f["layers"], co["layer_cycles"], strict=True)
    )
    moves += " in cycles vs <64,7>"
    gap_ms = p["implied_ms"] - f["time_ms"]
    paras = [
        f"The model is analytical: {f['cycles']:,} cycles is what coexplore's version of "
        f"the FPGA'15 loop-nest equations gives for this design ({f['gflops']:.2f} GFLOPS). "
        f"The published {PUBLISHED_GFLOPS:.2f} GFLOPS is measured on the board. The model is "
        f"{abs(p['model_over_published'] - 1):.1%} {'faster' if faster else 'slower'} "
        f"({f['cycles']:,} vs an implied {p['implied_cycles']:,.0f} cycles).",
        (
            "Every layer of the chosen design is compute-bound in the model: with double "
            "buffering each tile's input, weight and output transfers fit under its K²·Tr·Tc "
            "compute cycles, so DRAM costs no cycles. "
            if all_compute(f)
            else "Some layers are memory-bound in the model (see the bottleneck column). "
        )
        + f"The model takes the {r['dram_bits_per_cycle']} bits/cycle of the board's DDR3 "
        "peak as sustained bandwidth and has no DRAM latency, refresh, burst set-up, host or "
        "per-layer control cost; whatever these cost on the board is inside the measured "
        "figure, and the model cannot say how much. "
        + (
            f"{ref} takes {gap:,.0f} cycles ({gap_ms:.2f} ms) more than the model."
            if gap >= 0
            else f"{ref} takes {-gap:,.0f} cycles ({-gap_ms:.2f} ms) fewer than the model."
        ),
        f"Where the model's cycles go above the ideal {b['ideal']:,} (all {units} MAC units "
        f"busy): partial channel tiles cost {channel_cost:,} cycles "
        f"({channel_cost / f['cycles']:.1%} of the total), {worst_share:.0%} of that in "
        f"{worst['name']} ({_lanes(worst['M'] // worst['groups'], f['tm'], 'output')}, "
        f"{_lanes(worst['N'] // worst['groups'], f['tn'], 'input')}: "
        f"{worst['mac_util']:.0%} MAC utilisation); partial "
        f"{f['design']['tr']}x{f['design']['tc']} spatial tiles cost "
        f"{spatial_cost:,} ({spatial_cost / f['cycles']:.1%}), because the model charges the "
        "last, partial tile of each row and column as a full one; "
        + (
            "the pipeline fill and drain (one tile stage L1 plus one output store per layer) "
            if all_compute(f)
            else "the pipeline fill and drain and the memory stalls "
        )
        + f"cost {pro:,} ({pro / f['cycles']:.1%}).",
        f"The hand bound with full channel tiles, {b['channel']:,} cycles "
        f"({r['ops'] / (b['channel'] / (r['clock_mhz'] * 1e6)) / 1e9:.2f} GFLOPS), is a "
        "floor for any <64,7> engine in this loop order; the model sits "
        f"{_pct(f['cycles'], b['channel'])} above it and {ref.lower()} "
        f"{_pct(p['implied_cycles'], b['channel'])} above it.",
        "Resources are counted from the model's own rules: 5 DSPs per fp32 MAC gives "
        f"{f['dsp']} DSPs; BRAM18Ks are double-buffered banks of 32-bit words, Tn input, Tm "
        f"output and Tm·Tn weight banks ({f['bram18k']} in all), and LUTs are an estimate. "
        f"The library packs 18 Kbit / 32 bit = 576 fp32 words into a BRAM18K (by hand: "
        f"{f['bram18k_by_hand_576_words']}); a BRAM18K in its 512x36 (simple dual-port) "
        f"mode holds 512, which gives {f['bram18k_by_hand_512_words']} for this design. "
        "The counts are the model's, not the paper's.",
        f"Co-design: freeing Tm and Tn lets the exhaustive tuner pick "
        f"<{co['design']['tm']},{co['design']['tn']}> with {co['dsp']} DSPs for "
        f"{co['gflops']:.2f} GFLOPS in the model, {co['speedup_over_fixed']:.2f}x the <64,7> "
        f"design under the same equations. Per layer: {moves}. This is a model-to-model "
        "comparison; it has not been built or measured.",
    ]
    if not r["paper_shapes"]:
        paras.append(
            f"'{r['net']}' is not the workload FPGA'15 measured ({PAPER_NET} is), so the ratio "
            "to the published GFLOPS compares different workloads."
        )
    return paras


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument(
        "--net",
        default=PAPER_NET,
        choices=["alexnet-2tower", "alexnet"],
        help="AlexNet variant (default: the grouped shapes FPGA'15 accelerates)",
    )
    args = ap.parse_args(argv)
    result = run(args.net)
    if args.json:
        print(json.dumps(result, indent=2, default=_jsonable))
    else:
        print(report(result))
    return 0


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


if __name__ == "__main__":
    sys.exit(main())
