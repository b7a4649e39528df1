"""Fuzzing every kind of input file (issue 27: every bad input a named error).

Each kind starts from valid files (the scenario catalogue, the FPGA part catalogue, a network,
designs, mappings, compression plans and files, user tables, a latency predictor, optical
systems, SLM curves, the spatial templates), and Hypothesis changes one thing: a field gets a
value of the wrong type or out of range, a mapping an unknown key, a key or list item goes
missing (a CSV loses or gains a cell, row or column), or the file is not one of its kind at
all. The loader, and what reads the file right after it (the cost model on a design, the
evaluator on a mapping, the predictor on a network), must accept the file or raise a
:class:`ConfigError` naming the file and a field: never a TypeError, KeyError, IndexError or an
error (or RuntimeWarning) from inside numpy. Where the change certainly breaks the file (an
unknown key, garbage, a table cell out of its column's range) it must be rejected. Through
the CLI each kind of bad file is exit status 2 and one line. Scenarios are loaded, never
searched.

Cases are drawn deterministically (``derandomize``: each test's cases follow from its id), so
the test is never flaky; :func:`planned_cases` gives their number per kind of file.
"""

from __future__ import annotations

import atexit
import copy
import csv
import json
import math
import pickle
import shutil
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coexplore.cli.main import main
from coexplore.config import ConfigError, load_mapping
from coexplore.core.candidate import Candidate
from coexplore.scenario import load_scenario, scenario_files

# --- mutations ------------------------------------------------------------------------------

WRONG_TYPES = [None, True, "text", 7, 2.5, [], ["a", 1], {}, {"k": "v"}]
NUMBERS = st.one_of(
    st.sampled_from([0, -1, -2.5, 0.5, 1.5, 10**6, 2**64, 1e300, -1e300, math.nan, math.inf]),
    st.integers(-(10**4), 10**4),
    st.floats(allow_nan=True, allow_infinity=True),
)
TEXTS = st.one_of(
    st.sampled_from(["", " ", "no-such-name", "missing.csv", "../missing.yaml", "-1", "1e999"]),
    st.text(max_size=6),
)
CELLS = st.one_of(
    st.sampled_from(["", "nan", "inf", "-inf", "-1", "0", "1e999", "abc", "1,5", "  ", "2"]),
    st.text(max_size=5),
)
KEYS = st.one_of(  # YAML keys may also be numbers, booleans or null
    st.sampled_from(["zz_unknown", "name", "type", "1", "", 1, 2.5, True, None]),
    st.text(max_size=6),
)
GARBAGE = st.one_of(
    st.sampled_from([b"", b"- a\n- b\n", b"{", b"\xff\xfe\x00", b"key: [unclosed", b"42", b"null"]),
    st.binary(max_size=40),
)


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """The path of every node below ``doc`` (mapping keys and list indices), outer first."""
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    out = []
    for key, value in items:
        out += [(*prefix, key), *_paths(value, (*prefix, key))]
    return out


def _get(doc: Any, path: tuple) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _edit(doc: Any, path: tuple, change: Callable[[Any], None]) -> Any:
    """``doc`` with ``change`` applied to the node at ``path``, copying only that path."""
    new = copy.copy(doc)
    if path:
        new[path[0]] = _edit(doc[path[0]], path[1:], change)
    else:
        change(new)
    return new


def _out_of_range(value: Any) -> st.SearchStrategy:
    if isinstance(value, bool):
        return st.sampled_from(WRONG_TYPES)
    if isinstance(value, int | float):
        return NUMBERS
    if isinstance(value, str):
        return TEXTS
    if isinstance(value, list):  # empty, or an item twice
        return st.sampled_from([[], value + value[:1]])
    return st.just({})


