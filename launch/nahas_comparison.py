"""NAHAS on NAS-Bench-201: the cell and the Edge-TPU-like accelerator searched jointly, against
platform-aware NAS on the fixed default accelerator, the two sub-spaces searched apart, and
random search; writes docs/nahas.md.

Every method searches the ``nb201-edgetpu`` scenario (CIFAR-10 test accuracy from the built-in
table; latency and energy from the spatial model, every layer mapped by the mapper) under a
latency target, with the same budget of **samples**: distinct (cell, accelerator) pairs priced.

1. **joint**: the agent emits the cell's tokens and the accelerator's (cores, SIMD units, lanes,
   PE memory, register file), masked to the default design's area;
2. **platform-aware**: the same agent on the cell's tokens, the accelerator fixed at the default
   (ZigZag's 1,024-MAC edge TPU);
3. **separate**: platform-aware NAS for ``1 - hw_share`` of the budget, then the accelerator
   tuned for its winner (the best reward): random designs within the area budget for the rest;
4. **random**: uniform joint samples.

The four targets are quantiles (10/25/50/75%) of the latency of 2,000 random cells on the default
design, fixed by that rule before any search. The **oracles** come from pricing every cell on every
design within budget (a design's layer results once, then a matrix product).

Runs are kept as JSON under ``OUT/<target>/<method>-s<seed>.json`` and the mapped layers in
``OUT/layers.pkl``, so an interrupted comparison continues where it stopped.

    # the published docs/nahas.md: 2 DRAM ports x 4 targets x 4 methods x 10 seeds, 500 samples
    .venv/bin/python launch/nahas_comparison.py --doc docs/nahas.md
    # a smoke test (2 seeds, 60 samples)
    .venv/bin/python launch/nahas_comparison.py --quick
    # the targets and the oracles only
    .venv/bin/python launch/nahas_comparison.py --targets
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from coexplore.config import load_mapping
from coexplore.core.markdown import md_table
from coexplore.platforms.spatial import family
from coexplore.scenario import apply_overrides, scenario_from_dict, scenario_path
from coexplore.tables import ACCURACY_TABLES
from coexplore.workloads.problem import workload_from_network

ENV = "nb201-edgetpu"
QUANTILES = (0.10, 0.25, 0.50, 0.75)
METHODS = ("joint", "platform-aware", "separate", "random")
LABELS = {
    "joint": "joint (cell + accelerator)",
    "platform-aware": "platform-aware NAS (default accelerator)",
    "separate": "separate (NAS, then accelerator)",
    "random": "random joint samples",
}
COLORS = {"joint": "tab:blue", "platform-aware": "tab:orange", "separate": "tab:green",
          "random": "tab:gray"}  # fmt: skip
INPUT = (3, 32, 32)
REWARD_CHOICES = ("mnas-hard", "mnas-soft", "tunas-abs")
REWARD_TEXT = {
    "mnas-hard": "MnasNet's hard form: acc within the target, acc·(lat/T)^−1 over it",
    "mnas-soft": "MnasNet's soft form: acc·(lat/T)^−0.07 on both sides",
    "tunas-abs": "TuNAS absolute: acc − 0.1·|lat/T − 1|",
}


def scenario(target: float, fixed: bool, reward: str, dram_bw: float):
    """The scenario at ``target`` seconds; ``fixed``: the default accelerator, no hardware tokens;
    ``dram_bw``: words per cycle of the DRAM port."""
    source = scenario_path(ENV)
    overrides = [f"hardware.dram_bw={dram_bw!r}"]
    overrides += ["hardware.search_hardware=false"] if fixed else []
    data = apply_overrides(load_mapping(source), overrides)
    name, _, form = reward.partition("-")  # mnas-hard, mnas-soft, tunas-abs
    if name == "tunas":
        name, form = "tunas-abs", ""
    data["reward"] = {"name": name, "metric": "latency_s", "target": target}
    if form:
        data["reward"]["form"] = form
    return scenario_from_dict(data, str(source))


# --- the mapped layers, kept between runs --------------------------------------------------------
def _model_stamp() -> str:
    """A hash of the spatial model's sources: a cache from other code is not reused."""
    root = Path(family.__file__).parent
    text = b"".join(p.read_bytes() for p in sorted(root.glob("*.py")))
    return hashlib.sha256(text).hexdigest()[:16]


