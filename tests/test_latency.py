"""Latency: measurement statistics, pinning, the device-keyed cache, the predictor (known
optima of small problems), the NAS-Bench-201 table experiment and the CLI."""

import json
import os
import warnings

import numpy as np
import pytest
import torch

from coexplore.cli.main import main
from coexplore.config import ConfigError
from coexplore.latency import cache as cache_mod
from coexplore.latency.cache import DeviceChangedWarning, LatencyCache
from coexplore.latency.experiment import (
    cell_features,
    device_experiment,
    network_features,
    table_experiment,
)
from coexplore.latency.kernels import distinct_kernels, kernel_module, kernel_shape, signature
from coexplore.latency.lab import Lab
from coexplore.latency.measure import MeasureConfig, Measurement, measure_modules, pinned
from coexplore.latency.predictor import LatencyPredictor, validation
from coexplore.spaces import make_space

TINY = MeasureConfig(warmup=1, repeats=2, rounds=2)


def test_measurement_rejects_one_sided_outliers_and_reports_its_spread():
    rounds = [np.array([1.0, 1.1, 0.9, 1.0]), np.array([1.0, 1.05, 0.95, 50.0])]
    m = Measurement.from_samples(rounds, outlier=3.0)
    assert m.rejected == 1 and m.samples == 7
    assert m.median_s == pytest.approx(1.0)
    kept = np.array([1.0, 1.1, 0.9, 1.0, 1.0, 1.05, 0.95])
    p25, p75 = np.percentile(kept, [25, 75])
    assert m.noise == pytest.approx((p75 - p25) / 1.0)
    assert m.round_spread == pytest.approx(abs(np.median(rounds[1]) - 1.0))


@pytest.mark.parametrize(
    "field, value",
    [("batch_size", 0), ("repeats", 0), ("rounds", 1.5), ("warmup", -1), ("device", "tpu"),
     ("outlier", 0), ("threads", 10_000)],
)  # fmt: skip
def test_bad_measure_settings_name_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        MeasureConfig(**{field: value})


def test_pinning_restores_threads_and_cores():
    threads = torch.get_num_threads()
    cores = os.sched_getaffinity(0)
    with pinned(1):
        assert torch.get_num_threads() == 1 and len(os.sched_getaffinity(0)) == 1
    assert torch.get_num_threads() == threads and os.sched_getaffinity(0) == cores


def test_a_factory_gives_a_fresh_instance_every_round():
    made = []

    def factory():
        made.append(1)
        return torch.nn.Linear(4, 4)

    config = MeasureConfig(warmup=1, repeats=3, rounds=4)
    out = measure_modules({"f": (factory, (4,)), "m": (torch.nn.Linear(4, 2), (4,))}, config)
    assert len(made) == 4
    assert all(m.samples + m.rejected == 12 and m.median_s > 0 for m in out.values())


def test_kernels_are_the_layers_with_their_epilogue():
    arch = make_space("chain", depth=3).parse("k3f24s2-k1f36s1-k3f24s1|flatten")
    net = arch.network((1, 28, 28), 10)
    kernels = distinct_kernels([net, net])
    assert list(kernels) == [signature(ly) for ly in net.layers]
    shape = kernel_shape(net.layers[0])
    assert shape == (1, 28, 28)
    assert kernel_module(net.layers[0])(torch.zeros(2, *shape)).shape == (2, 24, 14, 14)
    shape = kernel_shape(net.layers[-1])
    assert kernel_module(net.layers[-1])(torch.zeros(2, *shape)).shape == (2, 10)