@st.composite
def mutations(draw, doc: Any) -> tuple[str, tuple, Any]:
    """(what, where, the document with one field changed, added or dropped)."""
    paths = _paths(doc)
    what = draw(st.sampled_from(["wrong type", "out of range", "unknown key", "missing key"]))
    if what == "unknown key" or not paths:
        mappings = [p for p in [(), *paths] if isinstance(_get(doc, p), dict)]
        where = draw(st.sampled_from(mappings))
        key = draw(KEYS.filter(lambda k: k not in _get(doc, where)))
        value = draw(st.sampled_from(WRONG_TYPES))
        return "unknown key", (*where, key), _edit(doc, where, lambda n: n.__setitem__(key, value))
    where = draw(st.sampled_from(paths))
    if what == "missing key":
        return what, where, _edit(doc, where[:-1], lambda n: n.__delitem__(where[-1]))
    old = _get(doc, where)
    if what == "wrong type":
        value = draw(st.sampled_from([w for w in WRONG_TYPES if type(w) is not type(old)]))
    else:
        value = draw(_out_of_range(old))
    return what, where, _edit(doc, where[:-1], lambda n: n.__setitem__(where[-1], value))


@st.composite
def csv_mutations(draw, rows: list[list[str]]) -> tuple[str, tuple, Any]:
    """A table's rows with one cell, row or column changed, dropped or added."""
    what = draw(st.sampled_from(["cell", "drop cell", "add cell", "drop row", "copy row",
                                 "drop column", "add column", "rename column"]))  # fmt: skip
    i = draw(st.integers(0, len(rows) - 1))
    j = draw(st.integers(0, len(rows[0]) - 1))
    rows = [list(r) for r in rows]
    if what == "cell":
        rows[i][j] = draw(CELLS)
    elif what == "drop cell":
        del rows[i][j]
    elif what == "add cell":
        rows[i].append(draw(CELLS))
    elif what == "drop row":
        del rows[i]
    elif what == "copy row":
        rows.append(list(rows[max(i, 1) if len(rows) > 1 else 0]))
    elif what == "drop column":
        rows = [r[:j] + r[j + 1 :] for r in rows]
    elif what == "add column":
        rows = [r + [draw(CELLS)] for r in rows]
    else:
        rows[0][j] = draw(st.one_of(CELLS, st.sampled_from(rows[0])))
    return what, (i, j), rows


# --- the kinds of file ----------------------------------------------------------------------


def _never(seed: str, where: tuple) -> bool:
    return False


@dataclass
class Kind:
    """A kind of input file: valid seeds, how a document is written, what reads it, the CLI
    command that reads one, and where a change is not certainly wrong."""

    seeds: Callable[[], dict[str, Any]]  # name → document
    suffix: str
    load: Callable[[Path], Any]
    examples: int  # cases per seed
    cli: Callable[[Path], list[str]]  # the command line that reads the file at PATH
    table: bool = False  # a CSV (rows of cells) rather than a YAML/JSON/pickle document
    free: Callable[[str, tuple], bool] = _never  # (seed, mapping) takes any key
    cells: dict[str, Callable[[float], bool]] = field(default_factory=dict)  # valid numbers

    def write(self, doc: Any, path: Path) -> None:
        if isinstance(doc, bytes):
            path.write_bytes(doc)
        elif self.table:
            with path.open("w", newline="") as fh:
                csv.writer(fh).writerows(doc)
        elif self.suffix == ".predictor":
            path.write_bytes(pickle.dumps(_predictor_object(doc)))
        elif self.suffix == ".json":
            path.write_text(json.dumps(doc))
        else:
            path.write_text(yaml.safe_dump(doc, allow_unicode=True))


WORK = Path(tempfile.mkdtemp(prefix="coexplore-fuzz-"))  # the files written (seeds need some)
atexit.register(shutil.rmtree, WORK, ignore_errors=True)


def _lenet5():
    from coexplore.workloads import preset

    return preset("lenet5")


