"""The bureau's side of the retained ``<p>/<unit>/calibration`` certificate: schema, technician
signature (and trust, when configured) and unit checked before it is stored; over a real broker,
a retained certificate is stored once with its id."""
from __future__ import annotations

import hashlib
import json

import pytest

from calibration_support import certificate
from conftest import register_unit, unsigned_record
from firmware.signing import generate_key, public_key_b64
from host.bureau.migrations import open_database
from host.bureau.payloads import CalibrationMsg, Inbound, Parser, Rejected
from host.bureau.units import KeyCache, add_unit
from support.fake_unit import FakeUnit
from support.mqtt import wait_until


def _parse(parser, db, unit, doc) -> object:
    payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return parser.parse(db, Inbound(f"plastinir/{unit}/calibration", payload, "2026-11-27T08:00:00.000Z"))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_certificates_are_checked_before_they_are_stored(db_url, unit_key):
    _, pub, unit = unit_key
    tech = generate_key()
    with open_database(db_url) as db:
        add_unit(db, unit, pub)
        parser = Parser("plastinir", KeyCache())
        good = certificate(unit, tech)
        assert isinstance(_parse(parser, db, unit, good), CalibrationMsg)
        cases = [({**good, "due": "2099-12-31"}, "signature", "signature does not verify"),
                 ({**good, "passed": False}, "schema", "contradicts the checks"),
                 ({k: v for k, v in good.items() if k != "checks"}, "schema", "checks"),
                 (certificate("nir-ffffffffffff", tech), "topic", "another unit's topic")]
        for doc, category, reason in cases:
            got = _parse(parser, db, unit, doc)
            assert isinstance(got, Rejected) and got.category == category and reason in got.reason, got
        strict = Parser("plastinir", KeyCache(), trusted_technicians=[public_key_b64(generate_key())])
        got = _parse(strict, db, unit, good)
        assert isinstance(got, Rejected) and got.category == "signature" and "does not trust" in got.reason
        trusting = Parser("plastinir", KeyCache(), trusted_technicians=[public_key_b64(tech)])
        assert isinstance(_parse(trusting, db, unit, good), CalibrationMsg)


@pytest.mark.broker
def test_a_retained_certificate_is_stored_once_with_its_id(broker, db_url, unit_key, bureau_factory):
    key, pub, unit_id = unit_key
    tech = generate_key()
    register_unit(db_url, unit_id, pub)
    cert = certificate(unit_id, tech, cid=f"cal-{unit_id}-20261127-abc123")
    payload = json.dumps(cert)
    unit = FakeUnit(broker.url, unit_id, key, unsigned_record).start()
    try:
        unit.publish_raw("calibration", payload, retain=True)          # what the MQTT link publishes
        ing = bureau_factory(db_url, broker.url)                        # subscribes after: gets the retained copy
        assert wait_until(lambda: ing.counters().get("calibrations", 0) >= 1)
        unit.publish_raw("calibration", json.dumps({**cert, "technician": "forger"}))
        assert wait_until(lambda: ing.counters().get("quarantined:signature", 0) >= 1)
    finally:
        unit.stop()
    with open_database(db_url) as db:
        assert db.query("SELECT certificate_id, sha256 FROM calibrations") == [
            (cert["calibration_id"], hashlib.sha256(payload.encode()).hexdigest())]
        assert json.loads(db.one("SELECT document FROM calibrations")[0])["signature"] == cert["signature"]
        assert db.query("SELECT category FROM quarantine") == [("signature",)]
