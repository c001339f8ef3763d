"""Grouped cross-validation by physical item, limits from held-out items, and verdict metrics.

A training source knows how to turn its rows into head readings (`SourceSpectra` through the
head's optics with augmentation, `HeadReadings` already on the head's channels). Every split
groups by ``sample_id``; `check_no_leak` asserts it, because the same item on both sides of
a split reports memory, not recognition.

Limits (T², Q, per-class distance) come from out-of-fold values: within each training set an
inner grouped CV predicts held-out items, and each limit is a high quantile of those values
times a margin. The outer CV then measures the false-rejection rate those limits really give.

Arrays: source spectra ``(N, W_src)``; head readings ``(N, C)``; labels and groups ``(N,)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from firmware.inference import decide
from firmware.optics import HeadOptics

from .identify import Identifier
from .instrument import Augmentation, add_noise, augment, measure_shifted


# --- sources --------------------------------------------------------------------------------

@dataclass
class SourceSpectra:
    """Continuous spectra a head is simulated from (``fpi`` from Avantes or FT-NIR)."""

    optics: HeadOptics
    wavelengths_nm: np.ndarray
    values: np.ndarray

    def train(self, rows: np.ndarray, aug: Augmentation, rng) -> tuple[np.ndarray, np.ndarray]:
        X, idx = augment(self.optics, self.wavelengths_nm, self.values[rows], aug, rng)
        return X, rows[idx]

    def test(self, rows: np.ndarray, rng, max_shift_nm: float, snr: float) -> np.ndarray:
        shifts = rng.uniform(-max_shift_nm, max_shift_nm, len(rows)) if max_shift_nm else np.zeros(len(rows))
        return add_noise(measure_shifted(self.optics, self.wavelengths_nm, self.values[rows], shifts), snr, rng)

    def nominal(self, rows: np.ndarray) -> np.ndarray:
        return self.optics.measure(self.wavelengths_nm, self.values[rows])


@dataclass
class HeadReadings:
    """Readings already on a head's channels (``led8``): augmentation is gain, offset and noise."""

    values: np.ndarray

    def train(self, rows: np.ndarray, aug: Augmentation, rng) -> tuple[np.ndarray, np.ndarray]:
        idx = np.tile(rows, aug.copies)
        X = add_noise(self.values[idx], aug.snr, rng)
        X[: len(rows)] = self.values[rows]
        gains = np.exp(rng.uniform(np.log(aug.gain[0]), np.log(aug.gain[1]), len(idx)))[:, None]
        offsets = rng.uniform(aug.offset[0], aug.offset[1], len(idx))[:, None]
        gains[: len(rows)], offsets[: len(rows)] = 1.0, 0.0
        return gains * X + offsets, idx

    def test(self, rows: np.ndarray, rng, max_shift_nm: float, snr: float) -> np.ndarray:
        return add_noise(self.values[rows], snr, rng)

    def nominal(self, rows: np.ndarray) -> np.ndarray:
        return self.values[rows].copy()


# --- splits ---------------------------------------------------------------------------------

def grouped_folds(y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int):
    """Stratified folds that never split an item; fewer folds when a class has fewer items."""
    n_items = min(len(set(groups[y == c])) for c in np.unique(y))
    k = max(2, min(n_splits, n_items))
    return list(StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups))


def check_no_leak(folds, groups: np.ndarray) -> None:
    for i, (tr, te) in enumerate(folds):
        shared = set(groups[tr]) & set(groups[te])
        if shared:
            raise AssertionError(f"fold {i}: item(s) {sorted(shared)[:5]} on both sides of the split")


# --- fitting with limits ----------------------------------------------------------------------

@dataclass
class LimitPolicy:
    """How limits are set from out-of-fold values: quantile × margin."""

    class_quantile: float = 0.99
    global_quantile: float = 0.995
    margin: float = 1.5
    min_score: float = 0.4


@dataclass
class FitSettings:
    augmentation: Augmentation = field(default_factory=Augmentation)
    test_shift_nm: float = 3.0
    test_snr: float = 1000.0
    inner_splits: int = 3
    n_components: int = 20
    make_identifier: Callable[[], Identifier] | None = None
    policy: LimitPolicy = field(default_factory=LimitPolicy)

    def identifier(self) -> Identifier:
        return self.make_identifier() if self.make_identifier else Identifier(n_components=self.n_components)