def _search(path: Path) -> list[str]:
    """A search on the scenario file at ``path`` (one candidate, nothing else)."""
    out = WORK / f"run-{path.stem}"
    return ["search", "--env", str(path), "--out", str(out), "--agent", "random",
            "--episodes", "1", "--quiet", "--no-report", "--wandb-mode", "disabled"]  # fmt: skip


def _scenario_on(name: str, changes: dict[str, Any], path: Path) -> Path:
    """Catalogue scenario ``name`` with some sections changed, written beside ``path``."""
    data = {**load_mapping(scenario_files()[name]), **changes}
    scenario = path.with_name(f"{path.stem}-scenario.yaml")
    scenario.write_text(yaml.safe_dump(data))
    return scenario


# scenarios


def _catalogue_scenarios() -> dict[str, Any]:
    return {name: load_mapping(path) for name, path in scenario_files().items()}


def _agents_take_anything(seed: str, where: tuple) -> bool:
    return where[:1] == ("agents",)  # hyperparameters are checked when the agent is built


# FPGA parts, networks, designs


def _parts() -> dict[str, Any]:
    from coexplore.platforms.fpga_pipeline import parts

    folder = Path(parts.__file__).parent / "parts"
    return {p.stem: load_mapping(p) for p in sorted(folder.glob("*.yaml"))}


def _load_part(path: Path) -> Any:
    from coexplore.platforms.fpga_pipeline.parts import part_from_dict

    return part_from_dict(load_mapping(path), str(path))  # (registering would change PARTS)


def _networks() -> dict[str, Any]:
    return {
        "docstring": {
            "name": "mynet",
            "input": [3, 32, 32],
            "layers": [
                {"type": "conv", "out": 32, "kernel": 3, "stride": 1, "padding": "same"},
                {"type": "pool", "kernel": 2},
                {"type": "dwconv", "kernel": 3, "padding": 1},
                {"type": "conv", "out": 64, "kernel": 1, "groups": 2, "name": "pw"},
                {"type": "fc", "out": 10},
            ],
        }
    }


def _load_network(path: Path) -> Any:
    from coexplore.workloads.suites import load_workload

    return load_workload(str(path))  # the network, and its layers as loop nests


LENET5_DESIGN = {
    "precision": "fixed16",
    "stages": [
        {"part": "XC7Z020", "layers": [0, 1],
         "design": {"tm": 6, "tn": 6, "tr": 2, "tc": 2, "ib": 98, "wb": 28, "ob": 42}},
        {"part": "XC7A50T", "layers": "2-6",
         "design": {"tm": 6, "tn": 6, "tr": 5, "tc": 5, "ib": 21, "wb": 96, "ob": 11}},
    ],
}  # fmt: skip


def _designs() -> dict[str, Any]:
    report = {"network": "lenet5", "throughput_fps": 4196.0, "hardware": LENET5_DESIGN}
    return {"tuned": LENET5_DESIGN, "tune-report": report}


def _design_file() -> Path:
    path = WORK / "lenet5-design.json"
    if not path.exists():
        path.write_text(json.dumps(LENET5_DESIGN))
    return path


def _load_design(path: Path) -> Any:
    from coexplore.platforms.fpga_pipeline.pipeline import evaluate_pipeline, read_design_file

    network = _lenet5()
    return evaluate_pipeline(network, read_design_file(path, network))


def _report_takes_anything(seed: str, where: tuple) -> bool:
    return "report" in seed and where == ()  # a report holds more than the design


# spatial mappings and templates

MLP_MAPPINGS = {
    "template": "eyeriss-like",
    "workload": "mlp",
    "layers": {
        "fc1": {"DRAM": {"temporal": {"C": 4}},
                "shared_glb": {"temporal": {"M": 8, "C": 49}, "spatial_x": {"M": 8},
                               "spatial_y": {"C": 4, "M": 2}},
                "psum_spad": {"temporal": {"M": 8}}},
        "fc2": {"shared_glb": {"temporal": {"M": 8, "C": 32}, "spatial_x": {"M": 8},
                               "spatial_y": {"C": 8}},
                "weights_spad": {"temporal": {"C": 4}, "keep": ["weights"]},
                "psum_spad": {"temporal": {"M": 16}}},
        "fc4": {"DRAM": {"temporal": {"C": 2}},
                "shared_glb": {"temporal": {"C": 4}, "spatial_x": {"M": 10},
                               "spatial_y": {"C": 8}},
                "weights_spad": {"temporal": {"C": 16}}},
    },
    "hardware": {"pe_x": 14, "pe_y": 12, "glb": 131072, "glb_bw": 16},
}  # fmt: skip


