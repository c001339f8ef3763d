"""The database misbehaves: one record it refuses costs that record only; a lost connection costs
nothing (retried, acknowledged only after the commit that finally succeeds)."""
from __future__ import annotations

import sqlite3
import threading
import time

import psycopg
import pytest

from conftest import register_unit, unsigned_record
from host.bureau.migrations import open_database
from support.fake_unit import FakeUnit
from support.mqtt import wait_until

POISON_SQLITE = ("CREATE TRIGGER poison BEFORE INSERT ON results WHEN NEW.seq = 13 "
                 "BEGIN SELECT RAISE(ABORT, 'poison record refused by trigger'); END")
POISON_PG = ["CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN IF NEW.seq = 13 THEN "
             "RAISE EXCEPTION 'poison record refused by trigger'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
             "CREATE TRIGGER poison BEFORE INSERT ON results FOR EACH ROW EXECUTE FUNCTION poison()"]


def _install_poison(db_url: str) -> None:
    open_database(db_url).close()  # migrate first
    if db_url.startswith("sqlite"):
        with sqlite3.connect(db_url[len("sqlite:///"):]) as conn:
            conn.execute(POISON_SQLITE)
    else:
        with psycopg.connect(db_url, autocommit=True) as conn:
            for statement in POISON_PG:
                conn.execute(statement)


def test_a_refused_record_is_quarantined_alone(broker, db_url, unit_key, bureau_factory):
    key, pub, unit_id = unit_key
    _install_poison(db_url)
    register_unit(db_url, unit_id, pub)
    ing = bureau_factory(db_url, broker.url, ingest__batch_wait_ms=200)  # all 20 in one batch
    unit = FakeUnit(broker.url, unit_id, key, unsigned_record, resend_after_s=60).start()
    try:
        unit.measure(20)
        assert wait_until(lambda: unit.unacked() == [13], 15), unit.unacked()
    finally:
        unit.stop()
    assert ing.counters().get("quarantined:internal") == 1 and ing.counters().get("db_refused_batches", 0) >= 2
    with open_database(db_url) as db:
        assert sorted(s for (s,) in db.query("SELECT seq FROM results")) == [s for s in range(1, 21) if s != 13]
        category, seq, reason = db.one("SELECT category, seq, reason FROM quarantine")
        assert (category, seq) == ("internal", 13) and "poison record refused by trigger" in reason
        # seq 13 is a gap the bureau keeps asking for
        assert db.query("SELECT first_seq, last_seq, state FROM gaps") == [(13, 13, "open")]


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_connections_killed_mid_stream(broker, pg_url, unit_key, bureau_factory):
    key, pub, unit_id = unit_key
    register_unit(pg_url, unit_id, pub)
    ing = bureau_factory(pg_url, broker.url)
    unit = FakeUnit(broker.url, unit_id, key, unsigned_record, resend_after_s=1.0).start()
    done = threading.Event()

    def stream():
        for _ in range(200):
            unit.measure(1)
            time.sleep(0.003)
        done.set()

    threading.Thread(target=stream, daemon=True).start()
    try:
        assert wait_until(lambda: ing.counters().get("stored", 0) >= 50, 15)
        with psycopg.connect(pg_url, autocommit=True) as admin:
            killed = admin.execute("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE application_name = 'nir-bureau'").fetchone()[0]
        assert killed == 2  # the store connection and the key-lookup connection
        assert done.wait(30)
        assert unit.wait_all_acked(30), unit.unacked()[:20]
    finally:
        unit.stop()
    assert ing.counters().get("db_unavailable", 0) >= 1 and ing.healthy()
    with open_database(pg_url) as db:
        assert db.query("SELECT COUNT(*), COUNT(DISTINCT seq), MAX(seq) FROM results") == [(200, 200, 200)]
        assert db.query("SELECT COUNT(*) FROM gaps WHERE state = 'open'") == [(0,)]
