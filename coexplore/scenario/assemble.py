"""A scenario assembled: its oracle and its evaluator, from the parts its sections name.

The core's :class:`~coexplore.core.evaluator.CandidateEvaluator` knows no scenario; this is the
one place that reads a :class:`~coexplore.scenario.schema.Scenario` to build it: the platform
family, the accuracy oracle (from :class:`~coexplore.core.oracle.OracleSettings`, the sections
it may read), the compression plan, the executor of the trainings.
"""

from __future__ import annotations

from functools import partial

from coexplore.core.evaluator import CandidateEvaluator
from coexplore.core.oracle import AccuracyOracle, OracleSettings
from coexplore.data import dataset_shape
from coexplore.scenario.catalogue import get_scenario
from coexplore.scenario.schema import Scenario
from coexplore.slow.oracles import ORACLES


def make_oracle(scenario: Scenario, cache: str | None = None) -> AccuracyOracle:
    """The accuracy oracle ``slow_phase.oracle`` names, built from the sections it reads
    (``cache``: the slow phase's result cache file)."""
    slow = scenario.slow_phase
    settings = OracleSettings(
        data=scenario.data,
        train=slow.train,
        table=slow.table,
        compression=scenario.compression,
        hardware=scenario.hardware.options,
        space=scenario.space.name,
        cache=cache,
        source=scenario.source,
    )
    return ORACLES.get(slow.oracle).build(settings)


def make_evaluator(
    scenario: str | Scenario,
    cache: str | None = None,
    oracle: AccuracyOracle | None = None,
    run_dir: str | None = None,
) -> CandidateEvaluator:
    """The evaluator of ``scenario`` (a name, a file or a Scenario); ``cache``: the slow
    phase's result cache file, ``oracle``: one to use instead of the scenario's, ``run_dir``:
    where a local Ray keeps its files."""
    from coexplore.slow.executors import make_executor

    s = get_scenario(scenario) if isinstance(scenario, str) else scenario
    slow, hardware = s.slow_phase, s.hardware
    # the shape alone: a table oracle needs no images (their files need not be here)
    input_shape, num_classes = dataset_shape(s.data)
    executor = partial(
        make_executor,
        slow.executor,
        workers=slow.workers,
        run_dir=run_dir,
        address=slow.address,
        threads=slow.train.threads,  # the trainings' count: workers x threads = cores
    )
    return CandidateEvaluator(
        space=s.space,
        platform=s.platform(),
        oracle=oracle or make_oracle(s, cache),
        specs=s.specs,
        reward=s.reward,
        input_shape=input_shape,
        num_classes=num_classes,
        seed=s.data.seed,
        mode=hardware.mode,
        reference=s.space.parse(hardware.reference) if hardware.mode == "fixed" else None,
        prune=s.fast_phase.prune,
        compression=None if s.compression is None else s.compression.compression,
        executor=executor,
        parallel=slow.executor != "sequential" and slow.workers != 1,
        source=s.source,
    )