def _mappings() -> dict[str, Any]:
    one = {"DRAM": {"temporal": {"C": 4, "M": 2}}, "shared_glb": {"spatial_x": {"M": 2}}}
    return {"search-out": MLP_MAPPINGS, "one-for-all": one}


def _load_mapping_file(path: Path) -> Any:
    from coexplore.accel.evaluate import evaluate_report
    from coexplore.platforms.spatial.network import read_mapping_file

    mappings, hardware = read_mapping_file(str(path))
    return evaluate_report("eyeriss-like", "mlp", mappings, hardware, 0, 0, False, 1, str(path))


def _templates() -> dict[str, Any]:
    from coexplore.platforms.spatial.arch import TEMPLATE_DIR

    return {p.stem: load_mapping(p) for p in sorted(TEMPLATE_DIR.glob("*.yaml"))}


def _load_template(path: Path) -> Any:
    """A template file: its design space (if any) and the mapper's mappings of a small MLP."""
    from coexplore.accel.evaluate import evaluate_report
    from coexplore.platforms.spatial.arch import load_template
    from coexplore.platforms.spatial.space import template_space

    template = load_template(str(path))
    if template.space is not None:
        template_space(template)
    return evaluate_report(str(path), "mlp", None, None, 20, 0, False)


# compression


def _weight_layers():
    return [ly for ly in _lenet5().layers if ly.weights]


def _plans() -> dict[str, Any]:
    return {"per-layer": {"conv1": 0.5, "conv2": {"keep": 0.2, "bits": 4}, "fc1": {"keep": 0.1}}}


def _load_plan(path: Path) -> Any:
    from coexplore.compress.plan import read_plan_file

    return read_plan_file(path, _weight_layers())


def _bits() -> dict[str, Any]:
    return {"every-layer": {"conv1": 8, "conv2": 6, "fc1": 4, "fc2": 4, "fc3": 8}}


def _load_bits(path: Path) -> Any:
    from coexplore.compress.plan import read_bits

    return read_bits(str(path), _weight_layers())


def _compressions() -> dict[str, Any]:
    layers = [("conv1", 0.8, 8, 150), ("conv2", 0.3, 4, 2400), ("fc1", 0.05, 4, 48000)]
    return {
        "plain": {"density": {"conv1": 0.5, "fc1": 0.1}, "weight_bits": {"fc1": 4},
                  "index_bits": 4, "overhead": 0.1},
        "compress-report": {
            "model": "preset:lenet5",
            "layers": [{"name": n, "keep": k, "bits": b, "weights": w, "sparse": True}
                       for n, k, b, w in layers],
            "fpga": {"index_bits": 4, "overhead": 0.05, "part": "XC7Z020"},
        },
    }  # fmt: skip


def _load_compression(path: Path) -> Any:
    from coexplore.platforms.fpga_pipeline.pipeline import evaluate_pipeline, read_design_file
    from coexplore.platforms.fpga_pipeline.sparse import read_compression_file

    network = _lenet5()
    design = read_design_file(_design_file(), network)
    return evaluate_pipeline(network, design, read_compression_file(path, network))


def _report_parts_take_anything(seed: str, where: tuple) -> bool:
    """A compress report holds more than the compression: at its top, in ``fpga`` and in
    each layer."""
    return "report" in seed and (where in ((), ("fpga",)) or where[:1] == ("layers",))


