"""One search run: scenario → env → agent, with the log, checkpoints, W&B and the report.

The agent drives the env token by token, or hands whole candidates to the env's evaluator (a
population agent); the evaluator hands every proposal's record to the search (a listener), which
appends it to ``candidates.jsonl`` (flushed) and to W&B. After each agent update the agent's
state and RNG states go to ``checkpoint.pkl`` (atomically). ``resume=True`` brings back the
checkpoint and the log: the candidates logged after the checkpoint are replayed — the restored
agent proposes them again and the evaluator answers from the log without re-evaluating —
so nothing finished is lost, and nothing is trained twice (trained accuracies also sit in the
run's result cache).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pickle
import secrets
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from coexplore import __version__
from coexplore.config import ConfigError, load_mapping
from coexplore.core.metrics import METRIC_INFO, format_metric
from coexplore.core.record import CandidateRecord
from coexplore.env.environment import CoExploreEnv
from coexplore.scenario import apply_overrides, make_evaluator, scenario_from_dict, scenario_path
from coexplore.search.agents import DEFAULT_AGENT, agent_class, check_agent_sections, make_agent
from coexplore.search.pareto import hv_reference, hypervolume
from coexplore.search.runlog import (
    CACHE_FILE,
    CANDIDATES_FILE,
    CHECKPOINT_FILE,
    RUN_FILE,
    RunLog,
    Summary,
    read_records,
    read_run,
    run_scenario,
)
from coexplore.search.tracking import WandbConfig, WandbTracker

PATIENCE = 1000  # proposals without a new training before a trainings budget stops (converged)
CHECKPOINT_S = 1.0  # at most one checkpoint per this many seconds (and one at the end)
STOPS = ("episodes", "trainings", "converged", "exhausted")


@dataclass(frozen=True)
class SearchConfig:
    """``episodes``: proposals in all (None: no limit); ``trainings``: distinct trainings in all
    (candidates sent to the slow phase; pruned ones and repeats cost none; None: no limit);
    ``patience``: stop when this many proposals in a row bring no new training (default
    :data:`PATIENCE` with a trainings budget)."""

    env: str = "digits-fpga"  # catalogue name or scenario file
    agent: str = DEFAULT_AGENT
    episodes: int | None = 100
    seed: int = 0
    out: str | None = None  # default: runs/<scenario>-<agent>-s<seed>
    agent_params: dict[str, Any] = field(default_factory=dict)
    overrides: tuple[str, ...] = ()  # scenario overrides, "section.field=VALUE"
    wandb: WandbConfig = field(default_factory=WandbConfig)

    trainings: int | None = None
    patience: int | None = None

    def __post_init__(self) -> None:
        for name in ("episodes", "trainings", "patience"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 1):
                raise ConfigError("search", name, "an integer >= 1", value)
        if self.episodes is None and self.trainings is None:
            raise ConfigError("search", "episodes", "set, or trainings set (a budget)")


@dataclass
class SearchResult:
    run_dir: Path
    episodes: int
    trainings: int  # distinct trainings the search paid for
    stopped: str  # what ended it: one of STOPS
    pruned: int
    trained: int
    diverged: int
    cache_hits: int
    best: CandidateRecord | None
    wall_s: float
    report: dict[str, Any] | None = None
    coverage: dict[str, Any] | None = None  # a partial table's rows the search kept to

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["best"] = None if self.best is None else self.best.to_json()
        d["out"] = str(d.pop("run_dir"))
        return d


def default_out(env: str, agent: str, seed: int) -> str:
    """``runs/<scenario>-<agent>-s<seed>`` for a scenario name or file."""
    return str(Path("runs") / f"{Path(env).stem}-{agent}-s{seed}")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Search:
    """A search run in ``run_dir``: new, or continued with ``resume=True``."""

    def __init__(self, config: SearchConfig, resume: bool = False) -> None:
        self.meta = self._prepare(config, resume)
        self.run_dir = Path(self.meta["out"])
        self.target = self.meta["episodes"] or math.inf
        self.trainings_target = self.meta.get("trainings") or math.inf
        patience = self.meta.get("patience")
        if patience is None and self.meta.get("trainings") is not None:
            patience = PATIENCE
        self.patience = patience or math.inf
        # relative output paths of the scenario (a measurement cache) go into the run directory
        self.scenario = replace(run_scenario(self.meta), output_dir=str(self.run_dir))
        self.objectives = self.scenario.objectives
        self.log = RunLog(self.run_dir)
        try:
            evaluator = make_evaluator(
                self.scenario, cache=str(self.run_dir / CACHE_FILE), run_dir=str(self.run_dir)
            )
            self.env = CoExploreEnv(self.scenario, evaluator=evaluator)
            self.env.preload(self.log.records)
            self.env.check_target()
            evaluator.listeners.append(self._on_record)
            self.agent = make_agent(
                self.meta["agent"], self.env, self.meta["seed"], **self.meta["agent_params"]
            )
        except ConfigError:
            if not self.log.records:  # a new run that cannot start leaves nothing behind
                self.log.close()
                for name in (RUN_FILE, CANDIDATES_FILE, CACHE_FILE):
                    (self.run_dir / name).unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    self.run_dir.rmdir()  # only when it is empty
            raise
        self.episode = 0
        checkpoint = self.run_dir / CHECKPOINT_FILE
        if resume and checkpoint.exists():
            state = pickle.loads(checkpoint.read_bytes())
            self.agent.load_state_dict(state["agent"])
            self.env.load_state_dict(state.get("env", {}))
            self.episode = state["episodes"]
        self._seen = {tuple(r.tokens) for r in self.log.records[: self.episode]}
        self._trainings: set[Any] = set()
        self._training_episodes: list[int] = []  # the episode of each new training, in order
        self._since_new = 0  # proposals since the last new training
        for i, r in enumerate(self.log.records[: self.episode]):
            self._count(r, i)
        self.stopped = ""
        self._summary = self._summarize(self.log.records)
        self._last_checkpoint = -math.inf
        self._wall_base = self.log.records[-1].wall_s if self.log.records else 0.0
        self._start = time.perf_counter()
        self.tracker = WandbTracker(
            config.wandb, self.run_dir, self.meta["wandb_id"], self._public_meta()
        )
        self._bar = None

    # --- run directory -------------------------------------------------------------------------
    def _prepare(self, config: SearchConfig, resume: bool) -> dict[str, Any]:
        out = Path(config.out or default_out(config.env, config.agent, config.seed))
        if resume:
            try:
                meta = read_run(out)
            except FileNotFoundError:
                raise ConfigError(
                    str(out), "--resume", "a run directory of an earlier search"
                ) from None
            for name in ("episodes", "trainings"):
                value, before = getattr(config, name), meta.get(name)
                if before is not None and (value is None or value < before):
                    raise ConfigError(str(out), name, f">= the run's {before}", value)
                meta[name] = value
            meta["patience"] = config.patience
        else:
            if (out / CANDIDATES_FILE).exists() or (out / RUN_FILE).exists():
                raise ConfigError(
                    str(out),
                    "--out",
                    "a new directory (this one holds a search: pass --resume to continue it)",
                )
            path = scenario_path(config.env)
            data = apply_overrides(load_mapping(path), list(config.overrides))
            scenario = scenario_from_dict(data, str(path))
            params = {**scenario.agents.get(config.agent, {}), **config.agent_params}
            # before the run directory exists: a bad parameter leaves nothing behind
            check_agent_sections(scenario.agents, str(path))
            agent_class(config.agent).check_params(params)
            meta = {
                "env": config.env,
                "scenario": scenario.name,
                "scenario_source": str(path),
                "scenario_data": data,
                "gym_id": scenario.gym_id,
                "overrides": list(config.overrides),
                "agent": config.agent,
                "agent_params": params,
                "seed": config.seed,
                "episodes": config.episodes,
                "trainings": config.trainings,
                "patience": config.patience,
                "mode": "sequential",
                "specs": scenario.specs.to_dict(),
                "wandb_id": secrets.token_hex(4),
                "coexplore_version": __version__,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
        meta["out"] = str(out)
        out.mkdir(parents=True, exist_ok=True)
        _write_atomic(out / RUN_FILE, json.dumps(meta, indent=2).encode())
        return meta

    def _public_meta(self) -> dict[str, Any]:
        hidden = ("scenario_data", "wandb_id", "training_episodes")
        return {k: v for k, v in self.meta.items() if k not in hidden}

    # --- episodes ------------------------------------------------------------------------------
    def _count(self, record: CandidateRecord, episode: int) -> None:
        """Count ``record``'s training if it is a new one (pruned candidates train nothing)."""
        key = None if record.pruned else self.env.evaluator.record_training(record)
        if key is not None and key not in self._trainings:
            self._trainings.add(key)
            self._training_episodes.append(episode)
            self._since_new = 0
        else:
            self._since_new += 1

    def _on_record(self, evaluated: CandidateRecord) -> None:
        i = self.episode
        self.episode += 1
        self._count(evaluated, i)
        if i < len(self.log.records):  # replaying the episodes after the checkpoint
            if self.log.records[i].tokens == evaluated.tokens:
                self._seen.add(tuple(evaluated.tokens))
                return
            self.log.truncate(i)  # the agent went another way: the log follows it from here
            self._summary = self._summarize(self.log.records)
        wall = self._wall_base + time.perf_counter() - self._start
        key = tuple(evaluated.tokens)
        record = evaluated.proposal(i, wall, repeat=key in self._seen)  # repeat: from memory
        self._seen.add(key)
        self.log.append(record)
        self._summary.add(record)
        stats = self._summary.stats()
        if self.tracker.active:
            progress = {k: v for k, v in stats.items() if k != "best"}
            progress["trainings"] = len(self._trainings)
            for metric in self.objectives:
                reference = hv_reference(metric, self.scenario.specs)
                progress[f"hypervolume_{metric}"] = hypervolume(self.log.records, metric, reference)
            self.tracker.log_candidate(record, progress)
        if self._bar is not None:
            self._bar.set_postfix(_postfix(stats, self.objectives), refresh=False)
            self._bar.update(1)

    def _summarize(self, records: list[CandidateRecord]) -> Summary:
        summary = Summary(self.objectives)
        for r in records:
            summary.add(r)
        return summary

    def _checkpoint(self, force: bool = False) -> None:
        """Save the agent's and env's state, at most every :data:`CHECKPOINT_S` seconds
        unless ``force``d: a resumed run replays the episodes logged after it, so a later
        checkpoint saves time, never results."""
        now = time.perf_counter()
        if not force and now - self._last_checkpoint < CHECKPOINT_S:
            return
        self._last_checkpoint = now
        state = {
            "episodes": self.episode,
            "agent": self.agent.state_dict(),
            "env": self.env.state_dict(),
        }
        _write_atomic(self.run_dir / CHECKPOINT_FILE, pickle.dumps(state))

    def _stop(self) -> bool:
        """Whether the search stops now; ``stopped`` says why (one of :data:`STOPS`)."""
        if not self.stopped:
            if self.episode >= self.target:
                self.stopped = "episodes"
            elif len(self._trainings) >= self.trainings_target:
                self.stopped = "trainings"
            elif self._since_new >= self.patience:
                self.stopped = "converged"
        return bool(self.stopped)

    def run(self, progress: bool = True, report: bool = True) -> SearchResult:
        from tqdm.auto import tqdm

        done = len(self.log.records)
        with tqdm(
            total=self.target if math.isfinite(self.target) else None,
            initial=done,
            desc=f"{self.meta['agent']} on {self.meta['scenario']}",
            unit="cand",
            disable=not progress,
            dynamic_ncols=True,
        ) as self._bar:
            if self.env.coverage is not None:  # said even with --quiet: it shapes the search
                tqdm.write(f"note: {self.env.coverage.statement()}", file=sys.stderr)
            self._bar.set_postfix(_postfix(self._summary.stats(), self.objectives))
            while not self._stop():
                before = self.episode
                # never more episodes than any budget has left: an episode brings at most one
                # training and, without one, moves one step nearer the converged stop
                left = min(self.target - self.episode, self.trainings_target - len(self._trainings),
                           self.patience - self._since_new)  # fmt: skip
                self.agent.run(int(left) if math.isfinite(left) else PATIENCE)
                self._checkpoint()
                if self.episode == before:  # an agent that has nothing left to propose
                    self.stopped = "exhausted"
            self._checkpoint(force=True)
        self.meta.update(
            stopped=self.stopped,
            trainings_done=len(self._trainings),
            training_episodes=self._training_episodes,
        )
        _write_atomic(self.run_dir / RUN_FILE, json.dumps(self.meta, indent=2).encode())
        self._bar = None
        self.log.close()
        self.env.close()
        written = None
        if report:
            from coexplore.search.report import write_report

            written = write_report(self.run_dir)
        plots = {m: self.run_dir / "report" / f"pareto_{m}.png" for m in self.objectives}
        self.tracker.log_fronts(
            self.log.records, self.objectives, {k: p for k, p in plots.items() if p.exists()}
        )
        self.tracker.finish()
        stats = self._summary.stats()
        return SearchResult(
            run_dir=self.run_dir,
            episodes=stats["episodes"],
            trainings=len(self._trainings),
            stopped=self.stopped,
            pruned=stats["pruned"],
            trained=stats["trained"],
            diverged=stats["diverged"],
            cache_hits=stats["cache_hits"],
            best=stats["best"],
            wall_s=stats["wall_s"],
            report=written,
            coverage=None if self.env.coverage is None else self.env.coverage.to_json(),
        )


