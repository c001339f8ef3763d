"""Training-library QC: which items may shape a class model and its limits.

Applied to **training rows only**, inside every fit (each outer CV fold, the final model,
adaptation), never to evaluation: every held-out item is still scored in every headline figure.

Why a rule is needed
--------------------
A class's acceptance region (its per-class distance limit) is set from what held-out items of
the class produce. An item that *carries no band pattern of its class* – its label may be right,
but a pigment, filler or surface hides the polymer's absorption bands – still gets a large,
noisy pattern after SNV (SNV rescales whatever is left to unit variance), lands far from its
class and so widens the class's limit until featureless spectra fit inside. In the 2023-04-19
Avantes set the grey PLA item ``dw902`` does this: its spectra are flat over the PLA C–H
overtone bands (1650–1750 nm), and with it in training PLA's distance limit is 7–8 instead of
about 3, and carbon-black items (never trained on) are identified as PLA.

The rule (chosen from the physics, before measuring what it does)
------------------------------------------------------------------
**Class band depth** of a spectrum: the least-squares scale ``β`` of its class's mean band
pattern in the spectrum's band pattern, ``β = ⟨d, p⟩ / ⟨p, p⟩`` where ``d`` is the
Savitzky–Golay 2nd derivative of the spectrum over its own mean level (``ΔR/R̄``: band depth
relative to reflectance, which by Beer–Lambert follows the optical path in the polymer and is
independent of the white reference's scale) and ``p`` the mean ``d`` of the *other* training
items of the class (item-weighted, so an item never judges itself and many scans of one item
do not dominate). ``β ≈ 1`` for a typical item; thickness and pigment loading move it within a
factor of a few; ``β ≈ 0`` means the spectrum does not contain its class's bands.

An item is **not used to fit its class** when the median ``β`` of its scans is below
`MIN_CLASS_BAND_DEPTH` = 0.25: a quarter of the class's mean band depth (12 dB), below which
the polymer's own bands are smaller than the structure that is not the polymer (pigment and
filler absorption, specular reflection's curvature, placement) and the item no longer tells the
model what the class looks like. The median over scans is the repeatability part: one badly
placed scan does not exclude an item, an item whose typical scan lacks the bands is excluded.
Classes keep at least `MIN_KEPT_ITEMS` items (the rule never empties a class), and items
measured once are judged on that one scan.

The derivative is the shipped chain's own (window 5 points = 25 nm, about the FPI's 18 nm
line width, order 2) on the head's nominal channels (``source.nominal``), noise-free.

Arrays: ``X`` ``(N, C)`` head readings; ``labels``, ``groups`` ``(N,)``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .preprocess import SavitzkyGolay

#: An item whose class band depth (median over its scans) is below this is not trained on.
MIN_CLASS_BAND_DEPTH = 0.25
#: The rule never leaves a class with fewer training items than this (the best-depth ones stay).
MIN_KEPT_ITEMS = 3


def relative_band_pattern(X: np.ndarray, window: int = 5, polyorder: int = 2) -> np.ndarray:
    """Savitzky–Golay 2nd derivative of ``X / mean(X)`` per row: ``(N, C)`` band pattern ``ΔR/R̄``."""
    X = np.atleast_2d(np.asarray(X, dtype=float))
    level = np.abs(X.mean(axis=1, keepdims=True))
    rel = X / np.maximum(level, 1e-12)
    return SavitzkyGolay(window, polyorder, 2).fit(rel).transform(rel)


def class_band_depth(X: np.ndarray, labels: np.ndarray, groups: np.ndarray, **pattern) -> dict[str, dict]:
    """Per item: ``{"label", "band_depth" (median β), "scans" (β per scan)}`` (module docstring).

    An item alone in its class has no other items to compare with and gets ``band_depth`` None.
    """
    labels = np.asarray(labels, dtype=object)
    groups = np.asarray(groups, dtype=object)
    d = relative_band_pattern(X, **pattern)
    items: dict[str, np.ndarray] = {}
    for g in dict.fromkeys(groups):
        items[str(g)] = np.flatnonzero(groups == g)
    item_label = {g: str(labels[r[0]]) for g, r in items.items()}
    item_mean = {g: d[r].mean(axis=0) for g, r in items.items()}
    out = {}
    for g, r in items.items():
        others = [h for h in items if h != g and item_label[h] == item_label[g]]
        if not others:
            out[g] = {"label": item_label[g], "band_depth": None, "scans": []}
            continue
        p = np.mean([item_mean[h] for h in others], axis=0)
        beta = d[r] @ p / max(float(p @ p), 1e-30)
        out[g] = {"label": item_label[g], "band_depth": float(np.median(beta)),
                  "scans": [round(float(b), 3) for b in beta]}
    return out


def band_depth_separation(X: np.ndarray, labels: np.ndarray, groups: np.ndarray, *,
                          threshold: float = MIN_CLASS_BAND_DEPTH, **pattern) -> dict:
    """Does class band depth tell an item's own class from the others? The rule's premise, measured.

    For every item and every class: ``β`` of the item's mean pattern against the mean pattern of
    the class's *other* items. The rule is meaningful for a head when own-class ``β`` is near 1
    and other-class ``β`` near 0: ``auc`` (the chance that an own-class ``β`` exceeds an
    other-class one) near 1, few items under the threshold (``own_below``) and few other classes
    passing it (``other_at_or_above``). ``X`` ``(N, C)`` head readings, one row per scan.
    """
    labels = np.asarray(labels, dtype=object)
    groups = np.asarray(groups, dtype=object)
    d = relative_band_pattern(X, **pattern)
    items = {g: np.flatnonzero(groups == g) for g in dict.fromkeys(groups)}
    label = {g: str(labels[r[0]]) for g, r in items.items()}
    mean = {g: d[r].mean(axis=0) for g, r in items.items()}
    own, other = [], []
    for g in items:
        for c in sorted(set(label.values())):
            peers = [mean[h] for h in items if h != g and label[h] == c]
            if not peers:
                continue
            p = np.mean(peers, axis=0)
            (own if c == label[g] else other).append(float(mean[g] @ p / max(float(p @ p), 1e-30)))
    own_a, other_a = np.asarray(own), np.asarray(other)
    auc = float(np.mean(own_a[:, None] > other_a[None, :]) + 0.5 * np.mean(own_a[:, None] == other_a[None, :]))
    return {"auc": round(auc, 3), "own_below": round(float(np.mean(own_a < threshold)), 3),
            "other_at_or_above": round(float(np.mean(other_a >= threshold)), 3), "threshold": threshold,
            "own_class_percentiles_5_50_95": [round(float(v), 3) for v in np.percentile(own_a, [5, 50, 95])],
            "other_class_percentiles_5_50_95": [round(float(v), 3) for v in np.percentile(other_a, [5, 50, 95])],
            "n_items": len(items)}


@dataclass(frozen=True)
class LibraryQC:
    """The training-library rule (module docstring); ``apply`` it to training rows."""

    min_band_depth: float = MIN_CLASS_BAND_DEPTH
    min_kept_items: int = MIN_KEPT_ITEMS
    window: int = 5
    polyorder: int = 2

    def describe(self) -> str:
        return (f"training items whose class band depth (median over their scans of the least-squares scale of "
                f"their class's mean Savitzky–Golay 2nd-derivative pattern of R/mean(R), window {self.window}, "
                f"order {self.polyorder}, in their own spectrum; the class mean from the other training items "
                f"of the class) is below {self.min_band_depth:g} are not used to fit the class model or its "
                f"limits; at least {self.min_kept_items} items per class stay; applied inside every training "
                f"set, never to test items")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "LibraryQC":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def apply(self, source, rows: np.ndarray, y: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, dict]:
        """Training ``rows`` to keep, and the excluded items ``{item: {label, band_depth, scans}}``.

        ``y`` and ``groups`` are per source row; only ``rows`` are looked at.
        """
        rows = np.asarray(rows)
        depth = class_band_depth(source.nominal(rows), y[rows], groups[rows],
                                 window=self.window, polyorder=self.polyorder)
        excluded: dict[str, dict] = {}
        by_class: dict[str, list[str]] = {}
        for g, info in depth.items():
            by_class.setdefault(info["label"], []).append(g)
        for cls, members in by_class.items():
            low = sorted((depth[g]["band_depth"], g) for g in members
                         if depth[g]["band_depth"] is not None and depth[g]["band_depth"] < self.min_band_depth)
            room = max(0, len(members) - self.min_kept_items)
            for bd, g in low[:room]:
                excluded[g] = {"label": cls, "band_depth": round(bd, 3), "scans": depth[g]["scans"]}
        keep = ~np.isin(groups[rows], list(excluded))
        return rows[keep], dict(sorted(excluded.items()))
