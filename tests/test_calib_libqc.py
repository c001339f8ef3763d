"""Training-library QC, the degradable score floor, degradable-call safety figures, band contrast."""
import numpy as np
import pytest

from calib_helpers import synthetic_fpi
from firmware.inference import Prediction
from host.calib.featureless import band_contrast
from host.calib.identify import IdentifierConfig
from host.calib.instrument import Augmentation
from host.calib.libqc import LibraryQC, class_band_depth
from host.calib.safety import degradable_safety, upper95
from host.calib.validate import FitSettings, HeadReadings, LimitPolicy, grouped_cv, limits_from_oof

SMALL = Augmentation(copies=2, max_shift_nm=0.0, snr=1000.0)


@pytest.fixture(scope="module")
def with_grey_item():
    """Synthetic PBAT/PBS/PCL/STARCH items plus one 'grey' PBS item: its class's bands at a tenth
    of their depth on the same mean level (a pigment hiding the polymer), three noisy scans."""
    X, y, g = synthetic_fpi(n_items=6, seed=3)
    base = X[y == "PBS"].mean(axis=0)
    rng = np.random.default_rng(4)
    grey = 0.1 * base + 0.9 * base.mean() + rng.normal(0.0, 0.0005, (3, base.size))
    return (np.vstack([X, grey]), np.r_[y, ["PBS"] * 3].astype(object),
            np.r_[g, ["PBS-grey"] * 3].astype(object))


def test_band_depth_is_about_one_for_members_and_small_without_the_bands(with_grey_item):
    X, y, g = with_grey_item
    depth = class_band_depth(X, y, g)
    assert depth["PBS-grey"]["band_depth"] == pytest.approx(0.1, abs=0.05)
    typical = [d["band_depth"] for k, d in depth.items() if k != "PBS-grey"]
    # the simulated items differ in thickness by 0.8–1.25 (host.calib.simulated): depths near 1
    assert min(typical) > 0.6 and max(typical) < 1.6
    # a gain on one item changes nothing (band depth is relative to the item's own level)
    X2 = X.copy()
    X2[g == "PBS-grey"] *= 2.7
    assert class_band_depth(X2, y, g)["PBS-grey"]["band_depth"] == pytest.approx(depth["PBS-grey"]["band_depth"])


def test_library_qc_leaves_out_only_the_item_without_its_class_bands(with_grey_item):
    X, y, g = with_grey_item
    kept, excluded = LibraryQC().apply(HeadReadings(X), np.arange(len(y)), y, g)
    assert list(excluded) == ["PBS-grey"] and excluded["PBS-grey"]["label"] == "PBS"
    assert len(excluded["PBS-grey"]["scans"]) == 3
    assert set(g[kept]) == set(g) - {"PBS-grey"}
    # the rule never empties a class: with an absurd threshold the best three items of each class stay
    kept, excluded = LibraryQC(min_band_depth=10.0).apply(HeadReadings(X), np.arange(len(y)), y, g)
    for c in set(y):
        assert len(set(g[kept][y[kept] == c])) == 3


def test_nested_cv_applies_the_qc_to_training_folds_and_still_scores_every_item(with_grey_item):
    X, y, g = with_grey_item
    settings = FitSettings(augmentation=SMALL, candidates=(IdentifierConfig(True, 7, 2, 2, 8),),
                           calibrate_scores=True, library_qc=LibraryQC())
    res, _ = grouped_cv(HeadReadings(X), np.arange(len(y)), y, g, settings, n_splits=3, seed=2)
    for fit, (tr, te) in zip(res.fits, res.folds):
        in_training = "PBS-grey" in set(g[tr])
        assert ("PBS-grey" in fit.library_excluded) == in_training
        assert set(fit.library_excluded) <= set(g[tr])  # never judges a test item
    assert len(res.verdicts) == len(y) and all(v is not None for v in res.verdicts)
    assert (res.groups == "PBS-grey").sum() == 3  # scored in its test fold like every item


def test_degradable_classes_get_their_own_score_floor():
    y = np.array(["PP", "PP", "PLA", "PLA"], dtype=object)
    out = {"t2": np.ones(4), "q": np.ones(4), "class_distance": np.ones((4, 2))}
    classes = np.array(["PLA", "PP"], dtype=object)
    lim = limits_from_oof(out, y, classes, LimitPolicy(degradable_min_score=0.9))
    assert lim["class_min_score"] == {"PLA": 0.9} and lim["min_score"] == 0.4
    assert "class_min_score" not in limits_from_oof(out, y, classes, LimitPolicy())
    # a floor below the general one never loosens it
    assert limits_from_oof(out, y, classes, LimitPolicy(degradable_min_score=0.1))["class_min_score"] == {"PLA": 0.4}


def test_clopper_pearson_upper_bound():
    # 0 events in n: 1 − 0.05^(1/n) (exact one-sided bound; "rule of three" ≈ 3/n for large n)
    assert upper95(0, 15) == pytest.approx(1 - 0.05 ** (1 / 15))
    assert upper95(0, 500) == pytest.approx(3 / 500, rel=0.01)
    assert upper95(0.4, 10) == upper95(1, 10) > upper95(0, 10)  # a fractional count is rounded up
    assert upper95(5, 5) == 1.0 and upper95(0, 0) is None


def _p(verdict, cls=None):
    return Prediction(verdict, None, cls, None, 0.9, {}, 0.0, 0.0, {})


def test_degradable_safety_counts_rows_once_and_black_over_folds():
    labels = np.array(["PP", "PP", "PLA", "PET"], dtype=object)
    verdicts = ["identified", "identified", "identified", "unknown"]
    classes = ["PLA", "PP", "PLA", None]          # one PP called PLA; the PLA row is a true call
    extra_labels = np.array(["ASA", "PA-CF", "PP"], dtype=object)  # never-trained, then 2 black rows
    folds = [[_p("identified", "PLA"), _p("identified", "PLA"), _p("unknown")],
             [_p("unknown"), _p("identified", "PS"), _p("unknown")]]
    s = degradable_safety(labels, verdicts, classes, extra_labels, folds, n_black=2,
                          bounds={"false_degradable_rate": 0.01, "black_degradable_rate": 0.05})
    # non-degradable rows: PP, PP, PET (known) + ASA, PA-CF, PP (outside the CV, mean over folds)
    assert s["false_degradable_rows"] == 6
    assert s["false_degradable_rate"] == pytest.approx((1 + 0.5 + 0.5) / 6)
    assert s["black_degradable_rate"] == pytest.approx(0.25)  # 1 of 2 black rows x 2 folds
    assert s["meets_release_bounds"] is False
    assert s["false_degradable_rate_upper95"] == pytest.approx(upper95(2, 6))


def test_band_contrast_relative_to_std_ignores_gain_and_offset():
    X, _, _ = synthetic_fpi(n_items=2)
    assert np.allclose(band_contrast(2.5 * X - 0.2, "std"), band_contrast(X, "std"))
    # relative to the mean level it is a different figure under an offset (why it is not shipped)
    assert not np.allclose(band_contrast(X + 0.3, "mean"), band_contrast(X, "mean"), rtol=0.05)
