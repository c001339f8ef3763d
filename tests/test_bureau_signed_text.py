"""The ingester's fast path (`host.bureau.signed_text`): the bytes it verifies are byte-identical
to `firmware.signing.canonical_json` of the record without its signature, and nothing the full
path would reject gets through it.
"""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import unsigned_record
from firmware.record import sign_record
from firmware.signing import canonical_json, generate_key, public_key_b64, signed_payload, unit_id_for
from host.bureau.payloads import Inbound, Parser, Rejected, ResultMsg
from host.bureau.signed_text import accept_canonical, signed_bytes
from host.bureau.units import KeyCache

KEY = generate_key()
PUB = public_key_b64(KEY)
UNIT = unit_id_for(PUB)

# JSON-representable values of the kinds a record holds (floats of every magnitude, any text).
finite = st.floats(allow_nan=False, allow_infinity=False)
text = st.text(max_size=40)


def _parser() -> Parser:
    keys = KeyCache()
    keys.put(UNIT, PUB)
    return Parser("plastinir", keys)


def _parse(parser: Parser, payload: bytes):
    return parser.parse(None, Inbound(f"plastinir/{UNIT}/result", payload, "2026-11-27T08:00:00.000Z"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spectrum=st.lists(finite, min_size=1, max_size=30), merchant=text, product=text,
       confidence=st.floats(0, 1), t2=finite, seq=st.integers(1, 2**63 - 1),
       extra_timing=st.dictionaries(text, finite, max_size=4))
def test_cut_bytes_are_canonical_json_of_the_unsigned_record(spectrum, merchant, product, confidence, t2, seq,
                                                            extra_timing):
    record = unsigned_record(UNIT, seq, spectrum=spectrum, wavelengths_nm=[1550.0 + i for i in range(len(spectrum))],
                             confidence=confidence, t2=t2, timings_ms=extra_timing,
                             sample={"sample_id": "S", "merchant": merchant, "product": product})
    signed = sign_record(record, KEY)
    payload = canonical_json(signed)            # what the journal stores and the link publishes
    assert signed_bytes(payload, signed["signature"]) == signed_payload(signed) == canonical_json(record)


def test_canonical_result_takes_the_fast_path_and_equals_the_full_path():
    parser = _parser()
    signed = sign_record(unsigned_record(UNIT, 7), KEY)
    payload = canonical_json(signed)
    fast = _parse(parser, payload)
    assert isinstance(fast, ResultMsg) and parser.paths == {"fast": 1, "full": 0}
    assert fast.doc == json.loads(payload) and fast.text == payload.decode() and fast.seq == 7


def test_valid_but_not_canonical_payload_is_accepted_by_the_full_path():
    parser = _parser()
    signed = sign_record(unsigned_record(UNIT, 8), KEY)
    for payload in (json.dumps(signed).encode(), json.dumps(signed, indent=1).encode(),
                    json.dumps(dict(reversed(list(signed.items())))).encode()):
        assert accept_canonical(payload, UNIT, lambda: parser.keys.get(None, UNIT)) is None
        assert isinstance(_parse(parser, payload), ResultMsg)
    assert parser.paths == {"fast": 0, "full": 3}


def _canonical_signed(seq: int = 9) -> tuple[dict, bytes]:
    signed = sign_record(unsigned_record(UNIT, seq), KEY)
    return signed, canonical_json(signed)


def test_tampered_payloads_never_pass_the_fast_path():
    signed, payload = _canonical_signed()
    sig = signed["signature"].encode()
    other_key = generate_key()
    tampered = {
        "field changed": payload.replace(b'"class":"HDPE"', b'"class":"PLA"'),
        "duplicate key appended": payload[:-1] + b',"class":"PLA"}',
        "second signature member": payload[:-1] + b',"signature":"' + sig + b'"}',
        "signature moved into sample": payload.replace(b'"sample":{', b'"sample":{"signature":"' + sig + b'",'),
        "signed by another key": canonical_json(sign_record(unsigned_record(UNIT, 9), other_key)),
        "escaped NUL": payload.replace(b'"S-001"', b'"S-\\u0000"'),
    }
    parser = _parser()
    for what, bad in tampered.items():
        assert accept_canonical(bad, UNIT, lambda: parser.keys.get(None, UNIT)) is None, what
        assert isinstance(_parse(parser, bad), Rejected), what
    assert parser.paths["fast"] == 0


def test_unknown_unit_and_foreign_topic_fall_through_to_the_full_path():
    signed, payload = _canonical_signed()
    assert accept_canonical(payload, UNIT, lambda: None) is None           # not registered
    assert accept_canonical(payload, "nir-000000000000", lambda: KEY.public_key()) is None  # another topic
    parser = Parser("plastinir", KeyCache())
    rejected = parser.parse(None, Inbound("plastinir/nir-000000000000/result", payload, "t"))
    assert isinstance(rejected, Rejected) and rejected.category == "topic"


def test_signed_bytes_refuses_what_it_cannot_cut():
    signed, payload = _canonical_signed()
    sig = signed["signature"]
    assert signed_bytes(payload, None) is None
    assert signed_bytes(payload, 'x"y' * 30) is None                       # would need escapes in JSON
    assert signed_bytes(payload, sig[:-4] + "AAAA") is None                 # another signature: not found
    assert signed_bytes(b'{"signature":"' + sig.encode() + b'"}', sig) is None  # nothing signed beside it
    first = b'{"signature":"' + sig.encode() + b'","unit":"u"}'
    assert signed_bytes(first, sig) == b'{"unit":"u"}'
