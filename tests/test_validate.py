"""Every config dataclass a scenario is built from, walked field by field (issue 27): the
validator accepts a value of each field's annotated type and rejects a value of a clearly wrong
type with a ConfigError naming ``section.field``; an annotation it cannot check fails here.
Also the user-table example of docs/tables.md, which once died in validation with a TypeError.
"""

from __future__ import annotations

import csv
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from coexplore.compress.oracle import CompressionSpec
from coexplore.config import ConfigError
from coexplore.core.rewards import REWARDS
from coexplore.data import DataConfig
from coexplore.platforms import PLATFORMS, load_platforms
from coexplore.scenario import (
    HardwareConfig,
    SlowPhaseConfig,
    get_scenario,
    load_scenario,
    make_evaluator,
    schema,
    validate,
)
from coexplore.scenario.catalogue import scenario_files
from coexplore.spaces import SPACES, make_space
from coexplore.tables import ACCURACY_TABLES

SCALARS = {int: 3, float: 0.25, str: "text", bool: True, type(None): None}
# one value of every type YAML gives, each "clearly wrong" for an annotation not admitting it
YAML_VALUES = ["text", 3, 0.25, True, None, ["text"], {"key": "text"}]


def config_classes() -> list[type]:
    """The dataclasses ``validate.build`` builds a scenario from: the scenario's own sections,
    every registered family's two config classes, every space and reward, and any config
    dataclass their fields name (nested)."""
    load_platforms()
    todo = [HardwareConfig, SlowPhaseConfig, DataConfig, CompressionSpec]
    for name in PLATFORMS:
        family = PLATFORMS.get(name)
        todo += [family.config_class, family.fast_config_class]
    todo += [SPACES.get(n) for n in SPACES] + [REWARDS.get(n) for n in REWARDS]
    found: dict[type, None] = {}
    while todo:
        cls = todo.pop()
        if cls not in found:
            found[cls] = None
            for tp in typing.get_type_hints(cls).values():
                todo += [a for a in _parts(tp) if dataclasses.is_dataclass(a)]
    return sorted(found, key=lambda c: c.__qualname__)


def _parts(tp: Any) -> list[Any]:
    """``tp`` and every type inside it."""
    return [tp, *(p for a in typing.get_args(tp) for p in _parts(a))]


def _arms(tp: Any) -> tuple[Any, ...]:
    union = typing.get_origin(tp) in (typing.Union, types.UnionType)
    return typing.get_args(tp) if union else (tp,)


def admitted(tp: Any) -> set[type] | None:
    """The YAML value types ``tp`` admits (None: any); a kind of annotation this walk does not
    know fails the test, so the validator and this walk grow together."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return None
    if len(_arms(tp)) > 1:
        arms = [admitted(a) for a in args]
        return None if None in arms else set().union(*arms)
    if origin is typing.Literal:
        return {type(a) for a in args}
    if origin in (list, tuple):
        return {list}
    if origin is dict or dataclasses.is_dataclass(tp):
        return {dict}
    if tp is float:
        return {int, float}
    if tp in SCALARS:
        return {tp}
    pytest.fail(
        f"a new kind of annotation, {tp!r}: teach coexplore.scenario.validate and this test"
    )


def sample(tp: Any) -> Any:
    """A YAML value of type ``tp`` (a union: of its first arm)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    admitted(tp)  # fails on an unknown kind
    if tp is Any:
        return {"any": "value"}
    if len(_arms(tp)) > 1:
        return sample(args[0])
    if origin is typing.Literal:
        return args[0]
    if origin is list or (origin is tuple and args[-1] is Ellipsis):
        return [sample(args[0])]
    if origin is tuple:
        return [sample(a) for a in args]
    if origin is dict:
        return {sample(args[0]): sample(args[1])}
    if dataclasses.is_dataclass(tp):
        return required_sample(tp)
    return SCALARS[tp]


