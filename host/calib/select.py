"""Choosing the identifier and its score temperature on held-out items, never on the test fold.

`select_and_fit` is what every fit of the toolchain goes through (each outer CV fold, the
final model, adaptation): inside the rows it is given it runs one grouped CV by item, fits
every candidate `IdentifierConfig` on the *same* augmented training sets, and keeps

- the candidate with the best held-out accuracy (ties: macro-F1, then the earlier candidate,
  so the list is ordered simplest-first);
- its held-out outputs, from which the limits are set (`limits_from_oof`): a limit is what a
  new item of a known class actually produces;
- the temperature that makes its held-out scores honest probabilities (`fit_temperature`).

Called on an outer training fold this is the inner loop of a nested CV, so the outer test
items never influence the choice; called on all items it chooses the shipped model the same
way. With no candidates (``led8``, old packages) it fits ``settings.identifier()`` alone and
draws the same random numbers as before candidates existed.

Arrays: ``rows`` index the source; ``y``, ``groups`` are per source row.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar

from .identify import Identifier, IdentifierConfig

#: Bounds of the fitted temperature: below 1 sharpens, above 1 softens the LDA posteriors.
TEMPERATURE_BOUNDS = (0.05, 100.0)


def fit_temperature(logits: np.ndarray, y_idx: np.ndarray) -> float:
    """Temperature ``T`` minimising the negative log-likelihood of ``softmax(logits / T)``.

    ``logits`` ``(N, C)`` held-out LDA logits, ``y_idx`` ``(N,)`` the true class column.
    """
    logits = np.asarray(logits, dtype=float)
    rows = np.arange(len(y_idx))

    def nll(log_t: float) -> float:
        z = logits / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[rows, y_idx]))

    lo, hi = np.log(TEMPERATURE_BOUNDS[0]), np.log(TEMPERATURE_BOUNDS[1])
    return float(np.exp(minimize_scalar(nll, bounds=(lo, hi), method="bounded").x))


def _macro_f1(labels: np.ndarray, pred: np.ndarray, classes) -> float:
    f1 = []
    for c in classes:
        tp = np.sum((pred == c) & (labels == c))
        fp = np.sum((pred == c) & (labels != c))
        fn = np.sum((pred != c) & (labels == c))
        f1.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(f1))


@dataclass
class SelectedFit:
    """A fitted identifier with everything chosen on held-out items inside its training rows."""

    identifier: Identifier
    limits: dict
    config: IdentifierConfig | None
    temperature: float
    #: held-out accuracy and macro-F1 of every candidate, in candidate order
    table: list[dict] = field(default_factory=list)
    #: held-out outputs of the chosen candidate (for limit trade-offs) and their labels
    oof: dict[str, np.ndarray] = field(default_factory=dict)
    oof_labels: np.ndarray | None = None
    #: items the training-library QC left out of these rows (`host.calib.libqc`): {item: why}
    library_excluded: dict = field(default_factory=dict)
    #: counts behind a degradable floor chosen on the held-out rows (`host.calib.floor`); empty: none
    floor_detail: dict = field(default_factory=dict)


def inner_outputs(source, rows, y, groups, builders, settings, rng, n_splits: int, seed: int):
    """Held-out outputs (and logits) of every builder over ``rows``, one grouped CV for all.

    Returns a list (one per builder) of dicts ``{output: (len(rows), …)}``, plus ``"logits"``.
    """
    from .validate import check_no_leak, grouped_folds

    folds = grouped_folds(y[rows], groups[rows], n_splits, seed)
    check_no_leak(folds, groups[rows])
    outs: list[dict[str, np.ndarray]] = [{} for _ in builders]
    for tr, te in folds:
        X, idx = source.train(rows[tr], settings.augmentation, rng)
        models = [b().fit(X, y[idx]) for b in builders]
        missing = set(np.unique(y[rows])) - set(models[0].classes_)
        if missing:
            raise ValueError(f"fold without class(es) {sorted(missing)}: too few items to cross-validate")
        Xt = source.test(rows[te], rng, settings.test_shift_nm, settings.test_snr)
        for out, m in zip(outs, models):
            o = m.outputs(Xt)
            o["logits"] = m.logits(Xt)
            for k, v in o.items():
                out.setdefault(k, np.zeros((len(rows),) + v.shape[1:]))[te] = v
    return outs


def select_and_fit(source, rows, y, groups, settings, rng, *, n_splits: int, seed: int) -> SelectedFit:
    """Choose (candidates), calibrate and fit an identifier on ``rows``; limits from held-out items."""
    from .validate import limits_from_oof

    configs = list(settings.candidates)
    builders = [c.build for c in configs] if configs else [settings.identifier]
    outs = inner_outputs(source, rows, y, groups, builders, settings, rng, n_splits, seed)
    labels = y[rows]
    classes = np.unique(labels)
    table = []
    for i, o in enumerate(outs):
        pred = classes[np.argmax(o["logits"], axis=1)]
        table.append({"candidate": configs[i].name if configs else "fixed",
                      "accuracy": float(np.mean(pred == labels)),
                      "macro_f1": _macro_f1(labels, pred, classes)})
    best = max(range(len(outs)), key=lambda i: (table[i]["accuracy"], table[i]["macro_f1"], -i))
    oof = outs[best]
    X, idx = source.train(rows, settings.augmentation, rng)
    ident = builders[best]().fit(X, y[idx])
    temperature = 1.0
    if settings.calibrate_scores:
        col = {c: j for j, c in enumerate(ident.classes_)}
        temperature = fit_temperature(oof["logits"], np.array([col[c] for c in labels]))
        ident.set_temperature(temperature)
        # the limits' score floor acts on calibrated scores, so the held-out ones are recomputed
        z = oof["logits"] / temperature
        z = np.exp(z - z.max(axis=1, keepdims=True))
        oof = {**oof, "scores": z / z.sum(axis=1, keepdims=True)}
    floor_detail: dict = {}
    limits = limits_from_oof(oof, labels, ident.classes_, settings.policy, floor_detail=floor_detail)
    return SelectedFit(ident, limits, configs[best] if configs else None, temperature, table,
                       {k: v for k, v in oof.items() if k != "logits"}, labels, floor_detail=floor_detail)
