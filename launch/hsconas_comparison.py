"""HSCoNAS against plain evolution, random search and PPO at equal budgets; writes docs/hsconas.md.

Two settings, three latency targets each, the same seeds for every method:

- ``cpu``: the ``mnist5k-hsconas`` scenario: a 4-layer chain space (kernels 3/5, filters
  8–32, strides 1/2: 65,536 networks) on 16×16 digits, every candidate trained (2 epochs on
  2,000 images); latency from a predictor fitted on this CPU (batch 1, one pinned thread) with
  every kernel of the space measured, so predictions never measure and repeat exactly. The
  targets are the 10%, 30% and 60% quantiles of the predicted latency over the whole space. The
  final pick of every run is measured afterwards (alone), so the doc says whether it meets the
  target on the device itself. Budget: 16 trained candidates. One ablation runs here: HSCoNAS
  whose channel scaling aims 10% inside the target (``margin``).
- ``nb201``: the ``nb201-table`` scenario: NAS-Bench-201 cells with CIFAR-10 accuracy and the
  Pixel 2's measured latency looked up in the tables; targets at the 10%, 25% and 50% latency
  quantiles of the 15,625 cells. Budget: 300 queried cells. Ablations run here (cheap): HSCoNAS
  without shrinking, with shrinking judged on 3 samples, and plain evolution and random search
  with the scenario's ``shrinking:`` (shrinking as every agent gets it).

The budget counts distinct candidates whose accuracy was asked for (trained / looked up); a
candidate pruned by the fast phase, or proposed again, costs none (the NAS-Bench-201 benchmark's
rule). A run's curve is its best validation accuracy within the target after each query (on
NAS-Bench-201 the table's test accuracy is the one accuracy there is). Runs are kept in
``OUT/<setting>/<target>/<method>-s<seed>.json`` as they finish: an interrupted comparison
continues where it stopped; the predictor is ``OUT/chain16-cpu.predictor`` (``--refit`` fits
it again).

    # the published docs/hsconas.md (~50 min alone: the CPU setting trains ~1,500 networks)
    .venv/bin/python launch/hsconas_comparison.py --doc docs/hsconas.md
    # a smoke test (~2 min)
    .venv/bin/python launch/hsconas_comparison.py --quick
    # the targets only
    .venv/bin/python launch/hsconas_comparison.py --targets
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from nb201_benchmark import agent_params, at, mean_sd, p_greater, save_result

from coexplore.config import load_mapping
from coexplore.core.markdown import md_table
from coexplore.scenario import apply_overrides, scenario_from_dict, scenario_path

MARKER = "<!-- discussion: hand-written below this line; the script keeps it -->"


@dataclass(frozen=True)
class Method:
    name: str
    label: str
    agent: str  # an agent, or a variant NAME:KEY=VALUE,...
    overrides: tuple[str, ...] = ()
    color: str = "tab:gray"


METHODS = {
    m.name: m
    for m in (
        Method("hsconas", "HSCoNAS", "hsconas", color="tab:red"),
        Method("evolution", "plain evolution (rea)", "rea", color="tab:blue"),
        Method("random", "random search", "random", color="tab:gray"),
        Method("ppo", "PPO", "ppo", color="tab:purple"),
    )
}
SHRINK = "shrinking.generation=16"  # the scenario's shrinking, for any agent
ABLATIONS = {
    m.name: m
    for m in (
        Method("hsconas-margin", "HSCoNAS, 10% margin", "hsconas:margin=0.1", (), "k"),
        Method("hsconas-noshrink", "HSCoNAS, no shrinking", "hsconas:shrink=false", (), "k"),
        Method(
            "hsconas-shrink3", "HSCoNAS, shrinking on 3 samples", "hsconas:min_samples=3", (), "k"
        ),
        Method("evolution-shrink", "rea + scenario shrinking", "rea", (SHRINK,)),
        Method("random-shrink", "random + scenario shrinking", "random", (SHRINK,)),
    )
}
ALL = {**METHODS, **ABLATIONS}


@dataclass(frozen=True)
class Setting:
    name: str
    label: str
    env: str
    quantiles: tuple[float, ...]
    budget: int
    methods: tuple[str, ...]

    def targets(self, out: Path) -> dict[str, float]:
        """Target name → latency target (s): the quantiles of the space's latency."""
        latency = space_latency(self, out)
        return {f"q{round(q * 100)}": float(np.quantile(latency, q)) for q in self.quantiles}