# user tables


def _nb201_cells(n: int) -> list[str]:
    from coexplore.tables import ACCURACY_TABLES

    return list(ACCURACY_TABLES.get("nb201-cifar10").table().archs[:n])


def _nb201_networks(table: Path, arch_column: str) -> list[Any]:
    """The networks of the NAS-Bench-201 cells the table at ``table`` holds."""
    from coexplore.spaces import make_space
    from coexplore.tables import read_table

    space, rows = make_space("nb201"), read_table(table, arch_column).index
    return [space.parse(a).network((3, 32, 32), 10) for a in _nb201_cells(3) if a in rows]


def _hardware_tables() -> dict[str, Any]:
    a, b, c = _nb201_cells(3)
    header = ["arch_str", "fpga_latency", "fpga_energy", "note"]
    return {"mapped": [header, [a, "3.5", "12", "x"], [b, "9", "20", "y"], [c, "1e-3", "0.5", ""]]}


def _hardware_table_scenario(path: Path) -> Path:
    """The docs/tables.md example: nb201-table on the user's CSV at ``path``."""
    columns = {"latency_ms": "fpga_latency", "energy_mj": "fpga_energy"}
    hardware = {"family": "table", "table": str(path), "arch_column": "arch_str",
                "columns": columns}  # fmt: skip
    return _scenario_on("nb201-table", {"hardware": hardware, "objectives": ["latency_s"]}, path)


def _load_hardware_table(path: Path) -> Any:
    """Load the scenario on this CSV and look every row up."""
    from coexplore.core.specs import Specs

    platform = load_scenario(_hardware_table_scenario(path)).platform()
    networks = _nb201_networks(path, "arch_str")
    return [platform.evaluate(Candidate(network=n), Specs(), None) for n in networks]


def _accuracy_tables() -> dict[str, Any]:
    a, b, c = _nb201_cells(3)
    header = ["arch", "val_acc", "test_acc", "params"]
    return {"fractions": [header, [a, "0.91", "0.9", "1.2"], [b, "0.5", "0.45", "x"],
                          [c, "0.1", "0.1", "3"]]}  # fmt: skip


def _accuracy_table_scenario(path: Path) -> Path:
    return _scenario_on(
        "nb201-table", {"slow_phase": {"oracle": "table", "table": str(path)}}, path
    )


def _load_accuracy_table(path: Path) -> Any:
    from coexplore.slow.oracles import TableOracle
    from coexplore.spaces import make_space

    oracle, space = TableOracle(str(path)), make_space("nb201")
    table = oracle.columns[0]
    return [oracle.evaluate(Candidate(space.parse(a))) for a in _nb201_cells(3) if a in table.index]


def _positive_or_nan(v: float) -> bool:
    return math.isnan(v) or 0 < v < math.inf


def _fraction(v: float) -> bool:
    return 0 <= v <= 1


# the latency predictor


def _predictor_networks() -> list[Any]:
    from coexplore.latency.experiment import sample_distinct
    from coexplore.spaces import make_space

    space = make_space("chain", depth=3, kernels=(3, 5), filters=(8, 16), strides=(1, 2))
    return [a.network((1, 16, 16), 10) for a in sample_distinct(space, 12, 0, 16)]


def _predictors() -> dict[str, Any]:
    """A predictor file's contents (``DevicePredictor.save``), its model fitted on made-up
    kernel sums of 12 chain networks (nothing is measured); the predictor's fields as a
    mapping, so they are fuzzed too."""
    from coexplore.latency.device import fingerprint
    from coexplore.latency.experiment import network_features
    from coexplore.latency.kernels import distinct_kernels, kernel_sum
    from coexplore.latency.measure import MeasureConfig
    from coexplore.latency.predictor import LatencyPredictor

    networks = _predictor_networks()
    kernels = {s: 1e-5 * (i + 1) for i, s in enumerate(distinct_kernels(networks))}
    base = np.array([kernel_sum(n, kernels) for n in networks])
    features = np.stack([network_features(n) for n in networks])
    fitted = LatencyPredictor("ridge").fit(features, base * 1.2, base)
    return {
        "fitted": {
            "version": 1,
            "predictor": dict(fitted.__dict__),
            "kernels": kernels,
            "settings": MeasureConfig().key(),
            "device": fingerprint("cpu"),
            "space": "chain",
            "input_shape": [1, 16, 16],
        }
    }


