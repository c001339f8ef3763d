"""Spectral preprocessing as scikit-learn transformers, so one `Pipeline` trains, validates and exports.

Every transformer here is linear or a per-row normalisation, which keeps the exported ONNX
graph small (a few matrix products and reductions) and the float32 parity with scikit-learn
tight. Each has a skl2onnx converter in `host.calib.export`.

The shipped chain is ``SNV → Savitzky–Golay first derivative`` on **reflectance**: SNV
removes any ``R → a·R + b`` with ``a > 0`` exactly (lamp drift, gloss, stray light), which the
issue requires for a in 0.3–3 and b in −0.3–0.3. Absorbance (−log10 R) helps Beer–Lambert
linearity for quantities, but ``log(a·R + b)`` keeps a trace of ``b``, so it is offered here and
not used for identification.

Arrays: ``X`` is ``(n_samples, n_wavelengths)``.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import savgol_filter
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

#: Added to the standard deviation (SNV) and clipped under reflectance (absorbance) so a flat or
#: zero row never divides by zero; far below the noise of any real reading.
EPS = 1e-6
#: SNV floor after a Savitzky–Golay derivative: 1e-5 of the weakest real row's deviation.
EPS_AFTER_DERIVATIVE = 1e-9


class SNV(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Standard normal variate: centre each spectrum on its mean and divide by its standard deviation.

    Stateless per row (``fit`` only records the width), so it needs no reference spectrum and
    behaves the same on a unit that has never seen the training set.

    Parameters
    ----------
    eps : float
        Added to the standard deviation. It must stay far below the smallest standard deviation
        a real row has, or gain invariance breaks: `EPS` suits reflectance; after a second
        derivative (values ~1e-3, the weakest items ~1e-4 at a gain of 0.3) use `EPS_AFTER_DERIVATIVE`.
    """

    def __init__(self, eps: float = EPS):
        self.eps = eps

    def fit(self, X, y=None):
        validate_data(self, X, reset=True, dtype=[np.float64, np.float32])
        return self

    def transform(self, X):
        check_is_fitted(self, "n_features_in_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        centred = X - X.mean(axis=1, keepdims=True)
        return centred / (np.sqrt((centred ** 2).mean(axis=1, keepdims=True)) + self.eps)


class SavitzkyGolay(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Savitzky–Golay smoothing or derivative along the wavelength axis.

    Fitting builds the ``(W, W)`` matrix that applies the filter (ends handled by
    scipy's ``mode='interp'`` polynomial fit), so transform and the ONNX graph are a single
    matrix product. On inputs narrower than ``window_length`` the window shrinks to the
    widest odd width that fits (``window_length_``), and the order with it (``polyorder_``).

    Parameters
    ----------
    window_length : int
        Odd number of points in the filter window (on the fpi grid, 5 nm per point).
    polyorder : int
        Order of the local polynomial.
    deriv : int
        Derivative order (0 = smoothing); derivatives are per point, not per nm.
    """

    def __init__(self, window_length: int = 11, polyorder: int = 2, deriv: int = 1):
        self.window_length = window_length
        self.polyorder = polyorder
        self.deriv = deriv

    def fit(self, X, y=None):
        X = validate_data(self, X, reset=True, dtype=[np.float64, np.float32])
        if self.window_length < 1 or self.window_length % 2 == 0:
            raise ValueError(f"window_length must be a positive odd integer, got {self.window_length}")
        if not 0 <= self.polyorder < self.window_length:
            raise ValueError(f"polyorder must be in [0, window_length), got {self.polyorder}")
        if self.deriv < 0:
            raise ValueError(f"deriv must be >= 0, got {self.deriv}")
        n = X.shape[1]
        win = min(self.window_length, n if n % 2 else n - 1)
        self.window_length_ = win
        self.polyorder_ = min(self.polyorder, win - 1)
        if win >= 2:
            # row i is the filter's response to a unit impulse at point i, so X @ matrix_
            # equals filtering every row of X
            self.matrix_ = np.ascontiguousarray(savgol_filter(np.eye(n), win, self.polyorder_,
                                                              deriv=self.deriv, axis=1, mode="interp"))
        else:
            self.matrix_ = np.eye(n) if self.deriv == 0 else np.zeros((n, n))
        return self

    def transform(self, X):
        check_is_fitted(self, "matrix_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return X @ self.matrix_.astype(X.dtype, copy=False)


class MSC(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Multiplicative scatter correction against the mean training spectrum.

    Each spectrum is regressed on the reference (``x ≈ a + b·ref``) and returned as
    ``(x − a) / b``. Like SNV it removes ``a·R + b``, but relative to the training mean, so it
    is kept as an option and compared in the validation report rather than shipped.
    """

    def fit(self, X, y=None):
        X = validate_data(self, X, reset=True, dtype=[np.float64, np.float32])
        self.reference_ = X.mean(axis=0)
        return self

    def transform(self, X):
        check_is_fitted(self, "reference_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        ref = self.reference_.astype(X.dtype, copy=False)
        rc = ref - ref.mean()
        xc = X - X.mean(axis=1, keepdims=True)
        slope = (xc @ rc)[:, None] / ((rc @ rc) + EPS)
        slope = np.where(np.abs(slope) < EPS, EPS, slope)
        offset = X.mean(axis=1, keepdims=True) - slope * ref.mean()
        return (X - offset) / slope


class Absorbance(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Reflectance (fraction) → apparent absorbance ``−log10 R``, with R clipped at `EPS`."""

    def fit(self, X, y=None):
        validate_data(self, X, reset=True, dtype=[np.float64, np.float32])
        return self

    def transform(self, X):
        check_is_fitted(self, "n_features_in_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return -np.log10(np.maximum(X, EPS))
