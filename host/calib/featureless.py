"""Would a featureless-spectrum check before the model pay? Measured on every training run.

The idea: a spectrum with (almost) no absorption bands but plenty of light – a NIR-transparent
item, a carbon-fibre print whose surface reflects the lamp – tells the model nothing, so a
model-side check could say "unknown: no usable absorption bands" before the classes are asked.
It would have to be a graph output with a limit in the manifest (the device's raw-count quality
checks are a different part), and it must not reject genuine items.

This module does not ship such a check; it measures what one would do, on the same outer CV,
so the decision can be revisited on every rebuild (the report's table). The band contrast of a
spectrum ``R`` (head channels) is the RMS of its Savitzky–Golay 2nd derivative (the shipped
chain's window, 5 points) over

- ``std``: the spectrum's own standard deviation — invariant to ``R → a·R + b``, as the model is;
- ``mean``: its mean reflectance — "band depth over brightness", closest to the physics, but a
  specular offset ``b`` changes it, so a limit on it would break the a·R + b invariance target.

Each outer fold sets the limit at a low quantile of its *training* rows' contrast (no peeking
at the test items) and applies it to the fold's test rows and to the black rows. Spectra are
the nominal head readings with detector noise at the head's test SNR (own random stream).
"""
from __future__ import annotations

import numpy as np

from firmware.contracts import IDENTIFIED

from .instrument import add_noise
from .preprocess import SavitzkyGolay

QUANTILES = (0.005, 0.01, 0.02)


def band_contrast(X: np.ndarray, relative_to: str = "std", window: int = 5) -> np.ndarray:
    """Band contrast ``(N,)`` of head readings ``X`` ``(N, C)`` (module docstring)."""
    X = np.atleast_2d(np.asarray(X, dtype=float))
    d = SavitzkyGolay(window, 2, 2).fit(X).transform(X)
    rms = np.sqrt((d ** 2).mean(axis=1))
    norm = X.std(axis=1) if relative_to == "std" else np.abs(X.mean(axis=1))
    return rms / np.maximum(norm, 1e-12)


def featureless_tradeoff(data, res, extra_preds, *, seed: int = 0) -> list[dict]:
    """One row per (contrast kind, training quantile): what the check would add to the model.

    ``extra_preds``: per outer fold, predictions of the never-trained rows then the black rows.
    ``genuine_rejected_added``: held-out known rows the model identified correctly that the check
    would reject (its false-rejection cost); ``black_wrong_calls_removed``: black row-folds the
    model identified as another material (or a degradable class) that the check would stop.
    """
    rows_all = np.r_[res.rows, data.black_rows].astype(int)
    rng = np.random.default_rng([seed, 11])
    snr = data.settings.test_snr
    X = add_noise(data.source.nominal(rows_all), snr, rng)
    n_known, n_extra = len(res.rows), len(data.extra_rows)
    correct = (np.asarray(res.verdicts, dtype=object) == IDENTIFIED) & \
              (np.asarray(res.classes_out, dtype=object) == res.labels)
    out = []
    for kind in ("std", "mean"):
        c = band_contrast(X, kind)
        ck, cb = c[:n_known], c[n_known:]
        for q in QUANTILES:
            rej_added = under_black = wrong_removed = black_total = 0
            for f, (tr, te) in enumerate(res.folds):
                lim = float(np.quantile(ck[tr], q))
                rej_added += int(np.sum(correct[te] & (ck[te] < lim)))
                for k, i in enumerate(data.black_rows):
                    p = extra_preds[f][n_extra + k] if extra_preds else None
                    black_total += 1
                    if cb[k] < lim:
                        under_black += 1
                        wrong_removed += int(p is not None and p.verdict == IDENTIFIED and p.class_ != data.labels[i])
            out.append({"contrast": f"SG2 RMS / {kind} of R", "training_quantile": q,
                        "genuine_rejected_added": rej_added / max(n_known, 1),
                        "black_under_limit": under_black / max(black_total, 1),
                        "black_wrong_calls_removed": wrong_removed / max(black_total, 1)})
    return out
