"""A result in words an inspector understands, without chemistry.

The record says ``verdict = rejected, reason = "dark: cannot identify black/dark samples by NIR
(median reflectance 0.031 < 0.08)"``; the inspector in a shop needs "Too dark to identify —
black plastics cannot be measured with this light; send it to the lab". This module turns a
record into a headline, a sentence of what to do, the polymer's full name, whether the claim on
the label matches, and the outlier statistics against their limits. The technical reason stays
available as a detail line; nothing is hidden, only translated.
"""
from __future__ import annotations

import re
from typing import Any

from ..contracts import AMBIGUOUS, DEGRADABLE, IDENTIFIED, LABELS, REJECTED, UNKNOWN, normalize_label

POLYMER_NAMES: dict[str, str] = {
    "HDPE": "high-density polyethylene", "LDPE": "low-density polyethylene",
    "LLDPE": "linear low-density polyethylene", "PP": "polypropylene", "PS": "polystyrene",
    "PET": "polyethylene terephthalate (PET)", "PETG": "glycol-modified PET", "PVC": "polyvinyl chloride",
    "ABS": "acrylonitrile butadiene styrene", "ASA": "acrylonitrile styrene acrylate",
    "PMMA": "acrylic glass (PMMA)", "PC": "polycarbonate", "PA6": "nylon 6", "PA66": "nylon 6,6",
    "POM": "polyoxymethylene (acetal)", "TPU": "thermoplastic polyurethane", "PLA": "polylactic acid (PLA)",
    "PBAT": "PBAT (compostable polyester)", "PBS": "polybutylene succinate", "PHA": "polyhydroxyalkanoate",
    "PCL": "polycaprolactone", "PPC": "polypropylene carbonate", "STARCH": "starch blend",
}

#: What the inspector reads for each rejection code: (headline, what to do).
REJECTIONS: dict[str, tuple[str, str]] = {
    "dark": ("Too dark to identify",
             "Black and very dark plastics swallow the near-infrared light this device uses, so it cannot "
             "tell which plastic they are. Send the item to the lab."),
    "saturated": ("Too much light came back",
                  "The surface reflects too strongly (glossy or metallic). Tilt the item slightly or use "
                  "another spot, then measure again."),
    "empty": ("No item on the window",
              "Nothing was detected on the measuring window. Press the item flat against it and measure again."),
    "unstable": ("The item moved",
                 "The readings changed during the measurement. Hold the item still against the window "
                 "and measure again."),
    "reference": ("White reference needed",
                  "The device must be re-calibrated on its white tile before it can measure. Ask a "
                  "technician or use the Technician page."),
    "calibration": ("Calibration due",
                    "The device's calibration certificate has expired. It must be checked by a technician."),
    "fault": ("Device fault",
              "The hardware failed during the measurement. Try again; if it repeats, call a technician."),
}

_CLAIM_DEGRADABLE = re.compile(r"\b(bio-?degradable|compostable|home[- ]compostable|bio-?based)\b", re.I)


def polymer_name(label: str | None) -> str | None:
    return POLYMER_NAMES.get(normalize_label(label)) if label else None


def reason_code(reason: str | None) -> str | None:
    if not reason or ":" not in reason:
        return None
    return reason.split(":", 1)[0].strip() or None


#: What a screening head's verdict adds (model manifest ``screening: true``, e.g. the 8-LED head):
#: its identifications decide what goes to the lab; they never confirm a material.
SCREENING_NOTE = ("Screening only: this model is a screening head. Its answer decides what goes to the lab; "
                  "it does not confirm the material.")


def explain(record: dict[str, Any], *, screening: bool = False) -> dict[str, Any]:
    """``{kind, headline, name, degradable, advice, detail, confidence_pct, screening}`` for the big verdict.

    ``screening``: the record was made by a screening head (the page knows it from the model's
    manifest, not from the record), so identified and unknown verdicts say that a lab test decides.
    """
    verdict = record.get("verdict")
    reason = record.get("reason")
    screening = bool(screening) and verdict in (IDENTIFIED, UNKNOWN, AMBIGUOUS)
    out: dict[str, Any] = {"kind": verdict, "detail": reason, "name": None, "degradable": None,
                           "confidence_pct": None, "screening": screening,
                           "screening_note": SCREENING_NOTE if screening else None}
    conf = record.get("confidence")
    if isinstance(conf, (int, float)):
        out["confidence_pct"] = round(conf * 100)
    if verdict == IDENTIFIED:
        cls = record.get("class")
        deg = record.get("degradable")
        out.update(headline=cls, name=polymer_name(cls), degradable=deg,
                   advice=("Biodegradable plastic." if deg else
                           "Conventional plastic: not biodegradable." if deg is False else
                           "Biodegradability not known for this class."))
        if screening:
            out["advice"] = ("Looks like a biodegradable plastic. Only a lab test can confirm it: do not clear the "
                             "product on this result." if deg else
                             f"Looks like {cls}. Send the item to the lab if the material matters.")
    elif verdict == UNKNOWN:
        out.update(headline="Not recognised",
                   advice="This does not look like any plastic the model knows. It may be another material, "
                          "a mixture, or a coated or heavily filled item. Send it to the lab if it matters.")
        if screening:
            out["advice"] = ("This screening head could not name the plastic surely enough; a biodegradable claim "
                             "in particular needs a lab test. Send the item to the lab if it matters.")
    elif verdict == AMBIGUOUS:
        candidates = ", ".join(_candidates(record)) or "more than one plastic"
        out.update(headline="Unclear",
                   advice=f"It looks like more than one plastic ({candidates}). Measure a clean, flat spot "
                          f"again; if it stays unclear, send it to the lab.")
    elif verdict == REJECTED:
        code = reason_code(reason)
        headline, advice = REJECTIONS.get(code or "", ("Could not measure", "Measure again; if it repeats, "
                                                                             "call a technician."))
        out.update(headline=headline, advice=advice, code=code)
    else:
        out.update(headline=str(verdict), advice="")
    return out


