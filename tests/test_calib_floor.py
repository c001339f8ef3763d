"""The degradable score floor chosen by a rule on held-out items, and a screening head's calibration."""
from dataclasses import replace

import numpy as np
import onnxruntime as ort
import pytest
from sklearn.pipeline import Pipeline

from calib_helpers import synthetic_fpi
from host.calib.chain import SpectralChain
from host.calib.export import check_parity, to_onnx
from host.calib.floor import degradable_floor
from host.calib.identify import Identifier
from host.calib.instrument import Augmentation
from host.calib.libqc import band_depth_separation
from host.calib.preprocess import SNV
from host.calib.select import select_and_fit
from host.calib.tradeoff import floor_tradeoff
from host.calib.validate import FitSettings, HeadReadings, LimitPolicy, grouped_cv, limits_from_oof

# Made-up 8-channel class means (not data): PLA and PETG close, as 3D-print filaments are on the
# 8-LED head; PP and PET apart.
MEANS = {"PLA": [0.80, 1.22, -0.20, 0.31, -0.65, -0.15, -0.49, -0.84],
         "PETG": [0.76, 1.14, -0.24, 0.27, -0.53, -0.10, -0.55, -0.73],
         "PP": [1.30, 0.90, -0.90, 0.60, -1.10, 0.40, 0.10, -1.30],
         "PET": [0.20, 1.50, 0.30, -0.40, -0.90, 0.50, -0.40, -0.80]}


@pytest.fixture(scope="module")
def led8_like():
    """8-channel readings: 12 items per class, 4 readings each, item and reading scatter."""
    rng = np.random.default_rng(11)
    X, y, g = [], [], []
    for c, m in MEANS.items():
        for i in range(12):
            item = np.asarray(m) + rng.normal(0.0, 0.08, 8)
            X.append(0.6 + 0.1 * (item + rng.normal(0.0, 0.03, (4, 8))))
            y += [c] * 4
            g += [f"{c}-{i}"] * 4
    return HeadReadings(np.vstack(X)), np.array(y, dtype=object), np.array(g, dtype=object)


def _settings(rate):
    return FitSettings(augmentation=Augmentation(copies=2, snr=300.0), test_shift_nm=0.0, test_snr=np.inf,
                       make_identifier=lambda: Identifier(Pipeline([("snv", SNV())]), n_components=5),
                       calibrate_scores=True, policy=LimitPolicy(degradable_max_false_rate=rate))


def _outputs(pla_scores_of_pp, pla_scores_of_pla):
    """Held-out outputs of PP rows and PLA rows that every class limit accepts."""
    s = np.r_[pla_scores_of_pp, pla_scores_of_pla]
    n = s.size
    out = {"scores": np.c_[s, 1.0 - s], "t2": np.ones(n), "q": np.ones(n), "class_distance": np.ones((n, 2))}
    y = np.array(["PP"] * len(pla_scores_of_pp) + ["PLA"] * len(pla_scores_of_pla), dtype=object)
    limits = {"t2": 10.0, "q": 10.0, "class_distance": {"PLA": 2.0, "PP": 2.0}, "min_score": 0.4}
    return out, y, np.array(["PLA", "PP"], dtype=object), limits


def test_floor_is_the_lowest_that_keeps_held_out_false_calls_within_the_rate():
    # 100 PP rows: 95 with a PLA score of 0.3 (called PP), five called PLA at 0.65 … 0.85 (a PLA
    # score of 0.55 would leave PP at 0.45, above min_score too: ambiguous, not a call)
    pp = np.r_[np.full(95, 0.3), [0.65, 0.7, 0.75, 0.8, 0.85], [0.55]]
    pla = np.array([0.61, 0.7, 0.78, 0.86, 0.95])
    out, y, classes, limits = _outputs(pp, pla)
    # at most 2 % of 101: two false calls may stay, the third highest (0.75) must go
    floor, d = degradable_floor(out, y, classes, limits, 0.02, 0.4)
    assert floor == 0.751 and d["false_calls_without_floor"] == 5 and d["false_calls_with_floor"] == 2
    assert d["false_rate_with_floor"] == pytest.approx(2 / 101) and d["negative_rows"] == 101
    assert d["sensitivity_without_floor"] == 1.0 and d["sensitivity_with_floor"] == 0.6  # 0.78, 0.86, 0.95
    assert degradable_floor(out, y, classes, limits, 0.0, 0.4)[0] == 0.851           # none may stay
    assert degradable_floor(out, y, classes, limits, 0.05, 0.4)[0] == 0.4             # five may: no raise
    assert degradable_floor(out, y, classes, limits, 0.0, 0.9)[0] == 0.9              # never below the base
    # a false call the model is certain of cannot be refused by any floor: 1.0 at most, and said so
    out2, y2, _, _ = _outputs(np.r_[np.full(9, 0.3), [1.0]], pla)
    floor, d = degradable_floor(out2, y2, classes, limits, 0.0, 0.4)
    assert floor == 1.0 and d["false_calls_with_floor"] == 1
    with pytest.raises(ValueError, match="degradable_max_false_rate"):
        degradable_floor(out, y, classes, limits, 1.5, 0.4)


