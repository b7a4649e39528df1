"""Candidate records: the one JSON shape, the upgrade of version-0 lines, and "results do not
change": records written by the FPGA-only code before the generic core (tests/data, episodes
of the seeded `make demo` search) are reproduced exactly by today's fast phase and reward."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from coexplore.core.metrics import Metrics
from coexplore.core.record import RECORD_VERSION, CandidateRecord
from coexplore.scenario import make_evaluator
from coexplore.search.runlog import RunLog, read_records, record_differences, record_from_json

V0 = Path(__file__).parent / "data" / "digits-fpga-v0.jsonl"
OLD = [json.loads(line) for line in V0.read_text().splitlines()]


@pytest.fixture(scope="module")
def evaluator():
    return make_evaluator("digits-fpga")


def test_v0_lines_upgrade_to_si_metrics():
    for old in OLD:
        r = record_from_json(old)
        assert r.version == RECORD_VERSION and r.platform == "fpga-pipeline"
        assert r.choice == old["parts_chosen"] and r.details["parts"] == old["parts"]
        if old["metrics"] is None:
            assert r.metrics is None
            continue
        m = old["metrics"]
        assert r.metrics.latency_s == m["latency_ms"] / 1e3
        assert r.metrics.energy_j == m["energy_mj"] / 1e3
        assert r.metrics.throughput_fps == m["throughput_fps"]
        assert r.metrics.devices == len(m["stages"]) == len(r.hardware["stages"])
        assert r.details["pipeline"] == m  # nothing of the old report is lost
        assert r.reward_terms == {k: old[k] for k in ("r_acc", "r_hw") if k in old}


def test_fast_phase_and_reward_reproduce_the_old_records(evaluator):
    """Every field the old code computed, recomputed: hardware, metrics, failed specs, pruning
    and reward (from the recorded accuracy; training is the trainer tests' business)."""
    kinds = set()
    for old in OLD:
        want = record_from_json(old)
        c = evaluator.candidate(old["tokens"])
        assert c.arch.canonical == want.arch and c.choice == want.choice
        fast, macs = evaluator.fast_phase(c), c.network.macs
        assert macs == want.macs
        assert fast.hardware == want.hardware
        assert fast.metrics == want.metrics
        assert fast.failed_specs == want.failed_specs
        assert fast.attempts == want.hw_attempts and fast.details == want.details
        assert evaluator.prunes(fast) == want.pruned
        kinds.add("bound" if want.pruned and not want.hw_attempts else str(want.pruned))
        if not want.pruned:
            terms = evaluator.reward_fn(want.val_acc, fast.metrics, evaluator.specs)
            assert terms.reward == want.reward and terms.terms == want.reward_terms
    assert kinds == {"bound", "True", "False"}  # pruned by the bound, by a spec, and trained


def test_json_round_trip_and_run_log(tmp_path):
    records = [record_from_json(old) for old in OLD]
    for r in records:
        assert CandidateRecord.from_json(json.loads(json.dumps(r.to_json()))) == r
    with RunLog(tmp_path) as log:
        for r in records:
            log.append(r)
    again = read_records(tmp_path)
    assert again == records and record_differences(records, again) == []
    changed = [*again[:-1], dataclasses.replace(again[-1], val_acc=0.5)]
    assert record_differences(records, changed) == [
        f"record {len(OLD) - 1}: val_acc: {records[-1].val_acc!r} != 0.5"
    ]
    nan = [dataclasses.replace(r, test_acc=float("nan")) for r in records]  # a table's "none"
    assert record_differences(nan, [dataclasses.replace(r) for r in nan]) == []


def test_bad_records_are_refused():
    line = record_from_json(OLD[0]).to_json()
    with pytest.raises(ValueError, match="newer"):
        CandidateRecord.from_json({**line, "version": RECORD_VERSION + 1})
    with pytest.raises(ValueError, match="unknown record fields"):
        CandidateRecord.from_json({**line, "colour": "blue"})


def test_metrics_units_and_derivations():
    m = Metrics.derived(latency_s=2e-3, throughput_fps=500.0, energy_j=4e-3)
    assert m.power_w == pytest.approx(2.0) and m.edp_js == pytest.approx(8e-6)
    assert m.to_dict().keys() == {"latency_s", "throughput_fps", "energy_j", "power_w", "edp_js"}
    assert np.isclose(Metrics.from_dict(m.to_dict()).power_w, 2.0)