def load_layers(path: Path) -> None:
    if path.exists():
        stamp, cache = pickle.loads(path.read_bytes())
        if stamp == _model_stamp():
            family.LAYER_CACHE.update(cache)


def save_layers(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps((_model_stamp(), dict(family.LAYER_CACHE))))
    tmp.replace(path)


# --- every cell on every design ------------------------------------------------------------------
class Oracle:
    """Latency and energy of all 15,625 cells on every design within the area budget.

    A cell's latency is the sum over its loop nests of count x the nest's mapped cycles, so the
    (cells x nests) count matrix times the (nests x designs) table of mapped layers gives every
    pair at once (checked against the platform on sampled pairs)."""

    def __init__(self, dram_bw: float, progress: bool = True) -> None:
        scen = scenario(1.0, False, "mnas-hard", dram_bw)
        self.platform = scen.platform()
        self.space = scen.space
        self.design_space = self.platform.design_space
        acc = ACCURACY_TABLES.get(scen.slow_phase.table)
        table = acc.table()
        self.archs = list(table.archs)
        self.acc = table.column(acc.column) * acc.scale
        problems: dict[tuple, object] = {}
        rows = []
        for arch in self.archs:
            net = self.space.parse(arch).network(INPUT, 10)
            row: dict[tuple, int] = {}
            for problem, count in workload_from_network(net, 1).layers:
                problems.setdefault(problem.key, problem)
                row[problem.key] = row.get(problem.key, 0) + count
            rows.append(row)
        self.keys = list(problems)
        self.counts = np.array([[r.get(k, 0) for k in self.keys] for r in rows], float)
        self.points = self.design_space.feasible_points()
        self.default = tuple(self.design_space.baseline_indices())
        cycles = np.empty((len(self.keys), len(self.points)))
        energy = np.empty_like(cycles)
        clock = np.empty(len(self.points))
        from tqdm import tqdm

        bar = tqdm(self.points, desc="mapping every design", disable=not progress, unit="design")
        for j, point in enumerate(bar):
            template = self.design_space.design(point)
            clock[j] = template.clock_hz
            for i, key in enumerate(self.keys):
                layer = self.platform.map_problem(problems[key], template)
                cycles[i, j], energy[i, j] = layer.cycles, layer.energy_j
        self.latency = self.counts @ cycles / clock  # (cells, designs) seconds
        self.energy = self.counts @ energy  # (cells, designs) J per image
        self.default_j = next(j for j, p in enumerate(self.points) if tuple(p) == self.default)

    def check(self, rng: np.random.Generator, n: int = 20) -> None:
        """Matrix results equal the platform's on ``n`` random pairs."""
        for _ in range(n):
            c, j = rng.integers(len(self.archs)), rng.integers(len(self.points))
            net = self.space.parse(self.archs[c]).network(INPUT, 10)
            r = self.platform.map_network(net, self.design_space.design(self.points[j]))
            assert np.isclose(r.latency_s, self.latency[c, j], rtol=1e-9), (c, j)
            assert np.isclose(r.energy_j, self.energy[c, j], rtol=1e-9), (c, j)

    def targets(self, rng: np.random.Generator) -> list[float]:
        cells = rng.choice(len(self.archs), 2000, replace=False)
        lat = self.latency[cells, self.default_j]
        return [float(f"{np.quantile(lat, q):.3g}") for q in QUANTILES]

    def best(self, target: float) -> dict:
        """The best accuracy within ``target`` on the default design and on any design, and the
        least energy per image at that accuracy."""
        out = {}
        for name, cols in (("fixed", [self.default_j]), ("any", slice(None))):
            lat, en = self.latency[:, cols], self.energy[:, cols]
            ok = lat <= target
            acc = np.where(ok.any(axis=1), self.acc, -np.inf)
            c = int(np.argmax(acc))
            energy = float(np.where(ok[c], en[c], np.inf).min())
            out[name] = {"acc": float(self.acc[c]), "arch": self.archs[c], "energy_j": energy,
                         "feasible": float(ok.any(axis=1).mean())}  # fmt: skip
        return out

    def designs_within(self) -> int:
        return len(self.points)


