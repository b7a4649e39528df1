"""Agents × scenarios × seeds, each run a normal search run directory, compared at equal cost.

The cost of a search is its **trainings** (distinct candidates sent to the slow phase), so every
run gets the same trainings budget, and every figure is read against trainings spent:

- the **anytime curve** of a run: the best accuracy within specs after each training (what it
  would have found had it stopped before paying for the next one); a run that stopped early
  (converged, exhausted) keeps its best at every later budget, a run that found nothing within
  specs counts 0 (every seed counts);
- for each objective of the scenario, the **hypervolume** of accuracy × that metric from the
  reference point :func:`~coexplore.search.pareto.hv_reference` (fixed per scenario);
- **regret**: the scenario's optimum minus the best found, where the optimum is known: a
  scenario whose oracle looks accuracy up (a table) and whose candidates can be listed is
  evaluated whole once, and the result cached in ``OUT/optima/``;
- per agent: means with 95% confidence intervals over seeds, distinct candidates, proposals
  per training, wall time, why the runs stopped; and a **paired test against the baseline**
  (random search; pairs by seed, Wilcoxon signed-rank) with Holm's correction over every
  comparison of the benchmark (:mod:`coexplore.stats`).

Runs are independent jobs spread over an executor (``process`` on this machine, ``ray`` on a
cluster); a finished run is read back, an interrupted one resumed (:func:`ensure_run`), so a
benchmark continues where it stopped. An agent is a registered name, a variant with other
hyperparameters (``ppo:ent_coef=0.05,episodes_per_update=16``, values in YAML), or a user's
own by import path (``my_pkg.my_agent:MyAgent``, ``path/to/agent.py:MyAgent``, with
``:key=value`` too).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coexplore.config import ConfigError, json_safe, load_mapping
from coexplore.core.markdown import md_table
from coexplore.core.record import CandidateRecord
from coexplore.scenario import apply_overrides, make_evaluator, scenario_from_dict, scenario_path
from coexplore.search.agents import agent_class
from coexplore.search.pareto import front_records, hv_reference, hypervolume
from coexplore.search.runlog import RUN_FILE, read_records, read_run
from coexplore.search.runner import SearchConfig, ensure_run
from coexplore.search.tracking import WandbConfig, WandbTracker
from coexplore.stats import LEVEL, holm, mean_ci, paired_test, verdict

BASELINE = "random"
EXHAUSTIVE_LIMIT = 200_000  # candidates a scenario may have for its optimum to be computed
RESULTS_FILE, PAGE_FILE, FIGURE_FILE = "benchmark.json", "benchmark.md", "benchmark_curves.png"


@dataclass(frozen=True)
class AgentSpec:
    """An ``--agents`` entry: ``text`` as given, the agent's ``name`` (registered or an import
    path) and its hyperparameters."""

    text: str
    name: str
    params: dict[str, Any]

    @property
    def slug(self) -> str:
        """A directory name for the agent's runs."""
        return re.sub(r"[^A-Za-z0-9._=-]+", "_", self.text).strip("_")


def parse_agent(text: str) -> AgentSpec:
    """``NAME[:KEY=VALUE,...]`` (NAME a registered agent or ``module:Class`` /
    ``file.py:Class``); the name and the hyperparameters are checked here, before any run."""
    import yaml

    head, sep, tail = text.rpartition(":")
    name, params = text, {}
    if sep and "=" in tail:
        name = head
        for item in tail.split(","):
            key, eq, value = item.partition("=")
            if not (eq and key.strip()):
                raise ConfigError("benchmark", "agents", "NAME:KEY=VALUE[,KEY=VALUE...]", text)
            params[key.strip()] = yaml.safe_load(value)
    agent_class(name).check_params(params, f"agent {text}")
    return AgentSpec(text, name, params)