def required_sample(cls: type) -> dict[str, Any]:
    """A value for every field of ``cls`` that has no default."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: sample(hints[f.name])
        for f in dataclasses.fields(cls)
        if f.init and f.default is f.default_factory is dataclasses.MISSING
    }


def wrong_values(tp: Any) -> list[Any]:
    """Values ``tp`` must reject: every YAML type it does not admit, and for a container one
    holding a wrong item (or of the wrong length, or with an unknown field)."""
    allowed = admitted(tp)
    out = [v for v in YAML_VALUES if allowed is not None and type(v) not in allowed]
    for arm in _arms(tp):
        origin, args = typing.get_origin(arm), typing.get_args(arm)
        if origin is list or (origin is tuple and args[-1] is Ellipsis):
            out += [[sample(args[0]), w] for w in wrong_values(args[0])[:1]]
        elif origin is tuple:
            out.append([sample(a) for a in args] + [sample(args[-1])])
        elif origin is dict:
            out += [{sample(args[0]): w} for w in wrong_values(args[1])[:1]]
            out += [{w: sample(args[1])} for w in wrong_values(args[0])[:1] if w is not None]
        elif dataclasses.is_dataclass(arm):
            out.append({**required_sample(arm), "no_such_field": 1})
    return out


FIELDS = [
    pytest.param(cls, f.name, id=f"{cls.__qualname__}.{f.name}")
    for cls in config_classes()
    for f in dataclasses.fields(cls)
    if f.init
]


@pytest.mark.parametrize("cls, name", FIELDS)
def test_every_config_field_accepts_its_type_and_names_itself_when_wrong(cls, name):
    tp = typing.get_type_hints(cls)[name]
    described = validate.describe(tp)
    assert described and "typing" not in described and "<class" not in described
    for arm in {tp, *_arms(tp)}:
        assert validate.matches(sample(arm), arm), (name, arm)
    wrong = wrong_values(tp)
    assert wrong or admitted(tp) is None  # only an Any field takes everything
    for value in wrong:
        assert not validate.matches(value, tp), (name, value)
        data = {**required_sample(cls), name: value}
        with pytest.raises(ConfigError) as err:
            validate.build(cls, data, "walk.yaml", "section")
        assert err.value.field.startswith(f"section.{name}"), (value, err.value.field)
        assert str(err.value).startswith("walk.yaml: ")


def test_the_walk_covers_every_class_the_catalogue_is_built_from(monkeypatch):
    seen = set()
    original = validate.build

    def spy(cls, *args, **kwargs):
        seen.add(cls)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(validate, "build", spy)
    monkeypatch.setattr(schema, "build", spy)
    for path in scenario_files().values():
        load_scenario(path)
    assert seen and seen <= set(config_classes())


def test_an_annotation_the_validator_cannot_check_is_a_programming_error():
    with pytest.raises(TypeError, match="cannot be checked"):
        validate.matches({1}, set[int])


def test_nested_config_errors_name_the_subfield():
    with pytest.raises(ConfigError, match=r"'slow_phase\.train\.epochs' must be an integer"):
        validate.build(SlowPhaseConfig, {"train": {"epochs": "2"}}, "s.yaml", "slow_phase")
    built = validate.build(SlowPhaseConfig, {"train": {"epochs": 2}}, "s.yaml", "slow_phase")
    assert built.train.epochs == 2


def test_the_user_table_example_of_docs_tables_md(tmp_path):
    """``columns:`` and ``arch_column`` map a user's CSV (here: two NAS-Bench-201 cells)."""
    archs = ACCURACY_TABLES.get("nb201-cifar10").table().archs[:2]
    table = tmp_path / "hw_nas_bench_fpga.csv"
    with table.open("w", newline="") as fh:
        csv.writer(fh).writerows(
            [["arch_str", "fpga_latency", "fpga_energy"], [archs[0], 3.5, 12.0], [archs[1], 9, 20]]
        )
    data = yaml.safe_load(Path(get_scenario("nb201-table").source).read_text())
    data["hardware"] = yaml.safe_load(
        f"""
        family: table
        table: {table}
        arch_column: arch_str
        columns: {{latency_ms: fpga_latency, energy_mj: fpga_energy}}
        """
    )
    data["objectives"] = ["latency_s", "energy_j"]
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data))
    scenario = load_scenario(path)
    assert scenario.hardware.options.columns == {
        "latency_ms": "fpga_latency",
        "energy_mj": "fpga_energy",
    }
    space = make_space("nb201")
    record = make_evaluator(scenario).evaluate(space.to_tokens(space.parse(archs[0])))
    assert record.metrics.latency_s == pytest.approx(3.5e-3)
    assert record.metrics.energy_j == pytest.approx(12e-3)
    assert not record.pruned and record.val_acc is not None