SETTINGS = {
    "cpu": Setting(
        "cpu",
        "this CPU (chain space, 16×16 digits, predicted latency)",
        "mnist5k-hsconas",
        (0.1, 0.3, 0.6),
        16,
        (*METHODS, "hsconas-margin"),
    ),
    "nb201": Setting(
        "nb201",
        "NAS-Bench-201 (CIFAR-10, Pixel 2 latency table)",
        "nb201-table",
        (0.1, 0.25, 0.5),
        300,
        tuple(m for m in ALL if m != "hsconas-margin"),  # no widths to scale: no margin
    ),
}
PREDICTOR = "chain16-cpu.predictor"


def predictor_path(out: Path) -> Path:
    return out / PREDICTOR


def fit_predictor(out: Path, n_fit: int = 120, refit: bool = False, progress: bool = True) -> Path:
    """The CPU setting's predictor: ``n_fit`` networks measured here, every kernel of the
    space."""
    from coexplore.data import dataset_shape
    from coexplore.latency.device_predictor import fit_device_predictor
    from coexplore.latency.lab import Lab
    from coexplore.scenario import get_scenario

    path = predictor_path(out)
    if path.exists() and not refit:
        return path
    scenario = get_scenario("mnist5k-hsconas")
    shape, classes = dataset_shape(scenario.data)
    lab = Lab(cache=out / "latency.sqlite")
    model = fit_device_predictor(scenario.space, shape, classes, n_fit, lab, progress=progress)
    model.learn_space(scenario.space, classes, lab, progress=progress)
    out.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


def scenario_for(setting: Setting, out: Path, extra: list[str] = ()):
    source = scenario_path(setting.env)
    overrides = list(extra)
    if setting.name == "cpu":
        overrides.append(f"hardware.predictor={predictor_path(out)}")
    return scenario_from_dict(apply_overrides(load_mapping(source), overrides), str(source))


def space_latency(setting: Setting, out: Path) -> np.ndarray:
    """The latency (s) of every network of the setting's space: predicted (cpu), looked up
    (nb201)."""
    if setting.name == "nb201":
        from coexplore.tables import DEVICES

        d = DEVICES.get("pixel2")
        return d.table().column(d.column) * 1e-3
    cached = out / "cpu-space-latency.npy"
    if cached.exists() and cached.stat().st_mtime >= predictor_path(out).stat().st_mtime:
        return np.load(cached)
    from coexplore.data import dataset_shape
    from coexplore.latency.experiment import enumerate_space

    scenario = scenario_for(setting, out)
    model = scenario.platform().model
    shape, classes = dataset_shape(scenario.data)
    tokens = enumerate_space(scenario.space, shape[1])
    networks = [scenario.space.from_tokens(t).network(shape, classes) for t in tokens]
    latency = np.concatenate(
        [model.predict(networks[i : i + 4096])[0] for i in range(0, len(networks), 4096)]
    )
    np.save(cached, latency)
    return latency


def run_one(setting: str, target: str, method: str, seed: int, args) -> dict:
    """One search until ``budget`` distinct queries, ``cap`` proposals, or ``patience``
    proposals in a row without a new query."""
    from coexplore.env.environment import CoExploreEnv
    from coexplore.search.agents import make_agent

    out = Path(args.out)
    path = out / setting / target / f"{method}-s{seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    s, m = SETTINGS[setting], ALL[method]
    limit = args.targets_s[setting][target]
    budget = args.budget[setting]
    scenario = scenario_for(s, out, [*m.overrides, f"specs.latency_s.max={limit!r}"])
    cache = out / setting / "accuracy.sqlite" if setting == "cpu" else None
    env = CoExploreEnv(scenario, cache=None if cache is None else str(cache))
    queried: set[str] = set()
    curve: list[float] = []
    best: dict = {}
    proposals, last_new = [0], [0]

    def on_record(record) -> None:
        proposals[0] += 1
        if record.pruned or record.arch in queried or len(curve) >= budget:
            return
        queried.add(record.arch)
        last_new[0] = proposals[0]
        ok = not record.failed_specs and not record.diverged and record.val_acc is not None
        prev = curve[-1] if curve else float("-inf")
        if ok and record.val_acc > prev:
            best.update(
                arch=record.arch,
                val_acc=record.val_acc,
                test_acc=record.test_acc,
                latency_s=record.metric("latency_s"),
                query=len(curve) + 1,
            )
        curve.append(max(prev, float(record.val_acc)) if ok else prev)

    env.listeners.append(on_record)
    start = time.perf_counter()
    name, _, _ = m.agent.partition(":")
    params = {**scenario.agents.get(name, {}), **agent_params(m.agent)}
    searcher = make_agent(name, env, seed, **params)
    cap, patience = args.cap_factor * budget, args.patience_factor * budget
    while len(curve) < budget and proposals[0] < cap and proposals[0] - last_new[0] < patience:
        searcher.run(cap - proposals[0])
    env.close()
    shrinker = env.shrinker
    result = {
        "setting": setting,
        "target": target,
        "target_s": limit,
        "method": method,
        "seed": seed,
        "curve": [c if np.isfinite(c) else None for c in curve],
        "best": best or None,
        "proposals": proposals[0],
        "scaling_queries": getattr(searcher, "scaling_queries", 0),
        "space_log10": None if shrinker is None else shrinker.size(),
        "full_log10": float(sum(np.log10(env.choices))),
        "wall_s": time.perf_counter() - start,
    }
    return save_result(path, result)