def _predictor_object(doc: Any) -> Any:
    """What ``DevicePredictor.save`` pickles, from a (changed) document: the predictor's
    fields become a LatencyPredictor again (as unpickling one does), the shape a tuple."""
    from coexplore.latency.predictor import LatencyPredictor

    if not isinstance(doc, dict):
        return doc
    doc = dict(doc)
    if isinstance(doc.get("predictor"), dict):
        predictor = object.__new__(LatencyPredictor)
        predictor.__dict__.update(doc["predictor"])
        doc["predictor"] = predictor
    if isinstance(doc.get("input_shape"), list):
        doc["input_shape"] = tuple(doc["input_shape"])
    return doc


def _load_predictor(path: Path) -> Any:
    from coexplore.latency.device_predictor import DevicePredictor

    return DevicePredictor.load(path).predict(_predictor_networks()[:2])


def _predictor_extras(seed: str, where: tuple) -> bool:
    """More kernels, more facts about the device or more attributes on the predictor harm
    nothing."""
    return where[:1] in (("kernels",), ("device",), ("predictor",))


def _predictor_scenario(path: Path) -> Path:
    hardware = {"family": "predicted", "predictor": str(path), "measure_new_kernels": False}
    return _scenario_on("mnist5k-hsconas", {"hardware": hardware}, path)


# optics


def _slm_curves() -> dict[str, Any]:
    rows = [[str(i), str(2 * math.pi * i / 4), str(0.9 + 0.02 * i)] for i in range(4)]
    return {"four-levels": [["level", "phase_rad", "amplitude"], *rows]}


def _slm_file() -> Path:
    path = WORK / "slm-curve.csv"
    if not path.exists():
        KINDS["slm curve"].write(_slm_curves()["four-levels"], path)
    return path


def _systems(curve: Path | None = None) -> dict[str, Any]:
    base = {"wavelength": 5.32e-7, "pitch": 3.6e-5, "n": 64, "distance": 0.1, "layers": 3,
            "input_size": 28, "detector_size": 6, "modulation": "phase"}  # fmt: skip
    curve = str(curve or _slm_file())
    return {"phase": base, "slm": {**base, "modulation": "slm", "slm_curve": curve}}


def _load_system(path: Path) -> Any:
    from coexplore.optics.system import OpticalSystem, make_layer

    return make_layer(OpticalSystem.load(str(path)).at_grid(8))


def _load_slm_curve(path: Path) -> Any:
    from coexplore.optics.layers import SLMCurve

    return SLMCurve.from_csv(path).responses()


def _optics_train(system: Path) -> list[str]:
    out = WORK / f"optics-{system.stem}"
    return ["optics", "train", "--system", str(system), "--epochs", "1", "--out", str(out)]


def _system_on_curve(path: Path) -> Path:
    system = path.with_name(f"{path.stem}-system.yaml")
    system.write_text(yaml.safe_dump(_systems(path)["slm"]))
    return system


def _compress(*args: str) -> list[str]:
    return ["compress", "--model", "lenet5", *args, "--out", str(WORK / "compress")]


