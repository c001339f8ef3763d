"""Several ingesters on one shared subscription split the load; each result is stored once."""
from __future__ import annotations

import pytest

from conftest import register_unit, unsigned_record
from firmware.signing import generate_key, public_key_b64, unit_id_for
from host.bureau.migrations import open_database
from support.fake_unit import FakeUnit
from support.mqtt import wait_until


@pytest.mark.slow
def test_two_shared_ingesters_split_the_stream(broker, db_url, bureau_factory):
    keys = [generate_key() for _ in range(3)]
    ids = [unit_id_for(public_key_b64(k)) for k in keys]
    for k, u in zip(keys, ids):
        register_unit(db_url, u, public_key_b64(k))
    first = bureau_factory(db_url, broker.url, client_id="bureau-1", mqtt__shared_group="bureau")
    second = bureau_factory(db_url, broker.url, client_id="bureau-2", mqtt__shared_group="bureau")
    units = [FakeUnit(broker.url, u, k, unsigned_record, resend_after_s=3).start() for k, u in zip(keys, ids)]
    try:
        for _ in range(4):
            for unit in units:
                unit.measure(25)
        assert all(unit.wait_all_acked(20) for unit in units)
        # the unit's status is retained and read by both (idempotent), results by one of them
        units[0].publish_raw("status", "online", retain=True)
        assert wait_until(lambda: first.counters().get("status", 0) == 1 and second.counters().get("status", 0) == 1)
    finally:
        for unit in units:
            unit.stop()
    a, b = first.counters(), second.counters()
    assert a["stored"] > 0 and b["stored"] > 0, (a, b)
    assert a["stored"] + b["stored"] == 300
    with open_database(db_url) as db:
        assert sorted(db.query("SELECT unit, COUNT(*), COUNT(DISTINCT seq), MAX(seq) FROM results GROUP BY unit")) \
            == sorted((u, 100, 100, 100) for u in ids)
        assert db.query("SELECT COUNT(*) FROM gaps WHERE state = 'open'") == [(0,)]