def test_cache_answers_this_device_only_and_warns_of_another(tmp_path, monkeypatch):
    path = tmp_path / "lat.sqlite"
    c = LatencyCache(path, TINY)
    m = Measurement(1e-3, 1e-3, 9e-4, 1.1e-3, 0.2, 0.1, 4, 0)
    c.put("net-a", "network", (1, 8, 8), m)
    assert LatencyCache(path, TINY).get("net-a", "network", (1, 8, 8)) == m
    assert LatencyCache(path, MeasureConfig()).get("net-a", "network", (1, 8, 8)) is None
    other = {**c.fingerprint, "cpu": "Some Other CPU"}
    monkeypatch.setattr(cache_mod, "fingerprint", lambda device: other)
    moved = LatencyCache(path, TINY)
    with pytest.warns(DeviceChangedWarning, match="Some Other CPU"):
        assert moved.get("net-a", "network", (1, 8, 8)) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        moved.get("net-b", "network", (1, 8, 8))  # warned once


def test_lab_measures_each_item_once(tmp_path, monkeypatch):
    from coexplore.latency import lab as lab_mod

    calls = []
    real = lab_mod.measure_modules

    def counting(modules, config, seed=0):
        calls.append(list(modules))
        return real(modules, config, seed)

    monkeypatch.setattr(lab_mod, "measure_modules", counting)
    space = make_space("chain", depth=2)
    archs = [space.parse("k3f24s1-k3f24s2|flatten"), space.parse("k1f36s1-k3f24s2|flatten")]
    lab = Lab(TINY, tmp_path / "lat.sqlite")
    first = lab.networks(archs, (1, 8, 8), 10)
    again = Lab(TINY, tmp_path / "lat.sqlite").networks(archs, (1, 8, 8), 10)
    assert first == again and calls == [[a.canonical for a in archs]]


def test_ridge_correction_recovers_a_per_layer_overhead():
    """y = kernel sum × (1 + 2% per layer): the known optimum of a small problem."""
    rng = np.random.default_rng(0)
    layers = rng.integers(2, 12, 200)
    base = rng.uniform(1e-4, 5e-3, 200)
    features = np.column_stack([layers, rng.normal(size=200)])
    y = base * np.exp(0.02 * layers)
    p = LatencyPredictor("ridge").fit(features[:100], y[:100], base[:100])
    pred, sd = p.predict(features[100:], base[100:])
    assert validation(pred, y[100:], 100)["within_5pct"] == 1.0
    assert np.max(np.abs(pred / y[100:] - 1)) < 0.01 and sd[0] < 0.01
    plain = validation(base[100:], y[100:], 100)
    assert plain["within_5pct"] < 0.5  # the sum alone misses the overhead


def test_lookup_table_recovers_operator_times():
    """y = c + Σ t(edge, op) exactly: non-negative least squares finds it."""
    rng = np.random.default_rng(1)
    x = np.zeros((300, 30))
    for i in range(300):
        x[i, np.arange(6) * 5 + rng.integers(0, 5, 6)] = 1
    t = rng.uniform(0, 2e-3, 30)
    y = 1e-3 + x @ t
    p = LatencyPredictor("none", base_from_lut=True).fit(x[:200], y[:200])
    pred, _ = p.predict(x[200:])
    np.testing.assert_allclose(pred, y[200:], rtol=1e-6)


def test_validation_metrics_by_hand():
    v = validation(np.array([1.04, 1.08, 0.80, 2.0]), np.array([1.0, 1.0, 1.0, 2.0]), 7)
    assert v["within_5pct"] == 0.5 and v["within_10pct"] == 0.75
    assert v["rmse_ms"] == pytest.approx(np.sqrt((0.04**2 + 0.08**2 + 0.2**2) / 4) * 1e3)
    assert v["n_fit"] == 7 and v["n_test"] == 4 and v["spearman"] == pytest.approx(3 / np.sqrt(15))


def test_predictor_refuses_too_little_or_bad_data():
    with pytest.raises(ConfigError, match="at least 10"):
        LatencyPredictor().fit(np.ones((5, 2)), np.ones(5), np.ones(5))
    with pytest.raises(ConfigError, match="positive"):
        LatencyPredictor().fit(np.ones((20, 2)), np.zeros(20), np.ones(20))
    with pytest.raises(ConfigError, match="correction"):
        LatencyPredictor("forest")


