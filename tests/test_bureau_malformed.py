"""Malformed, tampered and misdirected payloads are counted and quarantined; the ingester goes on.

Hand-made cases name each rule (issue 5: bad JSON, wrong types, huge fields, wrong schema
version, tampered signature, another unit's topic, unknown unit); Hypothesis then throws
generated payloads at the parser alone (many) and at a live ingester through the real broker.
"""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import register_unit, unsigned_record
from firmware.contracts import STATS_SCHEMA
from firmware.record import sign_record, verify_record
from firmware.signing import generate_key, public_key_b64, unit_id_for
from host.bureau.migrations import open_database
from host.bureau.payloads import Inbound, Parser, Rejected, ResultMsg
from host.bureau.units import KeyCache, add_unit
from support.mqtt import connect, close, wait_until

MAX_PAYLOAD = 100_000


def _signed(unit, key, seq, **changes) -> dict:
    return sign_record(unsigned_record(unit, seq, **changes), key)


def hand_made_cases(unit, key, other_unit, stranger, stranger_key):
    """(topic leaf, topic unit, payload, expected quarantine category)."""
    good = _signed(unit, key, 1)
    text = json.dumps(good)
    tampered = dict(good, **{"class": "PLA"})
    big_field = {**unsigned_record(unit, 2), "sample": {**unsigned_record(unit, 2)["sample"], "merchant": "x" * 10_000}}
    surrogate = text.replace('"Shop A"', '"Shop \\ud800"')
    nul = text.replace('"Shop A"', '"Shop \\u0000"')
    return [
        ("result", unit, b"{not json", "json"),
        ("result", unit, b"\xff\xfe\x00garbage", "encoding"),
        ("result", unit, b"[1, 2, 3]", "json"),
        ("result", unit, text.replace('"confidence": 0.97', '"confidence": NaN').encode(), "json"),
        ("result", unit, ('{"schema": "plastinir.result/1", ' + text[1:]).encode(), "json"),  # duplicate key
        ("result", unit, json.dumps({**good, "seq": "1"}).encode(), "schema"),  # wrong type
        ("result", unit, json.dumps({**good, "confidence": "high"}).encode(), "schema"),
        ("result", unit, json.dumps({**good, "seq": 2**70}).encode(), "schema"),
        ("result", unit, json.dumps(big_field).encode(), "schema"),  # huge field (unsigned: schema first)
        ("result", unit, b'{"x": "' + b"y" * (MAX_PAYLOAD + 10) + b'"}', "size"),
        ("result", unit, b"[" * 60_000 + b"]" * 60_000, "size"),
        ("result", unit, b"[" * 40_000 + b"]" * 40_000, "json"),  # nested too deeply
        ("result", unit, json.dumps({**good, "schema": "plastinir.result/2"}).encode(), "schema"),
        ("result", unit, json.dumps(tampered).encode(), "signature"),
        ("result", unit, json.dumps({**good, "signature": "A" * 88}).encode(), "signature"),
        ("result", other_unit, text.encode(), "topic"),  # another unit's topic
        ("result", stranger, json.dumps(_signed(stranger, stranger_key, 1)).encode(), "unknown-unit"),
        ("result", unit, surrogate.encode(), "encoding"),
        ("result", unit, nul.encode(), "text"),
        ("status", unit, b"maybe", "schema"),
        ("stats", unit, json.dumps({"schema": STATS_SCHEMA, "unit": unit, "time": "t", "outbox_depth": "3"}).encode(),
         "schema"),
        ("event/link", unit, json.dumps({"schema": "plastinir.event/1", "unit": unit, "time": "t", "kind": "link",
                                         "severity": "info", "code": "purged", "message": "",
                                         "detail": {"purged": [[5, 2]]}}).encode(), "schema"),
        ("event/bogus", unit, b"{}", "schema"),
        ("ack", unit, b"{}", "topic"),
    ]


@pytest.fixture
def units(db_url, unit_key):
    key, pub, unit = unit_key
    other_key = generate_key()
    other = unit_id_for(public_key_b64(other_key))
    register_unit(db_url, unit, pub)
    register_unit(db_url, other, public_key_b64(other_key))
    stranger_key = generate_key()
    return key, unit, other, unit_id_for(public_key_b64(stranger_key)), stranger_key


