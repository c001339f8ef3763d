"""paho callbacks: reason codes decide readiness; an exception is counted, never raised into the loop;
and an ack is only ever sent for results already committed."""
from __future__ import annotations

import threading
from types import SimpleNamespace

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from conftest import bureau_config, register_unit, unsigned_record
from firmware.ack import parse_ack
from host.bureau.database import Database
from host.bureau.ingester import Ingester
from support.fake_unit import FakeUnit
from support.mqtt import close, connect, subscribe, wait_until


class _Client:
    def __init__(self):
        self.subscribed = []

    def subscribe(self, subs):
        self.subscribed.append(subs)
        return 0, 7


def _ingester(tmp_path) -> Ingester:
    return Ingester(bureau_config(f"sqlite:///{tmp_path / 'b.db'}", "mqtt://127.0.0.1:1"))


def test_refused_connack_and_suback_keep_the_ingester_not_ready(tmp_path):
    ing, client = _ingester(tmp_path), _Client()
    ing._on_connect(client, None, SimpleNamespace(session_present=False),
                    ReasonCode(PacketTypes.CONNACK, "Not authorized"), None)
    assert client.subscribed == [] and "Not authorized" in ing.last_error and not ing.ready
    ing._on_connect(client, None, SimpleNamespace(session_present=False), ReasonCode(PacketTypes.CONNACK, "Success"),
                    None)
    topics = [t for t, _ in client.subscribed[0]]
    assert "plastinir/+/result" in topics and not ing.ready
    codes = [ReasonCode(PacketTypes.SUBACK, "Granted QoS 1")] * len(topics)
    codes[0] = ReasonCode(PacketTypes.SUBACK, "Not authorized")
    ing._on_subscribe(client, None, 7, codes, None)
    assert not ing.ready and ing.counters()["subscribe_refused"] == 1
    assert "plastinir/+/result (Not authorized)" in ing.last_error
    ing._on_connect(client, None, SimpleNamespace(session_present=True), ReasonCode(PacketTypes.CONNACK, "Success"),
                    None)
    ing._on_subscribe(client, None, 7, [ReasonCode(PacketTypes.SUBACK, "Granted QoS 1")] * len(topics), None)
    assert ing.ready


def test_an_exception_in_a_callback_is_counted_not_raised(tmp_path):
    ing = _ingester(tmp_path)
    ing._accepting.set()

    class Broken:
        mid, qos, payload = 1, 1, b"{}"

        @property
        def topic(self):
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    ing._on_message(None, None, Broken())  # must not raise into paho's loop
    ing._on_subscribe(None, None, 99, None, None)  # malformed arguments
    assert ing.counters()["callback_errors"] == 2


def test_every_ack_names_only_committed_results(broker, db_url, unit_key, bureau_factory):
    key, pub, unit_id = unit_key
    register_unit(db_url, unit_id, pub)
    bureau_factory(db_url, broker.url)
    watcher_db = Database(db_url)
    lock, violations, checked = threading.Lock(), [], []

    def on_ack(client, userdata, message):  # runs the moment the ack arrives
        stored = parse_ack(message.payload).stored
        if stored:
            held = {s for (s,) in watcher_db.query(
                f"SELECT seq FROM results WHERE unit = ? AND seq IN ({', '.join('?' * len(stored))})",
                [unit_id, *stored])}
            with lock:
                violations.extend(sorted(set(stored) - held))
                checked.extend(stored)

    watcher = connect(broker.url)
    subscribe(watcher, f"plastinir/{unit_id}/ack").on_message = on_ack
    unit = FakeUnit(broker.url, unit_id, key, unsigned_record).start()
    try:
        for _ in range(10):
            unit.measure(20)
        assert unit.wait_all_acked(20)
        # The watcher is a second subscriber of the same acks, checking each against the
        # database: it may still be behind the unit when the unit has all of its acks.
        def all_checked():
            with lock:
                return len(set(checked)) >= 200
        assert wait_until(all_checked, 20), f"watcher saw acks for {len(set(checked))} of 200 results"
    finally:
        unit.stop()
        close(watcher)
        watcher_db.close()
    assert violations == [] and len(set(checked)) == 200
