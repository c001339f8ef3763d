import sqlite3
import time

import pytest

from conftest import unsigned_record
from firmware.errors import JournalError, RecordError
from firmware.journal import SEQ_MAX, Journal
from firmware.record import sign_record, verify_record


@pytest.fixture
def journal(tmp_path):
    with Journal.open(tmp_path) as j:
        yield j


def add(journal, key, unit, **changes):
    return journal.append_result(lambda seq: sign_record(unsigned_record(unit, seq, **changes), key))


def test_wal_and_full_sync(journal):
    con = sqlite3.connect(journal.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    assert journal._conn().execute("PRAGMA synchronous").fetchone()[0] == 2  # 2 = FULL (SQLite docs)


def test_seq_allocated_in_order_and_record_stored_signed(journal, unit_key):
    key, pub, unit = unit_key
    records = [add(journal, key, unit) for _ in range(3)]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert journal.last_seq() == 3
    verify_record(journal.get(2), pub)
    assert journal.latest()["seq"] == 3
    assert journal.get(99) is None


def test_failed_build_consumes_no_seq_and_stores_nothing(journal, unit_key):
    key, _, unit = unit_key
    add(journal, key, unit)
    with pytest.raises(RecordError):
        journal.append_result(lambda seq: sign_record(unsigned_record(unit, seq, verdict="maybe"), key))
    assert journal.last_seq() == 1 and journal.depth() == 1
    assert add(journal, key, unit)["seq"] == 2


def test_record_with_wrong_seq_refused(journal, unit_key):
    key, _, unit = unit_key
    with pytest.raises(JournalError, match="built for seq 5"):
        journal.append_result(lambda seq: sign_record(unsigned_record(unit, 5), key))
    assert journal.last_seq() == 0


def test_seq_never_wraps(journal, unit_key):
    key, _, unit = unit_key
    with journal._write() as con:
        con.execute("INSERT INTO counters VALUES ('seq', ?)", (SEQ_MAX - 1,))
    assert add(journal, key, unit)["seq"] == SEQ_MAX
    with pytest.raises(JournalError, match="refusing to wrap"):
        add(journal, key, unit)
    assert journal.last_seq() == SEQ_MAX and journal.depth() == 1


def test_outbox_order_sent_and_acknowledged(journal, unit_key):
    key, _, unit = unit_key
    for _ in range(5):
        add(journal, key, unit)
    assert [e.seq for e in journal.pending(limit=3)] == [1, 2, 3]
    entry = journal.pending(limit=1)[0]
    assert entry.record["seq"] == 1 and entry.attempts == 0 and entry.last_sent is None
    journal.mark_sent([1, 2], time_s=1000.0)
    # the re-send timer: 1 and 2 were sent at t=1000, so at t=1010 with a 30 s timeout only 3..5 are due
    assert [e.seq for e in journal.pending(resend_after_s=30, now=1010.0)] == [3, 4, 5]
    assert [e.seq for e in journal.pending(resend_after_s=30, now=1031.0)] == [1, 2, 3, 4, 5]
    assert journal.pending(limit=1)[0].attempts == 1
    # PUBACK is not delivery: only the bureau's ack removes entries; a repeated ack removes nothing
    assert journal.acknowledge([2, 4, 77]) == 2
    assert journal.acknowledge([2]) == 0
    assert [e.seq for e in journal.pending()] == [1, 3, 5]
    assert journal.depth() == 3
    assert journal.get(2) is not None  # acknowledged results stay in the journal
    assert journal.history(1, before_seq=3)[0]["acked_at"] is not None


def test_oldest_unacked_age(journal, unit_key):
    key, _, unit = unit_key
    assert journal.oldest_unacked_age() is None
    add(journal, key, unit)
    enqueued = journal.pending()[0].enqueued_at
    assert journal.oldest_unacked_age(now=enqueued + 42.0) == pytest.approx(42.0)
    journal.acknowledge([1])
    assert journal.oldest_unacked_age() is None


def test_retention_never_purges_unacknowledged(journal, unit_key):
    key, _, unit = unit_key
    for _ in range(10):
        add(journal, key, unit)  # all at the fixture's time 2026-11-27T08:31:08Z
    journal.acknowledge([1, 2, 3, 5, 6])
    far_future = time.time() + 10 * 365 * 86400
    purged = journal.apply_retention(max_results=1, max_age_s=60.0, now=far_future)
    assert purged == [(1, 3), (5, 6)]
    remaining = sorted(h["seq"] for h in journal.history(100))
    assert remaining == [4, 7, 8, 9, 10]  # every unacknowledged result is still there
    assert journal.depth() == 5
    assert journal.purged_ranges() == [(1, 3), (5, 6)]
    assert journal.integrity_check() == "ok"
    # purged seqs are never allocated again
    assert add(journal, key, unit)["seq"] == 11


def test_retention_by_count_keeps_newest_acknowledged(journal, unit_key):
    key, _, unit = unit_key
    for _ in range(6):
        add(journal, key, unit)
    journal.acknowledge(range(1, 7))
    # within the age limit, only the count limit applies: keep the newest 4 (oldest first out)
    purged = journal.apply_retention(max_results=4, max_age_s=1e12)
    assert purged == [(1, 2)]
    assert journal.count() == 4
    assert journal.apply_retention(max_results=4, max_age_s=1e12) == []


def test_lookup_missing_splits_present_and_purged(journal, unit_key):
    key, _, unit = unit_key
    for _ in range(8):
        add(journal, key, unit)
    journal.acknowledge([2, 3, 4])
    journal.apply_retention(max_results=1000, max_age_s=1.0, now=time.time() + 86400 * 3650)
    present, gone = journal.lookup_missing([(1, 5), (7, 12)])
    assert present == [1, 5, 7, 8]
    assert gone == [(2, 4)]  # 9..12 were never allocated: neither re-sent nor reported lost


def test_history_filters_and_counts(journal, unit_key):
    key, _, unit = unit_key
    add(journal, key, unit, time="2026-11-01T10:00:00.000Z", sample={"merchant": "Shop A"})
    add(journal, key, unit, time="2026-11-02T10:00:00.000Z", sample={"merchant": "Shop B"},
        verdict="rejected", reason="dark: cannot identify black/dark samples by NIR", **{"class": None})
    add(journal, key, unit, time="2026-11-03T10:00:00.000Z", sample={"merchant": "shop a"},
        verdict="rejected", reason="empty: no sample on the port", **{"class": None})
    add(journal, key, unit, time="2026-11-04T10:00:00.000Z", sample={"merchant": "Shop C"}, verdict="unknown",
        reason="outside every class", **{"class": None})
    assert [h["seq"] for h in journal.history()] == [4, 3, 2, 1]
    assert [h["seq"] for h in journal.history(merchant="SHOP A")] == [3, 1]
    assert [h["seq"] for h in journal.history(verdict="rejected")] == [3, 2]
    assert [h["seq"] for h in journal.history(since="2026-11-02", until="2026-11-04")] == [3, 2]
    assert [h["seq"] for h in journal.history(2, before_seq=3)] == [2, 1]
    assert journal.counts_by_verdict() == {"identified": 1, "rejected": 2, "unknown": 1}
    assert journal.counts_by_reason() == {"dark": 1, "empty": 1}
    assert journal.count(since="2026-11-03") == 2
    with pytest.raises(ValueError, match="not one of"):
        journal.history(verdict="maybe")
    with pytest.raises(ValueError, match="not a date"):
        journal.history(since="yesterday")


def test_references_and_events(journal):
    assert journal.latest_reference("white") is None
    journal.save_reference("white", "fpi", 100.0, 25.0, {"lit": [1.0]})
    rid = journal.save_reference("white", "led8", 200.0, None, {"lit": [2.0]})
    assert journal.latest_reference("white")["id"] == rid
    assert journal.latest_reference("white", "fpi")["data"] == {"lit": [1.0]}
    e1 = journal.add_event("fault", "error", "drdy-timeout", "DRDY timeout", {"pin": 17})
    e2 = journal.add_event("reference", "info", "white-reference", "white taken")
    assert [e["id"] for e in journal.events(unpublished=True)] == [e1, e2]
    journal.mark_events_published([e1])
    assert [e["id"] for e in journal.events(unpublished=True)] == [e2]
    assert journal.events(kind="fault")[0]["detail"] == {"pin": 17}


def test_not_a_database_is_named(tmp_path):
    path = tmp_path / "journal.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError, match=str(path)):
        Journal(path)


def test_counter_survives_reopen(tmp_path, unit_key):
    key, _, unit = unit_key
    with Journal.open(tmp_path) as j:
        add(j, key, unit)
        assert j.increment_counter("boot") == 1
    with Journal.open(tmp_path) as j:
        assert add(j, key, unit)["seq"] == 2
        assert j.increment_counter("boot") == 2