def spot_check(runs: list[dict], out: Path, n_fit: int) -> dict:
    """Measure every CPU run's final pick on this CPU (alone, after the searches), and 20 of
    the predictor's own fitting networks again: their median ratio to the measurements the
    predictor was fitted on is how much faster (< 1) or slower this machine is now."""
    from coexplore.data import dataset_shape
    from coexplore.latency.experiment import sample_distinct
    from coexplore.latency.lab import Lab

    scenario = scenario_for(SETTINGS["cpu"], out)
    platform = scenario.platform()
    picks = sorted({r["best"]["arch"] for r in runs if r.get("best")})
    shape, classes = dataset_shape(scenario.data)
    archs = [scenario.space.parse(a) for a in picks]
    reference = sample_distinct(scenario.space, n_fit, 0, shape[1])[:20]
    measured = platform.lab.networks(archs + reference, shape, classes, progress=True)
    then = Lab(platform.lab.config, out / "latency.sqlite").networks(reference, shape, classes)
    ratios = [measured[a.canonical].median_s / then[a.canonical].median_s for a in reference]
    return {
        "picks": {a: measured[a].to_dict() for a in picks},
        "drift": float(np.median(ratios)),
    }


def as_float(values: list[float | None]) -> list[float]:
    return [np.nan if v is None else v for v in values]


def curve_values(runs: list[dict], queries: int) -> list[float | None]:
    return [at([c for c in r["curve"] if c is not None], queries) for r in runs]


def reach(run: dict, level: float) -> int | None:
    """Queries until the run's best reached ``level`` (None: never)."""
    for i, c in enumerate(run["curve"], start=1):
        if c is not None and c >= level - 1e-12:
            return i
    return None


def nb201_optimum(limit: float) -> float:
    from coexplore.tables import ACCURACY_TABLES, DEVICES

    acc = ACCURACY_TABLES.get("nb201-cifar10")
    values = acc.table().column(acc.column) * acc.scale
    d = DEVICES.get("pixel2")
    feasible = d.table().column(d.column) * 1e-3 <= limit
    return float(values[feasible].max())


def plot(results: dict, args, path: Path) -> Path:
    from coexplore.figures import new_figure, save_figure

    rows = list(results)
    ncols = max(len(results[s]) for s in rows)
    fig, axes = new_figure(ncols=ncols, nrows=len(rows), width=4.2 * ncols, height=3.6 * len(rows))
    axes = np.array(axes).reshape(len(rows), ncols)
    for row, s in enumerate(rows):
        for col, t in enumerate(results[s]):
            _panel(axes[row, col], results, args, s, t)
        axes[row, 0].set_ylabel("best val. accuracy within the target (%)")
        axes[row, 0].legend(fontsize=7, loc="lower right")
    fig.suptitle("Best so far: mean ± sd over seeds (dotted: NAS-Bench-201's optimum)")
    fig.tight_layout()
    return save_figure(fig, path)


