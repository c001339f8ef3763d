"""Verdict metrics, shared by the validation report and ``nir-host evaluate --json``.

Definitions follow issue 3: any verdict but ``identified`` counts as wrong for accuracy;
``false_rejection_rate`` is known-class rows not identified; ``unknown_rejection_rate`` is
rows whose label is not a model class that were not identified; a metric with no rows is
None (JSON null). Added for the costliest error: ``false_degradable_rate`` (rows that are not
degradable identified as a degradable class, over those rows: ``1 − degradable_specificity``)
and ``black_degradable_rate`` (the same over the black rows that are not degradable).
"""
from __future__ import annotations

import numpy as np

from firmware.contracts import IDENTIFIED


def _rate(mask: np.ndarray) -> float | None:
    return float(mask.mean()) if mask.size else None


def verdict_metrics(labels, verdicts, predicted, classes, *, degradable_truth=None,
                    degradable_pred=None, colours=None, min_items_for_f1=None, groups=None) -> dict:
    """The ``evaluate --json`` keys except ``n`` and ``rmsep`` (see module docstring).

    ``predicted`` is the identified class per row (None unless identified); ``degradable_pred``
    the prediction's degradable flag (None when not identified).
    """
    labels = np.asarray(labels, dtype=object)
    verdicts = np.asarray(verdicts, dtype=object)
    pred = np.asarray([p if v == IDENTIFIED else None for p, v in zip(predicted, verdicts)], dtype=object)
    classes = list(classes)
    known = np.isin(labels, classes)
    correct = known & (pred == labels)
    accepted = known & (verdicts == IDENTIFIED)
    recall = {c: _rate(correct[labels == c]) for c in classes if (labels == c).any()}
    f1_classes = [c for c in classes if (labels == c).any()]
    if min_items_for_f1 and groups is not None:
        groups = np.asarray(groups, dtype=object)
        f1_classes = [c for c in f1_classes if len(set(groups[labels == c])) >= min_items_for_f1]
    f1s = []
    for c in f1_classes:
        tp = np.sum(correct & (labels == c))
        fp = np.sum(known & (pred == c) & (labels != c))
        fn = np.sum(labels == c) - tp
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    out = {
        "accuracy": _rate(correct[known]),
        "accepted_accuracy": _rate(correct[accepted]),
        "macro_f1": float(np.mean(f1s)) if f1s else None,
        "per_class_recall": recall,
        "degradable_sensitivity": None,
        "degradable_specificity": None,
        "false_rejection_rate": _rate(verdicts[known] != IDENTIFIED),
        "unknown_rejection_rate": _rate(verdicts[~known & (labels != "")] != IDENTIFIED),
        "dark_abstention_rate": None,
        "false_degradable_rate": None,
        "black_degradable_rate": None,
    }
    said = truth = None
    if degradable_truth is not None:
        truth = np.asarray(degradable_truth, dtype=bool)
        said = np.asarray([bool(d) if v == IDENTIFIED and d is not None else False
                           for d, v in zip(degradable_pred, verdicts)])
        out["degradable_sensitivity"] = _rate(said[truth])
        # specificity over rows that are not degradable: not called degradable
        out["degradable_specificity"] = _rate(~said[~truth])
        # the costliest error: a row that is not degradable identified as a degradable class
        out["false_degradable_rate"] = _rate(said[~truth])
    if colours is not None:
        black = np.asarray([c in ("black",) for c in colours])
        out["dark_abstention_rate"] = _rate(verdicts[black] != IDENTIFIED)
        if said is not None:
            out["black_degradable_rate"] = _rate(said[black & ~truth])
    return out


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """RMSEP, bias and slope (of predicted on true) for a quantity."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    ok = np.isfinite(y_true) & np.isfinite(y_pred)
    if not ok.any():
        return {"rmsep": None, "bias": None, "slope": None, "n": 0}
    e = y_pred[ok] - y_true[ok]
    slope = float(np.polyfit(y_true[ok], y_pred[ok], 1)[0]) if np.ptp(y_true[ok]) > 0 else None
    return {"rmsep": float(np.sqrt(np.mean(e ** 2))), "bias": float(e.mean()), "slope": slope, "n": int(ok.sum())}
