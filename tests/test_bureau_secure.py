"""TLS + password file + the shipped ACL: a unit writes only its own topics and reads only its own acks."""
from __future__ import annotations

import json
import socket
import ssl
import threading

import pytest

from conftest import register_unit, unsigned_record
from firmware.record import sign_record
from firmware.signing import generate_key, public_key_b64, unit_id_for
from host.bureau.migrations import open_database
from support.fake_unit import FakeUnit
from support.mqtt import ConnectRefused, close, connect, subscribe, wait_until


@pytest.fixture
def fleet(secure_broker_factory, tmp_path):
    keys = [generate_key(), generate_key()]
    ids = [unit_id_for(public_key_b64(k)) for k in keys]
    broker = secure_broker_factory(*ids)
    db_url = f"sqlite:///{tmp_path / 'bureau.db'}"
    for k, u in zip(keys, ids):
        register_unit(db_url, u, public_key_b64(k))
    password_file = tmp_path / "bureau-password"
    password_file.write_text(broker.users["bureau"] + "\n")
    return broker, db_url, keys, ids, password_file


def _unit_client(broker, unit):
    return connect(broker.tls_url, username=unit, password=broker.users[unit], ca_file=broker.ca_file)


def test_unit_cannot_publish_or_read_as_another_unit(fleet, bureau_factory):
    broker, db_url, (key_a, key_b), (a, b), password_file = fleet
    ing = bureau_factory(db_url, broker.tls_url, mqtt__username="bureau", mqtt__password_file=str(password_file),
                         mqtt__ca_file=str(broker.ca_file))
    reasons: dict[int, object] = {}
    lock = threading.Condition()

    def on_publish(client, userdata, mid, reason_code, properties):
        with lock:
            reasons[mid] = reason_code
            lock.notify_all()

    client = _unit_client(broker, a)
    client.on_publish = on_publish
    try:
        acks = subscribe(client, f"plastinir/{a}/ack")
        own = client.publish(f"plastinir/{a}/result", json.dumps(sign_record(unsigned_record(a, 1), key_a)), qos=1)
        forged = client.publish(f"plastinir/{b}/result", json.dumps(sign_record(unsigned_record(b, 1), key_a)), qos=1)
        status = client.publish(f"plastinir/{b}/status", "offline", qos=1)
        with lock:
            assert lock.wait_for(lambda: {own.mid, forged.mid, status.mid} <= set(reasons), 10)
        assert not reasons[own.mid].is_failure
        assert reasons[forged.mid].is_failure and reasons[forged.mid].getName() == "Not authorized"
        assert reasons[status.mid].getName() == "Not authorized"
        assert acks.wait_for(lambda msgs: len(msgs) == 1)
        # Mosquitto grants the SUBSCRIBE but checks 'read' on every delivery: A never sees B's traffic.
        snoop = subscribe(client, f"plastinir/{b}/#")
        unit_b = FakeUnit(broker.tls_url, b, key_b, unsigned_record, username=b, password=broker.users[b],
                          ca_file=broker.ca_file).start()
        try:
            unit_b.measure(1)
            assert unit_b.wait_all_acked(10)
        finally:
            unit_b.stop()
        assert snoop.messages == [] and len(acks.messages) == 1
    finally:
        close(client)
    assert wait_until(lambda: ing.counters().get("stored", 0) == 2)
    assert ing.counters().get("received", 0) == 2  # the forged messages never reached the bureau
    with open_database(db_url) as db:
        assert sorted(db.query("SELECT unit, operator FROM results")) == sorted([(a, "inspector-7"), (b, "inspector-7")])
        assert db.query("SELECT COUNT(*) FROM quarantine") == [(0,)]
        assert db.query("SELECT status FROM units WHERE unit = ?", (b,)) == [(None,)]


def test_wrong_password_anonymous_and_untrusted_tls_are_refused(fleet):
    broker, _, _, (a, _), _ = fleet
    with pytest.raises(ConnectRefused, match="Bad user name or password|Not authorized"):
        connect(broker.tls_url, username=a, password="wrong", ca_file=broker.ca_file)
    with pytest.raises(ConnectRefused, match="Not authorized"):
        connect(broker.url)  # the plain listener needs a password too
    # The broker's certificate verifies against the test CA (hostname included) and nothing else.
    # (Checked with the ssl module: paho leaks the socket of a failed handshake.)
    for ca, ok in ((broker.ca_file, True), (None, False)):
        ctx = ssl.create_default_context(cafile=str(ca) if ca else None)
        with socket.create_connection((broker.host, broker.tls_port), timeout=5) as raw:
            if ok:
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    assert tls.version() in ("TLSv1.2", "TLSv1.3")
            else:
                with pytest.raises(ssl.SSLCertVerificationError):
                    ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def test_units_deliver_over_tls_with_their_own_credentials(fleet, bureau_factory):
    broker, db_url, keys, ids, password_file = fleet
    bureau_factory(db_url, broker.tls_url, mqtt__username="bureau", mqtt__password_file=str(password_file),
                   mqtt__ca_file=str(broker.ca_file))
    units = [FakeUnit(broker.tls_url, u, k, unsigned_record, username=u, password=broker.users[u],
                      ca_file=broker.ca_file).start() for k, u in zip(keys, ids)]
    try:
        for unit in units:
            unit.measure(5)
        assert all(unit.wait_all_acked(10) for unit in units)
    finally:
        for unit in units:
            unit.stop()
    with open_database(db_url) as db:
        assert sorted(db.query("SELECT unit, COUNT(*) FROM results GROUP BY unit")) == sorted((u, 5) for u in ids)