@dataclass(frozen=True)
class BenchmarkConfig:
    envs: tuple[str, ...]
    agents: tuple[str, ...]
    seeds: int = 10  # seeds 0 .. seeds-1, the same for every agent (paired)
    trainings: int = 300
    out: str = "runs/benchmark"
    at: tuple[int, ...] = ()  # budgets of the tables; default: 10%, 30% and all of it
    episodes: int | None = None  # a cap on proposals per run (None: none)
    patience: int | None = None  # the runner's converged stop (None: its default)
    overrides: tuple[str, ...] = ()  # "section.field=VALUE" for every scenario
    baseline: str = BASELINE
    executor: str = "process"
    workers: int | None = None
    address: str | None = None
    wandb: WandbConfig = field(default_factory=lambda: WandbConfig(mode="disabled"))
    optima: str | None = None  # where known optima are cached (default: OUT/optima)
    command: str = ""  # the command line that made it, written above the tables

    def __post_init__(self) -> None:
        for name in ("seeds", "trainings"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError("benchmark", name, "an integer >= 1", value)
        if not self.envs:
            raise ConfigError("benchmark", "env", "one scenario or more", "")
        if not self.agents:
            raise ConfigError("benchmark", "agents", "one agent or more", "")
        for n in self.at:
            if not 1 <= n <= self.trainings:
                raise ConfigError("benchmark", "at", f"budgets in 1..{self.trainings}", n)

    @property
    def budgets(self) -> tuple[int, ...]:
        if self.at:
            return tuple(sorted(set(self.at)))
        t = self.trainings
        return tuple(sorted({max(1, t // 10), max(1, 3 * t // 10), t}))


@dataclass(frozen=True)
class Job:
    env: str
    agent: AgentSpec
    seed: int
    out: str
    trainings: int
    episodes: int | None
    patience: int | None
    overrides: tuple[str, ...]
    objectives: tuple[str, ...]
    references: tuple[float | None, ...]
    budgets: tuple[int, ...]

    def search_config(self) -> SearchConfig:
        return SearchConfig(
            env=self.env,
            agent=self.agent.name,
            episodes=self.episodes,
            trainings=self.trainings,
            patience=self.patience,
            seed=self.seed,
            out=self.out,
            agent_params=self.agent.params,
            overrides=self.overrides,
            wandb=WandbConfig(mode="disabled"),
        )


def run_job(job: Job) -> dict[str, Any]:
    """Run (or resume, or read back) one search and summarise it (:func:`run_summary`)."""
    ensure_run(job.search_config(), progress=False, report=False)
    return run_summary(Path(job.out), job.objectives, job.references, job.budgets)


def check_run_dir(job: Job) -> None:
    """Refuse a run directory that holds a search other than ``job``'s (another agent,
    hyperparameters, seed or overrides): a benchmark never mixes runs."""
    out = Path(job.out)
    if not (out / RUN_FILE).exists():
        return
    meta, config = read_run(out), job.search_config()
    mine = (config.env, config.agent, config.seed, config.agent_params, list(config.overrides))
    theirs = (meta["env"], meta["agent"], meta["seed"], meta["agent_params"], meta["overrides"])
    if mine != theirs:
        raise ConfigError(str(out), "--out", "the runs of this benchmark (it holds another search)")


def run_summary(
    run_dir: Path,
    objectives: Sequence[str] = (),
    references: Sequence[float | None] = (),
    budgets: Sequence[int] = (),
) -> dict[str, Any]:
    """One run's figures: its anytime curve (best accuracy within specs after each training),
    the hypervolumes at ``budgets``, and its counts."""
    meta, records = read_run(run_dir), read_records(run_dir)
    starts = meta.get("training_episodes") or []
    # the records a search had seen when it had paid for k trainings: up to the (k+1)-th one
    cuts = [*starts[1:], len(records)]
    curve, best, seen = [], -math.inf, 0
    for cut in cuts:
        for r in records[seen:cut]:
            if r.feasible and not math.isnan(r.val_acc):
                best = max(best, r.val_acc)
        seen = cut
        curve.append(best if best > -math.inf else 0.0)
    hv = {
        m: [_hv(records[: _cut(cuts, k)], m, ref) for k in budgets]
        for m, ref in zip(objectives, references, strict=True)
    }
    return {
        "env": meta["env"],
        "seed": meta["seed"],
        "out": str(run_dir),
        "curve": curve,
        "hypervolume": hv,
        "trainings": len(starts),
        "episodes": len(records),
        "distinct": len({tuple(r.tokens) for r in records}),
        "stopped": meta.get("stopped"),
        "wall_s": max((r.wall_s or 0.0 for r in records), default=0.0),
        "found": best > -math.inf,
    }


def _cut(cuts: list[int], k: int) -> int:
    return cuts[min(k, len(cuts)) - 1] if cuts else 0


def _hv(records: list[CandidateRecord], metric: str, reference: float | None) -> float:
    value = hypervolume(records, metric, reference)
    return math.nan if value is None else value


def at_budget(curve: Sequence[float], k: int) -> float:
    """The best found with at most ``k`` trainings (a run that stopped earlier: its last)."""
    return curve[min(k, len(curve)) - 1] if curve else 0.0


# --- the scenarios ----------------------------------------------------------------------------
def load_scenario(env: str, overrides: Sequence[str]):
    path = scenario_path(env)
    data = apply_overrides(load_mapping(path), list(overrides))
    return scenario_from_dict(data, str(path)), data


def known_optimum(
    env: str,
    overrides: Sequence[str],
    cache_dir: Path,
    executor: Any = None,
    progress: bool = False,
) -> dict[str, Any] | None:
    """The best accuracy within specs of any candidate (and the hypervolume of them all, per
    objective) of a scenario whose oracle looks accuracy up and whose candidates number at
    most :data:`EXHAUSTIVE_LIMIT`: every candidate evaluated once, through the scenario's own
    evaluator (so with the fast phase, specs and pruning the searches see; a candidate's
    evaluation is seeded by the candidate, so slices of them can go to ``executor``'s
    workers), and cached in ``cache_dir`` under a hash of the scenario. None for any other
    scenario."""
    from tqdm.auto import tqdm

    from coexplore.slow.executors import make_executor

    scenario, data = load_scenario(env, overrides)
    key = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]
    path = cache_dir / f"{Path(env).stem}-{key}.json"
    if path.exists():
        return json.loads(path.read_text()) or None
    evaluator = make_evaluator(scenario)
    rows = None
    try:
        if evaluator.oracle.lookup and evaluator.oracle.measures_accuracy:
            with contextlib.suppress(ValueError):  # too many to list: no known optimum
                rows = evaluator.token_space.legal(EXHAUSTIVE_LIMIT)
    finally:
        evaluator.close()
    result = None
    if rows is not None:
        executor = executor or make_executor("sequential")
        size = max(1024, math.ceil(len(rows) / (8 * executor.workers)))
        slices = [(env, tuple(overrides), rows[i : i + size]) for i in range(0, len(rows), size)]
        parts: list[dict[str, Any]] = []
        with tqdm(total=len(rows), desc=f"optimum of {env}", unit="cand", leave=False,
                  disable=not progress) as bar:  # fmt: skip
            for i in range(0, len(slices), executor.workers):
                batch = slices[i : i + executor.workers]
                parts += executor.map(_evaluate_slice, batch)
                bar.update(sum(len(b[2]) for b in batch))
        result = _merge(parts, scenario)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_safe(result or {}), indent=1))
    return result


def _evaluate_slice(job: tuple[str, tuple[str, ...], np.ndarray]) -> dict[str, Any]:
    """Evaluate a slice of a scenario's candidates: their count, how many are within specs,
    the best of them and, per objective, the front (all that a hypervolume needs)."""
    env, overrides, rows = job
    scenario, _ = load_scenario(env, overrides)
    evaluator = make_evaluator(scenario)
    try:
        records = evaluator.evaluate_batch([list(map(int, r)) for r in rows])
    finally:
        evaluator.close()
    ok = [r for r in records if r.feasible and not math.isnan(r.val_acc)]
    return {
        "candidates": len(records),
        "feasible": len(ok),
        "best": max(ok, key=lambda r: r.val_acc, default=None),  # the first of equals
        "fronts": {m: front_records(records, m) for m in scenario.objectives},
    }


def _merge(parts: list[dict[str, Any]], scenario) -> dict[str, Any]:
    best = None
    for p in parts:  # in candidate order: the first of equals
        if p["best"] is not None and (best is None or p["best"].val_acc > best.val_acc):
            best = p["best"]
    return {
        "candidates": sum(p["candidates"] for p in parts),
        "feasible": sum(p["feasible"] for p in parts),
        "optimum": None if best is None else best.val_acc,
        "arch": None if best is None else best.arch,
        "choice": None if best is None else best.choice,
        "hypervolume": {
            m: _hv([r for p in parts for r in p["fronts"][m]], m, hv_reference(m, scenario.specs))
            for m in scenario.objectives
        },
    }


# --- the benchmark ----------------------------------------------------------------------------
def plan(config: BenchmarkConfig) -> tuple[list[Job], dict[str, dict[str, Any]]]:
    """The jobs of a benchmark (every input checked first) and each scenario's facts."""
    agents = [parse_agent(a) for a in config.agents]
    if len({a.slug for a in agents}) != len(agents):
        raise ConfigError("benchmark", "agents", "each agent once", ",".join(config.agents))
    envs: dict[str, dict[str, Any]] = {}
    jobs = []
    for env in config.envs:
        scenario, _ = load_scenario(env, config.overrides)
        objectives = tuple(scenario.objectives)
        refs = tuple(hv_reference(m, scenario.specs) for m in objectives)
        envs[env] = {"scenario": scenario.name, "objectives": objectives, "references": refs}
        for agent in agents:
            for seed in range(config.seeds):
                out = Path(config.out) / Path(env).stem / agent.slug / f"s{seed}"
                jobs.append(
                    Job(env, agent, seed, str(out), config.trainings, config.episodes,
                        config.patience, config.overrides, objectives, refs, config.budgets)
                )  # fmt: skip
                check_run_dir(jobs[-1])
    return jobs, envs


def run_benchmark(config: BenchmarkConfig, progress: bool = True) -> dict[str, Any]:
    """Run every job (resuming what was done), then aggregate: the results written to
    ``OUT/benchmark.json``, ``OUT/benchmark.md`` and ``OUT/benchmark_curves.png``."""
    from tqdm.auto import tqdm

    from coexplore.slow.executors import make_executor

    jobs, envs = plan(config)
    out = Path(config.out)
    cache = Path(config.optima) if config.optima else out / "optima"
    summaries: list[dict[str, Any]] = []
    name = "ray" if config.address else config.executor
    with make_executor(name, workers=config.workers, address=config.address, run_dir=out) as ex:
        for env, facts in envs.items():
            facts["optimum"] = known_optimum(env, config.overrides, cache, ex, progress)
        chunk = max(1, 2 * ex.workers)
        with tqdm(total=len(jobs), desc="benchmark runs", unit="run", disable=not progress) as bar:
            for start in range(0, len(jobs), chunk):
                summaries += ex.map(run_job, jobs[start : start + chunk])
                bar.update(len(jobs[start : start + chunk]))
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for job, summary in zip(jobs, summaries, strict=True):
        runs.setdefault((job.env, job.agent.text), []).append(summary)
    results = aggregate(config, envs, runs)
    write_outputs(config, results)
    return results


def aggregate(
    config: BenchmarkConfig,
    envs: dict[str, dict[str, Any]],
    runs: dict[tuple[str, str], list[dict[str, Any]]],
) -> dict[str, Any]:
    """Means, CIs, regret, counts and the Holm-corrected paired tests against the baseline."""
    t, rows, curves = config.trainings, [], {}
    for (env, agent), group in runs.items():
        facts = envs[env]
        optimum = (facts["optimum"] or {}).get("optimum")
        finals = [at_budget(r["curve"], t) for r in group]
        mean, ci = mean_ci(finals)
        row: dict[str, Any] = {
            "env": env,
            "agent": agent,
            "seeds": len(group),
            "trainings": t,
            "best_mean": mean,
            "best_ci95": ci,
            "optimum": optimum,
            "regret_mean": None if optimum is None else optimum - mean,
            "regret_ci95": None if optimum is None else ci,
            "found_optimum": None if optimum is None else sum(v >= optimum - 1e-12 for v in finals),
            "none_found": sum(not r["found"] for r in group),
            "distinct_mean": float(np.mean([r["distinct"] for r in group])),
            "trainings_mean": float(np.mean([r["trainings"] for r in group])),
            "proposals_per_training": float(
                np.mean([r["episodes"] / max(r["trainings"], 1) for r in group])
            ),
            "wall_s_mean": float(np.mean([r["wall_s"] for r in group])),
            "stopped": {s: sum(r["stopped"] == s for r in group) for s in _stops(group)},
            "at": {str(k): _ci([at_budget(r["curve"], k) for r in group]) for k in config.budgets},
            "hypervolume": {
                m: {
                    str(k): _ci([r["hypervolume"][m][i] for r in group])
                    for i, k in enumerate(config.budgets)
                }
                for m in facts["objectives"]
            },
            "p_vs_random": None,
            "p_raw": None,
            "verdict": None,
            "finals": finals,
        }
        rows.append(row)
        full = np.array([[at_budget(r["curve"], k) for k in range(1, t + 1)] for r in group])
        m = full.mean(axis=0)
        half = np.array([mean_ci(full[:, i])[1] for i in range(t)]) if len(group) > 1 else m * 0
        curves[f"{env}|{agent}"] = {"mean": m.tolist(), "ci95": np.nan_to_num(half).tolist()}
    _compare(rows, config.baseline)
    return {
        "config": _config_json(config),
        "envs": {e: {k: v for k, v in f.items()} for e, f in envs.items()},
        "results": rows,
        "curves": curves,
    }


def _ci(values: list[float]) -> dict[str, float]:
    mean, half = mean_ci(values)
    return {"mean": mean, "ci95": half}


def _stops(group: list[dict[str, Any]]) -> list[str]:
    return sorted({r["stopped"] for r in group if r["stopped"]})


def _compare(rows: list[dict[str, Any]], baseline: str) -> None:
    """Paired tests of each agent against the baseline on the same scenario and seeds, Holm-
    corrected over all of them."""
    base = {r["env"]: r for r in rows if r["agent"] == baseline}
    tested = [r for r in rows if r["agent"] != baseline and r["env"] in base]
    raw = [paired_test(r["finals"], base[r["env"]]["finals"]) for r in tested]
    for r, p, adjusted in zip(tested, raw, holm(raw), strict=True):
        diff = r["best_mean"] - base[r["env"]]["best_mean"]
        r.update(p_raw=_none(p), p_vs_random=_none(adjusted), verdict=verdict(diff, adjusted))
        r["vs_random"] = diff


def _none(x: float) -> float | None:
    return None if math.isnan(x) else x


def _config_json(config: BenchmarkConfig) -> dict[str, Any]:
    d = asdict(config)
    d["budgets"] = list(config.budgets)
    return d


# --- outputs -----------------------------------------------------------------------------------
def write_outputs(config: BenchmarkConfig, results: dict[str, Any]) -> None:
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / RESULTS_FILE).write_text(json.dumps(json_safe(results), indent=1) + "\n")
    figure = plot_curves(results, out / FIGURE_FILE)
    (out / PAGE_FILE).write_text(markdown(results, figure.name))
    if config.wandb.mode != "disabled":
        log_wandb(config, results, figure)


def _pct(x: float | None, ci: float | None = None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    text = f"{100 * x:.2f}"
    if ci is not None and not math.isnan(ci):
        text += f" ± {100 * ci:.2f}"
    return text


def markdown(results: dict[str, Any], figure: str) -> str:
    """The benchmark's page: per scenario, each agent's best (mean ± 95% CI half-width) at
    each budget, regret, the tests against the baseline, counts; then the figure."""
    config = results["config"]
    budgets, baseline = config["budgets"], config["baseline"]
    lines = ["# Benchmark", ""]
    if config.get("command"):
        lines += [f"Generated by `{config['command']}`.", ""]
    n_tests = sum(r["p_vs_random"] is not None for r in results["results"])
    lines += [
        f"{config['seeds']} seeds per agent (0–{config['seeds'] - 1}, the same for every agent), "
        f"{config['trainings']:,} trainings per run (distinct candidates sent to the slow phase; "
        "pruned candidates and repeats cost none). *Best* is the best validation accuracy "
        "(%) within specs after that many trainings, mean ± half-width of its 95% confidence "
        "interval (Student t) over seeds; a run that stopped early keeps its best, one that "
        "found nothing within specs counts 0. *Regret* is the scenario's optimum (every "
        "candidate evaluated, where the oracle looks accuracy up) minus the mean best. "
        f"*vs {baseline}*: the difference of mean best at {config['trainings']:,} trainings, and "
        f"the two-sided Wilcoxon signed-rank test paired by seed, Holm-corrected over the "
        f"{n_tests} comparisons on this page; *ahead*/*behind* only where the corrected p < "
        f"{LEVEL}.",
        "",
    ]
    for env, facts in results["envs"].items():
        rows = [r for r in results["results"] if r["env"] == env]
        opt = facts.get("optimum") or {}
        lines += [f"## {env}", ""]
        if opt:
            lines += [
                f"Optimum {_pct(opt['optimum'])} (`{opt['arch']}`), from all "
                f"{opt['candidates']:,} candidates ({opt['feasible']:,} within specs).",
                "",
            ]
        headers = ["agent", *[f"best @{k:,}" for k in budgets]]
        headers += ["regret", "optimum found", f"vs {baseline}", "p (Holm)", "verdict"]
        headers += ["distinct", "trainings", "proposals/training", "stopped", "wall (s)"]
        table = []
        for r in rows:
            at = r["at"]
            table.append(
                [
                    f"`{r['agent']}`",
                    *[_pct(at[str(k)]["mean"], at[str(k)]["ci95"]) for k in budgets],
                    _pct(r["regret_mean"]),
                    "–" if r["found_optimum"] is None else f"{r['found_optimum']}/{r['seeds']}",
                    "–" if r.get("vs_random") is None else f"{100 * r['vs_random']:+.2f}",
                    "–" if r["p_vs_random"] is None else f"{r['p_vs_random']:.3g}",
                    r["verdict"] or "–",
                    f"{r['distinct_mean']:.0f}",
                    f"{r['trainings_mean']:.0f}",
                    f"{r['proposals_per_training']:.1f}",
                    ", ".join(f"{k} {v}" for k, v in r["stopped"].items()),
                    f"{r['wall_s_mean']:.1f}",
                ]
            )
        lines += [md_table(headers, table), ""]
        for m in facts["objectives"]:
            if all(math.isnan(r["hypervolume"][m][str(budgets[-1])]["mean"]) for r in rows):
                continue
            best_hv = (opt.get("hypervolume") or {}).get(m)
            lines += [
                f"Hypervolume of accuracy × {m} (reference {_ref(facts, m)}"
                + ("" if best_hv is None else f"; all candidates: {best_hv:.4g}")
                + "), mean ± 95% CI:",
                "",
                md_table(
                    ["agent", *[f"@{k:,}" for k in budgets]],
                    [
                        [f"`{r['agent']}`", *[_num(r["hypervolume"][m][str(k)]) for k in budgets]]
                        for r in rows
                    ],
                ),
                "",
            ]
    lines += [f"![anytime curves]({figure})", ""]
    return "\n".join(lines)


def _ref(facts: dict[str, Any], metric: str) -> str:
    ref = dict(zip(facts["objectives"], facts["references"], strict=True))[metric]
    return "none" if ref is None else f"{ref:g}"


def _num(cell: dict[str, float]) -> str:
    m, ci = cell["mean"], cell["ci95"]
    if m is None or math.isnan(m):
        return "–"
    return f"{m:.4g}" + ("" if ci is None or math.isnan(ci) else f" ± {ci:.2g}")


def plot_curves(results: dict[str, Any], path: Path) -> Path:
    """Best accuracy within specs against trainings, one panel per scenario: mean and 95% CI
    band per agent, the optimum dotted."""
    from coexplore.figures import new_figure, save_figure

    envs = list(results["envs"])
    fig, axes = new_figure(ncols=len(envs), width=4.4 * len(envs), height=3.8)
    axes = np.atleast_1d(axes)
    for ax, env in zip(axes, envs, strict=True):
        lows = []
        for key, c in results["curves"].items():
            e, agent = key.split("|", 1)
            if e != env:
                continue
            m, h = np.array(c["mean"]) * 100, np.array(c["ci95"]) * 100
            x = np.arange(1, len(m) + 1)
            (line,) = ax.plot(x, m, lw=1.4, label=agent)
            ax.fill_between(x, m - h, m + h, color=line.get_color(), alpha=0.15)
            lows.append(m[min(len(m) - 1, max(0, len(m) // 10))])
        optimum = (results["envs"][env].get("optimum") or {}).get("optimum")
        if optimum is not None:
            ax.axhline(optimum * 100, color="k", ls=":", lw=1, label="optimum")
            ax.set_ylim(min([*lows, optimum * 100 - 1]) - 0.5, optimum * 100 + 0.3)
        ax.set_xscale("log")
        ax.set_xlabel("trainings")
        ax.set_title(env, fontsize=10)
    axes[0].set_ylabel("best accuracy within specs (%)")
    axes[0].legend(fontsize=7, loc="lower right")
    return save_figure(fig, path)


def log_wandb(config: BenchmarkConfig, results: dict[str, Any], figure: Path) -> None:
    """One W&B run for the benchmark (its group: ``wandb.group`` or the output folder's name):
    the results table, each agent's mean curve, the figure."""
    from dataclasses import replace

    wb = replace(config.wandb, group=config.wandb.group or Path(config.out).name)
    run_id = hashlib.sha256(str(Path(config.out).resolve()).encode()).hexdigest()[:8]
    tracker = WandbTracker(wb, Path(config.out), f"bench-{run_id}", results["config"])
    wandb = tracker.wandb
    columns = ["env", "agent", "seeds", "best_mean", "best_ci95", "regret_mean", "p_vs_random"]
    table = [[r[c] for c in columns] for r in results["results"]]
    data = {"benchmark/results": wandb.Table(columns=columns, data=table)}
    data["benchmark/curves"] = wandb.Image(str(figure))
    tracker.run.log(data)
    tracker.finish()


__all__ = [
    "AgentSpec",
    "BenchmarkConfig",
    "Job",
    "aggregate",
    "at_budget",
    "known_optimum",
    "markdown",
    "parse_agent",
    "plan",
    "run_benchmark",
    "check_run_dir",
    "run_job",
    "run_summary",
]
