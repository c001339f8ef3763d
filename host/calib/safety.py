"""Degradable-call safety: how often the model calls something degradable that is not.

A false "degradable" identification is the costliest error of this device: an inspector who
reads "PLA, biodegradable" on a carbon-fibre or black PP product clears a product that should
have been flagged. Two figures measure it, over the outer grouped CV:

- ``false_degradable_rate``: rows whose material is **not** degradable (known classes, materials
  never trained on, black items) that the model identifies as a degradable class, over those
  rows. Each row counts once: known rows by their own held-out verdict, rows outside the CV
  (never-trained materials, black items) by the share of the fold models that call them
  degradable.
- ``black_degradable_rate``: black rows (of a material that is not degradable) identified as a
  degradable class, over rows × folds.

Both are model verdicts (`firmware.inference.decide`, as the device and ``nir-host evaluate``
apply them); the device's raw-count quality checks can only lower them. Each comes with a
one-sided 95 % Clopper–Pearson upper bound over rows, because "0 of 15" is not "never".

`RELEASE_BOUNDS` are what a shipped ``fpi`` package must meet; the manifest states them and
``tests/test_shipped_models.py`` checks the shipped model against the real data with them.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import beta

from firmware.contracts import IDENTIFIED, is_degradable

#: Release bounds of the fpi head: at most 1 in 100 non-degradable rows and 1 in 20 black rows
#: may be identified as a degradable class (the model shipped before the library QC gave
#: 0.0105 and 0.28).
RELEASE_BOUNDS = {"false_degradable_rate": 0.01, "black_degradable_rate": 0.05}


def upper95(k: float, n: int) -> float | None:
    """One-sided 95 % Clopper–Pearson upper bound of a rate with ``k`` events in ``n`` rows
    (a fractional ``k``, from rows scored by several folds, is rounded up)."""
    if n <= 0:
        return None
    k = min(n, math.ceil(k - 1e-9))
    return 1.0 if k >= n else float(beta.ppf(0.95, k + 1, n - k))


def _called_degradable(preds) -> np.ndarray:
    return np.array([p.verdict == IDENTIFIED and bool(p.class_) and is_degradable(p.class_) for p in preds])


def degradable_safety(labels_known, verdicts, classes_out, extra_labels, extra_preds, n_black: int,
                      bounds: dict | None = None) -> dict:
    """The figures of the module docstring.

    ``labels_known``, ``verdicts``, ``classes_out`` ``(N,)``: the outer CV's known-class rows;
    ``extra_preds``: per fold, one `Prediction` per extra row (never-trained materials, then the
    ``n_black`` black rows), labelled ``extra_labels``.
    """
    labels_known = np.asarray(labels_known, dtype=object)
    said = np.array([v == IDENTIFIED and bool(c) and is_degradable(c) for v, c in zip(verdicts, classes_out)])
    known_neg = ~np.array([is_degradable(str(x)) for x in labels_known], dtype=bool)
    rates = [said[known_neg].astype(float)]
    black = np.zeros((0, 0))
    if extra_preds and len(extra_preds[0]):
        calls = np.stack([_called_degradable(fold) for fold in extra_preds])  # (folds, rows)
        extra_neg = ~np.array([is_degradable(str(x)) for x in extra_labels], dtype=bool)
        rates.append(calls.mean(axis=0)[extra_neg])
        if n_black:
            black = calls[:, len(extra_labels) - n_black:][:, extra_neg[len(extra_labels) - n_black:]]
    r = np.concatenate(rates)
    out = {"false_degradable_rate": float(r.mean()) if r.size else None,
           "false_degradable_rows": int(r.size),
           "false_degradable_rate_upper95": upper95(float(r.sum()), int(r.size)),
           "black_degradable_rate": float(black.mean()) if black.size else None,
           "black_degradable_rate_upper95": upper95(float(black.mean(axis=0).sum()), black.shape[1])
           if black.size else None,
           "definition": "false_degradable_rate: rows whose material is not degradable (known classes, materials "
                         "never trained on, black items) identified as a degradable class, over those rows (rows "
                         "outside the CV count with the share of fold models calling them degradable); "
                         "black_degradable_rate: black rows of non-degradable materials identified as a degradable class, "
                         "over rows x folds; "
                         "model verdicts (quality checks can only lower them); upper95: one-sided 95 % "
                         "Clopper-Pearson bound over rows"}
    if bounds:
        out["release_bounds"] = dict(bounds)
        out["meets_release_bounds"] = all(out.get(k) is not None and out[k] <= v for k, v in bounds.items())
    return out
