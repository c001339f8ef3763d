"""Identification: preprocessing → PCA → LDA classifier, with Hotelling T², Q residual and a
per-class distance, so the verdict can say *identified*, *unknown* or *ambiguous*.

Why this shape:

- Preprocessing (`IdentifierConfig`): a Savitzky–Golay **second** derivative *followed by* SNV
  is the shipped fpi chain. The second derivative removes any additive baseline that is linear
  in wavelength, and the SNV after it removes the gain and the constant left by a quadratic
  baseline, so the chain is exactly invariant to ``R → a·R + b + c·λ (+ d·λ²)`` (lamp drift,
  gloss, stray light, the sloped backgrounds of coloured and filled items). SNV *after* the
  derivative also scales every spectrum's band pattern to unit variance, so a dark-green or
  grey item whose bands are five times weaker is compared by band *shape*, not depth; the
  older SNV-then-first-derivative order leaves the slope of such items as the dominant
  feature. Window and number of components are chosen by nested grouped CV
  (`host.calib.select`), not fixed here.

- LDA on PCA scores is the well-tried chemometric classifier for few items per class; its
  posterior is a softmax of linear scores, so the ONNX graph is two matrix products. LDA
  trained on augmented copies of few items is grossly over-confident (posteriors of 1.0 on
  wrong calls), so the scores are **temperature-scaled**: ``softmax(logits / T)`` with ``T``
  fitted on held-out items (`Identifier.temperature_`, Guo et al., "On calibration of modern
  neural networks", ICML 2017); the arg-max, hence the class, does not change.
- T² and Q (residual) in the PCA space flag spectra unlike anything in training (the global
  "outside the model" check); a **per-class** Mahalanobis distance in the same score space,
  with a Ledoit–Wolf shrunk covariance (few items per class), says which classes would accept
  the spectrum. A spectrum accepted by no class is unknown; by several, ambiguous.
- Limits are not textbook F or χ² quantiles: training rows are augmented copies of few items,
  which breaks those assumptions. They are set from **out-of-fold** values of held-out items
  (grouped CV, `host.calib.validate.fit_limits`), so a limit is what a new item of a known class
  actually produces.

Arrays: spectra ``X`` ``(N, W)`` relative reflectance on the model grid; scores ``(N, C)``;
distances ``(N, C)``; ``t2``, ``q`` ``(N,)``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted, validate_data

from .preprocess import EPS_AFTER_DERIVATIVE, SNV, SavitzkyGolay


def default_preprocessing(window_length: int = 9) -> Pipeline:
    """SNV then Savitzky–Golay first derivative (window 9 points = 45 nm on the fpi grid).

    The first shipped fpi chain, kept as the default of a bare `Identifier` (packages built
    before `IdentifierConfig` existed are rebuilt with it by ``nir-host adapt``).
    """
    return Pipeline([("snv", SNV()), ("sg", SavitzkyGolay(window_length, 2, 1))])


@dataclass(frozen=True)
class IdentifierConfig:
    """One candidate identifier: preprocessing order, Savitzky–Golay settings, PCA components.

    ``derivative_first=True`` is Savitzky–Golay then SNV; False is SNV then Savitzky–Golay.
    Stored in the package (``library.npz`` settings) so adaptation rebuilds the same chain.
    """

    derivative_first: bool = True
    window: int = 5
    deriv: int = 2
    polyorder: int = 2
    n_components: int = 30

    def preprocessing(self) -> Pipeline:
        sg = ("sg", SavitzkyGolay(self.window, self.polyorder, self.deriv))
        if self.derivative_first:
            return Pipeline([sg, ("snv", SNV(eps=EPS_AFTER_DERIVATIVE))])
        return Pipeline([("snv", SNV()), sg])

    def build(self) -> "Identifier":
        return Identifier(self.preprocessing(), n_components=self.n_components)

    @property
    def name(self) -> str:
        sg = f"sg{self.deriv}w{self.window}p{self.polyorder}"
        return f"{sg}-snv-pca{self.n_components}" if self.derivative_first else f"snv-{sg}-pca{self.n_components}"

    def describe(self) -> str:
        order = {1: "1st", 2: "2nd"}.get(self.deriv, f"{self.deriv}th")
        sg = (f"Savitzky–Golay {order} derivative ({self.window} points, order {self.polyorder})"
              if self.deriv else f"Savitzky–Golay smoothing ({self.window} points, order {self.polyorder})")
        return f"{sg}, then SNV" if self.derivative_first else f"SNV, then {sg}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "IdentifierConfig":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    @classmethod
    def legacy(cls, n_components: int = 20) -> "IdentifierConfig":
        """The first shipped fpi chain (`default_preprocessing`)."""
        return cls(derivative_first=False, window=9, deriv=1, polyorder=2, n_components=n_components)


class Identifier(ClassifierMixin, BaseEstimator):
    """Preprocessing + PCA + LDA, with the statistics the verdict needs.

    Parameters
    ----------
    preprocessing : Pipeline or None
        Transformers applied first (default: `default_preprocessing`).
    n_components : int
        PCA components (capped at what the data allow).
    lw_floor : float
        Least shrinkage of each class covariance towards its diagonal mean; Ledoit–Wolf may pick more.
    """

    def __init__(self, preprocessing=None, n_components: int = 20, lw_floor: float = 0.05):
        self.preprocessing = preprocessing
        self.n_components = n_components
        self.lw_floor = lw_floor

    def fit(self, X, y):
        X, y = validate_data(self, X, y, reset=True, dtype=np.float64)
        self.preprocessing_ = clone(self.preprocessing if self.preprocessing is not None
                                    else default_preprocessing()).fit(X)
        Z = self.preprocessing_.transform(X)
        k = max(1, min(self.n_components, Z.shape[0] - 1, Z.shape[1]))
        self.pca_ = PCA(n_components=k, svd_solver="full").fit(Z)
        T = self.pca_.transform(Z)
        self.lda_ = LinearDiscriminantAnalysis(solver="svd").fit(T, y)
        self.classes_ = self.lda_.classes_
        self.class_means_ = np.stack([T[y == c].mean(axis=0) for c in self.classes_])
        whiteners = []
        for c in self.classes_:
            Tc = T[y == c] - T[y == c].mean(axis=0)
            cov = LedoitWolf(assume_centered=True).fit(Tc).covariance_ if len(Tc) > 1 else np.eye(k)
            mu = np.trace(cov) / k
            cov = (1 - self.lw_floor) * cov + self.lw_floor * mu * np.eye(k)
            # d² = |(t − m) L|² with L Lᵀ = cov⁻¹: one matrix product per class in ONNX
            whiteners.append(np.linalg.cholesky(np.linalg.inv(cov)))
        self.class_whiteners_ = np.stack(whiteners)  # (C, k, k)
        self.temperature_ = 1.0
        return self

    def set_temperature(self, temperature: float) -> "Identifier":
        """Divide the logits by ``temperature`` in `outputs`, `predict_proba` and the ONNX graph."""
        if not (np.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature must be a positive finite number, got {temperature}")
        self.temperature_ = float(temperature)
        return self

    # --- the statistics -----------------------------------------------------------------

    def _scores(self, X):
        check_is_fitted(self, "lda_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        Z = self.preprocessing_.transform(X)
        return Z, self.pca_.transform(Z)

    def outputs(self, X) -> dict[str, np.ndarray]:
        """Everything the ONNX graph returns, computed with scikit-learn/numpy in float64.

        ``scores`` (N, C) LDA posteriors; ``t2`` (N,) Hotelling T² over the PCA scores;
        ``q`` (N,) squared residual off the PCA subspace; ``class_distance`` (N, C) root mean
        squared whitened distance to each class (≈ 1 for a typical member).
        """
        Z, T = self._scores(X)
        t2 = (T ** 2 / self.pca_.explained_variance_).sum(axis=1)
        resid = (Z - self.pca_.mean_) - T @ self.pca_.components_
        q = (resid ** 2).sum(axis=1)
        k = T.shape[1]
        dist = np.stack([np.sqrt((((T - m) @ L) ** 2).sum(axis=1) / k)
                         for m, L in zip(self.class_means_, self.class_whiteners_)], axis=1)
        return {"scores": self._proba(T), "t2": t2, "q": q, "class_distance": dist}

    def _logits(self, T) -> np.ndarray:
        """LDA decision values ``(N, C)`` (two classes: ``[0, d]``, whose softmax is sklearn's sigmoid)."""
        d = self.lda_.decision_function(T)
        return np.c_[np.zeros_like(d), d] if d.ndim == 1 else d

    def _proba(self, T) -> np.ndarray:
        z = self._logits(T) / getattr(self, "temperature_", 1.0)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def logits(self, X) -> np.ndarray:
        """Un-scaled LDA logits ``(N, C)``: what the temperature is fitted on."""
        return self._logits(self._scores(X)[1])

    def predict_proba(self, X):
        return self._proba(self._scores(X)[1])

    def predict(self, X):
        return self.lda_.predict(self._scores(X)[1])
