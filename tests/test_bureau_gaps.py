"""Gaps: seq ranges the bureau is missing, opened, filled, split and closed as purged."""
from __future__ import annotations

from host.bureau import gaps
from host.bureau.migrations import open_database
from host.bureau.units import add_unit
from firmware.signing import generate_key, public_key_b64


def test_subtract_and_intersect():
    assert gaps.subtract(1, 10, [(3, 4), (7, 7)]) == [(1, 2), (5, 6), (8, 10)]
    assert gaps.subtract(1, 10, [(1, 10)]) == []
    assert gaps.subtract(5, 6, [(1, 2), (9, 9)]) == [(5, 6)]
    assert gaps.intersect(3, 8, [(1, 4), (6, 6), (8, 20)]) == [(3, 4), (6, 6), (8, 8)]


def _db(db_url):
    db = open_database(db_url)
    add_unit(db, "u1", public_key_b64(generate_key()))
    return db


def test_advance_fill_and_purge(db_url):
    with _db(db_url) as db:
        with db.transaction():
            # first heard at 3: 1-2 missing; 3, 4, 8: 5-7 missing
            assert gaps.advance(db, "u1", 0, [3, 4, 8], "t0") == 8
        assert gaps.open_ranges(db, "u1", 10) == [(1, 2), (5, 7)]
        with db.transaction():
            assert gaps.advance(db, "u1", 8, [6, 9], "t1") == 9  # 6 splits 5-7
        assert gaps.open_ranges(db, "u1", 10) == [(1, 2), (5, 5), (7, 7)]
        with db.transaction():
            # the unit lost 1-2 and 7 (and claims 30-31, which the bureau never asked for)
            assert gaps.mark_purged(db, "u1", [(1, 2), (7, 7), (30, 31)], "t2") == 3
        assert gaps.open_ranges(db, "u1", 10) == [(5, 5)]
        assert gaps.summary(db)["u1"] == {"open_ranges": 1, "open_seqs": 1, "purged_seqs": 3}
        with db.transaction():
            assert gaps.fill(db, "u1", [5]) == 1
        assert gaps.open_ranges(db, "u1", 10) == []
        assert gaps.open_ranges(db, "u1", 1) == []