# --- one run -------------------------------------------------------------------------------------
def _sample(record, design_names) -> dict:
    design = record.hardware["design"] if record.hardware else {}
    return {
        "arch": record.arch,
        "design": design or None,  # None: the default accelerator
        "acc": record.test_acc,
        "latency_s": record.metric("latency_s"),
        "energy_j": record.metric("energy_j"),
        "reward": record.reward,
    }


def search(scen, agent: str, seed: int, budget: int, samples: list, cap: int) -> list:
    """Run ``agent`` until ``budget`` distinct candidates are priced (or ``cap`` proposals)."""
    from coexplore.env.environment import CoExploreEnv
    from coexplore.search.agents import make_agent

    env = CoExploreEnv(scen)
    seen: set[tuple] = set()
    proposals = [0]
    start = len(samples)

    def on_record(record) -> None:
        proposals[0] += 1
        key = tuple(record.tokens)
        if key in seen or len(samples) - start >= budget:
            return
        seen.add(key)
        samples.append(_sample(record, None))

    env.listeners.append(on_record)
    searcher = make_agent(agent, env, seed)
    while len(samples) - start < budget and proposals[0] < cap:
        searcher.run(min(budget, cap - proposals[0]))
    env.close()
    return samples


def tune_hardware(scen, winner: dict, seed: int, budget: int, samples: list) -> None:
    """The separate search's second half: random designs within budget for the winning cell."""
    from coexplore.scenario import make_evaluator

    evaluator = make_evaluator(scen)
    space = evaluator.platform.design_space
    points = space.feasible_points()
    rng = np.random.default_rng(seed + 10_000)
    sw = evaluator.space.to_tokens(evaluator.space.parse(winner["arch"]))
    default = tuple(space.baseline_indices())
    order = [p for p in rng.permutation(len(points)) if tuple(points[p]) != default]
    for p in order[:budget]:
        samples.append(_sample(evaluator.evaluate([*sw, *map(int, points[p])]), None))
    evaluator.close()


def run_one(target: float, method: str, seed: int, bw: float, args) -> dict:
    path = Path(args.out) / args.reward / f"dram{bw:g}" / f"{target:g}" / f"{method}-s{seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    start = time.perf_counter()
    samples: list[dict] = []
    cap = 20 * args.budget

    def scen(fixed: bool):
        return scenario(target, fixed, args.reward, bw)

    if method == "joint":
        search(scen(False), args.agent, seed, args.budget, samples, cap)
    elif method == "platform-aware":
        search(scen(True), args.agent, seed, args.budget, samples, cap)
    elif method == "random":
        search(scen(False), "random", seed, args.budget, samples, cap)
    else:
        hw = round(args.budget * args.hw_share)
        search(scen(True), args.agent, seed, args.budget - hw, samples, cap)
        winner = max(samples, key=lambda s: s["reward"])
        tune_hardware(scen(False), winner, seed, hw, samples)
    result = {"target_s": target, "method": method, "seed": seed, "agent": args.agent,
              "reward": args.reward, "samples": samples,
              "wall_s": time.perf_counter() - start}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(path)
    return result


# --- measures ------------------------------------------------------------------------------------
def meets(s: dict, target: float) -> bool:
    return s["latency_s"] is not None and s["latency_s"] <= target


def best_acc(run: dict) -> float | None:
    ok = [s["acc"] for s in run["samples"] if meets(s, run["target_s"])]
    return max(ok) if ok else None


def curve(run: dict) -> list[float]:
    """Best accuracy within the target after each sample (NaN before the first)."""
    out, best = [], float("nan")
    for s in run["samples"]:
        if meets(s, run["target_s"]) and not s["acc"] <= best:
            best = s["acc"]
        out.append(best)
    return out


