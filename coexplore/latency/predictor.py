"""A latency predictor: a per-operator sum, corrected by a model learned on whole networks.

``latency ≈ base · exp(g(features))``:

- ``base``, the additive part: on this device, the sum of the network's layer kernels, each
  measured on its own (:mod:`coexplore.latency.kernels`; nn-Meter's kernel-level view, Zhang
  et al., MobiSys 2021); for a device known only by whole-network measurements (the
  NAS-Bench-201 tables), a lookup table of one time per (position, operator) plus a constant,
  fitted by non-negative least squares on the fitting networks (OFA's per-block tables, Cai et
  al., ICLR 2020, learned instead of measured);
- ``g``, the correction: a model of the log residual ``log(measured / base)`` from the
  network's features (what the sum misses: framework overhead per layer, cache effects,
  interactions), ``ridge`` (linear) or ``gbm`` (gradient-boosted trees);
- the uncertainty: the spread of the 5-fold cross-validated log residuals on the fitting set,
  so every prediction carries a relative standard deviation (``rel_sd``).

:func:`validation` scores predictions with nn-Meter's metric: the share within ±5% and ±10%
of the measured latency, plus RMSE and Spearman's rank correlation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import nnls
from scipy.stats import spearmanr
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from coexplore.config import ConfigError, check_number
from coexplore.latency import CORRECTIONS


def _model(kind: str, seed: int):
    if kind == "ridge":
        return make_pipeline(StandardScaler(), Ridge(alpha=1.0))
    return GradientBoostingRegressor(
        n_estimators=300, max_depth=3, learning_rate=0.05, subsample=0.8, random_state=seed
    )


@dataclass
class LatencyPredictor:
    """Fitted on (features, base, measured) of networks; see the module docstring.

    ``base_from_lut``: the base is a fitted lookup table over ``features`` (which are then
    operator counts) instead of a given per-kernel sum.
    """

    correction: str = "ridge"
    base_from_lut: bool = False
    seed: int = 0
    lut: np.ndarray | None = None
    model: Any = None
    rel_sd: float = float("nan")
    n_fit: int = 0

    def __post_init__(self) -> None:
        if self.correction not in CORRECTIONS:
            raise ConfigError(
                "predictor", "correction", f"one of {list(CORRECTIONS)}", self.correction
            )

    def check_fitted(self, source: str, where: str = "predictor.") -> None:
        """That this predictor, as read from a file, is a fitted one: a ConfigError naming
        ``source`` and the field otherwise."""
        names = [f.name for f in dataclasses.fields(self)]
        missing = [n for n in names if n not in vars(self)]
        if missing:
            raise ConfigError(source, f"{where}{missing[0]}", "present (a fitted predictor)")
        if self.correction not in CORRECTIONS:
            allowed = f"one of {list(CORRECTIONS)}"
            raise ConfigError(source, f"{where}correction", allowed, self.correction)
        if not isinstance(self.base_from_lut, bool):
            raise ConfigError(source, f"{where}base_from_lut", "true or false", self.base_from_lut)
        check_number(self.n_fit, source, f"{where}n_fit", 10, integer=True)
        check_number(self.rel_sd, source, f"{where}rel_sd", 0)
        lut = self.lut
        if self.base_from_lut and not (
            isinstance(lut, np.ndarray) and lut.ndim == 1 and np.isfinite(lut).all()
        ):
            raise ConfigError(source, f"{where}lut", "the fitted lookup table (finite numbers)")
        if self.model is not None and not callable(getattr(self.model, "predict", None)):
            raise ConfigError(source, f"{where}model", "a fitted model or null", type(self.model))

    def _base(self, features: np.ndarray, base: np.ndarray | None) -> np.ndarray:
        if not self.base_from_lut:
            if base is None:
                raise ValueError("this predictor needs the per-kernel base latency")
            return np.asarray(base, dtype=float)
        design = np.column_stack([np.ones(len(features)), features])
        return np.maximum(design @ self.lut, 1e-12)

    def fit(self, features: np.ndarray, y: np.ndarray, base: np.ndarray | None = None):
        features, y = np.asarray(features, dtype=float), np.asarray(y, dtype=float)
        if len(y) < 10:
            raise ConfigError("predictor", "fitting set", "at least 10 measured networks", len(y))
        if np.any(y <= 0):
            raise ConfigError("predictor", "latency", "positive measured latencies", float(y.min()))
        if self.base_from_lut:
            design = np.column_stack([np.ones(len(features)), features])
            self.lut, _ = nnls(design, y)
        residual = np.log(y) - np.log(self._base(features, base))
        x = self._x(features, base)
        cv = np.empty_like(residual)
        if self.correction == "none":
            cv[:] = 0.0
        else:
            for train, test in KFold(5, shuffle=True, random_state=self.seed).split(x):
                m = _model(self.correction, self.seed).fit(x[train], residual[train])
                cv[test] = m.predict(x[test])
            self.model = _model(self.correction, self.seed).fit(x, residual)
        self.rel_sd = float(np.std(residual - cv))
        self.n_fit = len(y)
        return self

    def _x(self, features: np.ndarray, base: np.ndarray | None) -> np.ndarray:
        b = self._base(features, base)
        return np.column_stack([np.log(b), features])

    def predict(
        self, features: np.ndarray, base: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(latency, relative standard deviation) of each network."""
        if self.n_fit == 0:
            raise RuntimeError("the predictor is not fitted")
        features = np.asarray(features, dtype=float)
        b = self._base(features, base)
        g = 0.0 if self.model is None else self.model.predict(self._x(features, base))
        pred = b * np.exp(g)
        return pred, np.full(len(pred), self.rel_sd)


def validation(predicted: np.ndarray, measured: np.ndarray, n_fit: int) -> dict[str, Any]:
    """nn-Meter's metric and friends, on networks not used for fitting (seconds in)."""
    p, y = np.asarray(predicted, dtype=float), np.asarray(measured, dtype=float)
    err = np.abs(p / y - 1)
    return {
        "within_5pct": float(np.mean(err <= 0.05)),
        "within_10pct": float(np.mean(err <= 0.10)),
        "rmse_ms": float(np.sqrt(np.mean((p - y) ** 2)) * 1e3),
        "mape": float(np.mean(err)),
        "spearman": float(spearmanr(p, y).statistic),
        "n_fit": int(n_fit),
        "n_test": len(y),
    }
