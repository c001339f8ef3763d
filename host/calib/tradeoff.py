"""What tighter or looser limits would have given: false rejection against unknown rejection.

The limits of a fold are set from held-out items inside that fold's training rows
(`host.calib.select`), so any other `LimitPolicy` can be replayed on the same outer CV
without refitting: recompute each fold's limits from its own held-out outputs, re-apply the
verdict rules to the fold's test outputs and to the never-trained materials. The shipped
policy is one row of this table; the others show what it costs to move it.

Metrics per policy: ``accuracy`` (any verdict but identified counts as wrong),
``false_rejection_rate`` (known-class rows not identified), ``pla_sensitivity``,
``unknown_rejection_rate`` (never-trained materials, non-black, not identified; and per
material), ``model_abstention_black`` (black rows not identified by the model alone),
``black_called_degradable`` (black rows the model identifies as a degradable class) and
``false_degradable_rate`` (`host.calib.safety`: every non-degradable row, known, never trained
on or black, identified as a degradable class). `floor_tradeoff` replays the degradable score
floor's rule (`host.calib.floor`) at other rates the same way.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from firmware.contracts import IDENTIFIED, is_degradable
from firmware.inference import decide

from .safety import degradable_safety
from .validate import CVResult, LimitPolicy, limits_from_oof


def replay(res: CVResult, policy: LimitPolicy, extra_labels, n_unknown: int) -> dict:
    """Verdict metrics of the outer CV ``res`` had its limits followed ``policy``.

    ``extra_labels`` label the extra rows the folds scored (first ``n_unknown`` never-trained
    non-black materials, then black items).
    """
    verdicts = np.empty(len(res.rows), dtype=object)
    classes_out = np.empty(len(res.rows), dtype=object)
    unk, black, extra_preds, floors = [], [], [], []
    for f, (_, te) in enumerate(res.folds):
        fit = res.fits[f]
        classes = [str(c) for c in np.unique(fit.oof_labels)]
        limits = limits_from_oof(fit.oof, fit.oof_labels, np.array(classes), policy)
        floors.append(max((limits.get("class_min_score") or {}).values(), default=None))
        flags = {c: False for c in classes}
        out = {k: v[te] for k, v in res.outputs.items()}
        for i, p in zip(te, decide(out, classes, flags, limits)):
            verdicts[i], classes_out[i] = p.verdict, p.class_
        if res.extra_outputs:
            preds = decide(res.extra_outputs[f], classes, flags, limits)
            extra_preds.append(preds)
            unk.append([p.verdict for p in preds[:n_unknown]])
            black.append([(p.verdict, p.class_) for p in preds[n_unknown:]])
    labels = res.labels
    ok = (verdicts == IDENTIFIED) & (classes_out == labels)
    unk_v = np.array(unk, dtype=object)
    mats = np.asarray(extra_labels[:n_unknown], dtype=object)
    row = {"accuracy": float(ok.mean()), "false_rejection_rate": float(np.mean(verdicts != IDENTIFIED)),
           "pla_sensitivity": float(ok[labels == "PLA"].mean()) if np.any(labels == "PLA") else None,
           "unknown_rejection_rate": float(np.mean(unk_v != IDENTIFIED)) if unk_v.size else None,
           "unknown_rejection_per_material": {str(m): float(np.mean(unk_v[:, mats == m] != IDENTIFIED))
                                              for m in sorted(set(mats))} if unk_v.size else {},
           "model_abstention_black": None, "black_called_degradable": None}
    if black and black[0]:
        pairs = [p for fold in black for p in fold]
        row["model_abstention_black"] = float(np.mean([v != IDENTIFIED for v, _ in pairs]))
        row["black_called_degradable"] = float(np.mean([v == IDENTIFIED and is_degradable(c) for v, c in pairs]))
    safety = degradable_safety(labels, list(verdicts), list(classes_out), np.asarray(extra_labels, dtype=object),
                               extra_preds, len(extra_labels) - n_unknown)
    row["false_degradable_rate"] = safety["false_degradable_rate"]
    row["false_degradable_rate_upper95"] = safety["false_degradable_rate_upper95"]
    if any(x is not None for x in floors):
        row["degradable_floor_per_fold"] = floors
    return row


def floor_tradeoff(res: CVResult, base: LimitPolicy, extra_labels, n_unknown: int,
                   rates=(None, 0.1, 0.05, 0.02, 0.01, 0.005)) -> list[dict]:
    """`replay` with the degradable floor's rule at each held-out false-call rate (None: no floor).

    Each fold's floor comes from that fold's own inner held-out outputs, as in training, so the
    table shows what a stricter or looser rule would have given without peeking at test items.
    """
    rows = []
    for rate in rates:
        policy = replace(base, degradable_max_false_rate=rate)
        rows.append({"max_false_rate_inner": rate, **replay(res, policy, extra_labels, n_unknown)})
    return rows


def tradeoff_table(res: CVResult, base: LimitPolicy, extra_labels, n_unknown: int,
                   margins=(1.0, 1.25, 1.5, 2.0, 3.0), class_quantiles=(0.9, 0.95, 0.99),
                   global_margins=(0.75, 1.0, 1.25)) -> list[dict]:
    """`replay` over a grid of margins (all limits) and per-class quantiles, then over the margin
    of the global T² and Q limits alone (class limits as ``base``)."""
    rows = []
    for q in class_quantiles:
        for m in margins:
            policy = replace(base, class_quantile=q, margin=m, global_margin=None)
            rows.append({"class_quantile": q, "margin": m, "global_margin": m,
                         **replay(res, policy, extra_labels, n_unknown)})
    for gm in global_margins:
        policy = replace(base, global_margin=gm)
        rows.append({"class_quantile": base.class_quantile, "margin": base.margin, "global_margin": gm,
                     **replay(res, policy, extra_labels, n_unknown)})
    return rows
