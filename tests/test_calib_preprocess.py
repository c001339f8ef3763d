"""Preprocessing transformers: the scikit-learn estimator contract, and the invariances we rely on."""
import numpy as np
import pytest
from scipy.signal import savgol_filter
from sklearn.utils.estimator_checks import parametrize_with_checks

from host.calib.preprocess import MSC, SNV, Absorbance, SavitzkyGolay


@parametrize_with_checks([SNV(), SavitzkyGolay(), SavitzkyGolay(5, 2, 0), MSC(), Absorbance()])
def test_sklearn_contract(estimator, check):
    check(estimator)


def test_savgol_matrix_equals_scipy():
    X = np.random.default_rng(0).random((5, 61))
    for win, order, d in [(9, 2, 1), (11, 3, 2), (5, 2, 0)]:
        got = SavitzkyGolay(win, order, d).fit(X).transform(X)
        assert np.allclose(got, savgol_filter(X, win, order, deriv=d, axis=1, mode="interp"), atol=1e-12)


@pytest.mark.parametrize("a, b", [(0.3, -0.3), (3.0, 0.3), (1.7, 0.0), (0.5, 0.25)])
def test_snv_removes_gain_and_offset(a, b):
    X = np.random.default_rng(1).random((4, 61)) + 0.2
    snv = SNV().fit(X)
    assert np.allclose(snv.transform(a * X + b), snv.transform(X), atol=1e-5)
    msc = MSC().fit(X)
    assert np.allclose(msc.transform(a * X + b), msc.transform(X), atol=1e-6)


def test_absorbance_of_known_values():
    # −log10: 10 % reflectance is 1 absorbance unit, 100 % is 0
    assert np.allclose(Absorbance().fit_transform(np.array([[0.1, 1.0, 0.01]])), [[1.0, 0.0, 2.0]])


def test_savgol_bad_parameters_are_named():
    X = np.ones((2, 20))
    with pytest.raises(ValueError, match="window_length must be a positive odd"):
        SavitzkyGolay(8).fit(X)
    with pytest.raises(ValueError, match="polyorder"):
        SavitzkyGolay(5, 5).fit(X)
