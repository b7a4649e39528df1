"""Free-space propagation against analytical results: plane waves, a Gaussian beam's width,
energy conservation, the band limit and the evanescent cut, and the sampling checks."""

import math

import pytest
import torch

from coexplore.config import ConfigError
from coexplore.optics import (
    Propagation,
    SamplingWarning,
    band_limit,
    check_sampling,
    sampling_report,
    transfer_function,
)
from coexplore.optics.propagation import frequencies

LAMBDA, PITCH = 532e-9, 8e-6  # visible light on a fine grid


def grid(n, pitch):
    x = (torch.arange(n, dtype=torch.float64) - n / 2) * pitch
    return torch.meshgrid(x, x, indexing="xy")


@pytest.mark.parametrize("k", [0, 3])
def test_a_plane_wave_only_gains_its_phase(k):
    """On a periodic grid (no padding) a plane wave of grid frequency fx = k/(NΔx) is an
    eigenfunction: it leaves as itself times exp(i2πz√(1/λ² − fx²))."""
    n, z = 64, 1e-3
    x, _ = grid(n, PITCH)
    fx = k / (n * PITCH)
    field = torch.polar(torch.ones(n, n, dtype=torch.float64), 2 * math.pi * fx * x)
    prop = Propagation(n, PITCH, LAMBDA, z, pad=1, limit=False)
    out = prop(field.to(torch.complex128))
    expected = field * complex(math.cos(p := 2 * math.pi * z * math.sqrt(1 / LAMBDA**2 - fx**2)),
                               math.sin(p))  # fmt: skip
    assert torch.allclose(out, expected, atol=1e-6)


def gaussian_width(field, pitch):
    """The 1/e² intensity radius from the second moment: w = 2·sqrt(<x²>)."""
    n = field.shape[-1]
    x, _ = grid(n, pitch)
    intensity = field.abs() ** 2
    return 2 * math.sqrt(float((intensity * x**2).sum() / intensity.sum()))


def test_a_gaussian_beam_spreads_as_the_closed_form():
    """w(z) = w0·√(1 + (z/zR)²), zR = πw0²/λ (Goodman; Saleh & Teich), within 1%, at z = zR
    and z = 3zR."""
    n, w0 = 256, 20 * PITCH
    x, y = grid(n, PITCH)
    field = torch.exp(-(x**2 + y**2) / w0**2).to(torch.complex128)
    zr = math.pi * w0**2 / LAMBDA
    assert gaussian_width(field, PITCH) == pytest.approx(w0, rel=1e-3)
    for z in (zr, 3 * zr):
        out = Propagation(n, PITCH, LAMBDA, z, pad=2)(field)
        assert gaussian_width(out, PITCH) == pytest.approx(
            w0 * math.sqrt(1 + (z / zr) ** 2), rel=0.01
        )


def test_energy_is_conserved_and_fresnel_agrees_in_its_regime():
    n, w0, z = 128, 12 * PITCH, 5e-3
    x, y = grid(n, PITCH)
    field = torch.exp(-(x**2 + y**2) / w0**2).to(torch.complex128)
    out = Propagation(n, PITCH, LAMBDA, z)(field)
    energy = lambda f: float((f.abs() ** 2).sum())  # noqa: E731
    assert energy(out) == pytest.approx(energy(field), rel=1e-3)
    paraxial = Propagation(n, PITCH, LAMBDA, z, method="fresnel")(field)
    assert float((out - paraxial).abs().max()) < 0.01 * float(out.abs().max())


def test_the_band_limit_and_the_evanescent_cut():
    padded, pitch, z = 128, 0.3e-6, 5e-3  # a pitch below λ/2: some frequencies are evanescent
    h = transfer_function(padded, pitch, LAMBDA, z, limit=False)
    f = frequencies(padded, pitch)
    fx, fy = torch.meshgrid(f, f, indexing="xy")
    evanescent = fx**2 + fy**2 >= 1 / LAMBDA**2
    assert evanescent.any() and (h[evanescent] == 0).all()
    assert torch.allclose(h[~evanescent].abs(), torch.ones(1, dtype=torch.float64))
    hl = transfer_function(128, PITCH, LAMBDA, 0.5)  # a long distance: the limit cuts in
    fl = band_limit(128, PITCH, LAMBDA, 0.5)
    assert fl == pytest.approx(1 / (LAMBDA * math.sqrt((2 * 0.5 / (128 * PITCH)) ** 2 + 1)))
    f = frequencies(128, PITCH)
    fx, fy = torch.meshgrid(f, f, indexing="xy")
    outside = (fx.abs() > fl) | (fy.abs() > fl)
    assert outside.any() and (hl[outside] == 0).all() and (hl[~outside].abs() > 0.99).all()


