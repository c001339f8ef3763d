"""The ingester against a real broker: stored once, acknowledged after commit, gaps asked for."""
from __future__ import annotations

import hashlib
import json

from calibration_support import certificate as signed_certificate
from conftest import register_unit, unsigned_record
from firmware.ack import parse_ack
from firmware.contracts import EVENT_SCHEMA, STATS_SCHEMA
from firmware.record import sign_record
from firmware.signing import generate_key, public_key_b64, unit_id_for
from host.bureau.migrations import open_database
from support.fake_unit import FakeUnit
from support.mqtt import wait_until


def _unit(broker, db_url, unit_key, **kw) -> FakeUnit:
    key, pub, unit = unit_key
    register_unit(db_url, unit, pub)
    return FakeUnit(broker.url, unit, key, unsigned_record, **kw).start()


def test_stream_is_stored_once_and_acknowledged(broker, db_url, unit_key, bureau_factory):
    ing = bureau_factory(db_url, broker.url)
    unit = _unit(broker, db_url, unit_key, resend_after_s=5)
    try:
        unit.measure(60, sample={"sample_id": "S-9", "merchant": "Shop B", "location": "Delft", "batch": None,
                                 "product": "cup", "claimed_material": "PLA"})
        assert unit.wait_all_acked(20), unit.unacked()
    finally:
        unit.stop()
    acked = sorted(s for a in unit.acks for s in a.stored)
    assert acked == list(range(1, 61))
    assert all(a.missing == [] for a in unit.acks)
    with open_database(db_url) as db:
        assert db.query("SELECT COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM results") == [(60, 60, 1, 60)]
        row = db.one("SELECT merchant, location, claimed_material, class, verdict, clock_synced FROM results WHERE seq = 7")
        assert row[:5] == ("Shop B", "Delft", "PLA", "HDPE", "identified") and bool(row[5]) is True
        stored = db.one("SELECT record FROM spectra WHERE seq = 7")[0]
        assert stored == unit.journal[7].decode()  # the signed record exactly as received
        assert db.one("SELECT highest_seq FROM units")[0] == 60
        assert db.query("SELECT COUNT(*) FROM gaps") == [(0,)]
    c = ing.counters()
    assert c["stored"] == 60 and c.get("quarantined", 0) == 0


def test_duplicate_is_stored_once_and_acknowledged_again(broker, db_url, unit_key, bureau_factory):
    ing = bureau_factory(db_url, broker.url)
    key, _, unit_id = unit_key
    unit = _unit(broker, db_url, unit_key, resend_after_s=60)
    try:
        payload = json.dumps(sign_record(unsigned_record(unit_id, 1), key))
        unit.publish_raw("result", payload)
        assert wait_until(lambda: len(unit.acks) >= 1)
        unit.publish_raw("result", payload)
        assert wait_until(lambda: len(unit.acks) >= 2)
    finally:
        unit.stop()
    assert [a.stored for a in unit.acks] == [[1], [1]]
    with open_database(db_url) as db:
        assert db.query("SELECT COUNT(*) FROM results") == [(1,)]
    assert ing.counters()["duplicates"] == 1


def test_gap_is_asked_for_then_filled_or_closed_as_purged(broker, db_url, unit_key, bureau_factory):
    bureau_factory(db_url, broker.url)
    unit = _unit(broker, db_url, unit_key, resend_after_s=60)  # only the bureau's 'missing' makes it re-send
    try:
        unit.measure(1)
        unit.measure(1, publish=False)  # seq 2: taken while the link was down
        unit.measure(1)
        assert unit.wait_all_acked(10), unit.unacked()
        assert any(a.missing == [[2, 2]] for a in unit.acks)
        unit.measure(1, publish=False)  # seq 4: purged from the journal before it went out
        unit.purge([4])
        unit.measure(1)
        assert unit.wait_all_acked(10)
        with open_database(db_url) as db:
            closed = wait_until(lambda: db.query("SELECT first_seq, last_seq, state FROM gaps") == [(4, 4, "purged")])
            assert closed, (db.query("SELECT first_seq, last_seq, state FROM gaps"), unit.acks[-2:],
                            unit.purged_reports)
            assert sorted(r[0] for r in db.query("SELECT seq FROM results")) == [1, 2, 3, 5]
            event = db.one("SELECT kind, code, detail FROM events WHERE source = 'unit'")
            assert event[:2] == ("link", "purged") and json.loads(event[2]) == {"purged": [[4, 4]]}
    finally:
        unit.stop()


