"""Grouped cross-validation by physical item, limits from held-out items, and verdict metrics.

A training source knows how to turn its rows into head readings (`SourceSpectra` through the
head's optics with augmentation, `HeadReadings` already on the head's channels). Every split
groups by ``sample_id``; `check_no_leak` asserts it, because the same item on both sides of
a split reports memory, not recognition.

Limits (T², Q, per-class distance) come from out-of-fold values: within each training set an
inner grouped CV predicts held-out items, and each limit is a high quantile of those values
times a margin. The same inner CV chooses the identifier among ``FitSettings.candidates`` and
fits the score temperature (`host.calib.select`), so the outer CV is a nested CV: it measures
what the choices, the limits and the false-rejection rate really give on items never seen.

Inside each training fold the training-library QC (`host.calib.libqc`, ``FitSettings.library_qc``)
may leave out items that do not carry their class's bands: they shape neither the class model
nor its limits, and they are still scored like every item when their own fold tests them.

The headline test spectra sit at the head's nominal wavelength axis with detector noise; a
wavelength-axis error and ``R → a·R + b`` are a separate robustness check on the same spectra
and fold models (`FitSettings.robust_shift_nm`), reported as the share of verdicts they change.

Arrays: source spectra ``(N, W_src)``; head readings ``(N, C)``; labels and groups ``(N,)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from firmware.contracts import is_degradable
from firmware.inference import decide
from firmware.optics import HeadOptics

from .identify import Identifier, IdentifierConfig
from .instrument import Augmentation, add_noise, augment, measure_shifted
from .libqc import LibraryQC


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
    #: margin of the global T² and Q limits when it should differ from ``margin`` (None: the same)
    global_margin: float | None = None
    #: score floor of the classes in the degradable table (manifest ``limits.class_min_score``;
    #: None: none). A false "degradable" call costs far more than an "unknown" on a degradable
    #: item (a lab test): with calibrated scores, calling the class only when its probability
    #: exceeds C_fp / (C_fp + C_fn) minimises the expected cost, so a cost ratio of 9 : 1 gives 0.9.
    degradable_min_score: float | None = None
    #: choose the degradable floor from held-out items instead (`host.calib.floor`): the lowest
    #: floor at which at most this share of held-out non-degradable rows is called degradable
    #: (None: no such rule). Combined with ``degradable_min_score``, the higher floor wins.
    degradable_max_false_rate: float | None = None


@dataclass
class FitSettings:
    augmentation: Augmentation = field(default_factory=Augmentation)
    #: the headline test: test spectra at the nominal wavelength axis with detector noise
    test_shift_nm: float = 0.0
    test_snr: float = 1000.0
    inner_splits: int = 3
    n_components: int = 20
    make_identifier: Callable[[], Identifier] | None = None
    policy: LimitPolicy = field(default_factory=LimitPolicy)
    #: identifiers to choose from by inner grouped CV (`host.calib.select`); empty: `identifier()`
    candidates: tuple[IdentifierConfig, ...] = ()
    #: fit a score temperature on held-out items (calibrated probabilities)
    calibrate_scores: bool = False
    #: robustness check of the outer CV (0: none): the same test spectra with every channel
    #: shifted by a random amount in ±robust_shift_nm, and under R → a·R + b
    robust_shift_nm: float = 0.0
    robust_gain: tuple[float, float] = (0.3, 3.0)
    robust_offset: tuple[float, float] = (-0.3, 0.3)
    #: training-library QC (`host.calib.libqc`): items that may not shape their class; None: all train
    library_qc: LibraryQC | None = None

    def training_rows(self, source, rows: np.ndarray, y: np.ndarray, groups: np.ndarray):
        """``rows`` minus the items the library QC excludes: ``(kept rows, {item: why})``."""
        if self.library_qc is None:
            return np.asarray(rows), {}
        return self.library_qc.apply(source, rows, y, groups)

    def identifier(self) -> Identifier:
        return self.make_identifier() if self.make_identifier else Identifier(n_components=self.n_components)


def limits_from_oof(out: dict[str, np.ndarray], y: np.ndarray, classes: np.ndarray,
                    policy: LimitPolicy, *, floor_detail: dict | None = None) -> dict:
    """Manifest ``limits`` from out-of-fold outputs of known items (class order = ``classes``).

    ``floor_detail``, if given, receives the counts behind a degradable floor chosen by
    ``policy.degradable_max_false_rate`` (`host.calib.floor.degradable_floor`).
    """
    gm = policy.margin if policy.global_margin is None else policy.global_margin
    lim = {"t2": float(np.quantile(out["t2"], policy.global_quantile) * gm),
           "q": float(np.quantile(out["q"], policy.global_quantile) * gm),
           "class_distance": {}, "min_score": policy.min_score}
    for j, c in enumerate(classes):
        d = out["class_distance"][y == c, j]
        lim["class_distance"][str(c)] = float(np.quantile(d, policy.class_quantile) * policy.margin)
    degradable = [str(c) for c in classes if is_degradable(str(c))]
    if policy.degradable_min_score is None and policy.degradable_max_false_rate is None:
        return lim
    floor = max(policy.degradable_min_score or 0.0, policy.min_score)
    if policy.degradable_max_false_rate is not None and degradable:
        from .floor import degradable_floor
        floor, detail = degradable_floor(out, y, classes, lim, policy.degradable_max_false_rate, floor)
        if floor_detail is not None:
            floor_detail.update(detail)
    lim["class_min_score"] = {c: floor for c in degradable}
    return lim


def fit_with_limits(source, rows, y, groups, settings: FitSettings, rng, seed: int = 0):
    """Fit an `Identifier` on ``rows`` (chosen among ``settings.candidates`` if any) and set its
    limits from an inner grouped CV; returns ``(identifier, limits)``."""
    from .select import select_and_fit
    fit = select_and_fit(source, rows, y, groups, settings, rng, n_splits=settings.inner_splits, seed=seed)
    return fit.identifier, fit.limits


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
    #: per outer fold: the inner choice (`host.calib.select.SelectedFit` without the model)
    fits: list = field(default_factory=list)
    #: per outer fold: graph outputs of the extra rows (materials not trained on, black items)
    extra_outputs: list = field(default_factory=list)
    #: robustness: {"shift": (verdicts, classes), "gain_offset": (verdicts, classes)} per row
    robust: dict = field(default_factory=dict)


def _robust_tests(source, rows, X, settings: FitSettings, rng) -> dict[str, np.ndarray]:
    """The test spectra ``X`` again, under a random ±shift (same noise) and a random a·R + b."""
    out = {}
    if settings.robust_shift_nm and isinstance(source, SourceSpectra):
        noise = X - source.nominal(rows)
        shifts = rng.uniform(-settings.robust_shift_nm, settings.robust_shift_nm, len(rows))
        out["shift"] = measure_shifted(source.optics, source.wavelengths_nm, source.values[rows], shifts) + noise
    if settings.robust_shift_nm:
        a = np.exp(rng.uniform(*np.log(settings.robust_gain), len(rows)))[:, None]
        b = rng.uniform(*settings.robust_offset, len(rows))[:, None]
        out["gain_offset"] = a * X + b
    return out


def grouped_cv(source, rows, y, groups, settings: FitSettings, *, n_splits: int = 5, seed: int = 0,
               progress: Callable[[str], None] = lambda s: None, extra_rows=None):
    """Outer grouped CV with nested choice and limits; also scores ``extra_rows`` (materials not
    in training) with every fold's model. Returns (CVResult, verdicts of extra rows per fold)."""
    from .select import select_and_fit
    rng = np.random.default_rng(seed)
    folds = grouped_folds(y[rows], groups[rows], n_splits, seed)
    check_no_leak(folds, groups[rows])
    verdicts: list = [None] * len(rows)
    out: dict[str, np.ndarray] = {}
    extra, fits, extra_outputs = [], [], []
    robust: dict[str, list] = {}
    for f, (tr, te) in enumerate(folds):
        train_rows, excluded = settings.training_rows(source, rows[tr], y, groups)
        progress(f"grouped CV fold {f + 1}/{len(folds)}: training on {len(set(groups[train_rows]))} items"
                 + (f" (library QC leaves out {', '.join(excluded)})" if excluded else ""))
        fit = select_and_fit(source, train_rows, y, groups, settings, rng, n_splits=settings.inner_splits,
                             seed=seed + f + 1)
        fit.library_excluded = excluded
        ident, limits = fit.identifier, fit.limits
        if fit.config is not None:
            progress(f"  chosen on inner folds: {fit.config.name}, score temperature {fit.temperature:.3g}")
        fit.identifier = None  # keep the record small; the model itself is not needed later
        fits.append(fit)
        classes = [str(c) for c in ident.classes_]
        flags = {c: False for c in classes}
        Xte = source.test(rows[te], rng, settings.test_shift_nm, settings.test_snr)
        o = ident.outputs(Xte)
        for k, v in o.items():
            out.setdefault(k, np.zeros((len(rows),) + v.shape[1:]))[te] = v
        preds = decide(o, classes, flags, limits)
        for i, p in zip(te, preds):
            verdicts[i] = p
        rrng = np.random.default_rng([seed, 7, f])  # own stream: the headline draws stay as they were
        for kind, Xr in _robust_tests(source, rows[te], Xte, settings, rrng).items():
            r = robust.setdefault(kind, [None] * len(rows))
            for i, p in zip(te, decide(ident.outputs(Xr), classes, flags, limits)):
                r[i] = (p.verdict, p.class_)
        if extra_rows is not None and len(extra_rows):
            xo = ident.outputs(source.test(extra_rows, rng, settings.test_shift_nm, settings.test_snr))
            extra_outputs.append(xo)
            extra.append(decide(xo, classes, flags, limits))
    res = CVResult(rows, y[rows], groups[rows], [p.verdict for p in verdicts],
                   [p.class_ for p in verdicts], out["scores"], folds, out, fits, extra_outputs,
                   {k: ([v for v, _ in r], [c for _, c in r]) for k, r in robust.items()})
    return res, extra
