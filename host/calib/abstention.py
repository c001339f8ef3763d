"""Black items through the whole measuring chain: the device's quality checks, then the model.

A device refuses a dark sample on its raw counts, before any model sees it
(`firmware.quality.check_dark`, threshold ``[measurement] dark_max_reflectance``). The
abstention that matters for a model package is therefore the *chain's*: a black item is
refused by the quality checks, or the model says anything but ``identified``.

Training sets carry reflectance, not counts, so the counts are simulated the way the device
forms reflectance (`firmware.references.reflectance` against a white reference, no stray-light
reference): the white tile's net signal at `WHITE_FRACTION` of the ADC's full scale, a dark
offset, detector noise at the head's SNR, ``n_scans`` scans, one retry at half gain when a scan
saturates (as the device does). Then `firmware.quality.assess` runs with the device's default
thresholds (`firmware.config.measurement.MeasurementSection`), so the figure follows the device
if its thresholds change.

Arrays: reflectance ``(N, C)`` on the head's channels, relative to the white reference.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from firmware.config.measurement import MeasurementSection
from firmware.contracts import IDENTIFIED, is_degradable
from firmware.quality import assess
from firmware.reading import ADC_FULL_SCALE, RawReading
from firmware.references import WHITE, Reference, reflectance

#: White tile net signal as a fraction of full scale: about where the device's default gain puts
#: it (`firmware.config.head`: ~18 % on the fpi head at PGA 1), leaving room for glossy samples
#: up to ~5× the tile.
WHITE_FRACTION = 0.2
#: Detector offset with the light off, as a fraction of full scale.
DARK_FRACTION = 0.02


def _reading(head: str, wl: np.ndarray, r: np.ndarray, gain: float, rng, snr: float) -> RawReading:
    white_net = WHITE_FRACTION * ADC_FULL_SCALE
    sigma = white_net / snr
    dark = DARK_FRACTION * ADC_FULL_SCALE + rng.normal(0.0, sigma, wl.size)
    lit = dark + gain * r * white_net + rng.normal(0.0, sigma, wl.size)
    lit = np.clip(lit, -ADC_FULL_SCALE, ADC_FULL_SCALE)
    return RawReading(head, wl, dark, lit, {"factor": gain}, 25.0, 0.0, 0.0, 0.0)


def quality_codes(head: str, wavelengths_nm, refl: np.ndarray, rng, *, snr: float = 1000.0,
                  config: MeasurementSection | None = None) -> list[str | None]:
    """The device's quality verdict for each spectrum of ``refl`` ``(N, C)``: an issue code
    (``dark``, ``empty``, ``unstable``, ``saturated``) or None when the model would see it."""
    cfg = config or MeasurementSection()
    wl = np.asarray(wavelengths_nm, dtype=float)
    white_lit = DARK_FRACTION * ADC_FULL_SCALE + WHITE_FRACTION * ADC_FULL_SCALE + np.zeros(wl.size)
    white = Reference(WHITE, head, 0.0, 25.0, wl, DARK_FRACTION * ADC_FULL_SCALE + np.zeros(wl.size), white_lit,
                      {"factor": 1.0})
    codes: list[str | None] = []
    for r in np.atleast_2d(np.asarray(refl, dtype=float)):
        issue = None
        for gain in (1.0, 0.5):  # a saturated measurement is read again once at a lower gain
            readings = [_reading(head, wl, r, gain, rng, snr) for _ in range(cfg.n_scans)]
            scans = np.stack([reflectance(x, white, tile_reflectance=1.0) for x in readings])
            issue = assess(readings, scans, saturation_fraction=cfg.saturation_fraction,
                           scan_agreement=cfg.scan_agreement, empty_max_reflectance=cfg.empty_max_reflectance,
                           dark_max_reflectance=cfg.dark_max_reflectance)
            if issue is None or not issue.retry_lower_gain:
                break
        codes.append(issue.code if issue else None)
    return codes


def chain_abstention(codes: list[str | None], fold_predictions: list[list], labels, groups,
                     median_reflectance) -> dict:
    """Whole-chain outcome for black rows: quality refusal, else each outer fold's model verdict.

    ``fold_predictions`` holds, per outer CV fold, one `firmware.inference.Prediction` per row.
    Rates are over rows × folds (every fold's model sees every black row).
    """
    codes = list(codes)
    n_folds = len(fold_predictions)
    refused = np.array([c is not None for c in codes])
    verdicts = np.array([[p.verdict for p in fold] for fold in fold_predictions], dtype=object)
    classes = np.array([[p.class_ for p in fold] for fold in fold_predictions], dtype=object)
    model_abstains = verdicts != IDENTIFIED
    chain = refused[None, :] | model_abstains
    items: dict[str, dict] = {}
    for i, (lab, g) in enumerate(zip(labels, groups)):
        d = items.setdefault(str(g), {"label": str(lab), "median_reflectance": [], "quality": [], "outcomes": Counter()})
        d["median_reflectance"].append(round(float(median_reflectance[i]), 3))
        d["quality"].append(codes[i] or "passed")
        for f in range(n_folds):
            d["outcomes"]["rejected: " + codes[i] if codes[i] else
                          (f"identified {classes[f, i]}" if verdicts[f, i] == IDENTIFIED else verdicts[f, i])] += 1
    for d in items.values():
        d["outcomes"] = dict(d["outcomes"])
    identified = ~chain
    wrong = identified & (classes != np.asarray(labels, dtype=object)[None, :])
    degradable_calls = identified & np.vectorize(is_degradable, otypes=[bool])(classes)
    n = max(chain.size, 1)
    return {
        "n_rows": len(codes),
        "quality_rejection_rate": float(refused.mean()) if refused.size else None,
        "model_abstention_rate": float(model_abstains.mean()) if model_abstains.size else None,
        "chain_abstention_rate": float(chain.mean()) if chain.size else None,
        "identified_as_other_material_rate": float(wrong.sum() / n),
        "identified_as_degradable_rate": float(degradable_calls.sum() / n),
        "items": items,
    }