def _panel(ax, results: dict, args, s: str, t: str) -> None:
    """One target's best-so-far curves (the four methods; ablations only in the tables)."""
    budget = args.budget[s]
    for method in SETTINGS[s].methods:
        if method not in METHODS or method not in results[s][t]:
            continue
        runs = results[s][t][method]
        c = 100 * np.array([as_float(curve_values(runs, q)) for q in range(1, budget + 1)]).T
        x = np.arange(1, budget + 1)
        mean, sd = np.nanmean(c, axis=0), np.nanstd(c, axis=0)
        ax.plot(x, mean, color=METHODS[method].color, label=METHODS[method].label, lw=1.4)
        ax.fill_between(x, mean - sd, mean + sd, color=METHODS[method].color, alpha=0.12)
    if s == "nb201":
        ax.axhline(nb201_optimum(args.targets_s[s][t]) * 100, color="k", ls=":", lw=1)
    limit = args.targets_s[s][t]
    ax.set_title(f"{s}: {t} (≤ {limit * 1e3:.3g} ms)", fontsize=9)
    ax.set_xlabel("distinct candidates queried")
    every = [v for m in results[s][t].values() for r in m for v in as_float(r["curve"])]
    top = nb201_optimum(limit) if s == "nb201" else np.nanmax(every)
    ax.set_ylim(100 * np.nanpercentile(every, 20), 100 * top + 0.3)