def test_health_topics_fill_units_events_and_calibrations(broker, db_url, unit_key, bureau_factory):
    ing = bureau_factory(db_url, broker.url)
    key, pub, unit_id = unit_key
    unit = _unit(broker, db_url, unit_key)
    birth = {"schema": "plastinir.birth/1", "unit": unit_id, "time": "2026-11-27T08:00:00.000Z",
             "firmware": "0.1.0", "model": {"name": "fpi-1550-1850-v1", "version": "1", "sha256": "a" * 64},
             "calibration_id": "CAL-7", "boot_id": "b1", "public_key": pub, "head": "fpi"}
    stats = {"schema": STATS_SCHEMA, "unit": unit_id, "time": "2026-11-27T08:01:00.000Z", "boot_id": "b1",
             "state": "ready", "state_reason": None, "uptime_s": 60.0, "outbox_depth": 3,
             "oldest_unacked_age_s": 12.5, "last_seq": 0, "reference_age_s": 800.0, "temperature_c": 24.9,
             "model": birth["model"], "calibration_id": "CAL-7", "calibration_due": "2027-05-27",
             "lamp_hours": 12.3, "disk_free_bytes": 10**9, "clock_synced": True}
    event = {"schema": EVENT_SCHEMA, "unit": unit_id, "time": "2026-11-27T08:02:00.000Z", "kind": "fault",
             "severity": "error", "code": "drdy-timeout", "message": "DRDY timeout after 0.5 s", "detail": {"pin": 17}}
    certificate = json.dumps(signed_certificate(unit_id, generate_key(), cid="CAL-7"))
    try:
        unit.publish_raw("birth", json.dumps(birth))
        unit.publish_raw("status", "online")
        unit.publish_raw("stats", json.dumps(stats))
        unit.publish_raw("event/fault", json.dumps(event))
        unit.publish_raw("event/quality", json.dumps(event))  # kind in topic and payload differ
        unit.publish_raw("calibration", certificate)
        unit.publish_raw("calibration", certificate)  # retained twin re-delivered: stored once
        assert wait_until(lambda: ing.counters().get("received", 0) >= 7)
        assert wait_until(lambda: ing.counters().get("queued", 1) == 0 and ing.counters().get("calibrations", 0) >= 1)
    finally:
        unit.stop()
    with open_database(db_url) as db:
        status, birth_doc, stats_doc, last_seen = db.one("SELECT status, birth, stats, last_seen FROM units")
        assert status == "online" and last_seen
        assert json.loads(birth_doc)["firmware"] == "0.1.0"
        assert json.loads(stats_doc)["outbox_depth"] == 3
        assert db.query("SELECT kind, severity, code, detail FROM events WHERE source = 'unit'") == [
            ("fault", "error", "drdy-timeout", '{"pin": 17}')]
        assert db.query("SELECT certificate_id, sha256 FROM calibrations") == [
            ("CAL-7", hashlib.sha256(certificate.encode()).hexdigest())]
        assert db.query("SELECT category, topic FROM quarantine") == [("topic", f"plastinir/{unit_id}/event/quality")]


def test_unknown_unit_is_quarantined_until_registered(broker, db_url, bureau_factory):
    ing = bureau_factory(db_url, broker.url, ingest__key_cache_ttl_s=0)
    key = generate_key()
    pub = public_key_b64(key)
    unit_id = unit_id_for(pub)
    unit = FakeUnit(broker.url, unit_id, key, unsigned_record, resend_after_s=0.3).start()
    try:
        unit.measure(2)
        assert wait_until(lambda: ing.counters().get("quarantined:unknown-unit", 0) >= 4)  # re-sent, refused again
        assert unit.unacked() == [1, 2] and unit.acks == []
        register_unit(db_url, unit_id, pub)
        assert unit.wait_all_acked(10)
    finally:
        unit.stop()
    with open_database(db_url) as db:
        assert db.query("SELECT COUNT(*) FROM results") == [(2,)]
        # the same payload re-sent is one quarantine row with a count, not a row per attempt
        rows = db.query("SELECT category, seq, times FROM quarantine ORDER BY seq")
        assert [r[:2] for r in rows] == [("unknown-unit", 1), ("unknown-unit", 2)] and min(r[2] for r in rows) >= 2


def test_reused_seq_with_another_record_is_quarantined_not_acknowledged(broker, db_url, unit_key, bureau_factory):
    ing = bureau_factory(db_url, broker.url)
    key, _, unit_id = unit_key
    unit = _unit(broker, db_url, unit_key, resend_after_s=60)
    try:
        unit.publish_raw("result", json.dumps(sign_record(unsigned_record(unit_id, 1), key)))
        assert wait_until(lambda: len(unit.acks) == 1)
        unit.publish_raw("result", json.dumps(sign_record(unsigned_record(unit_id, 1, operator="someone else"), key)))
        assert wait_until(lambda: ing.counters().get("quarantined:seq-conflict", 0) == 1)
    finally:
        unit.stop()
    assert len(unit.acks) == 1
    with open_database(db_url) as db:
        assert db.query("SELECT operator FROM results") == [("inspector-7",)]