def test_gradients_flow_through_propagation():
    phase = torch.zeros(32, 32, requires_grad=True)
    out = Propagation(32, PITCH, LAMBDA, 1e-3)(torch.polar(torch.ones(32, 32), phase))
    (out.abs() ** 2)[10:20, 10:20].sum().backward()
    assert phase.grad is not None and phase.grad.abs().sum() > 0


def test_sampling_checks_of_the_known_systems():
    lin = sampling_report(200, 0.4e-3, 0.75e-3, 30e-3)  # Lin et al.'s THz classifier
    assert lin.pitch_over_wavelength == pytest.approx(0.4 / 0.75)
    assert not lin.fresnel_valid and lin.max_angle_deg > 60
    slm = sampling_report(200, 36e-6, 532e-9, 0.1)  # the visible SLM system
    assert slm.max_angle_deg == pytest.approx(math.degrees(math.asin(532e-9 / 72e-6)))
    assert slm.band_limit_share > 0.25 and slm.problems() == []
    with pytest.raises(ConfigError, match="angular spectrum"):
        check_sampling(200, 0.4e-3, 0.75e-3, 30e-3, method="fresnel")
    with pytest.warns(SamplingWarning, match="pad more"):
        check_sampling(64, PITCH, LAMBDA, 2.0)  # far too long for a 0.5 mm window
    with pytest.raises(ConfigError, match="distance"):
        Propagation(32, PITCH, LAMBDA, -1.0)


# --- layers, SLM, detectors ----------------------------------------------------------------------
def test_phase_layers_are_unit_modulus_and_slm_levels_are_the_device_s():
    from coexplore.optics.layers import PhaseLayer, SLMCurve, SLMLayer

    layer = PhaseLayer(16)
    with torch.no_grad():
        layer.phase.uniform_(0, 6)
    assert torch.allclose(layer.modulation().abs(), torch.ones(16, 16))
    curve = SLMCurve((0.0, 1.0, 2.5), (1.0, 0.8, 0.5), "test")
    slm = SLMLayer(8, curve).eval()
    m = slm.modulation()
    expected = curve.responses()[slm.levels()]
    assert torch.equal(m, expected)  # evaluation: exactly a level of the curve per pixel
    slm.train()
    soft = slm.modulation()
    assert soft.shape == (8, 8) and float(soft.detach().abs().max()) <= 1.0 + 1e-6


def test_slm_curve_files_name_their_mistakes(tmp_path):
    from coexplore.optics.layers import SLMCurve

    good = tmp_path / "slm.csv"
    good.write_text("level,phase_rad,amplitude\n1,3.0,0.9\n0,0.0,1.0\n")
    curve = SLMCurve.from_csv(good)
    assert curve.phase == (0.0, 3.0) and curve.amplitude == (1.0, 0.9)
    bad = tmp_path / "bad.csv"
    bad.write_text("level,phase\n0,0\n")
    with pytest.raises(ConfigError, match="phase_rad"):
        SLMCurve.from_csv(bad)
    gap = tmp_path / "gap.csv"
    gap.write_text("level,phase_rad,amplitude\n0,0,1\n2,1,1\n")
    with pytest.raises(ConfigError, match="levels 0, 1"):
        SLMCurve.from_csv(gap)
    with pytest.raises(ConfigError, match="passive"):
        SLMCurve((0.0, 1.0), (1.0, 1.5))