KINDS = {
    "scenario": Kind(_catalogue_scenarios, ".yaml", load_scenario, 100, _search,
                     free=_agents_take_anything),
    "part": Kind(_parts, ".yaml", _load_part, 60, lambda p: ["--part-file", str(p), "hw", "parts"]),
    "network": Kind(_networks, ".yaml", _load_network, 400,
                    lambda p: ["hw", "evaluate", "--net", str(p), "--design", str(_design_file())]),
    "design": Kind(_designs, ".json", _load_design, 200,
                   lambda p: ["hw", "evaluate", "--net", "lenet5", "--design", str(p)],
                   free=_report_takes_anything),
    "mapping": Kind(_mappings, ".yaml", _load_mapping_file, 200,
                    lambda p: ["accel", "evaluate", "--net", "mlp", "--mapping", str(p)]),
    "compression plan": Kind(_plans, ".yaml", _load_plan, 300,
                             lambda p: _compress("--per-layer", str(p))),
    "bits file": Kind(_bits, ".yaml", _load_bits, 200,
                      lambda p: _compress("--prune-ratio", "4", "--quantize", "--bits", str(p))),
    "fpga compression": Kind(_compressions, ".yaml", _load_compression, 200,
                             lambda p: ["hw", "evaluate", "--net", "lenet5", "--design",
                                        str(_design_file()), "--compression", str(p)],
                             free=_report_parts_take_anything),
    "hardware table": Kind(_hardware_tables, ".csv", _load_hardware_table, 400,
                           lambda p: _search(_hardware_table_scenario(p)), table=True,
                           cells={"fpga_latency": _positive_or_nan,
                                  "fpga_energy": _positive_or_nan}),
    "accuracy table": Kind(_accuracy_tables, ".csv", _load_accuracy_table, 400,
                           lambda p: _search(_accuracy_table_scenario(p)), table=True,
                           cells={"val_acc": _fraction,
                                  "test_acc": lambda v: math.isnan(v) or _fraction(v)}),
    "latency predictor": Kind(_predictors, ".predictor", _load_predictor, 300,
                              lambda p: _search(_predictor_scenario(p)), free=_predictor_extras),
    "optical system": Kind(_systems, ".yaml", _load_system, 200, _optics_train),
    "slm curve": Kind(_slm_curves, ".csv", _load_slm_curve, 300,
                      lambda p: _optics_train(_system_on_curve(p)), table=True,
                      cells={"phase_rad": math.isfinite, "amplitude": _fraction}),
    "spatial template": Kind(_templates, ".yaml", _load_template, 100,
                             lambda p: ["accel", "evaluate", "--template", str(p), "--net", "mlp"]),
}  # fmt: skip
SEEDS = {name: kind.seeds() for name, kind in KINDS.items()}
CASES: Counter[str] = Counter()


def planned_cases() -> dict[str, int]:
    """Fuzz cases per kind of file (examples × seeds), and in all."""
    counts = {name: kind.examples * len(SEEDS[name]) for name, kind in KINDS.items()}
    return {**counts, "total": sum(counts.values())}


@pytest.fixture(scope="module", autouse=True)
def _report_cases(request):
    """Report the cases run at the end of the module (they must be the planned ones)."""
    yield
    if CASES:
        line = f"fuzz cases per kind of file: {dict(CASES)}, total {sum(CASES.values())}"
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if capture is not None and reporter is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(f"\n{line}")
        assert all(CASES[k] == planned_cases()[k] for k in CASES), line


# --- the checks -----------------------------------------------------------------------------


def _written(kind: str, seed: str, doc: Any) -> Path:
    """``doc`` written to a new file (a file read before may be cached by name and time)."""
    spec = KINDS[kind]
    path = WORK / f"{kind.replace(' ', '-')}-{seed}-{sum(CASES.values())}{spec.suffix}"
    spec.write(doc, path)
    return path


def _strings(doc: Any) -> list[str]:
    if isinstance(doc, dict):
        return [s for v in doc.values() for s in _strings(v)]
    if isinstance(doc, list):
        return [s for v in doc for s in _strings(v)]
    return [doc] if isinstance(doc, str) else []