def test_limits_carry_the_rule_floor_for_degradable_classes_only():
    out, y, classes, _ = _outputs(np.r_[np.full(95, 0.3), [0.65, 0.7, 0.75, 0.8, 0.85]], np.array([0.8, 0.9]))
    detail = {}
    lim = limits_from_oof(out, y, classes, LimitPolicy(degradable_max_false_rate=0.02), floor_detail=detail)
    assert lim["class_min_score"] == {"PLA": detail["floor"]} and detail["false_calls_with_floor"] <= 2
    # a fixed floor and the rule together: the higher wins
    both = limits_from_oof(out, y, classes, LimitPolicy(degradable_min_score=0.9, degradable_max_false_rate=0.02))
    assert both["class_min_score"] == {"PLA": 0.9}
    assert "class_min_score" not in limits_from_oof(out, y, classes, LimitPolicy())


def test_nested_cv_sets_each_folds_floor_from_its_inner_held_out_items(led8_like):
    source, y, g = led8_like
    rows = np.arange(len(y))
    res, _ = grouped_cv(source, rows, y, g, _settings(0.02), n_splits=3, seed=4)
    for fit, (tr, te) in zip(res.fits, res.folds):
        d = fit.floor_detail
        assert len(fit.oof_labels) == len(tr)  # the inner held-out rows are the training rows only
        assert fit.limits["class_min_score"] == {"PLA": d["floor"]} and d["false_rate_with_floor"] <= 0.02
        again, _ = degradable_floor(fit.oof, fit.oof_labels, np.unique(fit.oof_labels),
                                    {k: v for k, v in fit.limits.items() if k != "class_min_score"}, 0.02, 0.4)
        assert again == d["floor"]
        assert fit.temperature != 1.0
    # the same rule at other rates, replayed on the same outer CV: stricter never calls more falsely
    table = floor_tradeoff(res, _settings(0.02).policy, np.array([], dtype=object), 0, rates=(None, 0.1, 0.02, 0.0))
    assert [r["max_false_rate_inner"] for r in table] == [None, 0.1, 0.02, 0.0]
    assert "degradable_floor_per_fold" not in table[0]
    fdr = [r["false_degradable_rate"] for r in table]
    assert fdr == sorted(fdr, reverse=True) and fdr[0] > fdr[-1]
    floors = [min(r["degradable_floor_per_fold"]) for r in table[1:]]
    assert floors == sorted(floors)
    # the shipped rate's row reproduces the CV's own verdicts
    row = table[2]
    ok = np.mean([v == "identified" and c == lab for v, c, lab in zip(res.verdicts, res.classes_out, res.labels)])
    assert row["accuracy"] == pytest.approx(ok)


def test_fixed_identifier_gets_a_temperature_and_exports_it(led8_like):
    """led8 has one fixed chain (no candidates): its scores are calibrated the same way as fpi's."""
    source, y, g = led8_like
    fit = select_and_fit(source, np.arange(len(y)), y, g, _settings(0.02), np.random.default_rng(0),
                         n_splits=3, seed=0)
    ident = fit.identifier
    assert fit.config is None and ident.temperature_ == fit.temperature != 1.0
    X = source.values
    chain = SpectralChain(ident)
    onnx_bytes = to_onnx(chain, X.shape[1]).SerializeToString()
    check_parity(chain, onnx_bytes, X)
    got = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"]).run(
        ["scores"], {"spectrum": X.astype(np.float32)})[0]
    z = ident.logits(X) / fit.temperature
    want = np.exp(z - z.max(axis=1, keepdims=True))
    assert np.allclose(got, want / want.sum(axis=1, keepdims=True), atol=1e-4)


def test_band_depth_separation_tells_resolved_bands_from_none():
    X, y, g = synthetic_fpi(n_items=6, seed=3)
    # simulated from published band positions (host.calib.simulated): every item carries its bands
    resolved = band_depth_separation(X, y, g)
    assert resolved["auc"] > 0.75 and resolved["own_below"] == 0.0
    # the same items with their labels shuffled by item: own class means nothing any more
    items = list(dict.fromkeys(g))
    perm = dict(zip(items, np.random.default_rng(0).permutation([y[g == i][0] for i in items])))
    shuffled = band_depth_separation(X, np.array([perm[i] for i in g], dtype=object), g)
    assert shuffled["auc"] < 0.6 and shuffled["own_below"] >= 0.2 and shuffled["n_items"] == len(items)