def test_detectors_read_the_power_on_their_regions():
    from coexplore.optics.layers import Detectors, detector_layout

    corners = detector_layout(10, 64, 6)
    assert len(corners) == 10 and len({r for r, _ in corners}) == 3  # rows of 3, 4, 3
    det = Detectors(64, 10, 6, temperature=1.0)
    field = torch.zeros(2, 64, 64, dtype=torch.complex64)
    r, c = corners[7]
    field[0, r : r + 6, c : c + 6] = 2.0  # all light on class 7: power 36 * 4
    r, c = corners[2]
    field[1, r, c] = 1.0
    field[1, 0, 0] = 5.0  # off every detector: not counted
    p = det.power(field)
    assert p[0, 7] == pytest.approx(144.0) and p[0].sum() == pytest.approx(144.0)
    assert p[1, 2] == pytest.approx(1.0) and p[1].sum() == pytest.approx(1.0)
    assert torch.allclose(det(field).sum(-1), torch.ones(2))
    with pytest.raises(ConfigError, match="fit"):
        detector_layout(10, 20, 6)


def test_amplitude_encoding_centres_the_image():
    from coexplore.optics.layers import encode_amplitude

    images = torch.ones(3, 1, 8, 8)
    field = encode_amplitude(images, 32, 16)
    assert field.shape == (3, 32, 32) and field.dtype == torch.complex64
    assert float(field.abs()[:, 8:24, 8:24].min()) == 1.0 and float(field.abs().sum()) == 3 * 256


# --- systems and a small end-to-end training ---------------------------------------------------
def test_presets_and_files_of_optical_systems(tmp_path):
    from coexplore.optics.system import OpticalSystem

    lin = OpticalSystem.load("lin-thz")
    assert (lin.wavelength, lin.pitch, lin.n, lin.distance, lin.layers) == (
        0.75e-3, 0.4e-3, 200, 30e-3, 5
    )  # fmt: skip
    vis = OpticalSystem.load("slm-visible")
    assert (vis.wavelength, vis.pitch, vis.n, vis.distance) == (532e-9, 36e-6, 200, 0.1)
    path = tmp_path / "mine.yaml"
    path.write_text("wavelength: 5.32e-7\npitch: 3.6e-5\nn: 64\ndistance: 0.05\ninput_size: 32\n")
    mine = OpticalSystem.load(str(path))
    assert mine.name == "mine" and mine.n == 64 and mine.distance == 0.05
    path.write_text("wavelength: 5.32e-7\npitch: 3.6e-5\nn: 64\ndistanse: 0.05\n")
    with pytest.raises(ConfigError, match="distanse"):
        OpticalSystem.load(str(path))
    with pytest.raises(ConfigError, match="modulation"):
        OpticalSystem(532e-9, 36e-6, 64, 0.05, input_size=32, modulation="amplitude")
    with pytest.raises(ConfigError, match="preset"):
        OpticalSystem.load("no-such-system")


def test_a_small_d2nn_learns_digits():
    """8x8 digits on a 48x48 visible-light system with 2 phase layers: seeded, 4 epochs of
    Adam; far above chance (10%) on the held-out test split."""
    from coexplore.data import load_dataset
    from coexplore.optics import D2NN, OpticalSystem

    torch.manual_seed(0)
    data = load_dataset("digits", normalize=False)
    system = OpticalSystem(532e-9, 36e-6, 48, 0.02, layers=2, input_size=24, detector_size=4)
    model = D2NN(system, classes=10)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    x, y = data.x_train, data.y_train
    for _ in range(4):
        for i in range(0, len(x), 64):
            loss = torch.nn.functional.cross_entropy(model(x[i : i + 64]), y[i : i + 64])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = float((model(data.x_test).argmax(-1) == data.y_test).float().mean())
    assert acc > 0.6, acc
    assert model.hardware_cost() == {"layers": 2, "slms": 0, "detectors": 10, "splitters": 0}


# --- multi-task --------------------------------------------------------------------------------
def two_tasks():
    from coexplore.data import load_dataset
    from coexplore.optics.multitask import TaskData

    def task(name, n):
        d = load_dataset(name, normalize=False)
        return TaskData(
            d.x_train[:n], d.y_train[:n], d.x_val, d.y_val, d.x_test[:300], d.y_test[:300]
        )

    return {"digits": task("digits", 600), "mnist5k": task("mnist5k", 600)}


SMALL = dict(wavelength=532e-9, pitch=36e-6, n=48, distance=0.02, input_size=24, detector_size=4)