def limits_from_oof(out: dict[str, np.ndarray], y: np.ndarray, classes: np.ndarray,
                    policy: LimitPolicy) -> dict:
    """Manifest ``limits`` from out-of-fold outputs of known items (class order = ``classes``)."""
    lim = {"t2": float(np.quantile(out["t2"], policy.global_quantile) * policy.margin),
           "q": float(np.quantile(out["q"], policy.global_quantile) * policy.margin),
           "class_distance": {}, "min_score": policy.min_score}
    for j, c in enumerate(classes):
        d = out["class_distance"][y == c, j]
        lim["class_distance"][str(c)] = float(np.quantile(d, policy.class_quantile) * policy.margin)
    return lim


def oof_outputs(source, rows, y, groups, settings: FitSettings, rng, n_splits: int,
                seed: int) -> tuple[dict[str, np.ndarray], list]:
    """Out-of-fold graph outputs for ``rows`` (grouped CV); returns (outputs, folds)."""
    folds = grouped_folds(y[rows], groups[rows], n_splits, seed)
    check_no_leak(folds, groups[rows])
    out: dict[str, np.ndarray] = {}
    for tr, te in folds:
        X, idx = source.train(rows[tr], settings.augmentation, rng)
        ident = settings.identifier().fit(X, y[idx])
        missing = set(np.unique(y[rows])) - set(ident.classes_)
        if missing:
            raise ValueError(f"fold without class(es) {sorted(missing)}: too few items to cross-validate")
        o = ident.outputs(source.test(rows[te], rng, settings.test_shift_nm, settings.test_snr))
        for k, v in o.items():
            out.setdefault(k, np.zeros((len(rows),) + v.shape[1:]))[te] = v
    return out, folds


def fit_with_limits(source, rows, y, groups, settings: FitSettings, rng, seed: int = 0):
    """Fit an `Identifier` on ``rows`` and set its limits from an inner grouped CV."""
    oof, _ = oof_outputs(source, rows, y, groups, settings, rng, settings.inner_splits, seed)
    X, idx = source.train(rows, settings.augmentation, rng)
    ident = settings.identifier().fit(X, y[idx])
    return ident, limits_from_oof(oof, y[rows], ident.classes_, settings.policy)


@dataclass
class CVResult:
    """Per-row outcome of the outer grouped CV (rows = the known-class rows given)."""

    rows: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    verdicts: list[str]
    classes_out: list[str | None]
    scores: np.ndarray
    folds: list
    outputs: dict[str, np.ndarray]


def grouped_cv(source, rows, y, groups, settings: FitSettings, *, n_splits: int = 5, seed: int = 0,
               progress: Callable[[str], None] = lambda s: None, extra_rows=None):
    """Outer grouped CV with nested limits; also scores ``extra_rows`` (materials not in training)
    with every fold's model. Returns (CVResult, verdicts of extra rows per fold)."""
    rng = np.random.default_rng(seed)
    folds = grouped_folds(y[rows], groups[rows], n_splits, seed)
    check_no_leak(folds, groups[rows])
    verdicts: list = [None] * len(rows)
    out: dict[str, np.ndarray] = {}
    extra = []
    for f, (tr, te) in enumerate(folds):
        progress(f"grouped CV fold {f + 1}/{len(folds)}: training on {len(set(groups[rows[tr]]))} items")
        ident, limits = fit_with_limits(source, rows[tr], y, groups, settings, rng, seed + f + 1)
        classes = [str(c) for c in ident.classes_]
        o = ident.outputs(source.test(rows[te], rng, settings.test_shift_nm, settings.test_snr))
        for k, v in o.items():
            out.setdefault(k, np.zeros((len(rows),) + v.shape[1:]))[te] = v
        preds = decide(o, classes, {c: False for c in classes}, limits)
        for i, p in zip(te, preds):
            verdicts[i] = p
        if extra_rows is not None and len(extra_rows):
            xo = ident.outputs(source.test(extra_rows, rng, settings.test_shift_nm, settings.test_snr))
            extra.append(decide(xo, classes, {c: False for c in classes}, limits))
    res = CVResult(rows, y[rows], groups[rows], [p.verdict for p in verdicts],
                   [p.class_ for p in verdicts], out["scores"], folds, out)
    return res, extra