def test_trust_on_first_use_only_when_enabled(broker, db_url, bureau_factory, tmp_path):
    key = generate_key()
    pub = public_key_b64(key)
    unit_id = unit_id_for(pub)
    birth = json.dumps({"schema": "plastinir.birth/1", "unit": unit_id, "time": "2026-11-27T08:00:00.000Z",
                        "firmware": "0.1.0", "model": None, "calibration_id": None, "boot_id": "b1",
                        "public_key": pub, "head": "led8"})
    off = bureau_factory(db_url, broker.url)
    unit = FakeUnit(broker.url, unit_id, key, unsigned_record, resend_after_s=0.3).start()
    try:
        unit.publish_raw("birth", birth)
        assert wait_until(lambda: off.counters().get("quarantined:unknown-unit", 0) == 1)
        off.stop()
        lab_db = f"sqlite:///{tmp_path / 'lab.db'}"
        bureau_factory(lab_db, broker.url, client_id="lab", ingest__trust_on_first_use=True)
        unit.publish_raw("birth", birth)
        unit.measure(3)
        assert unit.wait_all_acked(10)
        with open_database(lab_db) as db:
            assert db.query("SELECT unit, public_key, registered_by FROM units") == [(unit_id, pub, "tofu")]
            assert db.query("SELECT COUNT(*) FROM results") == [(3,)]
    finally:
        unit.stop()


def test_birth_announcing_another_key_is_quarantined(broker, db_url, unit_key, bureau_factory):
    ing = bureau_factory(db_url, broker.url)
    _, _, unit_id = unit_key
    unit = _unit(broker, db_url, unit_key)
    try:
        other = public_key_b64(generate_key())
        unit.publish_raw("birth", json.dumps({
            "schema": "plastinir.birth/1", "unit": unit_id, "time": "2026-11-27T08:00:00.000Z", "firmware": "0.1.0",
            "model": None, "calibration_id": None, "boot_id": "b1", "public_key": other, "head": "fpi"}))
        assert wait_until(lambda: ing.counters().get("quarantined:key-mismatch", 0) == 1)
    finally:
        unit.stop()
    with open_database(db_url) as db:
        assert db.one("SELECT birth FROM units")[0] is None


def test_missing_seqs_are_asked_for_again_when_the_unit_comes_online(broker, db_url, unit_key, bureau_factory):
    from support.mqtt import close, connect, subscribe
    key, pub, unit_id = unit_key
    register_unit(db_url, unit_id, pub)
    ing = bureau_factory(db_url, broker.url, ingest__gap_request_interval_s=0)
    client = connect(broker.url)
    try:
        acks = subscribe(client, f"plastinir/{unit_id}/ack")
        for seq in (1, 3):
            client.publish(f"plastinir/{unit_id}/result", json.dumps(sign_record(unsigned_record(unit_id, seq), key)),
                           qos=1)
        assert acks.wait_for(lambda msgs: sum(len(parse_ack(m.payload).stored) for m in msgs) == 2)
        assert parse_ack(acks.messages[-1].payload).missing == [[2, 2]]
        before = len(acks.messages)
        client.publish(f"plastinir/{unit_id}/status", "online", qos=1)
        assert acks.wait_for(lambda msgs: len(msgs) > before)
        again = parse_ack(acks.messages[-1].payload)
        assert (again.stored, again.missing) == ([], [[2, 2]])
        # counted right after the ack is handed to paho: the ack can be here first
        assert wait_until(lambda: ing.counters().get("gap_requests") == 1), ing.counters()
    finally:
        close(client)


def test_retained_messages_redelivered_on_restart_are_not_news(broker, db_url, unit_key, bureau_factory):
    _, pub, unit_id = unit_key
    unit = _unit(broker, db_url, unit_key)
    first = bureau_factory(db_url, broker.url, client_id="first")
    try:
        unit.publish_raw("status", "offline", retain=True)
        assert wait_until(lambda: first.counters().get("status", 0) == 1)
    finally:
        unit.stop()
    first.stop()
    with open_database(db_url) as db:
        before = db.one("SELECT status, status_at, last_seen FROM units")
    assert before[0] == "offline" and before[2] == before[1]
    second = bureau_factory(db_url, broker.url, client_id="second")  # gets the retained 'offline' again
    assert wait_until(lambda: second.counters().get("status", 0) == 1)
    with open_database(db_url) as db:
        assert db.one("SELECT status, status_at, last_seen FROM units") == before
