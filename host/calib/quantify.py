"""Quantities: PLS regression of a ``y_<name>`` column, with its own outlier statistics.

The mechanism is general (any ``y_`` column of a library becomes a quantity); the shipped
one is PP weight % in HDPE/PP blends from the NIST series. A composition figure is only
worth reporting for spectra like the calibration set, so each quantity carries the PLS
score T² and the X residual Q with limits, a valid range, and an uncertainty that grows
with leverage: ``u = RMSECV · sqrt(1 + T²/n)`` (the usual PLS prediction-interval
approximation, e.g. Faber & Kowalski, J. Chemometrics 11 (1997) 181).

Arrays: ``X`` ``(N, W)`` relative reflectance on the model grid, ``y`` ``(N,)``.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.cross_decomposition import PLSRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted, validate_data

from .preprocess import SNV, SavitzkyGolay


def default_quantity_preprocessing() -> Pipeline:
    """SNV then a Savitzky–Golay first derivative, as for identification (gain/offset-free)."""
    return Pipeline([("snv", SNV()), ("sg", SavitzkyGolay(9, 2, 1))])


class QuantityModel(RegressorMixin, BaseEstimator):
    """Preprocessing + PLS for one quantity.

    Parameters
    ----------
    preprocessing : Pipeline or None
        Default `default_quantity_preprocessing`.
    n_components : int
        PLS latent variables.
    """

    def __init__(self, preprocessing=None, n_components: int = 4):
        self.preprocessing = preprocessing
        self.n_components = n_components

    def fit(self, X, y):
        X, y = validate_data(self, X, y, reset=True, dtype=np.float64, y_numeric=True)
        self.preprocessing_ = clone(self.preprocessing if self.preprocessing is not None
                                    else default_quantity_preprocessing()).fit(X)
        Z = self.preprocessing_.transform(X)
        k = max(1, min(self.n_components, Z.shape[0] - 1, Z.shape[1]))
        self.pls_ = PLSRegression(n_components=k, scale=False).fit(Z, y)
        T = self.pls_.transform(Z)
        self.score_variance_ = T.var(axis=0, ddof=1) + 1e-12
        self.n_train_ = len(y)
        self.y_range_ = (float(np.min(y)), float(np.max(y)))
        return self

    def outputs(self, X) -> dict[str, np.ndarray]:
        """``value`` (N,), ``t2`` (N,) PLS score Hotelling T², ``q`` (N,) X residual, in float64."""
        check_is_fitted(self, "pls_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        Z = self.preprocessing_.transform(X)
        T = self.pls_.transform(Z)
        Zc = Z - self.pls_._x_mean
        resid = Zc - T @ self.pls_.x_loadings_.T
        return {"value": self.pls_.predict(Z).ravel(),
                "t2": (T ** 2 / self.score_variance_).sum(axis=1),
                "q": (resid ** 2).sum(axis=1)}

    def predict(self, X):
        return self.outputs(X)["value"]