def test_a_multi_task_system_serves_both_tasks_with_fewer_layers():
    from coexplore.optics.multitask import MultiTaskD2NN, train_multitask
    from coexplore.optics.system import OpticalSystem

    torch.manual_seed(0)
    system = OpticalSystem(**SMALL, layers=1)
    model = MultiTaskD2NN(system, {"digits": 10, "mnist5k": 10}, shared=1, specific=1)
    acc = train_multitask(model, two_tasks(), task_weight=0.5, epochs=10, lr=0.1)
    assert acc["digits"] > 0.5 and acc["mnist5k"] > 0.4, acc
    cost = model.hardware_cost()
    assert cost == {"layers": 3, "slms": 0, "detectors": 20, "splitters": 1}
    assert cost["layers"] < 2 * (1 + 1)  # two single-task systems of 2 layers each


def test_the_task_weight_trades_the_tasks_accuracies():
    from coexplore.optics.multitask import MultiTaskD2NN, task_weights, train_multitask
    from coexplore.optics.system import OpticalSystem

    assert task_weights(["a", "b"], 0.8) == {"a": 0.8, "b": pytest.approx(0.2)}
    assert task_weights(["a", "b", "c"], {"a": 2, "b": 1, "c": 1})["a"] == 0.5
    with pytest.raises(ValueError, match="task_weight"):
        task_weights(["a", "b"], 1.5)
    data = two_tasks()
    acc = {}
    for w in (0.95, 0.05):
        torch.manual_seed(0)
        model = MultiTaskD2NN(OpticalSystem(**SMALL, layers=1), {"digits": 10, "mnist5k": 10}, 2, 0)
        acc[w] = train_multitask(model, data, task_weight=w, epochs=3, lr=0.1)
    assert acc[0.95]["digits"] > acc[0.05]["digits"], acc
    assert acc[0.05]["mnist5k"] > acc[0.95]["mnist5k"], acc


# --- noise -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_d2nn():
    from coexplore.data import load_dataset
    from coexplore.optics import D2NN, OpticalSystem, train_multitask
    from coexplore.optics.multitask import TaskData, accuracy

    torch.manual_seed(0)
    d = load_dataset("digits", normalize=False)
    data = TaskData(d.x_train, d.y_train, d.x_val, d.y_val, d.x_test, d.y_test)
    model = D2NN(OpticalSystem(**SMALL, layers=2), classes=10)
    val = train_multitask(model, {"task": data}, epochs=4, lr=0.1)["task"]
    return model, data, accuracy(model, d.x_test, d.y_test), val


def test_zero_noise_is_the_clean_model_and_training_reports_validation(trained_d2nn):
    from coexplore.optics import KINDS, Noise
    from coexplore.optics.multitask import accuracy

    model, d, clean, val = trained_d2nn
    assert val == accuracy(model, d.x_val, d.y_val)  # the validation split's, not the test's
    zero = Noise({k: 0.0 for k in KINDS})
    assert accuracy(model, d.x_test, d.y_test, noise=zero) == clean


@pytest.mark.parametrize(
    "kind, small, large",
    [
        ("phase", 0.05, 3.0),
        ("quantisation", 64, 2),
        ("shift", 0.2, 6.0),
        ("rotation", 0.5, 30.0),
        ("axial", 0.01, 1.0),
        ("wavelength", 0.005, 0.3),
        ("detector", 0.01, 2.0),
        ("input", 0.05, 3.0),
    ],
)
def test_every_component_s_noise_hurts_more_when_larger(trained_d2nn, kind, small, large):
    from coexplore.optics import Noise
    from coexplore.optics.multitask import accuracy

    model, d, clean, _ = trained_d2nn
    mild = accuracy(model, d.x_test, d.y_test, noise=Noise({kind: small}, seed=1))
    harsh = accuracy(model, d.x_test, d.y_test, noise=Noise({kind: large}, seed=1))
    assert harsh < mild <= clean + 0.02, (kind, clean, mild, harsh)
    assert harsh < clean - 0.1, (kind, clean, harsh)