def render(args, results: dict, spots: dict, figure: Path) -> tuple[str, dict]:
    cmd = "python launch/hsconas_comparison.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    n = sum(len(r) for s in results.values() for t in s.values() for r in t.values())
    lines = [
        "# HSCoNAS: hardware-aware evolution with channel scaling and space shrinking",
        "",
        f"Generated by `{cmd.strip()}` ({n} runs; see the script's docstring).",
        "",
        "HSCoNAS (Luo et al., DATE 2021) searches on a latency predictor instead of the device, "
        "scales every child's channels to the most a latency target affords, and shrinks the "
        "space toward the target hardware as it goes. Here `hsconas` (coexplore/search/agents/"
        "hsconas.py) is that search; it runs against regularised evolution (`rea`, the plain "
        "evolution), random search and PPO, every method with the same seeds "
        f"({args.seeds[0]}–{args.seeds[-1]}) and the same budget of distinct queried "
        "candidates. A candidate over the target is pruned by the fast phase (predictor or "
        "table) and costs no query; nor does a repeat. Channel scaling's predictor queries are "
        "free and counted apart.",
        "",
        "- **cpu**: `envs/mnist5k-hsconas.yaml`, a 4-layer chain (kernels 3/5, filters 8–32, "
        "strides 1/2; 65,536 networks) on 16×16 digits (mnist5k), each query a real training "
        "(2 epochs, 2,000 images, seeded, cached); latency predicted for this CPU (batch 1, one "
        f"pinned thread) from a predictor fitted here; budget {args.budget['cpu']} queries.",
        "- **nb201**: `envs/nb201-table.yaml`, CIFAR-10 accuracy and Pixel 2 latency from the "
        f"NAS-Bench-201 tables; budget {args.budget['nb201']} queries. NAS-Bench-201 has no "
        "width choices, so channel scaling has nothing to do there: HSCoNAS is its evolution "
        "and its shrinking.",
        "- Targets: quantiles of the latency over the whole space (predicted for every one of "
        "the 65,536 chains; looked up for the 15,625 cells), fixed before any search.",
        "",
        "## Targets",
        "",
    ]
    rows = []
    for s, targets in args.targets_s.items():
        lat = space_latency(SETTINGS[s], Path(args.out))
        for t, limit in targets.items():
            opt = f"{nb201_optimum(limit) * 100:.2f}" if s == "nb201" else "not known"
            rows.append([s, t, f"{limit * 1e3:.4g} ms", f"{(lat <= limit).mean():.1%}", opt])
    headers = ["setting", "target", "latency ≤", "share of the space within", "optimum (%)"]
    lines += [md_table(headers, rows), ""]
    goal: dict = {}
    for s, targets in results.items():
        budget = args.budget[s]
        half = budget // 2
        lines += [f"## {SETTINGS[s].label}", ""]
        lines.append(
            f"Mean ± sd over seeds of the best validation accuracy (%) within the target after "
            f"{half} and {budget} queries; *test* is the test accuracy of the final pick; "
            "*to evolution's best* is the median number of queries a method needed to reach "
            "plain evolution's mean final best (runs that got there / all); *proposals/query* "
            "counts every proposal (pruned and repeated ones too) per query; *scaling queries* "
            "are channel scaling's predictor calls per query."
        )
        if s == "cpu" and spots:
            lines[-1] += (
                " *Pick meets the target measured*: the final picks measured on this CPU after "
                "the searches (same settings as the predictor's). Twenty of the predictor's own "
                f"fitting networks, measured again then, ran at **{spots['drift']:.3f}×** the "
                "latency they had when it was fitted: this machine's drift between fit and "
                "check, which changes from one rerun to the next. *Drift-corrected* divides the "
                "measurement by it, so it shows the predictor's own error: the pick meets the "
                "target at the speed the machine had when the predictor was fitted, and the "
                "median relative error of prediction × drift against measurement."
            )
        lines.append("")
        for t, methods in targets.items():
            ref_runs = methods.get("evolution", [])
            finals = [v for v in curve_values(ref_runs, budget) if v is not None]
            ref = statistics.mean(finals) if finals else None
            rows = []
            for method, runs in methods.items():
                reached = [reach(r, ref) for r in runs] if ref is not None else []
                got = [x for x in reached if x is not None]
                tests = [r["best"]["test_acc"] for r in runs if r.get("best")]
                props = [r["proposals"] / max(len(r["curve"]), 1) for r in runs]
                scaling = [r["scaling_queries"] / max(len(r["curve"]), 1) for r in runs]
                row = [
                    ALL[method].label,
                    mean_sd(curve_values(runs, half)),
                    mean_sd(curve_values(runs, budget)),
                    mean_sd(tests),
                    f"{statistics.median(got) if got else '–'} ({len(got)}/{len(runs)})",
                    f"{statistics.mean(props):.1f}",
                    f"{statistics.mean(scaling):.1f}",
                ]
                if s == "cpu" and spots:
                    picks = [r["best"] for r in runs if r.get("best")]
                    now = {p["arch"]: spots["picks"][p["arch"]]["median_s"] for p in picks}
                    limit, drift = args.targets_s[s][t], spots["drift"]
                    ok = sum(now[p["arch"]] <= limit for p in picks)
                    fair = sum(now[p["arch"]] / drift <= limit for p in picks)
                    err = [abs(p["latency_s"] * drift / now[p["arch"]] - 1) for p in picks]
                    row += [f"{ok}/{len(picks)}", f"{fair}/{len(picks)}"]
                    row.append(f"{100 * statistics.median(err):.1f}%")
                rows.append(row)
            headers = ["method", f"best @{half}", f"best @{budget}", "test"]
            headers += ["to evolution's best", "proposals/query", "scaling queries"]
            if s == "cpu" and spots:
                headers += ["pick meets the target measured", "drift-corrected"]
                headers.append("median |prediction error|, drift-corrected")
            title = f"### {t}: latency ≤ {args.targets_s[s][t] * 1e3:.4g} ms"
            lines += [title, "", md_table(headers, rows), ""]
            if "hsconas" in methods and "evolution" in methods:
                mine = curve_values(methods["hsconas"], budget)
                theirs = curve_values(methods["evolution"], budget)
                a = [v for v in mine if v is not None]
                b = [v for v in theirs if v is not None]
                diff = (statistics.mean(a) - statistics.mean(b)) * 100 if a and b else None
                goal[f"{s}/{t}"] = {"diff": diff, "p": p_greater(mine, theirs)}
    lines += [
        "## The goal",
        "",
        "*HSCoNAS ahead of plain evolution at every target* (mean best at the full budget; "
        "one-sided Mann–Whitney p over seeds):",
        "",
    ]
    rows = []
    for key, g in goal.items():
        if g["diff"] is None:
            rows.append([key, "–", "–", "–"])
            continue
        ahead = g["diff"] > 0
        p = g["p"]
        verdict = "ahead" if ahead else "not ahead"
        if ahead and p is not None and p < 0.05:
            verdict += " (significant)"
        rows.append([key, f"{g['diff']:+.2f}", "–" if p is None else f"{p:.3f}", verdict])
    headers = ["setting / target", "HSCoNAS − evolution (points)", "p", "verdict"]
    lines += [md_table(headers, rows), ""]
    shrink_rows = []
    for s, targets in results.items():
        for t, methods in targets.items():
            for method, runs in methods.items():
                sizes = [r["space_log10"] for r in runs if r.get("space_log10") is not None]
                if sizes:
                    full, end = runs[0]["full_log10"], statistics.mean(sizes)
                    shrink_rows.append([s, t, ALL[method].label, f"10^{full:.2f}", f"10^{end:.2f}"])
    if shrink_rows:
        lines += [
            "## Space shrinking",
            "",
            "The size of the space each run ended in (the product of the choices left per "
            "token; mean of log10 over seeds):",
            "",
            md_table(["setting", "target", "method", "full space", "at the end"], shrink_rows),
            "",
        ]
    lines += ["## Figure", "", f"![best so far]({figure.relative_to(args.doc.parent)})", ""]
    return "\n".join(lines), goal


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    ap.add_argument("--methods", nargs="+", default=list(ALL), choices=list(ALL))
    ap.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1")
    ap.add_argument("--cpu-budget", type=int, default=SETTINGS["cpu"].budget)
    ap.add_argument("--nb201-budget", type=int, default=SETTINGS["nb201"].budget)
    ap.add_argument("--cap-factor", type=int, default=20, help="proposals per run: budget × this")
    ap.add_argument(
        "--patience-factor",
        type=int,
        default=5,
        help="stop after budget × this proposals without a new query (converged)",
    )
    ap.add_argument("--out", default="runs/hsconas", help="where runs and the predictor are kept")
    ap.add_argument("--doc", default=None, help="markdown to write (default: OUT/hsconas.md)")
    ap.add_argument("--refit", action="store_true", help="fit the CPU predictor again")
    ap.add_argument("--fit", type=int, default=120, help="networks the CPU predictor fits on")
    ap.add_argument("--no-spot-check", action="store_true", help="skip measuring the CPU picks")
    ap.add_argument("--quick", action="store_true", help="smoke test: 2 seeds, small budgets")
    ap.add_argument("--targets", action="store_true", help="print the targets, exit")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.cpu_budget, args.nb201_budget = 2, 6, 40
        args.out = args.out + "-quick"
    args.seeds = list(range(args.seeds))
    args.budget = {"cpu": args.cpu_budget, "nb201": args.nb201_budget}
    args.doc = Path(args.doc) if args.doc else Path(args.out) / "hsconas.md"
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = Path(args.out)
    if "cpu" in args.settings:
        fit_predictor(out, args.fit, args.refit, progress=not args.json)
    args.targets_s = {s: SETTINGS[s].targets(out) for s in args.settings}
    if args.targets:
        if args.json:
            print(json.dumps({"targets": args.targets_s}, indent=2))
            return {"targets": args.targets_s}
        for s, targets in args.targets_s.items():
            lat = space_latency(SETTINGS[s], out)
            for t, limit in targets.items():
                print(
                    f"{s} {t}: latency <= {limit:.4g} s, {(lat <= limit).mean():.1%} of the space"
                )
        return {"targets": args.targets_s}
    from tqdm.auto import tqdm

    jobs = [
        (s, t, m, seed)
        for s in args.settings
        for seed in args.seeds
        for t in args.targets_s[s]
        for m in SETTINGS[s].methods
        if m in args.methods
    ]
    results: dict = {
        s: {t: {m: [] for m in SETTINGS[s].methods if m in args.methods} for t in args.targets_s[s]}
        for s in args.settings
    }
    for s, t, m, seed in tqdm(jobs, desc="hsconas runs", unit="run", disable=args.json):
        results[s][t][m].append(run_one(s, t, m, seed, args))
    spots = {}
    if "cpu" in results and not args.no_spot_check:
        cpu_runs = [r for t in results["cpu"].values() for m in t.values() for r in m]
        spots = spot_check(cpu_runs, out, args.fit)
    img = args.doc.parent / (args.doc.stem + "_figures")
    figure = plot(results, args, img / "best_so_far.png")
    text, goal = render(args, results, spots, figure)
    old = args.doc.read_text() if args.doc.exists() else ""
    tail = old.split(MARKER, 1)[1] if MARKER in old else "\n"
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(text + "\n" + MARKER + tail)
    summary = {"targets": args.targets_s, "goal": goal, "doc": str(args.doc)}
    print(json.dumps(summary, indent=2, default=str) if args.json else f"wrote {args.doc}")
    return summary


if __name__ == "__main__":
    main()
