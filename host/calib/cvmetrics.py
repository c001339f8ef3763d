"""The identification figures of a training run, from its outer grouped CV (`grouped_cv`).

Headline figures (issue 3's targets) are over the known-class rows at the head's nominal
wavelength axis with detector noise. Robustness (a random ±3 nm axis error, a random
``R → a·R + b``) is measured on the *same* test spectra with the *same* fold models and
reported beside it, as the share of verdicts it changes. Black items are scored through the
whole chain (`host.calib.abstention`); never-trained materials per material; the limit policy's
trade-off is replayed (`host.calib.tradeoff`). Nothing here drops a row from a headline figure:
an item whose label looks wrong is reported in a separate, labelled figure.
"""
from __future__ import annotations

import numpy as np

from firmware.contracts import IDENTIFIED, is_degradable

from .abstention import chain_abstention, quality_codes
from .featureless import featureless_tradeoff
from .headdata import MIN_ITEMS_PER_CLASS, HeadData
from .libqc import band_depth_separation
from .metrics import verdict_metrics
from .safety import degradable_safety
from .tradeoff import floor_tradeoff, tradeoff_table
from .validate import CVResult


def _ece(scores: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the top score (equal-width bins)."""
    conf = scores.max(axis=1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    return float(sum(abs(conf[which == b].mean() - correct[which == b].mean()) * np.mean(which == b)
                     for b in range(bins) if np.any(which == b)))


def _headline(data: HeadData, labels, groups, verdicts, classes_out) -> dict:
    m = verdict_metrics(labels, verdicts, classes_out, data.classes,
                        degradable_truth=np.array([is_degradable(x) for x in labels]),
                        degradable_pred=[is_degradable(c) if c else None for c in classes_out],
                        min_items_for_f1=MIN_ITEMS_PER_CLASS, groups=groups)
    if "PLA" in data.classes:
        pla = np.asarray(labels) == "PLA"
        said = np.array([v == IDENTIFIED and c == "PLA" for v, c in zip(verdicts, classes_out)])
        m["pla_sensitivity"] = float(said[pla].mean())
        m["pla_specificity"] = float((~said[~pla]).mean())
    return m


def _degradable_by_source(data: HeadData, res: CVResult) -> dict:
    """Degradable calls of the outer CV per reading set (board, day, handheld): where a head's
    degradable calls come from, e.g. an instrument whose own signature looks like a class."""
    src = np.asarray(data.sources, dtype=object)[res.rows]
    truth = np.array([is_degradable(str(x)) for x in res.labels])
    said = np.array([v == IDENTIFIED and bool(c) and is_degradable(c) for v, c in zip(res.verdicts, res.classes_out)])
    return {str(s): {"degradable_rows": int((truth & (src == s)).sum()),
                     "degradable_called": int((said & truth & (src == s)).sum()),
                     "not_degradable_rows": int((~truth & (src == s)).sum()),
                     "false_degradable_calls": int((said & ~truth & (src == s)).sum())}
            for s in sorted(set(src))}


def _robustness(data: HeadData, res: CVResult) -> dict:
    base = list(zip(res.verdicts, res.classes_out))
    out = {}
    for kind, (verdicts, classes) in res.robust.items():
        changed = float(np.mean([b != (v, c) for b, v, c in zip(base, verdicts, classes)]))
        m = _headline(data, res.labels, res.groups, verdicts, classes)
        s = data.settings
        what = (f"every test spectrum measured again with all channels shifted by a random amount in "
                f"±{s.robust_shift_nm:g} nm (same noise)" if kind == "shift" else
                f"every test spectrum as a·R + b, a log-uniform in {s.robust_gain[0]:g}–{s.robust_gain[1]:g}, "
                f"b uniform in {s.robust_offset[0]:g}–{s.robust_offset[1]:g}")
        out[kind] = {"test": what, "verdict_changed_rate": changed, "accuracy": m["accuracy"],
                     "macro_f1": m["macro_f1"], "pla_sensitivity": m.get("pla_sensitivity"),
                     "false_rejection_rate": m["false_rejection_rate"]}
    return out


def identification_metrics(data: HeadData, res: CVResult, extra_preds, black_preds, *,
                           suspect_labels: dict[str, str] | None = None, seed: int = 0) -> dict:
    """The manifest's ``metrics.identification`` (see the module docstring)."""
    m = _headline(data, res.labels, res.groups, res.verdicts, res.classes_out)
    if extra_preds:
        v = np.array([[p.verdict for p in fold] for fold in extra_preds])
        mats = data.labels[data.extra_rows]
        m["unknown_rejection_rate"] = float((v != IDENTIFIED).mean())
        m["unknown_materials"] = sorted(set(mats))
        m["unknown_rejection_per_material"] = {str(x): float((v[:, mats == x] != IDENTIFIED).mean())
                                               for x in sorted(set(mats))}
        called = [p.class_ for fold in extra_preds for p in fold if p.verdict == IDENTIFIED]
        m["unknown_identified_as"] = {str(c): called.count(c) for c in sorted(set(called))}
    if black_preds:
        rows = data.black_rows
        refl = data.source.nominal(rows)
        codes = quality_codes(data.head, data.wavelengths_nm, refl, np.random.default_rng(seed))
        detail = chain_abstention(codes, black_preds, data.labels[rows], data.groups[rows], np.median(refl, axis=1))
        m["dark_abstention_rate"] = detail["chain_abstention_rate"]
        m["n_black_rows"] = int(len(rows))
        m["dark_abstention"] = {
            "definition": "black rows (colour 'black') the whole chain does not identify: refused by the device's "
                          "quality checks on simulated raw counts (firmware.quality, default [measurement] "
                          "thresholds), else any model verdict but identified; over rows x outer folds",
            **detail}
    extra_labels = data.labels[np.r_[data.extra_rows, data.black_rows].astype(int)]
    n_folds = len(res.folds)
    per_fold = [list(extra_preds[f] if extra_preds else []) + list(black_preds[f] if black_preds else [])
                for f in range(n_folds)] if (extra_preds or black_preds) else []
    safety = degradable_safety(res.labels, res.verdicts, res.classes_out, extra_labels, per_fold,
                               len(data.black_rows), data.release_bounds or None)
    if data.sources is not None:
        safety["by_source"] = _degradable_by_source(data, res)
    m["false_degradable_rate"] = safety["false_degradable_rate"]
    m["black_degradable_rate"] = safety["black_degradable_rate"]
    m["degradable_safety"] = safety
    qc = data.settings.library_qc
    premise = {"measured": "own-class vs other-class band depth of every item, on the whole library "
                           "(host.calib.libqc.band_depth_separation): whether the rule can mean anything for this head",
               **band_depth_separation(data.source.nominal(res.rows), res.labels, res.groups,
                                       **({"window": qc.window, "polyorder": qc.polyorder} if qc else {}))}
    if res.fits and qc is not None:
        m["library_qc"] = {"rule": qc.describe(), "excluded_per_fold": [f.library_excluded for f in res.fits],
                           "premise": premise}
    elif data.library_qc_note:
        m["library_qc"] = {"rule": data.library_qc_note, "applied": False, "premise": premise}
    if data.head == "fpi" and per_fold:
        m["featureless_check_tradeoff"] = featureless_tradeoff(data, res, per_fold, seed=seed)
    known_codes = quality_codes(data.head, data.wavelengths_nm, data.source.nominal(res.rows),
                                np.random.default_rng(seed + 1))
    m["quality_rejected_known_rows"] = {c: known_codes.count(c) for c in sorted({c for c in known_codes if c})}
    argmax = np.asarray(data.classes, dtype=object)[np.argmax(res.scores, axis=1)]
    m["classifier_only_accuracy"] = float(np.mean(argmax == res.labels))
    correct = argmax == res.labels
    m["score_calibration"] = {"expected_calibration_error": _ece(res.scores, correct),
                              "mean_top_score_when_wrong": float(res.scores.max(axis=1)[~correct].mean())
                              if (~correct).any() else None}
    if res.robust:
        m["robustness"] = _robustness(data, res)
    if res.fits and res.fits[0].config is not None:
        m["selection"] = {
            "how": "inside each outer training fold: grouped inner CV by item, every candidate fitted on the same "
                   "augmented training sets, best held-out accuracy (ties: macro-F1, then the simpler candidate); "
                   "score temperature fitted on the chosen candidate's held-out logits",
            "candidates": [c.name for c in data.settings.candidates],
            "chosen_per_fold": [f.config.name for f in res.fits],
            "temperature_per_fold": [round(f.temperature, 3) for f in res.fits]}
    elif res.fits and data.settings.calibrate_scores:
        m["selection"] = {
            "how": "one fixed identifier; inside each outer training fold a grouped inner CV by item gives the "
                   "held-out logits the score temperature is fitted on (and the limits)",
            "temperature_per_fold": [round(f.temperature, 3) for f in res.fits]}
    rate = data.settings.policy.degradable_max_false_rate
    if res.fits and rate is not None:
        m["degradable_floor"] = {
            "rule": f"score floor of the degradable classes (limits.class_min_score): the lowest floor at which at "
                    f"most {rate:g} of the non-degradable held-out rows of the inner grouped CV (inside the training "
                    f"rows only, never the outer test items) are identified as a degradable class, rounded up to "
                    f"0.001, never below limits.min_score (host.calib.floor)",
            "per_fold": [f.floor_detail for f in res.fits]}
    if suspect_labels:
        keep = ~np.isin(res.groups, list(suspect_labels))
        s = _headline(data, res.labels[keep], res.groups[keep], np.asarray(res.verdicts, dtype=object)[keep],
                      np.asarray(res.classes_out, dtype=object)[keep])
        m["without_suspect_labels"] = {
            "note": "NOT the headline: the same CV with the rows of these items left out of the scoring only "
                    "(they stayed in training)", "excluded_items": dict(suspect_labels),
            **{k: s[k] for k in ("accuracy", "macro_f1", "false_rejection_rate", "pla_sensitivity",
                                 "per_class_recall") if k in s}}
    if res.fits and res.fits[0].oof_labels is not None and len(res.extra_outputs):
        extra_labels = data.labels[np.r_[data.extra_rows, data.black_rows].astype(int)]
        m["limit_tradeoff"] = tradeoff_table(res, data.settings.policy, extra_labels, len(data.extra_rows))
        if "degradable_floor" in m:
            m["degradable_floor"]["tradeoff"] = floor_tradeoff(res, data.settings.policy, extra_labels,
                                                               len(data.extra_rows))
    n_items = {c: len(set(res.groups[res.labels == c])) for c in data.classes}
    s = data.settings
    m.update({"n_spectra": int(len(res.labels)), "n_items": n_items, "n_folds": len(res.folds),
              "validation": f"grouped {len(res.folds)}-fold CV by physical item; "
                            + ("identifier choice, score temperature and limits" if s.candidates else
                               "score temperature and limits" if s.calibrate_scores else "limits")
                            + (" (degradable score floor by its rule)" if s.policy.degradable_max_false_rate
                               is not None else "")
                            + " from an inner grouped CV inside each training fold; test spectra at the nominal "
                              "wavelength axis"
                            + (f" with ±{s.test_shift_nm:g} nm random shifts" if s.test_shift_nm else "")
                            + (f", detector noise at SNR {s.test_snr:g}" if np.isfinite(s.test_snr) else "")})
    return m
