"""Budgets in what costs: ``--trainings`` (distinct trainings), the converged stop, and how
both reach resume, the CLI's JSON and the report."""

import json

import pytest

from coexplore.cli.main import main
from coexplore.config import ConfigError
from coexplore.search.runlog import read_records, read_run
from coexplore.search.runner import SearchConfig, ensure_run, run_search
from coexplore.search.tracking import WandbConfig

OFF = WandbConfig(mode="disabled")


def search(out, env="nb201-table", agent="random", resume=False, **budget):
    config = SearchConfig(env=env, agent=agent, seed=3, out=str(out), wandb=OFF, **budget)
    return run_search(config, resume=resume, progress=False, report=False)


def trained_archs(records) -> set[str]:
    return {r.arch for r in records if not r.pruned}


def test_a_trainings_budget_counts_distinct_trainings(tmp_path):
    result = search(tmp_path / "run", episodes=None, trainings=12)
    records = read_records(tmp_path / "run")
    assert (result.trainings, result.stopped) == (12, "trainings")
    assert len(trained_archs(records)) == 12  # one training per architecture (a table)
    assert len(records) == result.episodes >= 12  # pruned candidates and repeats cost none
    assert len(trained_archs(records[:-1])) == 11  # it stops at the training that fills it
    meta = read_run(tmp_path / "run")
    assert (meta["trainings"], meta["trainings_done"], meta["stopped"]) == (12, 12, "trainings")
    # the episode of each new training, in order: the anytime curve of a benchmark reads them
    firsts, seen = [], set()
    for i, r in enumerate(records):
        if not r.pruned and r.arch not in seen:
            firsts.append(i)
            seen.add(r.arch)
    assert meta["training_episodes"] == firsts


def test_whichever_budget_comes_first_stops_the_search(tmp_path):
    result = search(tmp_path / "run", episodes=5, trainings=1000)
    assert (result.episodes, result.stopped) == (5, "episodes")


def test_raising_the_trainings_budget_resumes_to_the_same_search(tmp_path):
    whole = search(tmp_path / "whole", episodes=None, trainings=20)
    search(tmp_path / "part", episodes=None, trainings=8)
    part = search(tmp_path / "part", episodes=None, trainings=20, resume=True)
    a, b = read_records(tmp_path / "whole"), read_records(tmp_path / "part")
    assert [r.tokens for r in a] == [r.tokens for r in b]
    assert (part.trainings, part.stopped) == (whole.trainings, whole.stopped) == (20, "trainings")
    episodes = [read_run(tmp_path / d)["training_episodes"] for d in ("whole", "part")]
    assert episodes[0] == episodes[1]
    with pytest.raises(ConfigError, match="trainings"):
        search(tmp_path / "part", episodes=None, trainings=10, resume=True)


def test_a_search_without_new_trainings_stops_as_converged(tmp_path):
    """A fixed workload trains nothing new after its first candidate: with a trainings budget
    the search stops after ``patience`` proposals in a row without a new training."""
    overrides = ("space.net=dqn", "fast_phase.mapper_budget=100")
    config = SearchConfig(
        env="eyeriss-codesign",
        agent="random",
        episodes=None,
        trainings=5,
        patience=3,
        out=str(tmp_path / "run"),
        overrides=overrides,
        wandb=OFF,
    )
    result = run_search(config, progress=False, report=False)
    assert (result.stopped, result.trainings, result.episodes) == ("converged", 1, 4)


def test_an_agent_with_nothing_left_stops_as_exhausted(tmp_path):
    """cbo lists the candidates and never proposes one twice: at the end of the list it stops."""
    space = {"pe_x": {"level": "shared_glb", "field": "fanout_x", "choices": [7, 14]}}
    overrides = ("space.net=dqn", "fast_phase.mapper_budget=100", "specs={}",
                 f"hardware.space={json.dumps(space)}")  # fmt: skip
    config = SearchConfig(env="eyeriss-codesign", agent="cbo", episodes=10,
                          out=str(tmp_path / "run"), overrides=overrides, wandb=OFF)  # fmt: skip
    result = run_search(config, progress=False, report=False)
    assert (result.stopped, result.episodes) == ("exhausted", 2)


@pytest.mark.parametrize(
    ("budget", "field"),
    [({"trainings": 0}, "trainings"), ({"patience": 0}, "patience"),
     ({"episodes": None}, "episodes"), ({"episodes": 0}, "episodes")],
)  # fmt: skip
def test_bad_budgets_name_the_field(budget, field):
    with pytest.raises(ConfigError, match=field):
        SearchConfig(**budget)


def test_ensure_run_continues_until_the_trainings_are_spent(tmp_path):
    config = SearchConfig(env="nb201-table", agent="random", seed=3, out=str(tmp_path / "run"),
                          episodes=None, trainings=6, wandb=OFF)  # fmt: skip
    ensure_run(config, progress=False, report=False)
    first = read_records(tmp_path / "run")
    ensure_run(config, progress=False, report=False)  # finished: left as it is
    assert read_records(tmp_path / "run") == first
    more = SearchConfig(**{**config.__dict__, "trainings": 9})
    ensure_run(more, progress=False, report=False)
    assert len(trained_archs(read_records(tmp_path / "run"))) == 9


def test_the_cli_takes_trainings_and_reports_them(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["search", "--env", "nb201-table", "--agent", "random", "--trainings", "7",
            "--out", str(out), "--json", "--quiet", "--wandb-mode", "disabled"]  # fmt: skip
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["trainings"], result["stopped"]) == (7, "trainings")
    text = (out / "report" / "README.md").read_text()
    assert "| distinct trainings (what the search paid for) | 7 |" in text
    assert "| stopped | trainings |" in text
    argv = ["search", "--resume", "--out", str(out), "--trainings", "9", "--quiet",
            "--wandb-mode", "disabled", "--no-report"]  # fmt: skip
    assert main(argv) == 0
    assert "9 trainings" in capsys.readouterr().out
