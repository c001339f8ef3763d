"""Building and signing the ``plastinir.result/1`` record of one measurement (DESIGN.md, Contracts).

The measurement pipeline knows the figures; this module knows the contract: field names, the
``class`` spelling, which verdicts need a reason, no NaN anywhere (a NaN cannot be signed
canonically and would make another JSON parser disagree), floats from numpy turned into plain
floats. Numbers are rounded to what the instrument resolves (reflectance to 1e-6, counts to
0.01, milliseconds to 0.001) so a record stays around 4 kB on the wire. Every record leaves
here signed and validated by `firmware.record`, the same code the bureau runs.
"""
from __future__ import annotations

import uuid as uuid_module
from typing import Any, Mapping, Sequence

import numpy as np
from pydantic import ValidationError

from .contracts import IDENTIFIED, REJECTED, RESULT_SCHEMA, VERDICTS, is_degradable, rejection_reason
from .errors import RecordError
from .record import Sample, sign_record
from .signing import json_safe

SAMPLE_FIELDS = tuple(Sample.model_fields)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        if name == "class_":
            return obj.get("class_", obj.get("class", default))
        return obj.get(name, default)
    return getattr(obj, name, default)


def _num(value: Any, digits: int | None = None) -> float | None:
    if value is None:
        return None
    v = float(value)
    if not np.isfinite(v):
        return None
    return round(v, digits) if digits is not None else v


def _unit_interval(value: Any, what: str) -> float | None:
    """A probability: clip float rounding (1.0000001) but refuse real nonsense."""
    v = _num(value)
    if v is None:
        return None
    if v < -1e-6 or v > 1 + 1e-6:
        raise RecordError(f"{what} = {v} is not a probability in [0, 1]")
    return round(min(1.0, max(0.0, v)), 6)


def normalize_sample(sample: Mapping[str, Any] | None) -> dict[str, str | None]:
    """The inspector's tags, every contract field present; blanks become None; unknown keys refused."""
    sample = dict(sample or {})
    out: dict[str, str | None] = {}
    for key, value in sample.items():
        if key not in SAMPLE_FIELDS:
            raise RecordError(f"sample metadata: unknown field {key!r} (known: {', '.join(SAMPLE_FIELDS)})")
        if value is not None and not isinstance(value, str):
            raise RecordError(f"sample metadata: {key} must be text, got {type(value).__name__}")
        text = value.strip() if isinstance(value, str) else None
        out[key] = text or None
    try:
        return Sample.model_validate({k: out.get(k) for k in SAMPLE_FIELDS}).model_dump()
    except ValidationError as exc:
        err = exc.errors()[0]
        raise RecordError(f"sample metadata: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


def rejected_outcome(code: str, detail: str | None = None) -> dict[str, Any]:
    """The prediction fields of a sample refused before the model (code from REJECTION_REASONS)."""
    return {"verdict": REJECTED, "reason": rejection_reason(code, detail), "class_": None,
            "degradable": None, "confidence": None, "scores": {}, "t2": None, "q": None,
            "limits": None, "composition": {}}


def outcome_fields(prediction: Any) -> dict[str, Any]:
    """Contract fields from a `firmware.inference.Prediction`-like object or a mapping."""
    verdict = _get(prediction, "verdict")
    if verdict not in VERDICTS:
        raise RecordError(f"prediction verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
    cls = _get(prediction, "class_")
    degradable = _get(prediction, "degradable")
    if verdict == IDENTIFIED and degradable is None and cls:
        degradable = is_degradable(cls)
    limits = _get(prediction, "limits")
    composition = {}
    for name, q in (_get(prediction, "composition") or {}).items():
        value, unc = _num(_get(q, "value"), 6), _num(_get(q, "uncertainty"), 6)
        if value is None or unc is None:
            continue  # no figure rather than a figure without its uncertainty (outside calibration)
        composition[str(name)] = {"value": value, "uncertainty": abs(unc), "unit": str(_get(q, "unit") or "")}
    return {
        "verdict": verdict,
        "reason": _get(prediction, "reason") or None,
        "class": str(cls) if cls else None,
        "degradable": None if degradable is None else bool(degradable),
        "confidence": _unit_interval(_get(prediction, "confidence"), "confidence"),
        "scores": {str(k): _unit_interval(v, f"score of {k}") for k, v in (_get(prediction, "scores") or {}).items()},
        "t2": _num(_get(prediction, "t2"), 6),
        "q": _num(_get(prediction, "q"), 9),
        "limits": None if limits is None else {"t2": _num(_get(limits, "t2"), 6), "q": _num(_get(limits, "q"), 9)},
        "composition": composition,
    }


def build_record(*, unit: str, seq: int, boot_id: str, time: str, clock_synced: bool,
                 model: Mapping[str, str], outcome: Any, sample: Mapping[str, Any] | None,
                 wavelengths_nm: Sequence[float], spectrum: Sequence[float] | np.ndarray,
                 raw_dark: Sequence[float] | np.ndarray, raw_lit: Sequence[float] | np.ndarray,
                 timings_ms: Mapping[str, float], calibration_id: str | None = None,
                 operator: str | None = None, record_uuid: str | None = None) -> dict[str, Any]:
    """The unsigned record; ``outcome`` is a Prediction-like object or `rejected_outcome(...)`.

    ``wavelengths_nm``/``spectrum`` are on the model's grid (what the model saw, shape (W,));
    ``raw_dark``/``raw_lit`` are the head's averaged counts (shape (C,)).
    """
    record = {
        "schema": RESULT_SCHEMA,
        "unit": unit,
        "seq": int(seq),
        "uuid": record_uuid or str(uuid_module.uuid4()),
        "boot_id": boot_id,
        "time": time,
        "clock_synced": bool(clock_synced),
        "model": {"name": str(model["name"]), "version": str(model["version"]), "sha256": str(model["sha256"])},
        "calibration_id": calibration_id,
        "operator": operator or None,
        "sample": normalize_sample(sample),
        **outcome_fields(outcome),
        "wavelengths_nm": [_num(w, 4) for w in np.asarray(wavelengths_nm, dtype=float)],
        "spectrum": [_num(v, 6) for v in np.asarray(spectrum, dtype=float)],
        "raw": {"dark": [_num(v, 2) for v in np.asarray(raw_dark, dtype=float)],
                "lit": [_num(v, 2) for v in np.asarray(raw_lit, dtype=float)]},
        "timings_ms": {str(k): _num(v, 3) for k, v in timings_ms.items() if _num(v) is not None},
    }
    return json_safe(record)


def build_signed_record(key, **fields: Any) -> dict[str, Any]:
    """`build_record` then sign (Ed25519, unit key) and validate against the schema."""
    return sign_record(build_record(**fields), key)


__all__ = ["build_record", "build_signed_record", "normalize_sample", "outcome_fields", "rejected_outcome",
           "SAMPLE_FIELDS"]