def test_nb201_table_predictor_on_a_gpu():
    r = table_experiment("1080ti_256", 300, seed=0)
    assert r["n_fit"] == 300 and r["n_test"] == 15_625 - 300
    assert r["within_10pct"] >= 0.99 and r["spearman"] > 0.99  # a deterministic table
    spread = r["same_accuracy_spread"]
    assert spread["groups"] > 100 and 0 <= spread["median"] < 0.1
    assert cell_features(["|none~0|+|none~0|skip_connect~1|+|none~0|none~1|none~2|"]).sum() == 6


def test_device_experiment_runs_end_to_end(tmp_path):
    r = device_experiment(
        make_space("chain", depth=3), (1, 8, 8), 10, 12, 6, Lab(TINY, tmp_path / "l.sqlite")
    )
    assert (r["n_fit"], r["n_test"]) == (12, 6)
    assert 0 <= r["within_10pct"] <= 1 and r["kernel_sum"]["n_test"] == 6
    arch = make_space("chain", depth=3).parse("k3f24s1-k3f24s2-k1f24s1|flatten")
    assert network_features(arch.network((1, 8, 8), 10))[:2].tolist() == [4, 3]


def test_cli_measure_and_evaluate_json(capsys, tmp_path):
    args = ["--rounds", "2", "--repeats", "2", "--warmup", "1", "--json"]
    assert main(["latency", "measure", "--space", "chain", "--samples", "2", *args]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["networks"]) == 2 and out["device"]["device"] == "cpu"
    assert {"median_s", "noise", "round_spread"} <= set(out["networks"][0])
    assert main(["latency", "evaluate", "--table", "titanx_256", "--fit", "300", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"within_5pct", "within_10pct", "rmse_ms", "spearman", "n_fit", "n_test"} <= set(out)
    assert main(["latency", "evaluate", "--table", "nope", "--json"]) == 2


# --- predictor files and the measured / predicted families ------------------------------------


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    from coexplore.latency.device_predictor import fit_device_predictor

    path = tmp_path_factory.mktemp("pred") / "chain.pkl"
    lab = Lab(TINY, path.with_suffix(".sqlite"))
    model = fit_device_predictor(make_space("chain", depth=3), (1, 8, 8), 10, 12, lab)
    model.save(path)
    return path


def test_predictor_file_round_trips_and_names_an_unknown_kernel(fitted, tmp_path):
    from coexplore.latency.device_predictor import DevicePredictor, UnknownKernelError

    model = DevicePredictor.load(fitted)
    assert model.space == "chain" and model.input_shape == (1, 8, 8) and model.predictor.n_fit == 12
    space = make_space("chain", depth=3)
    nets = [a.network((1, 8, 8), 10) for a in [space.parse("k3f24s1-k3f24s1-k3f24s1|flatten")]]
    if model.missing(nets):
        with pytest.raises(UnknownKernelError, match="conv:"):
            model.predict(nets)
        model.learn_kernels(nets, Lab(TINY))
    latency, sd = model.predict(nets)
    assert latency[0] > 0 and sd[0] >= 0
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(ConfigError, match="coexplore latency fit"):
        DevicePredictor.load(bad)
    with pytest.raises(ConfigError, match="coexplore latency fit"):
        DevicePredictor.load(tmp_path / "absent.pkl")


def test_a_predictor_refuses_to_learn_kernels_on_another_device(fitted):
    from coexplore.latency.device_predictor import DevicePredictor

    model = DevicePredictor.load(fitted)
    model.device = {**model.device, "cpu": "Another CPU"}
    net = make_space("chain", depth=1).parse("k7f64s1|flatten").network((1, 8, 8), 10)
    with pytest.raises(ConfigError, match="Another CPU"):
        model.learn_kernels([net], Lab(TINY))


def scenario(tmp_path, hardware):
    from coexplore.scenario import load_scenario

    data = {
        "description": "latency on this machine",
        "data": {"name": "digits"},
        "space": {"name": "chain", "depth": 3},
        "hardware": hardware,
        "specs": {"latency_s": {"max": 1.0}},
        "reward": {"name": "mnas", "metric": "latency_s"},
        "slow_phase": {"oracle": "train", "train": {"epochs": 1}},
    }
    path = tmp_path / "sc.yaml"
    path.write_text(json.dumps(data))
    return load_scenario(path)


def test_measured_and_predicted_families_in_the_evaluator(fitted, tmp_path):
    from coexplore.scenario import make_evaluator

    cache = str(tmp_path / "m.sqlite")
    hw = {"family": "measured", "warmup": 1, "repeats": 2, "rounds": 2, "cache": cache}
    ev = make_evaluator(scenario(tmp_path, hw))
    arch = ev.space.parse("k3f24s1-k3f24s2-k1f24s1|flatten")
    fast = ev.fast_phase(ev.candidate(ev.space.to_tokens(arch)))
    m = fast.details["measurement"]
    assert fast.metrics.latency_s == m["median_s"] and not fast.pruned
    assert fast.metrics.throughput_fps == pytest.approx(1 / m["median_s"])
    again = make_evaluator(scenario(tmp_path, hw)).fast_phase(
        ev.candidate(ev.space.to_tokens(arch))
    )
    assert again.details["measurement"] == m  # from the cache
    hw = {"family": "predicted", "predictor": str(fitted), "spot_check": 1.0}
    ev = make_evaluator(scenario(tmp_path, hw))
    fast = ev.fast_phase(ev.candidate(ev.space.to_tokens(arch)))
    assert fast.metrics.latency_s == fast.details["predicted_s"] > 0
    assert fast.details["error"] == pytest.approx(
        fast.details["predicted_s"] / fast.details["measured"]["median_s"] - 1
    )


def test_bad_device_settings_name_the_field(tmp_path):
    with pytest.raises(ConfigError, match="hardware.repeats"):
        scenario(tmp_path, {"family": "measured", "repeats": 0})
    with pytest.raises(ConfigError, match="spot_check"):
        scenario(tmp_path, {"family": "predicted", "predictor": "p.pkl", "spot_check": 2})


def test_cli_fit_writes_a_predictor(capsys, tmp_path):
    out = tmp_path / "p.pkl"
    args = ["--rounds", "2", "--repeats", "2", "--warmup", "1", "--json"]
    assert (
        main(["latency", "fit", "--space", "chain", "--fit", "12", "--out", str(out), *args]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert out.exists() and report["n_fit"] == 12 and report["kernels"] > 0


def test_mnist5k_cpu_scenario_passes_check_env(tmp_path):
    import dataclasses

    from gymnasium.utils.env_checker import check_env

    from coexplore.env import CoExploreEnv
    from coexplore.scenario import get_scenario

    s = get_scenario("mnist5k-cpu")
    hw = dataclasses.replace(
        s.hardware.options, warmup=1, repeats=2, rounds=2, cache=str(tmp_path / "l.sqlite")
    )
    slow = dataclasses.replace(
        s.slow_phase, train=dataclasses.replace(s.slow_phase.train, epochs=1)
    )
    s = dataclasses.replace(
        s, hardware=dataclasses.replace(s.hardware, options=hw), slow_phase=slow
    )
    env = CoExploreEnv(s, cache=str(tmp_path / "c.sqlite"))
    check_env(env, skip_render_check=True)
    env.reset(seed=0)
    _, info = env.evaluate(
        env.space.to_tokens(
            env.space.parse("k3f24s2-k3f36s2-k3f48s2-k3f48s1-k3f64s2-k3f64s1|flatten")
        )
    )
    assert info["metrics"]["latency_s"] == info["details"]["measurement"]["median_s"]
