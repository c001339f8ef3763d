import math

import numpy as np
import pytest

from firmware.errors import RecordError
from firmware.record import verify_record
from firmware.result_builder import (build_record, build_signed_record, normalize_sample, outcome_fields,
                                     rejected_outcome)
from runtime_fakes import FakePrediction

WL = np.arange(1550.0, 1851.0, 5.0)
MODEL = {"name": "fpi-1550-1850-v1", "version": "1", "sha256": "c" * 64}


def fields(unit, **changes):
    base = dict(unit=unit, seq=7, boot_id="3-abc", time="2026-11-27T08:31:08.123Z", clock_synced=True,
                model=MODEL, outcome=rejected_outcome("dark", "median reflectance 3.0%"), sample={"sample_id": "S-1"},
                wavelengths_nm=WL, spectrum=np.full(WL.size, 0.03), raw_dark=np.full(61, 1200.0),
                raw_lit=np.full(61, 9e4), timings_ms={"acquire": 1830.0, "total": 1850.0})
    base.update(changes)
    return base


def test_rejected_record_signs_and_verifies(unit_key):
    key, pub, unit = unit_key
    rec = verify_record(build_signed_record(key, **fields(unit)), pub)
    assert rec.verdict == "rejected" and rec.reason == "dark: cannot identify black/dark samples by NIR " \
                                                         "(median reflectance 3.0%)"
    assert rec.class_ is None and rec.scores == {} and rec.sample.sample_id == "S-1" and rec.sample.merchant is None


def test_prediction_fields_converted(unit_key):
    key, pub, unit = unit_key
    pred = FakePrediction("identified", None, "PLA", None, np.float32(1.0000001), {"PLA": np.float64(0.99),
                          "PET": 0.01}, np.float64(2.5), 0.004, {"t2": 10.0, "q": 0.01},
                          {"pla_wt_pct": {"value": 97.5, "uncertainty": -1.2, "unit": "wt%"},
                           "pbat_wt_pct": {"value": float("nan"), "uncertainty": 2.0, "unit": "wt%"}})
    signed = build_signed_record(key, **fields(unit, outcome=pred))
    rec = verify_record(signed, pub)
    assert rec.class_ == "PLA" and rec.degradable is True  # filled from the contract's table
    assert rec.confidence == 1.0  # float rounding clipped, not refused
    assert rec.composition["pla_wt_pct"].uncertainty == 1.2
    assert "pbat_wt_pct" not in rec.composition  # no figure without a finite value
    assert signed["limits"] == {"t2": 10.0, "q": 0.01}


def test_no_nan_anywhere(unit_key):
    key, pub, unit = unit_key
    spectrum = np.full(WL.size, 0.5)
    spectrum[3] = np.nan
    signed = build_signed_record(key, **fields(unit, spectrum=spectrum, timings_ms={"acquire": float("nan"),
                                                                                   "total": 2.0}))
    assert signed["spectrum"][3] is None and "acquire" not in signed["timings_ms"]
    verify_record(signed, pub)


def test_numbers_rounded_to_instrument_resolution(unit_key):
    _, _, unit = unit_key
    rec = build_record(**fields(unit, spectrum=np.full(WL.size, 1 / 3), raw_lit=np.full(61, 12345.6789)))
    assert rec["spectrum"][0] == 0.333333 and rec["raw"]["lit"][0] == 12345.68


@pytest.mark.parametrize("sample, match", [
    ({"colour": "red"}, "unknown field 'colour'"),
    ({"merchant": 5}, "merchant must be text"),
    ({"product": "x" * 201}, "product"),
])
def test_bad_sample_metadata_named(sample, match):
    with pytest.raises(RecordError, match=match):
        normalize_sample(sample)


def test_sample_blanks_become_none():
    s = normalize_sample({"merchant": "  Shop A ", "batch": "  "})
    assert s["merchant"] == "Shop A" and s["batch"] is None and set(s) == {
        "sample_id", "merchant", "location", "batch", "product", "claimed_material"}


def test_bad_prediction_refused():
    with pytest.raises(RecordError, match="verdict 'sure'"):
        outcome_fields({"verdict": "sure"})
    with pytest.raises(RecordError, match="confidence = 1.5"):
        outcome_fields({"verdict": "identified", "class": "PP", "confidence": 1.5})
    assert math.isclose(outcome_fields({"verdict": "identified", "class": "PP", "confidence": 0.5})["confidence"], 0.5)
