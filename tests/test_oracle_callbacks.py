"""Training callbacks and kept weights through the train oracle: keys, cache, checkpoints."""

import pickle
from contextlib import nullcontext

import pytest

from coexplore.config import ConfigError
from coexplore.core.candidate import Candidate
from coexplore.data import DataConfig
from coexplore.slow.cache import ResultCache
from coexplore.slow.oracles import TrainOracle
from coexplore.slow.trainer import TrainCallback, TrainConfig
from coexplore.spaces import make_space

ARCH = "k3f24s1-k3f36s2|flatten"


ONE = TrainConfig(epochs=1, precision="fp32", threads=1)
# The key of (ARCH, digits, ONE without threads, seed 0) as recorded before callbacks existed.
GOLDEN_KEY_ID = "b65ec771940038c06e75c7a102d1ca8c12a53684a6c8cfd728a0c5453dc68916"


class Shrink(TrainCallback):
    def __init__(self, weight):
        self.weight = weight

    def config(self):
        return {"weight": self.weight}

    def extra_loss(self, model, batch):
        return self.weight * sum((p**2).sum() for p in model.parameters())


def test_callbacks_enter_the_key_and_none_keep_todays(tmp_path):
    arch = make_space("chain", depth=2).parse(ARCH)
    plain = TrainOracle(DataConfig("digits"), TrainConfig(epochs=1, precision="fp32"))
    assert plain.key(Candidate(arch)).id == GOLDEN_KEY_ID
    none = TrainOracle(DataConfig("digits"), ONE, callbacks=[])
    assert none.key(Candidate(arch)).id == GOLDEN_KEY_ID
    keys = {
        TrainOracle(DataConfig("digits"), ONE, callbacks=cbs).key(Candidate(arch)).id
        for cbs in ([], [Shrink(0.01)], [Shrink(0.02)], [Shrink(0.01), Shrink(0.01)])
    }
    assert len(keys) == 4
    oracle = TrainOracle(DataConfig("digits"), ONE, tmp_path / "c.sqlite", [Shrink(0.01)], True)
    clone = pickle.loads(pickle.dumps(oracle))  # workers get the callbacks too
    assert clone.key(Candidate(arch)) == oracle.key(Candidate(arch)) and clone.keep_weights
    assert clone.callbacks[0].weight == 0.01
    with pytest.raises(TypeError, match="JSON"):
        TrainOracle(DataConfig("digits"), ONE, callbacks=[Shrink(object())])


def test_callback_runs_are_cached_apart_from_plain_ones(tmp_path):
    arch = make_space("chain", depth=2).parse(ARCH)
    path = tmp_path / "c.sqlite"
    plain = TrainOracle(DataConfig("digits"), ONE, path).evaluate(Candidate(arch))
    shrunk = TrainOracle(DataConfig("digits"), ONE, path, [Shrink(0.05)]).evaluate(Candidate(arch))
    assert not plain.cache_hit and not shrunk.cache_hit  # not confused with the plain run
    assert shrunk.details["loss_curve"] != plain.details["loss_curve"]
    assert shrunk.details["extra"]["callbacks"][0]["config"] == {"weight": 0.05}
    again = TrainOracle(DataConfig("digits"), ONE, path, [Shrink(0.05)]).evaluate(Candidate(arch))
    assert again.cache_hit and again.details == shrunk.details
    assert "weights_path" not in plain.details  # only reported when weights are kept


def test_kept_weights_reload_to_the_recorded_accuracy(tmp_path, monkeypatch):
    from coexplore.slow.trainer import accuracy

    arch = make_space("chain", depth=2).parse(ARCH)
    path = tmp_path / "c.sqlite"
    oracle = TrainOracle(DataConfig("digits"), ONE, path, keep_weights=True)
    first = oracle.evaluate(Candidate(arch))
    key = oracle.key(Candidate(arch))
    expected = tmp_path / "c.sqlite.weights" / f"{key.id}.pt"
    assert first.details["weights_path"] == str(expected) and expected.is_file()
    with ResultCache(path) as cache:
        assert cache.weights_path(key) == expected and key in cache

    model = oracle.load_weights(arch, 0)
    assert not model.training
    ds = oracle.dataset
    assert accuracy(model, ds.x_val, ds.y_val, 1024, nullcontext) == first.val_acc
    assert accuracy(model, ds.x_test, ds.y_test, 1024, nullcontext) == first.test_acc

    # a hit reports the path and loads (or trains, or writes) nothing
    mtime = expected.stat().st_mtime_ns
    monkeypatch.setattr(ResultCache, "load_weights", lambda *a, **k: pytest.fail("loaded"))
    monkeypatch.setattr(ResultCache, "save_weights", lambda *a, **k: pytest.fail("saved"))
    monkeypatch.setattr("coexplore.slow.oracles.train", lambda *a, **k: pytest.fail("trained"))
    hit = TrainOracle(DataConfig("digits"), ONE, path, keep_weights=True).evaluate(Candidate(arch))
    assert hit.cache_hit and hit.details == first.details and expected.stat().st_mtime_ns == mtime


def test_missing_weights_are_a_clear_error(tmp_path):
    arch = make_space("chain", depth=2).parse(ARCH)
    path = tmp_path / "c.sqlite"
    TrainOracle(DataConfig("digits"), ONE, path).evaluate(Candidate(arch))  # weights not kept
    keeping = TrainOracle(DataConfig("digits"), ONE, path, keep_weights=True)
    hit = keeping.evaluate(Candidate(arch))
    assert hit.cache_hit and hit.details["weights_path"] is None
    with pytest.raises(FileNotFoundError, match="trained without keeping weights"):
        keeping.load_weights(arch, 0)
    with pytest.raises(FileNotFoundError, match="never trained"):
        keeping.load_weights(arch, 1)
    with pytest.raises(ConfigError, match="keep_weights"):
        TrainOracle(DataConfig("digits"), ONE, keep_weights=True)  # no cache to keep them by


def test_callbacks_and_kept_weights_in_a_spawned_worker(tmp_path):
    """Oracles travel to worker processes by pickle (spawn): callbacks, keep_weights and all."""
    from coexplore.slow.executors import make_executor

    arch = make_space("chain", depth=2).parse(ARCH)
    path = tmp_path / "c.sqlite"
    oracle = TrainOracle(DataConfig("digits"), ONE, path, [Shrink(0.05)], keep_weights=True)
    with make_executor("process", workers=1, run_dir=tmp_path / "run") as ex:
        [remote] = ex.map(oracle.evaluate, [Candidate(arch)])
    assert not remote.cache_hit and remote.details["extra"]["callbacks"][0]["config"]["weight"]
    local = TrainOracle(DataConfig("digits"), ONE, None, [Shrink(0.05)]).evaluate(Candidate(arch))
    assert remote.details["loss_curve"] == local.details["loss_curve"]
    assert remote.details["weights_path"] == str(
        ResultCache(path).weights_path(oracle.key(Candidate(arch)))
    )
    assert oracle.load_weights(arch, 0) is not None
