"""The degradable score floor chosen by a stated rule from held-out items of the training rows.

Why a rule instead of a fixed figure
------------------------------------
The ``fpi`` head gets a fixed floor of 0.9 on its temperature-calibrated scores: with honest
probabilities, calling a degradable class only above ``C_fp / (C_fp + C_fn)`` minimises the
expected cost, and a false "degradable" priced at nine needless "unknown"s gives 0.9. That
argument needs a model whose scores *can* reach 0.9 for the items it gets right. A screening
head (``led8``: eight LEDs, grouped-CV accuracy about 0.3) never is that sure, so 0.9 would
switch its degradable calls off without saying what it buys.

The rule (`LimitPolicy.degradable_max_false_rate`)
--------------------------------------------------
Among the held-out rows of the inner grouped CV (items never trained on by the model that
scored them, inside the training rows only: the outer test items never influence it), the
rows whose class is **not** degradable that the verdict rules (`firmware.inference.decide`,
with the limits just set from the same held-out rows) would identify as a degradable class are
the false degradable calls. The floor is the **lowest** one at which at most
``max_false_rate`` of the non-degradable held-out rows are still called degradable: the least
sensitivity given up for the stated protection. It is one floor shared by all degradable
classes (a false call costs the same whichever degradable class it names), rounded *up* to
the next 0.001 above the highest score that must be refused, never below ``limits.min_score``
or a fixed ``degradable_min_score``, and at most 1.0.

Raising the floor can only turn *identified* into *unknown* for that class (the verdict rules
never hand the call to another class), so the false-call count is monotone in the floor and
the lowest floor that meets the rate is well defined. A rate the floor cannot meet even at 1.0
(false calls with a score of 1.0) is reported in the detail, not hidden.

Arrays: held-out outputs ``out`` with ``scores`` ``(N, C)``, ``t2``, ``q`` ``(N,)``,
``class_distance`` ``(N, C)``; ``y`` ``(N,)`` labels; ``classes`` ``(C,)`` in score order.
"""
from __future__ import annotations

import math

import numpy as np

from firmware.contracts import IDENTIFIED, is_degradable
from firmware.inference import decide

#: Floors are stated to this step (rounded up, so the refused score stays refused).
FLOOR_STEP = 0.001


def degradable_floor(out: dict[str, np.ndarray], y, classes, limits: dict, max_false_rate: float,
                     base_floor: float) -> tuple[float, dict]:
    """The lowest floor ``>= base_floor`` keeping held-out false degradable calls ``<= max_false_rate``.

    ``limits`` are the limits set from the same held-out rows, without a degradable floor.
    Returns ``(floor, detail)``; ``detail`` holds the counts the choice rests on.
    """
    if not 0.0 <= max_false_rate < 1.0:
        raise ValueError(f"degradable_max_false_rate must be in [0, 1), got {max_false_rate}")
    classes = [str(c) for c in classes]
    y = np.asarray(y, dtype=object)
    flags = {c: is_degradable(c) for c in classes}
    unfloored = {k: v for k, v in limits.items() if k != "class_min_score"}
    preds = decide(out, classes, flags, unfloored)
    called = np.array([p.verdict == IDENTIFIED and flags[p.class_] for p in preds], dtype=bool)
    score = np.array([p.confidence if c else np.nan for p, c in zip(preds, called)], dtype=float)
    negative = ~np.array([is_degradable(str(c)) for c in y], dtype=bool)
    n_neg = int(negative.sum())
    allowed = math.floor(max_false_rate * n_neg + 1e-9)
    false_scores = np.sort(score[called & negative])[::-1]  # highest first
    floor = base_floor
    if false_scores.size > allowed:
        # refuse every false call scoring at or above the (allowed+1)-th highest
        refuse = float(false_scores[allowed])
        floor = max(base_floor, min(1.0, round((math.floor(refuse / FLOOR_STEP + 1e-9) + 1) * FLOOR_STEP, 3)))
    kept = called & (score >= floor)
    true_calls = called & ~negative
    positive = ~negative
    detail = {
        "max_false_rate": max_false_rate, "floor": round(floor, 6), "negative_rows": n_neg,
        "false_calls_without_floor": int((called & negative).sum()),
        "false_calls_with_floor": int((kept & negative).sum()),
        "false_rate_with_floor": float((kept & negative).sum() / n_neg) if n_neg else None,
        "degradable_rows": int(positive.sum()),
        "sensitivity_without_floor": float(np.mean(true_calls[positive] & (np.array(
            [p.class_ for p in preds], dtype=object)[positive] == y[positive]))) if positive.any() else None,
        "sensitivity_with_floor": float(np.mean((kept & ~negative)[positive] & (np.array(
            [p.class_ for p in preds], dtype=object)[positive] == y[positive]))) if positive.any() else None,
    }
    return floor, detail