def reach(run: dict, level: float) -> tuple[int | None, float | None]:
    """(samples until a candidate within the target reaches ``level``, least energy of those)."""
    first, energy = None, None
    for i, s in enumerate(run["samples"], 1):
        if meets(s, run["target_s"]) and s["acc"] >= level - 1e-12:
            first = first or i
            energy = s["energy_j"] if energy is None else min(energy, s["energy_j"])
    return first, energy


def final_pick(run: dict) -> dict:
    """What the search returns: its best-reward candidate."""
    return max(run["samples"], key=lambda s: s["reward"])


def violations(run: dict) -> float:
    return float(np.mean([not meets(s, run["target_s"]) for s in run["samples"]]))


def _mean_sd(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    values = [v * scale for v in values if v is not None]
    if not values:
        return "–"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f}"


def summarise(results: dict, oracle: Oracle, targets: list[float], args) -> dict:
    out = {}
    for t in targets:
        runs = results[t]
        medians = {m: statistics.median([best_acc(r) or 0.0 for r in runs[m]]) for m in METHODS}
        level = min(medians.values())  # the accuracy every method reaches (median run)
        rows = {}
        for m in METHODS:
            reached = [reach(r, level) for r in runs[m]]
            picks = [final_pick(r) for r in runs[m]]
            rows[m] = {
                "best_acc": [best_acc(r) for r in runs[m]],
                "reached": sum(f is not None for f, _ in reached),
                "samples_to_level": [f for f, _ in reached if f is not None],
                "energy_at_level": [e for _, e in reached if e is not None],
                "violation_share": [violations(r) for r in runs[m]],
                "final_misses": sum(not meets(p, t) for p in picks),
                "final_energy": [p["energy_j"] for p in picks],
                "final_designs": [p["design"] for p in picks],
                "wall_s": [r["wall_s"] for r in runs[m]],
            }
        out[t] = {"level": level, "oracle": oracle.best(t), "methods": rows}
    return out


# --- report --------------------------------------------------------------------------------------
def plot(results: dict, oracle: Oracle, targets: list[float], path: Path, budget: int) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets), 3.6), sharey=True)
    for ax, t in zip(np.atleast_1d(axes), targets, strict=True):
        for m in METHODS:
            c = np.array([curve(r) for r in results[t][m]]) * 100
            x = np.arange(1, c.shape[1] + 1)
            ax.plot(x, np.nanmean(c, axis=0), color=COLORS[m], label=LABELS[m])
        best = oracle.best(t)
        ax.axhline(best["fixed"]["acc"] * 100, color="tab:orange", ls=":", lw=1)
        ax.axhline(best["any"]["acc"] * 100, color="tab:blue", ls=":", lw=1)
        ax.set_title(f"target {t * 1e3:.3g} ms")
        ax.set_xlabel("samples")
        ax.set_xlim(1, budget)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("best test acc. within target (%)\n"
                                      "mean of the seeds that have one")  # fmt: skip
    np.atleast_1d(axes)[0].set_ylim(80, None)
    np.atleast_1d(axes)[0].legend(fontsize=7, loc="lower right")
    fig.suptitle("dotted: the best cell within the target on the default design (orange) "
                 "and on any design within budget (blue); separate follows platform-aware "
                 "until its accelerator phase", fontsize=8)  # fmt: skip
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def frontier_plot(oracle: Oracle, path: Path, bw: float) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lat_fixed = oracle.latency[:, oracle.default_j]
    lat_any = oracle.latency.min(axis=1)
    grid = np.quantile(lat_fixed, np.linspace(0.01, 1, 80))
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for lat, label, color in ((lat_fixed, "default design", "tab:orange"),
                              (lat_any, "best design within budget", "tab:blue")):  # fmt: skip
        best = [oracle.acc[lat <= g].max() * 100 if (lat <= g).any() else np.nan for g in grid]
        ax.plot(grid * 1e3, best, color=color, label=label)
    ax.set_xlabel("latency target (ms)")
    ax.set_ylabel("best CIFAR-10 test accuracy (%)")
    ax.set_title(f"NAS-Bench-201 on the Edge-TPU-like accelerator, DRAM {bw:g} B/cycle: "
                 "oracle frontier", fontsize=9)  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _design_text(design: dict | None) -> str:
    if not design:
        return "default"
    d = design
    return (f"{d['x_pes']}×{d['y_pes']}×{d['n_simds']}×{d['n_lanes']}, "
            f"{d['pe_memory'] / 2**20:g} MiB, {d['register_file'] / 2**10:g} KiB")  # fmt: skip


