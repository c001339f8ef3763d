"""Nested choice of the identifier, score temperature, preprocessing invariance, limit replay."""
from dataclasses import replace

import numpy as np
import pytest

from calib_helpers import synthetic_fpi
from firmware.optics import fpi_optics
from host.calib.chain import SpectralChain
from host.calib.export import check_parity, to_onnx
from host.calib.identify import IdentifierConfig
from host.calib.instrument import Augmentation
from host.calib.select import fit_temperature, select_and_fit
from host.calib.tradeoff import replay
from host.calib.validate import FitSettings, HeadReadings, LimitPolicy, grouped_cv

SMALL = Augmentation(copies=2, max_shift_nm=0.0, snr=1000.0)


@pytest.fixture(scope="module")
def synth():
    X, y, g = synthetic_fpi(n_items=6, seed=1)
    return HeadReadings(X), y, g


def test_temperature_recovers_a_known_softening():
    # labels drawn from softmax(z / 4): the fitted temperature must come back near 4
    rng = np.random.default_rng(0)
    z = rng.normal(0.0, 8.0, (20000, 3))
    p = np.exp(z / 4.0)
    p /= p.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in p])
    assert fit_temperature(z, y) == pytest.approx(4.0, rel=0.05)


def test_derivative_first_chain_ignores_gain_offset_and_quadratic_baseline():
    X, _, _ = synthetic_fpi(n_items=2)
    pre = IdentifierConfig(derivative_first=True, window=7, deriv=2, n_components=5).preprocessing().fit(X)
    lam = (fpi_optics().channels_nm - 1700.0) / 150.0
    baseline = 0.2 + 0.1 * lam - 0.05 * lam ** 2  # stray light with a sloped, curved background
    assert np.allclose(pre.transform(2.5 * X + baseline), pre.transform(X), atol=1e-6)
    # the first shipped chain removes gain and offset only: a slope changes its output
    legacy = IdentifierConfig.legacy(5).preprocessing().fit(X)
    assert np.allclose(legacy.transform(2.5 * X + 0.2), legacy.transform(X), atol=1e-5)
    assert not np.allclose(legacy.transform(X + 0.1 * lam), legacy.transform(X), atol=1e-3)


def test_config_round_trip_and_names():
    c = IdentifierConfig(derivative_first=True, window=7, deriv=2, polyorder=2, n_components=20)
    assert IdentifierConfig.from_dict(c.to_dict()) == c
    assert c.name == "sg2w7p2-snv-pca20" and IdentifierConfig.legacy(20).name == "snv-sg1w9p2-pca20"
    assert [n for n, _ in c.preprocessing().steps] == ["sg", "snv"]
    assert "2nd derivative (7 points, order 2), then SNV" in c.describe()


def test_inner_choice_prefers_the_candidate_that_generalises(synth):
    source, y, g = synth
    rows = np.arange(len(y))
    weak = IdentifierConfig(derivative_first=True, window=7, deriv=2, n_components=1)
    good = IdentifierConfig(derivative_first=True, window=7, deriv=2, n_components=8)
    settings = FitSettings(augmentation=SMALL, candidates=(weak, good), calibrate_scores=True)
    fit = select_and_fit(source, rows, y, g, settings, np.random.default_rng(0), n_splits=3, seed=0)
    assert fit.config == good
    assert fit.table[1]["accuracy"] > fit.table[0]["accuracy"]
    assert fit.identifier.temperature_ == fit.temperature > 0
    assert set(fit.limits["class_distance"]) == set(np.unique(y))
    assert len(fit.oof_labels) == len(rows) and fit.oof["scores"].shape == (len(rows), 4)


def test_temperature_changes_scores_not_classes_and_exports(synth):
    source, y, _ = synth
    ident = IdentifierConfig(derivative_first=True, window=7, deriv=2, n_components=8).build().fit(source.values, y)
    X = source.values
    sharp = ident.predict_proba(X)
    ident.set_temperature(5.0)
    soft = ident.predict_proba(X)
    assert (np.argmax(sharp, axis=1) == np.argmax(soft, axis=1)).all()
    assert soft.max(axis=1).mean() < sharp.max(axis=1).mean()
    assert np.allclose(soft, ident.outputs(X)["scores"])
    chain = SpectralChain(ident)
    check_parity(chain, to_onnx(chain, X.shape[1]).SerializeToString(), X)
    with pytest.raises(ValueError, match="positive"):
        ident.set_temperature(0.0)


def test_nested_cv_records_choices_and_replay_reproduces_its_verdicts(synth):
    source, y, g = synth
    cands = (IdentifierConfig(True, 7, 2, 2, 4), IdentifierConfig(True, 7, 2, 2, 8))
    settings = FitSettings(augmentation=SMALL, candidates=cands, calibrate_scores=True)
    res, _ = grouped_cv(source, np.arange(len(y)), y, g, settings, n_splits=3, seed=2)
    assert len(res.fits) == 3 and all(f.config in cands for f in res.fits)
    # the fold models' own limits replayed on their held-out outputs give back the verdicts
    again = replay(res, settings.policy, np.array([], dtype=object), 0)
    ok = np.mean([v == "identified" and c == lab for v, c, lab in zip(res.verdicts, res.classes_out, res.labels)])
    assert again["accuracy"] == pytest.approx(ok)
    assert again["false_rejection_rate"] == pytest.approx(np.mean(np.array(res.verdicts) != "identified"))
    # tighter limits can only reject more
    tight = replay(res, replace(LimitPolicy(), margin=0.5), np.array([], dtype=object), 0)
    assert tight["false_rejection_rate"] >= again["false_rejection_rate"]
