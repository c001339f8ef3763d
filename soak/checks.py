"""The verdict: every device journal against the bureau's database, after the final drain.

Each check appends a sentence naming what is wrong (unit, seq, category …) to ``failures``; the
counts go into the report either way.
"""
from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .run import Soak

#: Bureau queries, all for one unit.
_RESULTS = "SELECT r.seq, r.uuid, r.signature, s.record FROM results r LEFT JOIN spectra s " \
           "ON s.unit = r.unit AND s.seq = r.seq WHERE r.unit = ?"
_COPIES = "SELECT seq, COUNT(*) FROM results WHERE unit = ? GROUP BY seq HAVING COUNT(*) > 1"


def check(soak: "Soak") -> dict:
    """Run every check against ``soak``'s journals and database; returns the counts."""
    counts: Counter = Counter()
    fails = soak.failures
    with soak.database() as db:
        for device in soak.devices:
            _journal_vs_bureau(device, db, counts, fails)
        open_gaps = db.query("SELECT unit, first_seq, last_seq FROM gaps WHERE state = 'open' ORDER BY unit")
        counts["gaps open at the end"] = len(open_gaps)
        if open_gaps:
            fails.append(f"open gaps remain after the final drain: {open_gaps[:10]}")
        counts["gaps purged"] = db.one("SELECT COUNT(*) FROM gaps WHERE state = 'purged'")[0]
        _faults(soak, db, counts, fails)
        _quarantine(soak, db, counts, fails)
    return dict(counts)


def _journal_vs_bureau(device, db, counts: Counter, fails: list[str]) -> None:
    unit = device.unit
    with device.journal() as con:
        rows = con.execute("SELECT seq, uuid, record, acked_at, stored_at FROM results ORDER BY rowid").fetchall()
        depth = con.execute("SELECT count(*) FROM outbox").fetchone()[0]
        counter = con.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    if integrity != "ok":
        fails.append(f"{unit}: journal integrity check: {integrity}")
    seqs = [r[0] for r in rows]
    # no seq reused: unique, increasing in the order they were stored, never beyond the counter
    if len(set(seqs)) != len(seqs) or len({r[1] for r in rows}) != len(rows):
        fails.append(f"{unit}: the journal holds a seq or uuid twice")
    by_time = [r[0] for r in sorted(rows, key=lambda r: (r[4], r[0]))]
    if by_time != sorted(seqs):
        fails.append(f"{unit}: journal seqs do not increase with the time they were stored (a seq reused?)")
    if seqs and (counter is None or counter[0] < max(seqs)):
        fails.append(f"{unit}: seq counter {counter} is below the highest stored seq {max(seqs)}")
    counts["results journaled"] += len(rows)
    acked = [r for r in rows if r[3] is not None]
    counts["results acknowledged"] += len(acked)
    if depth:
        fails.append(f"{unit}: {depth} results still unacknowledged after the final drain")
    copies = db.query(_COPIES, (unit,))
    if copies:
        fails.append(f"{unit}: the bureau holds seqs more than once: {copies[:10]}")
    stored = {seq: (uuid, sig, record) for seq, uuid, sig, record in db.query(_RESULTS, (unit,))}
    counts["results in the bureau"] += len(stored)
    journal = {r[0]: r for r in rows}
    for seq, uuid, record, acked_at, _ in rows:
        held = stored.get(seq)
        if held is None:
            if acked_at is not None:
                fails.append(f"{unit} seq {seq}: acknowledged to the unit but not in the bureau's database")
            continue
        if held[2] != record:  # the bureau keeps the record exactly as received: the unit's journal text
            fails.append(f"{unit} seq {seq}: the bureau's record differs from the journal's "
                         f"(uuid {held[0]} vs {uuid}, signature {'same' if held[1] == json.loads(record)['signature'] else 'different'})")
        else:
            counts["results byte-identical to the journal"] += 1
    phantom = sorted(set(stored) - set(journal))
    if phantom:
        fails.append(f"{unit}: the bureau holds seqs the unit never journaled: {phantom[:10]}")


def _faults(soak: "Soak", db, counts: Counter, fails: list[str]) -> None:
    injected = Counter((f.unit, f.error) for f in soak.record.faults)
    observed: Counter = Counter()
    for unit, detail in db.query("SELECT unit, detail FROM events WHERE kind = 'fault'"):
        error = json.loads(detail).get("error")
        if error:
            observed[(unit, error)] += 1
    counts["faults injected"] = sum(injected.values())
    counts["fault events stored by the bureau"] = sum(observed.values())
    counts["faults observed as the right event"] = sum(min(n, observed[k]) for k, n in injected.items())
    for (unit, error), n in sorted(injected.items()):
        if observed[(unit, error)] < n:
            fails.append(f"{unit}: {n} × {error} injected, the bureau stored {observed[(unit, error)]} such fault events")
    for f in soak.record.faults:
        if f.journal_event is None:
            fails.append(f"{f.unit}: {f.fault} injected but no fault event in the unit's journal")
    for key, n in observed.items():
        if n > injected[key]:
            fails.append(f"{key[0]}: {n} {key[1]} fault events stored, {injected[key]} injected (a fault nobody caused)")


def _quarantine(soak: "Soak", db, counts: Counter, fails: list[str]) -> None:
    rows = db.query("SELECT topic, payload_sha256, category, reason, times FROM quarantine")
    held = {(t, s): (c, r) for t, s, c, r, _ in rows}
    sent = {(b.topic, b.sha256): b for b in soak.record.bad}
    counts["bad payloads sent"] = len(soak.record.bad)
    for (topic, sha), b in sent.items():
        got = held.get((topic, sha))
        if got is None:
            fails.append(f"bad payload '{b.kind}' on {topic} was never quarantined")
        elif got[0] != b.category:
            fails.append(f"bad payload '{b.kind}' quarantined as {got[0]!r}, expected {b.category!r}: {got[1][:200]}")
        else:
            counts[f"quarantined: {b.category}"] += 1
    for (topic, sha), (category, reason) in held.items():
        if (topic, sha) not in sent:
            fails.append(f"unexpected quarantine of a payload on {topic} ({category}): {reason[:200]}")
    counts["quarantine rows"] = len(rows)