def row_headline(row: dict[str, Any]) -> str:
    """The History list's short verdict for a journal summary row (``class`` and ``reason_code``)."""
    verdict = row.get("verdict")
    if verdict == IDENTIFIED:
        return str(row.get("class") or "identified")
    if verdict == REJECTED:
        return REJECTIONS.get(row.get("reason_code") or "", ("Could not measure", ""))[0]
    return {UNKNOWN: "Not recognised", AMBIGUOUS: "Unclear"}.get(verdict, str(verdict))


def _candidates(record: dict[str, Any]) -> list[str]:
    scores = record.get("scores") or {}
    ranked = sorted(((v, k) for k, v in scores.items() if isinstance(v, (int, float))), reverse=True)
    return [k for v, k in ranked[:3] if v >= 0.1]


def claim_check(record: dict[str, Any]) -> dict[str, Any] | None:
    """Compare the label's claim (``sample.claimed_material``) with an identified result.

    ``{ok, text}``; None when nothing was claimed or the result is not an identification.
    A claim of "biodegradable"/"compostable" is checked against the degradable table.
    """
    claimed = ((record.get("sample") or {}).get("claimed_material") or "").strip()
    if not claimed or record.get("verdict") != IDENTIFIED:
        return None
    cls = normalize_label(record.get("class"))
    measured_deg = record.get("degradable")
    measured = f"{cls} ({'biodegradable' if measured_deg else 'not biodegradable'})"
    label = normalize_label(claimed)
    if label in LABELS:
        claimed_deg = label in DEGRADABLE
        if label == cls:
            return {"ok": True, "text": f"Matches the claim: {label}."}
        if claimed_deg and not measured_deg:
            return {"ok": False, "text": f"Claim does not match: claimed {label} (biodegradable), measured {measured}."}
        return {"ok": False, "text": f"Claim does not match: claimed {label}, measured {measured}."}
    if _CLAIM_DEGRADABLE.search(claimed):
        if measured_deg:
            return {"ok": True, "text": f"Consistent with the claim \u201c{claimed}\u201d: measured {measured}."}
        return {"ok": False, "text": f"Claim does not match: \u201c{claimed}\u201d, measured {measured}."}
    return {"ok": None, "text": f"Claimed \u201c{claimed}\u201d: not a material code this device can compare; "
                                f"measured {measured}."}


def limit_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """T² and Q against the model's limits, with what each means and a fill fraction for the meter."""
    limits = record.get("limits") or {}
    rows = []
    for key, name, meaning in (("t2", "T\u00b2", "how unusual the spectrum is compared with the training samples"),
                               ("q", "Q", "how much of the spectrum the model cannot explain")):
        value, limit = record.get(key), limits.get(key)
        if not isinstance(value, (int, float)):
            continue
        row = {"key": key, "name": name, "value": value, "limit": limit, "meaning": meaning,
               "within": None, "fraction": None}
        if isinstance(limit, (int, float)) and limit > 0:
            row["within"] = value <= limit
            row["fraction"] = max(0.0, min(1.0, value / limit / 2))  # the limit sits at the meter's middle
        rows.append(row)
    return rows


def composition_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """``name: value ± uncertainty unit`` lines; quantity names made readable (``pp_wt_pct`` → ``PP``)."""
    rows = []
    for name, q in (record.get("composition") or {}).items():
        if not isinstance(q, dict):
            continue
        words = name.replace("_wt_pct", "").replace("_pct", "").replace("_", " ").strip()
        label = words.upper() if normalize_label(words) in LABELS else words
        rows.append({"name": name, "label": label, "value": q.get("value"), "uncertainty": q.get("uncertainty"),
                     "unit": q.get("unit") or ""})
    return rows