def _postfix(stats: dict[str, Any], objectives: tuple[str, ...]) -> dict[str, str]:
    acc = stats["best_val_acc"]
    out = {
        "pruned": str(stats["pruned"]),
        "trained": str(stats["trained"]),
        "best_acc": "-" if acc is None else f"{acc:.4f}",
    }
    if objectives:
        metric = objectives[0]
        short = {"throughput_fps": "fps"}.get(metric, METRIC_INFO[metric].label.split()[0])
        value = stats[f"best_{metric}"]
        out[f"best_{short}"] = "-" if value is None else format_metric(metric, value)
    return out


def run_search(
    config: SearchConfig, resume: bool = False, progress: bool = True, report: bool = True
) -> SearchResult:
    """Run (or continue) a search until its budget is spent (``config.episodes`` proposals,
    ``config.trainings`` trainings) or it has converged; see :class:`Search`."""
    return Search(config, resume).run(progress=progress, report=report)


def _finished(out: Path, config: SearchConfig) -> bool:
    """Whether the run in ``out`` has spent ``config``'s budget (or stopped for good)."""
    meta = read_run(out)
    if config.trainings is None:
        return len(read_records(out)) >= (config.episodes or 0)
    if meta.get("trainings") != config.trainings or meta.get("episodes") != config.episodes:
        return False
    return meta.get("stopped") in STOPS


def ensure_run(config: SearchConfig, progress: bool = True, report: bool = True) -> Path:
    """The run directory of ``config`` holding ``config.episodes`` candidates: a finished run
    is left as it is, an interrupted one resumed, a missing one started (for experiment grids
    that continue where they stopped)."""
    out = Path(config.out or default_out(config.env, config.agent, config.seed))
    config = replace(config, out=str(out))
    if not (out / RUN_FILE).exists():
        run_search(config, progress=progress, report=report)
    elif not _finished(out, config):
        run_search(config, resume=True, progress=progress, report=report)
    return out
