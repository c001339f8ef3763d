import pytest

from conftest import unsigned_record
from firmware.errors import RecordError, SignatureError
from firmware.record import sign_record, utc_now_rfc3339, validate_record, verify_record


def test_sign_validate_verify(unit_key):
    key, pub, unit = unit_key
    rec = sign_record(unsigned_record(unit), key)
    parsed = verify_record(rec, pub)
    assert parsed.class_ == "HDPE" and parsed.seq == 1


def test_tampered_record_fails_signature(unit_key):
    key, pub, unit = unit_key
    rec = sign_record(unsigned_record(unit), key)
    rec["class"] = "PLA"
    with pytest.raises(SignatureError):
        verify_record(rec, pub)


@pytest.mark.parametrize("changes, match", [
    ({"schema": "plastinir.result/2"}, "schema"),
    ({"seq": 0}, "seq"),
    ({"seq": "5"}, "seq"),
    ({"seq": True}, "seq"),
    ({"verdict": "maybe"}, "verdict"),
    ({"verdict": "unknown", "reason": None, "class": None}, "needs a reason"),
    ({"verdict": "identified", "class": None}, "needs a class"),
    ({"time": "2026-11-27 08:31:08"}, "RFC 3339"),
    ({"time": "2026-13-27T08:31:08Z"}, "time"),
    ({"spectrum": [0.5]}, "spectrum has 1 points"),
    ({"sample": {"sample_id": "x" * 201}}, "sample.sample_id"),
    ({"extra_field": 1}, "extra_field"),
    ({"unit": "a/b"}, "unit"),
    ({"confidence": 1.5}, "confidence"),
    ({"model": {"name": "m", "version": "1", "sha256": "xyz"}}, "model.sha256"),
])
def test_schema_violations_are_named(unit_key, changes, match):
    key, _, unit = unit_key
    doc = unsigned_record(unit, **changes)
    doc["signature"] = "A" * 88
    with pytest.raises(RecordError, match=match):
        validate_record(doc)


def test_non_object_refused():
    with pytest.raises(RecordError, match="JSON object"):
        validate_record([1, 2])


def test_utc_now_format():
    text = utc_now_rfc3339()
    assert text.endswith("Z") and len(text) == len("2026-11-27T08:31:08.123Z")
