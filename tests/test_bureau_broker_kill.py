"""Issue 5's proof: the broker SIGKILLed (no persistence) mid-stream loses nothing and duplicates nothing.

A unit-like publisher streams results and re-sends what the bureau has not acknowledged; the
broker dies with messages in flight (PUBACKed to the unit, not yet delivered to the bureau) and
comes back empty on the same port. Every result must end up in the database exactly once with
no gap left open.
"""
from __future__ import annotations

import threading
import time

import pytest

from conftest import register_unit, unsigned_record
from host.bureau.migrations import open_database
from support.fake_unit import FakeUnit
from support.mqtt import wait_until

N = 300


@pytest.mark.slow
def test_broker_sigkill_mid_stream(broker, db_url, unit_key, bureau_factory):
    key, pub, unit_id = unit_key
    register_unit(db_url, unit_id, pub)
    ing = bureau_factory(db_url, broker.url)
    unit = FakeUnit(broker.url, unit_id, key, unsigned_record, resend_after_s=1.0).start()
    done = threading.Event()

    def stream():
        for _ in range(N):
            unit.measure(1)
            time.sleep(0.002)
        done.set()

    sender = threading.Thread(target=stream, daemon=True)
    try:
        sender.start()
        assert wait_until(lambda: ing.counters().get("stored", 0) >= N // 3, 20)
        unit.measure(40)                  # a burst, so results are surely in flight at the kill
        outstanding = len(unit.unacked())
        broker.kill()                     # SIGKILL, persistence off: in-flight messages are gone
        time.sleep(0.3)
        broker.start()                    # same port, empty broker
        assert done.wait(30)
        assert unit.wait_all_acked(30), f"never acknowledged: {unit.unacked()[:20]}"
    finally:
        unit.stop()
    assert outstanding > 0 and ing.counters().get("disconnects", 0) >= 1
    with open_database(db_url) as db:
        assert db.query("SELECT COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM results") == [(N + 40, N + 40, 1, N + 40)]
        assert db.query("SELECT COUNT(*) FROM spectra") == [(N + 40,)]
        assert db.query("SELECT COUNT(*) FROM gaps WHERE state = 'open'") == [(0,)]
        assert db.query("SELECT COUNT(*) FROM quarantine") == [(0,)]