def test_noise_names_bad_kinds_and_levels():
    from coexplore.optics import Noise, noise_aware

    with pytest.raises(ConfigError, match="phase"):
        Noise({"phaze": 0.1})
    with pytest.raises(ConfigError, match=">= 0"):
        Noise({"phase": -1.0})
    draw = noise_aware({"phase": 0.5, "quantisation": 8}, seed=3)
    a, b = draw(), draw()
    assert 0 <= a.level("phase") <= 0.5 and 8 <= a.level("quantisation") <= 256
    assert a.levels != b.levels


def test_noise_aware_training_is_more_robust(trained_d2nn):
    """Trained with phase noise of up to 1 rad, the system keeps more accuracy under phase
    noise than the plainly trained one (same seed, same epochs)."""
    from coexplore.optics import D2NN, Noise, OpticalSystem, noise_aware, train_multitask
    from coexplore.optics.multitask import accuracy

    plain, d, _, _ = trained_d2nn
    torch.manual_seed(0)
    aware = D2NN(OpticalSystem(**SMALL, layers=2), classes=10)
    train_multitask(aware, {"task": d}, epochs=4, lr=0.1, noise=noise_aware({"phase": 1.0}, seed=2))
    for sigma, gain in ((0.5, 0.03), (0.8, 0.05)):
        a = accuracy(aware, d.x_test, d.y_test, noise=Noise({"phase": sigma}, seed=5))
        p = accuracy(plain, d.x_test, d.y_test, noise=Noise({"phase": sigma}, seed=5))
        assert a > p + gain, (sigma, a, p)


# --- CLI ---------------------------------------------------------------------------------------
def test_cli_trains_a_multi_task_system_and_sweeps_its_noise(tmp_path, capsys):
    import json

    from coexplore.cli.main import main

    system = tmp_path / "small.yaml"
    system.write_text(
        "wavelength: 5.32e-7\npitch: 3.6e-5\nn: 48\ndistance: 0.02\ninput_size: 24\n"
        "detector_size: 4\n"
    )
    out = tmp_path / "run"
    args = ["optics", "train", "--system", str(system), "--tasks", "digits,mnist5k"]
    args += ["--shared", "1", "--specific", "1", "--epochs", "1", "--lr", "0.1"]
    args += ["--train-subset", "200", "--test-subset", "100", "--out", str(out), "--json"]
    assert main(args) == 0
    run = json.loads(capsys.readouterr().out)
    assert set(run["accuracy"]) == {"digits", "mnist5k"}
    assert run["hardware_cost"] == {"layers": 3, "slms": 0, "detectors": 20, "splitters": 1}
    assert (out / "model.pt").exists() and (out / "run.json").exists()
    for name in ("masks.png", "detectors_digits.png", "detectors_mnist5k.png"):
        assert (out / name).stat().st_size > 1000, name
    args = ["optics", "noise", "--run", str(out), "--kinds", "phase,input", "--repeats", "1"]
    assert main([*args, "--json"]) == 0
    noise = json.loads(capsys.readouterr().out)
    curve = noise["curves"]["phase"]["digits"]
    assert [c["level"] for c in curve] == [0.0, 0.25, 0.5, 1.0, 1.5]
    assert curve[0]["accuracy"] == pytest.approx(run["accuracy"]["digits"])
    assert set(noise["curves"]) == {"phase", "input"} and (out / "noise.json").exists()
    assert (out / "noise.png").stat().st_size > 1000
    assert main(["optics", "noise", "--run", str(out), "--kinds", "phaze"]) != 0
    assert "phaze" in capsys.readouterr().err


def test_cli_trains_a_single_task_d2nn_and_sweeps_it(tmp_path, capsys):
    import json

    from coexplore.cli.main import main

    out = tmp_path / "one"
    args = ["optics", "train", "--system", "slm-visible", "--tasks", "digits", "--shared", "2"]
    args += ["--epochs", "1", "--train-subset", "100", "--test-subset", "50", "--out", str(out)]
    assert main([*args, "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert set(run["accuracy"]) == {"digits"} and run["hardware_cost"]["layers"] == 2
    assert run["hardware_cost"]["splitters"] == 0
    assert main(["optics", "noise", "--run", str(out), "--kinds", "input", "--json"]) == 0
    curve = json.loads(capsys.readouterr().out)["curves"]["input"]["digits"]
    assert curve[0]["accuracy"] == pytest.approx(run["accuracy"]["digits"])