def _as_read(kind: str, path: Path, doc: Any) -> Any:
    """The document as a reader sees it (YAML turns some characters into others: NEL)."""
    if KINDS[kind].suffix not in (".yaml", ".json") or isinstance(doc, bytes):
        return doc
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def must_reject(kind: str, seed: str, what: str, where: tuple, doc: Any) -> bool:
    """Whether the change certainly breaks the file: garbage, an unknown key (where keys are
    not free), a table cell that is not a number in its column's range."""
    spec = KINDS[kind]
    if what == "not a file of its kind":
        return True
    if what == "unknown key":  # ("name" and "type" are fields somewhere: not surely unknown)
        return where[-1] not in ("name", "type") and not spec.free(seed, where[:-1])
    if what == "cell" and where[0] > 0:
        column = SEEDS[kind][seed][0][where[1]]
        if column in spec.cells:
            try:
                return not spec.cells[column](float(doc[where[0]][where[1]]))
            except ValueError:
                return True
    return False


def check_file(kind: str, path: Path, doc: Any, case: str, where: tuple = (), bad=False) -> None:
    """Load the file: a rejection must be a ConfigError naming the file (or a file a field of
    it names) and a field (blank only where the change made a blank key); a ``bad`` file must
    be rejected."""
    try:
        with warnings.catch_warnings():  # numpy computing on garbage is a bug here too
            warnings.simplefilter("error", RuntimeWarning)
            KINDS[kind].load(path)
    except ConfigError as err:
        files = [str(Path(v)) for v in _strings(_as_read(kind, path, doc)) if v.strip()]
        named = [str(path), *(f for f in files if f in err.source)]
        assert any(n in str(err) for n in named), f"{case}: the file is not named in: {err}"
        blank_key = any(isinstance(k, str) and not k.strip() for k in where)
        assert err.field.strip() or blank_key, f"{case}: no field named in: {err}"
    else:
        assert not bad, f"{case}: accepted"


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, seed", [pytest.param(k, s, id=f"{k}:{s}") for k in KINDS for s in SEEDS[k]]
)
def test_the_seed_files_are_valid(kind, seed):
    KINDS[kind].load(_written(kind, seed, SEEDS[kind][seed]))


def _fuzz_test(kind: str) -> Callable:
    """The fuzz test of one kind of file, on each of its seeds."""
    spec = KINDS[kind]

    @pytest.mark.parametrize("seed", list(SEEDS[kind]))
    @settings(
        max_examples=spec.examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def test(seed, data):
        CASES[kind] += 1
        doc = SEEDS[kind][seed]
        if data.draw(st.integers(0, 19), label="garbage") == 0:
            what, where, changed = "not a file of its kind", (), data.draw(GARBAGE)
        else:
            what, where, changed = data.draw(csv_mutations(doc) if spec.table else mutations(doc))
        bad = must_reject(kind, seed, what, where, changed)
        path = _written(kind, seed, changed)
        check_file(kind, path, changed, f"{kind} {seed}, {what} at {where}", where, bad)

    test.__doc__ = f"Every {kind} file changed in one place loads or is a named ConfigError."
    return test


for _kind in KINDS:
    globals()[f"test_fuzz_{_kind.replace(' ', '_')}"] = _fuzz_test(_kind)


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_cli_says_which_file_and_field_in_one_line_exit_status_2(kind, capsys):
    """A bad file of each kind (its first seed, with an unknown key or without its first
    column) through the command that reads it."""
    spec, (seed, doc) = KINDS[kind], next(iter(SEEDS[kind].items()))
    if spec.table:
        bad = [row[1:] for row in doc]
    elif kind == "compression plan":
        bad = {**doc, "no_such_layer": 0.5}
    else:
        bad = {**doc, "zz_unknown": 1}
    path = _written(kind, f"cli-{seed}", bad)
    capsys.readouterr()
    assert main(spec.cli(path)) == 2
    err = capsys.readouterr().err
    assert err.startswith("coexplore: error: ") and err.count("\n") == 1, err
    assert str(path) in err and "Traceback" not in err
