"""coexplore.compress: projections, the ADMM loss and updates, plans, storage, resume, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from coexplore.cli.main import main
from coexplore.compress.admm import ADMM, InitialWeights, Masked, Prune, Quantize
from coexplore.compress.api import CompressRequest, config_of
from coexplore.compress.models import MODELS, resolve_model, weight_layers
from coexplore.compress.plan import (
    LayerPlan,
    ops_schedule,
    read_bits,
    read_plan_file,
    size_schedule,
)
from coexplore.compress.projections import (
    fit_step,
    kept_count,
    levels,
    prune_mask,
    quantization_error,
    quantize,
)
from coexplore.compress.report import index_storage, layer_stats, relative_index_entries
from coexplore.compress.run import CompressConfig, compress
from coexplore.config import ConfigError
from coexplore.data import DataConfig, DatasetError, load_dataset
from coexplore.slow.trainer import TrainConfig, train

LENET = resolve_model("lenet5")
LENET_NET = LENET.network((1, 28, 28), 10)
LENET_LAYERS = [ly for ly in LENET_NET.layers if ly.weights]


# --- the model --------------------------------------------------------------------------------
def test_lenet5_is_admm_nns():
    # ADMM-NN's LeNet-5: 430,500 weights, 2.293 M MACs (facts: conv1 500, conv2 25,000,
    # fc1 800x500, fc2 500x10)
    assert [(ly.name, ly.weights) for ly in LENET_LAYERS] == [
        ("conv1", 500),
        ("conv2", 25_000),
        ("fc1", 400_000),
        ("fc2", 5_000),
    ]
    assert LENET_NET.weights == 430_500 and LENET_NET.macs == 2_293_000
    model = LENET.module((1, 28, 28), 10)
    pairs = weight_layers(LENET, model, (1, 28, 28), 10)
    assert [p.name for p in pairs] == ["conv1", "conv2", "fc1", "fc2"]
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_models_resolve_presets_and_space_architectures():
    assert "preset:lenet5" in MODELS
    chain = resolve_model("chain:k5f8s2-k3f16s2|flatten")
    pairs = weight_layers(chain, chain.module((1, 28, 28), 10), (1, 28, 28), 10)
    assert [p.layer.kind.value for p in pairs] == ["conv", "conv", "fc"]
    with pytest.raises(ConfigError, match="lenet5"):
        resolve_model("nonesuch")
    with pytest.raises(ConfigError, match="input shape"):
        MODELS.get("preset:lenet5").network((1, 28, 28), 10)  # the preset wants 32x32


# --- projections ------------------------------------------------------------------------------
@given(
    st.integers(1, 60),
    st.floats(0.01, 1.0),
    st.integers(0, 2**31 - 1),
)
@settings(max_examples=60, deadline=None)
def test_prune_mask_keeps_exactly_the_largest(n, keep, seed):
    w = torch.randn(n, generator=torch.Generator().manual_seed(seed))
    if keep * n < 0.5:  # would keep none: an error, never an empty layer
        with pytest.raises(ValueError, match="leaves none"):
            prune_mask(w, keep)
        return
    mask = prune_mask(w, keep)
    k = kept_count(n, keep)
    assert int(mask.sum()) == k
    if k < n:  # every kept magnitude >= every dropped one
        assert w[mask].abs().min() >= w[~mask].abs().max()


def test_prune_mask_ties_and_structures():
    w = torch.tensor([1.0, -1.0, 1.0, 0.5])
    assert prune_mask(w, 0.5).tolist() == [True, True, False, False]  # ties to the lower index
    w = torch.tensor([[3.0, 0.0], [0.1, 0.1], [0.0, 2.0]])
    assert prune_mask(w, 0.34, "filter").tolist() == [[True, True], [False, False], [False] * 2]
    assert prune_mask(w, 0.5, "channel").tolist() == [[True, False], [True, False], [True, False]]
    with pytest.raises(ValueError, match="kept fraction"):
        prune_mask(w, 0.0)
    with pytest.raises(ValueError, match="structure"):
        prune_mask(w, 0.5, "block")


def test_quantize_levels_exclude_zero():
    assert levels(1) == 1 and levels(3) == 4
    w = torch.tensor([0.0, 0.01, -0.26, 0.74, 9.0, -9.0])
    q = quantize(w, 0.25, 2)  # levels ±0.25, ±0.5
    assert q.tolist() == [0.0, 0.25, -0.25, 0.5, 0.5, -0.5]
    with pytest.raises(ValueError, match="bits"):
        levels(0)


def test_fit_step_by_hand():
    # 1 bit: one level ±q, so q* = mean |w| (the least-squares fit of a constant)
    assert fit_step(np.array([1.0, -2.0, 3.0]), 1) == pytest.approx(2.0)
    # 2 bits (levels q, 2q) on {1, 2, 4}: j = (1, 1, 2) gives q = (1 + 2 + 8)/(1 + 1 + 4) = 11/6
    # and error 0.69 + 0.03 + 0.11 = 0.83, and is its own nearest-level assignment; j = (1, 2, 2)
    # gives q = 13/9, error 2.22 (and 2/q rounds to 1); j = (1, 1, 1): q = 7/3, error 4.67
    q = fit_step(np.array([1.0, 2.0, 4.0]), 2)
    assert q == pytest.approx(11 / 6)
    assert quantization_error(np.array([1.0, 2.0, 4.0]), q, 2) == pytest.approx(5 / 6)


@given(
    st.lists(st.floats(-5, 5).filter(lambda v: abs(v) > 1e-3), min_size=1, max_size=40),
    st.integers(1, 4),
)
@settings(max_examples=60, deadline=None)
def test_fit_step_beats_a_grid(values, bits):
    w = np.array(values)
    q = fit_step(w, bits)
    err = quantization_error(w, q, bits)
    grid = np.linspace(1e-3, 2 * np.abs(w).max(), 400)
    assert err <= min(quantization_error(w, g, bits) for g in grid) + 1e-9


# --- the ADMM callback ------------------------------------------------------------------------
def _tiny():
    ds = load_dataset(DataConfig("digits"))
    arch = resolve_model("chain:k3f4s2|flatten")
    return ds, arch


def test_admm_loss_gradient_is_rho_times_w_minus_z_plus_u():
    ds, arch = _tiny()
    model = arch.module(ds.input_shape, ds.num_classes)

    class Ctx:  # what on_train_start reads
        dataset = ds

    Ctx.arch = arch
    admm = ADMM({"conv0": Prune(0.5), "fc": Prune(0.25)}, rho=0.3)
    admm.on_train_start(model, Ctx)
    w, z, u = admm._state["conv0"]
    u.fill_(0.1)
    loss = admm.extra_loss(model, None)
    loss.backward()
    expected = 0.3 * (w.detach() - z + u)
    assert torch.allclose(w.grad, expected, atol=1e-6)
    assert int((z != 0).sum()) == kept_count(w.numel(), 0.5)


def test_admm_updates_and_final_projection_through_the_trainer():
    ds, arch = _tiny()
    cfg = TrainConfig(epochs=3, threads=1)
    admm = ADMM({"conv0": Prune(0.25), "fc": Prune(0.1)}, rho=0.05)
    result, model = train(arch, ds, cfg, seed=0, callbacks=[admm], return_model=True)
    logs = result.extra["epoch_logs"]
    assert len(logs) == 3 and set(logs[0]["ADMM"]["residual"]) == {"conv0", "fc"}
    pairs = {p.name: p.weight for p in weight_layers(arch, model, ds.input_shape, 10)}
    assert int((pairs["conv0"] != 0).sum()) == kept_count(pairs["conv0"].numel(), 0.25)
    assert int((pairs["fc"] != 0).sum()) == kept_count(pairs["fc"].numel(), 0.1)
    assert len(result.extra["extra_loss_curve"]) == 3


def test_masked_retraining_keeps_zeros_and_quantize_hits_levels():
    ds, arch = _tiny()
    cfg = TrainConfig(epochs=2, threads=1)
    dense, model = train(arch, ds, cfg, seed=1, return_model=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    pairs = {p.name: p for p in weight_layers(arch, model, ds.input_shape, 10)}
    masks = {n: prune_mask(p.weight.detach().cpu(), 0.3) for n, p in pairs.items()}
    cbs = [InitialWeights(state), Masked(masks), ADMM({n: Quantize(2) for n in masks}, rho=0.05)]
    _, model = train(arch, ds, cfg, seed=1, callbacks=cbs, return_model=True)
    for p in weight_layers(arch, model, ds.input_shape, 10):
        w = p.weight.detach().cpu()
        assert torch.equal(w != 0, masks[p.name])
        nz = w[w != 0]
        q = nz.abs().min()
        assert set(torch.round(nz.abs() / q).tolist()) <= {1.0, 2.0}


def test_initial_weights_enter_the_hash():
    ds, arch = _tiny()
    a = arch.module(ds.input_shape, 10).state_dict()
    b = {k: v + 1 for k, v in a.items()}
    cfg = TrainConfig(epochs=1)
    assert cfg.hash([InitialWeights(a)]) != cfg.hash([InitialWeights(b)])
    assert cfg.hash([InitialWeights(a)]) == cfg.hash([InitialWeights(dict(a))])


# --- plans ------------------------------------------------------------------------------------
def test_size_schedule_hits_the_ratio_and_prunes_big_layers_harder():
    plan = size_schedule(LENET_LAYERS, 85)
    kept = sum(plan[ly.name].keep * ly.weights for ly in LENET_LAYERS)
    assert LENET_NET.weights / kept == pytest.approx(85, rel=1e-9)
    keeps = [plan[n].keep for n in ("conv1", "fc2", "conv2", "fc1")]
    assert keeps == sorted(keeps, reverse=True)
    uniform = size_schedule(LENET_LAYERS, 10, uniform=True)
    assert {round(p.keep, 12) for p in uniform.values()} == {0.1}


def test_ops_schedule_targets_macs_and_restores_layers_below_break_even():
    plan = ops_schedule(LENET_LAYERS, 4)
    macs = sum(plan[ly.name].keep * ly.macs for ly in LENET_LAYERS)
    assert LENET_NET.macs / macs == pytest.approx(4, rel=1e-9)
    # pruning ratio ∝ MACs: conv2 (1.6 M MACs) is pruned the most
    ratios = {n: 1 / p.keep for n, p in plan.items()}
    assert ratios["conv2"] == max(ratios.values())
    # every pruned layer keeps the same MACs: at 3x, 764,333 kept MACs; fc2 (5,000) stays dense
    # and the other three keep 253,111 each, which is 1.14x of conv1 and 1.58x of fc1: with a
    # break-even of 2.22, conv1 goes back to dense, then fc1 (235,667 each:
    # 1.70x), and conv2 keeps
    # 764,333 - 5,000 - 288,000 - 400,000 = 71,333 MACs: a ratio of 22.43
    restored = ops_schedule(LENET_LAYERS, 3, {n: 2.22 for n in plan})
    assert [restored[n].keep for n in ("conv1", "fc1", "fc2")] == [1.0, 1.0, 1.0]
    assert 1 / restored["conv2"].keep == pytest.approx(1_600_000 / (2_293_000 / 3 - 693_000))
    macs = sum(restored[ly.name].keep * ly.macs for ly in LENET_LAYERS)
    assert LENET_NET.macs / macs == pytest.approx(3, rel=1e-9)
    with pytest.raises(ConfigError, match="MAC reduction"):
        ops_schedule(LENET_LAYERS, 2, {n: 1e9 for n in plan})  # no layer pays to prune


def test_plan_files_and_bad_input(tmp_path):
    f = tmp_path / "plan.yaml"
    f.write_text("conv1: 0.2\nfc1: {keep: 0.002, bits: 2}\n")
    plan = read_plan_file(f, LENET_LAYERS)
    assert plan["conv1"] == LayerPlan(0.2) and plan["fc1"] == LayerPlan(0.002, 2)
    assert plan["conv2"] == LayerPlan(1.0)
    f.write_text("conv9: 0.2\n")
    with pytest.raises(ConfigError, match=r"conv9.*conv1, conv2, fc1, fc2"):
        read_plan_file(f, LENET_LAYERS)
    f.write_text("conv1: 0\n")
    with pytest.raises(ConfigError, match=r"conv1\.keep.*\(0, 1\]"):
        read_plan_file(f, LENET_LAYERS)
    f.write_text("conv1: {keep: 0.5, bits: 0}\n")
    with pytest.raises(ConfigError, match=r"conv1\.bits.*>= 1"):
        read_plan_file(f, LENET_LAYERS)
    with pytest.raises(ConfigError, match="prune ratio"):
        size_schedule(LENET_LAYERS, 1.0)
    with pytest.raises(ConfigError, match="bits"):
        read_bits("0", LENET_LAYERS)
    b = tmp_path / "bits.yaml"
    b.write_text("conv1: 5\nconv2: 3\nfc1: 2\n")
    with pytest.raises(ConfigError, match="fc2"):
        read_bits(str(b), LENET_LAYERS)


# --- storage ----------------------------------------------------------------------------------
def test_relative_index_by_hand():
    mask = np.zeros(20, bool)
    mask[[0, 3, 19]] = True
    # gaps from position -1: 1, 3, 16; with 2 bits an entry advances 1..4 positions:
    # 1 + 1 + ceil(16/4) = 6 entries; with 4 bits (1..16): 3 entries
    assert relative_index_entries(mask, 2) == 6
    assert relative_index_entries(mask, 4) == 3
    bits, b = index_storage(mask, value_bits=3)
    # 1 bit: 1+2+8 = 11 entries x 4 = 44; 2: 6 x 5 = 30; 3: 1+1+2 = 4 x 6 = 24; 4: 3 x 7 = 21
    assert (bits, b) == (21, 4)


def test_layer_stats_by_hand():
    masks = {ly.name: torch.ones(ly.weights, dtype=torch.bool) for ly in LENET_LAYERS}
    masks["fc1"] = torch.zeros(400_000, dtype=torch.bool)
    masks["fc1"][:1000] = True
    stats = {s["name"]: s for s in layer_stats(LENET_NET, masks, {"fc1": 2})}
    assert stats["fc1"]["kept"] == 1000 and stats["fc1"]["macs"] == 1000
    assert stats["fc1"]["storage_bits"] == 2000
    # 1,000 consecutive non-zeros: 1 index bit each is best, 1,000 x (2 + 1) bits
    assert stats["fc1"]["storage_bits_with_index"] == 3000
    assert stats["conv1"]["bits"] == 32 and stats["conv1"]["index_bits"] is None
    assert stats["conv2"]["macs"] == 1_600_000


# --- whole runs -------------------------------------------------------------------------------
def _config(tmp_path, method="admm", quant=True, epochs=1):
    t = TrainConfig(epochs=epochs, threads=1)
    plan = {n: LayerPlan(0.2, 3) for n in ("conv0", "fc")}
    data = DataConfig("digits")
    return CompressConfig(
        "chain:k3f4s2|flatten",
        data,
        plan,
        method=method,
        quantize=quant,
        dense=t,
        prune=t,
        retrain=t,
        quant=t,
        rounds=2,
    )


@pytest.mark.parametrize("method", ["admm", "magnitude", "iterative"])
def test_compress_methods_end_to_end(tmp_path, method):
    result = compress(_config(tmp_path, method), tmp_path / method)
    assert [s.stage for s in result.stages] == ["dense", "prune", "quant"]
    for name, p in result.config.plan.items():
        key = f"{'0' if name == 'conv0' else '4'}.weight"
        w = result.state_dict[key]
        assert int((w != 0).sum()) == kept_count(w.numel(), p.keep)
        nz = w[w != 0].abs()
        assert len(torch.unique(torch.round(nz / nz.min() * 1e4))) <= levels(3)
    assert all(0 <= s.test_acc <= 1 for s in result.stages)


def test_interrupted_compression_resumes(tmp_path, monkeypatch):
    import coexplore.compress.run as run

    cfg = _config(tmp_path)
    calls = []
    real = run._admm_quant

    def crash(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "_admm_quant", crash)
    with pytest.raises(KeyboardInterrupt):
        compress(cfg, tmp_path / "r")
    monkeypatch.setattr(run, "_admm_quant", lambda *a, **k: calls.append(1) or real(*a, **k))
    resumed = compress(cfg, tmp_path / "r")
    assert resumed.loaded == ["dense", "prune"] and calls == [1]
    fresh = compress(cfg, tmp_path / "fresh")
    for k, v in fresh.state_dict.items():
        assert torch.equal(v, resumed.state_dict[k]), k
    again = compress(cfg, tmp_path / "r")
    assert again.loaded == ["dense", "prune", "quant"]


def test_cli_compress_json(tmp_path, capsys):
    argv = [
        "compress",
        "--model",
        "lenet5",
        "--dataset",
        "mnist5k",
        "--train-subset",
        "300",
        "--prune-ratio",
        "20",
        "--quantize",
        "--bits",
        "3",
        "--dense-epochs",
        "1",
        "--prune-epochs",
        "1",
        "--retrain-epochs",
        "1",
        "--quant-epochs",
        "1",
        "--threads",
        "1",
        "--out",
        str(tmp_path / "run"),
        "--json",
    ]
    assert main(argv) == 0
    r = json.loads(capsys.readouterr().out)
    for key in (
        "dense_acc",
        "acc",
        "weights_dense",
        "weights_kept",
        "weight_reduction",
        "storage_bytes",
        "storage_reduction",
        "storage_reduction_with_index",
        "macs_dense",
        "macs",
        "layers",
    ):
        assert key in r
    assert r["weights_dense"] == 430_500
    assert r["weight_reduction"] == pytest.approx(20, rel=1e-3)
    # 3-bit values against 32-bit dense: at least 32/3 x the weight reduction, before indices
    assert r["storage_reduction"] == pytest.approx(20 * 32 / 3, rel=1e-3)
    assert r["storage_reduction_with_index"] < r["storage_reduction"]
    assert {ly["name"] for ly in r["layers"]} == {"conv1", "conv2", "fc1", "fc2"}
    for ly in r["layers"]:
        assert ly["bits"] == 3 and ly["break_even"] >= 1 and isinstance(ly["sparse"], bool)
    assert r["fpga"]["cycles"] <= r["fpga"]["cycles_dense"]
    assert main(argv) == 0  # the rerun loads every stage
    assert json.loads(capsys.readouterr().out)["loaded"] == ["dense", "prune", "quant"]


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--prune-ratio", "1"], "prune-ratio"),
        (["--prune-ratio", "0.5"], "prune-ratio"),
        (["--prune-ratio", "5", "--quantize", "--bits", "0"], "bits"),
        (["--prune-ratio", "5", "--bits", "3"], "only with --quantize"),
        (["--prune-ratio", "5", "--dense-epochs", "0"], "dense-epochs"),
    ],
)
def test_cli_bad_input(extra, match, capsys):
    assert main(["compress", *extra]) == 2
    assert match in capsys.readouterr().err


def test_bad_per_layer_file_names_the_layer(tmp_path, capsys):
    f = tmp_path / "p.yaml"
    f.write_text("conv3: 0.1\n")
    assert main(["compress", "--per-layer", str(f)]) == 2
    err = capsys.readouterr().err
    assert "conv3" in err and "conv1, conv2, fc1, fc2" in err


def test_a_plan_that_empties_a_layer_is_an_error_naming_it(tmp_path, capsys):
    with pytest.raises(ValueError, match="leaves none of its 500"):
        kept_count(500, 1e-4)
    f = tmp_path / "p.yaml"
    f.write_text("conv1: 0.0005\n")  # 0.25 of conv1's 500 weights
    assert main(["compress", "--per-layer", str(f), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "conv1" in err and "at least one of its 500 weights" in err


def test_fashion_mnist_default_location_and_hint(tmp_path, monkeypatch):
    import coexplore.data.sources as sources

    monkeypatch.setattr(sources, "FASHION_MNIST_SYSTEM_ROOT", str(tmp_path / "none"))
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist"):
        sources.fashion_mnist(None)


def test_request_plan_from_ops_schedule():
    config, network = config_of(CompressRequest(prune_ratio=3, schedule="ops"))
    macs = sum(config.plan[ly.name].keep * ly.macs for ly in network.layers if ly.weights)
    assert network.macs / macs == pytest.approx(3, rel=1e-9)


def test_sparse_dropout_scales_the_rate_by_the_root_of_the_kept_fraction():
    from coexplore.compress.admm import SparseDropout

    seen = {}

    class Probe(InitialWeights):  # reads the dropout rate the stage trains with
        def on_train_start(self, model, context):
            seen["p"] = [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)]

    arch = LENET
    ds = load_dataset(DataConfig("mnist5k", train_subset=64))
    state = arch.module(ds.input_shape, 10).state_dict()
    cbs = [InitialWeights(state), SparseDropout({"fc1": 0.04}), Probe(state)]
    train(arch, ds, TrainConfig(epochs=1, threads=1), callbacks=cbs)
    assert seen["p"] == [pytest.approx(0.5 * 0.2)]  # dense 0.5 x sqrt(0.04)


def test_structured_admm_prunes_whole_filters(tmp_path):
    t = TrainConfig(epochs=1, threads=1)
    plan = {"conv0": LayerPlan(0.5), "fc": LayerPlan(1.0)}
    cfg = CompressConfig("chain:k3f4s2|flatten", DataConfig("digits"), plan, structure="filter",
                         dense=t, prune=t, retrain=t)  # fmt: skip
    w = compress(cfg, tmp_path).state_dict["0.weight"]
    alive = w.flatten(1).abs().sum(1) != 0
    assert int(alive.sum()) == 2  # 2 of 4 filters, each kept or dropped whole
    assert torch.equal(w[~alive], torch.zeros_like(w[~alive]))
    assert bool((w[alive] != 0).all())


def test_the_progress_bar_changes_nothing(tmp_path):
    cfg = _config(tmp_path)
    quiet = compress(cfg, tmp_path / "quiet")
    shown = compress(cfg, tmp_path / "shown", progress=True)
    for k, v in quiet.state_dict.items():
        assert torch.equal(v, shown.state_dict[k]), k
    assert [s.test_acc for s in quiet.stages] == [s.test_acc for s in shown.stages]