def header(args, command: str) -> list[str]:
    return [
        "# NAHAS: NAS-Bench-201 cells and an Edge-TPU-like accelerator searched together",
        "",
        "<!-- generated by launch/nahas_comparison.py; the discussion is below the marker -->",
        "",
        f"Generated by `{command}`.",
        "",
        "Zhou et al. (NAHAS, 2021) claim that searching the network and the accelerator together "
        "gives about 1% higher ImageNet top-1 than platform-aware NAS at every latency target, "
        "up to 2× lower energy at equal accuracy, and (ICLR version) half the samples and fewer "
        "latency-target violations than optimising the two sub-spaces apart. Here the same "
        "comparison runs on NAS-Bench-201 (CIFAR-10 test accuracy from the built-in table) with "
        "the `edge-tpu-like` template of the spatial model (`docs/spatial.md`), once with "
        "ZigZag's 64-bit DRAM port and once with a wider one (`hardware.dram_bw`).",
        "",
    ]


def write_doc(summary: dict, oracle: Oracle, targets: list[float], args, figures: list[str],
              bw: float) -> str:  # fmt: skip
    space = oracle.design_space
    lines = [
        f"## DRAM port: {bw:g} words (bytes) per cycle",
        "",
        "### Setting",
        "",
        f"- Scenario `{ENV}`; reward `{args.reward}` ({REWARD_TEXT[args.reward]}); agent "
        f"`{args.agent}` for the joint, platform-aware and separate searches.",
        f"- Hardware tokens: cores x_pes, y_pes ∈ {{1,2,4,6,8}}, SIMD units ∈ {{16,…,128}}, "
        f"lanes ∈ {{1,…,8}}, PE memory 0.5–4 MiB, register file 8–64 KiB: {space.size():,} "
        f"points, of which **{oracle.designs_within()}** fit the default design's area "
        f"({space.budget.area_mm2:.3f} mm²; up to 2,048 MACs when memory shrinks).",
        "- Default (fixed) accelerator: ZigZag's edge TPU, 1 core × 128 SIMD units × 8 lanes = "
        "1,024 MACs, 2 MiB PE memory, 32 KiB weight SRAM, 500 MHz.",
        f"- Budget: **{args.budget} samples** (distinct cell + accelerator pairs priced) per run, "
        f"{args.seeds} seeds per method and target. Separate: {1 - args.hw_share:.0%} NAS on "
        f"the default, then {args.hw_share:.0%} random designs for its best-reward cell.",
        "- Targets: the 10/25/50/75% quantiles of 2,000 random cells' latency on the default "
        "design: " + ", ".join(f"{t * 1e3:.3g} ms" for t in targets) + ".",
        "",
        "### Oracles: every cell on every design",
        "",
        md_table(
            [
                "target",
                "cells within (default)",
                "best acc, default",
                "best acc, any design",
                "gap (points)",
                "energy µJ, default",
                "energy µJ, any design",
            ],  # fmt: skip
            [
                [
                    f"{t * 1e3:.3g} ms",
                    f"{o['fixed']['feasible']:.1%}",
                    f"{o['fixed']['acc'] * 100:.2f}",
                    f"{o['any']['acc'] * 100:.2f}",
                    f"{(o['any']['acc'] - o['fixed']['acc']) * 100:+.2f}",
                    f"{o['fixed']['energy_j'] * 1e6:.1f}",
                    f"{o['any']['energy_j'] * 1e6:.1f}",
                ]
                for t in targets
                for o in [summary[t]["oracle"]]
            ],  # fmt: skip
        ),
        "",
        f"![oracle frontier]({figures[1]})",
        "",
        "### Searches",
        "",
        "Best test accuracy (%) among the sampled candidates that meet the target, mean ± sd "
        "over seeds:",
        "",
        md_table(
            ["method", *(f"{t * 1e3:.3g} ms" for t in targets)],
            [
                [LABELS[m], *(_mean_sd(summary[t]["methods"][m]["best_acc"], 100) for t in targets)]
                for m in METHODS
            ],  # fmt: skip
        ),
        "",
        "Joint minus platform-aware, in points (mean of seeds): "
        + ", ".join(
            f"{t * 1e3:.3g} ms: " + f"{_gap(summary[t], 'joint', 'platform-aware'):+.2f}"
            for t in targets
        )
        + ".",
        "",
        f"![best so far]({figures[0]})",
        "",
        "At the accuracy every method reaches (the lowest of the methods' median best "
        "accuracies): runs that reach it, samples until they do (median), and the least energy "
        "per image among their candidates within the target at that accuracy (median µJ):",
        "",
    ]
    rows = []
    for t in targets:
        s = summary[t]
        for m in METHODS:
            r = s["methods"][m]
            rows.append([
                f"{t * 1e3:.3g} ms" if m == METHODS[0] else "",
                f"{s['level'] * 100:.2f}" if m == METHODS[0] else "",
                LABELS[m],
                f"{r['reached']}/{args.seeds}",
                statistics.median(r["samples_to_level"]) if r["samples_to_level"] else "–",
                f"{statistics.median(r['energy_at_level']) * 1e6:.1f}"
                if r["energy_at_level"] else "–",
            ])  # fmt: skip
    lines += [md_table(["target", "accuracy (%)", "method", "reached", "samples",
                        "energy µJ"], rows), ""]  # fmt: skip
    lines += [
        "Energy at that accuracy, platform-aware ÷ joint (medians): "
        + ", ".join(
            f"{t * 1e3:.3g} ms: {_ratio(summary[t], 'platform-aware', 'joint')}" for t in targets
        )
        + "; separate ÷ joint: "
        + ", ".join(f"{t * 1e3:.3g} ms: {_ratio(summary[t], 'separate', 'joint')}" for t in targets)
        + ".",
        "",
        "Latency-target violations: the share of sampled candidates over the target (mean ± sd "
        "over seeds), and how many runs' final pick (best reward) misses it:",
        "",
        md_table(
            ["method", *(f"{t * 1e3:.3g} ms" for t in targets)],
            [
                [
                    LABELS[m],
                    *(
                        f"{_mean_sd(summary[t]['methods'][m]['violation_share'], 100, 1)}% "
                        f"({summary[t]['methods'][m]['final_misses']}/{args.seeds})"
                        for t in targets
                    ),
                ]
                for m in METHODS
            ],  # fmt: skip
        ),
        "",
        "The joint search's final accelerators (cores x × y × SIMD units × lanes, PE memory, "
        "register file), by target:",
        "",
    ]
    for t in targets:
        designs = summary[t]["methods"]["joint"]["final_designs"]
        counts: dict[str, int] = {}
        for d in designs:
            counts[_design_text(d)] = counts.get(_design_text(d), 0) + 1
        top = sorted(counts.items(), key=lambda kv: -kv[1])[:3]
        lines.append(f"- {t * 1e3:.3g} ms: " + "; ".join(f"{k} ({v})" for k, v in top))
    wall = sum(sum(summary[t]["methods"][m]["wall_s"]) for t in targets for m in METHODS)
    lines += ["", f"Search time, all runs: {wall:.0f} s (the mapped layers cached).", ""]
    return "\n".join(lines)