def test_hand_made_cases_are_quarantined_and_the_ingester_goes_on(broker, db_url, units, bureau_factory):
    key, unit, other, stranger, stranger_key = units
    ing = bureau_factory(db_url, broker.url, ingest__max_payload_bytes=MAX_PAYLOAD,
                         ingest__quarantine_keep_bytes=4096)
    cases = hand_made_cases(unit, key, other, stranger, stranger_key)
    client = connect(broker.url)
    try:
        for leaf, topic_unit, payload, _ in cases:
            client.publish(f"plastinir/{topic_unit}/{leaf}", payload, qos=1).wait_for_publish(5)
        expected = {}
        for *_, category in cases:
            expected[category] = expected.get(category, 0) + 1
        # "ack" is not subscribed: the bureau never sees it; everything else is counted
        expected["topic"] -= 1
        assert wait_until(lambda: ing.counters().get("quarantined", 0) >= sum(expected.values()), 15), ing.counters()
        client.publish(f"plastinir/{unit}/result", json.dumps(_signed(unit, key, 5)), qos=1)
        assert wait_until(lambda: ing.counters().get("stored", 0) == 1, 10)
    finally:
        close(client)
    counts = ing.counters()
    assert {k.split(":")[1]: v for k, v in counts.items() if k.startswith("quarantined:")} == expected
    assert counts.get("callback_errors", 0) == 0 and counts.get("worker_errors", 0) == 0 and ing.healthy()
    with open_database(db_url) as db:
        assert db.query("SELECT unit, seq FROM results") == [(unit, 5)]
        sizes = db.query("SELECT payload_size, LENGTH(payload), reason FROM quarantine WHERE category = 'size'")
        assert all(size > MAX_PAYLOAD and kept == 4096 and "exceeds the limit" in reason for size, kept, reason in sizes)
        reasons = " | ".join(f"{c}: {r}" for c, r in db.query("SELECT category, reason FROM quarantine"))
        for words in ["signature: signature does not verify", "signature: signature must be 64 bytes",
                      "topic: document of unit", "another unit's topic", "unknown-unit: unit", "is not registered",
                      "json: payload is not JSON: nested too deeply", "duplicate key(s) ['schema']",
                      "non-standard JSON constant NaN", "encoding: payload is not UTF-8",
                      "encoding: a text field holds an unpaired surrogate", "text: a text field contains a NUL",
                      "schema 'plastinir.result/2' is not 'plastinir.result/1'", "sample.merchant",
                      "status 'maybe' is not one of online, offline, stopped", "purged range [5, 2] runs backwards",
                      "invalid plastinir.event/1: schema: Field required"]:
            assert words in reasons


# --- Hypothesis -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20)
FIELDS = sorted(unsigned_record("u", 1)) + ["signature", "extra"]


@st.composite
def payloads(draw, unit, key):
    """Raw bytes, arbitrary JSON, or a real record with one field replaced (signed or not)."""
    kind = draw(st.sampled_from(["bytes", "json", "mutated", "mutated-signed"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    record = unsigned_record(unit, draw(st.integers(1, 50)))
    field = draw(st.sampled_from(FIELDS))
    record[field] = draw(json_values)
    if kind == "mutated-signed":
        try:
            record = sign_record(record, key)
        except Exception:  # the contract refuses to sign it; send it unsigned then
            pass
    return json.dumps(record).encode()


def _stored_is_valid(payload: bytes, unit: str, pub: str) -> bool:
    try:
        verify_record(json.loads(payload), pub)
        return True
    except Exception:
        return False


@pytest.fixture
def parser_db(tmp_path, unit_key):
    _, pub, unit = unit_key
    db = open_database(f"sqlite:///{tmp_path / 'p.db'}")
    add_unit(db, unit, pub)
    yield db
    db.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_parser_never_raises_and_accepts_only_verified_records(parser_db, unit_key, data):
    key, pub, unit = unit_key
    payload = data.draw(payloads(unit, key))
    parser = Parser("plastinir", KeyCache(), max_payload_bytes=MAX_PAYLOAD)
    parsed = parser.parse(parser_db, Inbound(f"plastinir/{unit}/result", payload, "2026-11-27T08:00:00.000Z"))
    assert isinstance(parsed, (Rejected, ResultMsg))
    assert isinstance(parsed, ResultMsg) == _stored_is_valid(payload, unit, pub)
    if isinstance(parsed, Rejected):
        assert parsed.reason and parsed.category


@pytest.mark.slow
def test_generated_payloads_through_the_broker_never_stop_the_ingester(broker, db_url, unit_key, bureau_factory):
    key, pub, unit = unit_key
    register_unit(db_url, unit, pub)
    ing = bureau_factory(db_url, broker.url, ingest__max_payload_bytes=MAX_PAYLOAD)
    client = connect(broker.url)
    sent = {"n": 0}

    def accounted():
        """Every message sent has been received and its fate committed (stored, duplicate or
        quarantined). ``queued == 0`` alone is not that: a batch being parsed or committed is
        no longer queued."""
        c = ing.counters()
        return (c.get("received", 0) == sent["n"] and c.get("queued", 1) == 0
                and c.get("stored", 0) + c.get("duplicates", 0) + c.get("quarantined", 0) == sent["n"])

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(data=st.data())
    def run(data):
        payload = data.draw(payloads(unit, key))
        client.publish(f"plastinir/{unit}/result", payload, qos=1).wait_for_publish(5)
        sent["n"] += 1
        assert wait_until(accounted, 10), ing.counters()

    try:
        run()
        client.publish(f"plastinir/{unit}/result", json.dumps(_signed(unit, key, 10_000)), qos=1)
        sent["n"] += 1
        assert wait_until(accounted, 10), ing.counters()
    finally:
        close(client)
    assert ing.healthy() and ing.counters().get("callback_errors", 0) == 0
    with open_database(db_url) as db:
        for (record,) in db.query("SELECT record FROM spectra"):
            verify_record(json.loads(record), pub)  # whatever got in is a valid record of this unit
        assert (10_000,) in db.query("SELECT seq FROM results")
