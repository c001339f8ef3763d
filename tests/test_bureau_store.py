"""The batch write path directly (big batches take PostgreSQL's COPY path): idempotent by
(unit, seq), conflicting records under one seq quarantined, gaps and acks per unit."""
from __future__ import annotations

import json

import pytest

from conftest import unsigned_record
from firmware.record import sign_record
from host.bureau.errors import DatabaseError
from host.bureau.migrations import open_database
from host.bureau.payloads import Inbound, Parser, Rejected, ResultMsg
from host.bureau.store import Store
from host.bureau.units import KeyCache, add_unit


def _parsed(parser, db, unit, key, seqs, **changes):
    out = []
    for seq in seqs:
        payload = json.dumps(sign_record(unsigned_record(unit, seq, **changes), key)).encode()
        out.append(parser.parse(db, Inbound(f"plastinir/{unit}/result", payload, "2026-11-27T08:00:00.000Z")))
    assert all(isinstance(p, ResultMsg) for p in out)
    return out


def test_big_batches_are_idempotent_and_catch_reused_seqs(db_url, unit_key):
    key, pub, unit = unit_key
    with open_database(db_url) as db:
        add_unit(db, unit, pub)
        parser, store = Parser("plastinir", KeyCache()), Store(db)
        made = dict(zip(range(1, 61), _parsed(parser, db, unit, key, range(1, 61))))
        first = store.write([made[s] for s in range(1, 31)])
        assert first.counts["stored"] == 30 and first.acks[unit] == (list(range(1, 31)), [])
        again = [made[s] for s in range(21, 51)]                          # 10 re-sent, 20 new ...
        again[0] = _parsed(parser, db, unit, key, [21], operator="x")[0]  # ... one a different record, seq reused
        again.append(_parsed(parser, db, unit, key, [50])[0])             # another record for 50 in the batch
        again.append(parser.parse(db, made[49].inbound))                  # and 49 received twice
        second = store.write(again + [made[60]])
        assert second.counts["stored"] == 21 and second.counts["duplicates"] == 10
        assert second.counts["quarantined:seq-conflict"] == 2
        stored, missing = second.acks[unit]
        assert stored == [s for s in range(22, 61) if s <= 50 or s == 60] and missing == [(51, 59)]
        assert db.query("SELECT COUNT(*), MAX(seq) FROM results") == [(51, 60)]
        assert db.query("SELECT COUNT(*) FROM spectra") == [(51,)]
        assert db.query("SELECT operator FROM results WHERE seq = 21") == [("inspector-7",)]
        assert sorted(db.query("SELECT category, seq FROM quarantine")) == [("seq-conflict", 21), ("seq-conflict", 50)]


def test_a_failed_batch_writes_nothing(db_url, unit_key):
    key, pub, unit = unit_key
    with open_database(db_url) as db:
        add_unit(db, unit, pub)
        parser, store = Parser("plastinir", KeyCache()), Store(db)
        batch = _parsed(parser, db, unit, key, range(1, 21))
        batch.append(Rejected(batch[0].inbound, "no-such-unit-row", "json", "x"))
        bad = ResultMsg(batch[1].inbound, "unregistered", 99, {**batch[1].doc, "unit": "unregistered"}, "{}")
        with pytest.raises(DatabaseError, match="(?i)foreign key"):
            store.write(batch + [bad])  # the foreign key refuses the unregistered unit
        assert db.query("SELECT COUNT(*) FROM results") == [(0,)]
        assert db.query("SELECT COUNT(*) FROM quarantine") == [(0,)]