def _gap(s: dict, a: str, b: str) -> float:
    """Mean best accuracy of method ``a`` minus ``b``, in points (a run with none counts 0)."""
    mean = {m: np.mean([v or 0.0 for v in s["methods"][m]["best_acc"]]) for m in (a, b)}
    return float(mean[a] - mean[b]) * 100


def _ratio(s: dict, num: str, den: str) -> str:
    a, b = s["methods"][num]["energy_at_level"], s["methods"][den]["energy_at_level"]
    if not a or not b:
        return "–"
    return f"{statistics.median(a) / statistics.median(b):.2f}×"


def keep_discussion(path: Path, text: str) -> str:
    marker = "<!-- discussion -->"
    if path.exists() and marker in path.read_text():
        return text + "\n" + marker + path.read_text().split(marker, 1)[1]
    return text + "\n" + marker + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--out", default="runs/nahas", help="run directory (resumable)")
    ap.add_argument("--doc", help="write the report here (docs/nahas.md)")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget", type=int, default=500, help="samples per run")
    ap.add_argument("--agent", default="rea", help="agent of the joint/platform-aware searches")
    ap.add_argument(
        "--reward",
        default="mnas-hard",
        choices=REWARD_CHOICES,
        help="mnas-hard: acc within the target, acc·T/lat over it; mnas-soft: "
        "acc·(lat/T)^-0.07 (ranks candidates the same at every target)",
    )
    ap.add_argument("--dram-bw", default="8,64",
                    help="DRAM port widths in words per cycle, comma-separated")  # fmt: skip
    ap.add_argument("--hw-share", type=float, default=0.2,
                    help="the separate search's share of samples for the accelerator")  # fmt: skip
    ap.add_argument("--targets", action="store_true", help="print the targets and oracles only")
    ap.add_argument("--quick", action="store_true", help="2 seeds, 60 samples (a smoke test)")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.budget = 2, 60
        args.out = args.out + "-quick" if args.out == "runs/nahas" else args.out
    out = Path(args.out)
    layers = out / "layers.pkl"
    load_layers(layers)
    command = ".venv/bin/python launch/nahas_comparison.py " + shlex.join(
        argv if argv is not None else sys.argv[1:]
    )
    sections, report = [], {}
    for bw in (float(b) for b in args.dram_bw.split(",")):
        oracle = Oracle(bw, progress=sys.stderr.isatty())
        save_layers(layers)
        oracle.check(np.random.default_rng(1))
        targets = oracle.targets(np.random.default_rng(0))
        if args.targets:
            for t in targets:
                print(f"dram {bw:g} target {t * 1e3:.3g} ms: {json.dumps(oracle.best(t))}")
            continue
        results: dict = {t: {m: [] for m in METHODS} for t in targets}
        from tqdm import tqdm

        jobs = [(t, m, s) for t in targets for m in METHODS for s in range(args.seeds)]
        for t, m, s in tqdm(jobs, desc=f"runs, dram {bw:g}", disable=not sys.stderr.isatty()):
            results[t][m].append(run_one(t, m, s, bw, args))
        save_layers(layers)
        summary = summarise(results, oracle, targets, args)
        report[f"{bw:g}"] = {f"{t:g}": v for t, v in summary.items()}
        if args.doc:
            doc = Path(args.doc)
            img = doc.parent / "nahas_figures"
            figures = [plot(results, oracle, targets, img / f"best_so_far_dram{bw:g}.png",
                            args.budget),
                       frontier_plot(oracle, img / f"frontier_dram{bw:g}.png", bw)]  # fmt: skip
            rel = [str(f.relative_to(doc.parent)) for f in figures]
            sections.append(write_doc(summary, oracle, targets, args, rel, bw))
        for t in targets:
            print(f"dram {bw:g}, target {t * 1e3:.3g} ms (level {summary[t]['level']:.4f}):")
            for m in METHODS:
                r = summary[t]["methods"][m]
                print(f"  {m:15s} best {_mean_sd(r['best_acc'], 100)}  reached {r['reached']}"
                      f"  violations {_mean_sd(r['violation_share'], 100, 1)}%"
                      f"  final misses {r['final_misses']}", file=sys.stderr)  # fmt: skip
    if args.json:
        print(json.dumps(report, default=str))
    if args.doc and sections:
        doc = Path(args.doc)
        text = "\n".join(header(args, command.strip())) + "\n" + "\n".join(sections)
        doc.write_text(keep_discussion(doc, text))
        print(f"wrote {doc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
