"""Write one batch of parsed messages in one transaction and say what may be acknowledged.

The ingester hands a batch to `Store.write`; everything in it is committed together or not at
all, and only the returned `BatchOutcome` (built inside the transaction, acted on after the
commit) tells the ingester which seqs to put in each unit's ack. Results are inserted
idempotently by (unit, seq): a re-sent result is acknowledged again but stored once. A
*different* record under a seq the bureau already holds (a unit reusing a seq) is not silently
dropped: it is quarantined as ``seq-conflict`` and not acknowledged, so the unit keeps it and
its "oldest unacknowledged" alarm draws a human.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from firmware.ack import MAX_MISSING_RANGES

from . import gaps
from .database import Database
from .payloads import (BirthMsg, CalibrationMsg, EventMsg, Parsed, Rejected, ResultMsg, StatsMsg, StatusMsg)
from .units import add_unit

SEQ_CONFLICT = "seq-conflict"

RESULT_COLUMNS = (
    "unit", "seq", "uuid", "boot_id", "time", "clock_synced", "received_at", "model_name", "model_version",
    "model_sha256", "calibration_id", "operator", "sample_id", "merchant", "location", "batch", "product",
    "claimed_material", "verdict", "reason", "class", "degradable", "confidence", "t2", "q", "limit_t2", "limit_q",
    "scores", "composition", "timings_ms", "signature")
SPECTRUM_COLUMNS = ("unit", "seq", "points", "record")
UPSERT_QUARANTINE = (
    "INSERT INTO quarantine (received_at, last_received_at, times, topic, unit, seq, category, reason, "
    "payload_sha256, payload_size, payload) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (topic, payload_sha256) DO UPDATE SET times = quarantine.times + 1, "
    "last_received_at = excluded.last_received_at")


def result_row(msg: ResultMsg) -> tuple:
    d = msg.doc
    sample, model, limits = d["sample"], d["model"], d.get("limits") or {}
    dumps = json.dumps
    return (msg.unit, d["seq"], d["uuid"], d["boot_id"], d["time"], d["clock_synced"], msg.inbound.received_at,
            model["name"], model["version"], model["sha256"], d.get("calibration_id"), d.get("operator"),
            sample.get("sample_id"), sample.get("merchant"), sample.get("location"), sample.get("batch"),
            sample.get("product"), sample.get("claimed_material"), d["verdict"], d.get("reason"), d.get("class"),
            d.get("degradable"), d.get("confidence"), d.get("t2"), d.get("q"), limits.get("t2"), limits.get("q"),
            dumps(d["scores"]), dumps(d["composition"]), dumps(d["timings_ms"]), d["signature"])


def spectrum_row(msg: ResultMsg) -> tuple:
    """The record is kept as received (not re-serialised): it is what the signature covers."""
    return (msg.unit, msg.doc["seq"], len(msg.doc["wavelengths_nm"]), msg.text)


@dataclass
class BatchOutcome:
    """What one committed batch means for the units and the counters.

    ``acks``: unit → (seqs stored, now or before; open gap ranges) for units that sent results.
    ``gap_requests``: unit → open gap ranges, for units heard from (birth, status, stats) with
    open gaps but no result in this batch — the ingester may ask them again.
    """

    acks: dict[str, tuple[list[int], list[tuple[int, int]]]] = field(default_factory=dict)
    gap_requests: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)
    registered: list[tuple[str, str]] = field(default_factory=list)  # (unit, key) by trust on first use


class Store:
    """The bureau's write path over one `Database` (one thread)."""

    def __init__(self, db: Database, *, quarantine_keep_bytes: int = 64 * 1024):
        self.db = db
        self.quarantine_keep_bytes = quarantine_keep_bytes

    # --- one batch ------------------------------------------------------------------------
    def write(self, batch: list[Parsed]) -> BatchOutcome:
        """Commit ``batch``; raises `DatabaseError` (nothing written) if any statement fails."""
        out = BatchOutcome()
        with self.db.transaction():
            self._write(batch, out)
        return out

    def quarantine(self, rejected: list[Rejected]) -> None:
        """Quarantine in its own transaction (the ingester's fallback for a message the database refused)."""
        with self.db.transaction():
            self._quarantine(rejected)

    def _write(self, batch: list[Parsed], out: BatchOutcome) -> None:
        db = self.db
        rejected = [m for m in batch if isinstance(m, Rejected)]
        accepted = [m for m in batch if not isinstance(m, Rejected)]

        for m in accepted:  # trust on first use: register before anything refers to the unit
            if isinstance(m, BirthMsg) and m.register:
                if add_unit(db, m.unit, m.doc["public_key"], registered_by="tofu") == "added":
                    out.registered.append((m.unit, m.doc["public_key"]))
        highest = self._lock_units(sorted({m.unit for m in accepted}))

        results: dict[tuple[str, int], ResultMsg] = {}
        for m in accepted:
            if isinstance(m, ResultMsg):
                first = results.setdefault((m.unit, m.seq), m)
                if first is m:
                    continue
                if first.doc["signature"] == m.doc["signature"]:
                    out.counts["duplicates"] += 1  # re-sent while the first copy waited in this batch
                else:
                    rejected.append(_conflict(m))
        conflicts = self._insert_results(list(results.values()), out)
        rejected += conflicts
        conflicted = {(r.unit, r.seq) for r in conflicts}

        by_unit: dict[str, list[int]] = defaultdict(list)
        for (unit, seq) in results:
            if (unit, seq) not in conflicted:
                by_unit[unit].append(seq)
        now = batch[-1].inbound.received_at if batch else ""
        for unit, seqs in by_unit.items():
            seqs.sort()
            new_highest = gaps.advance(db, unit, highest[unit], seqs, now)
            if new_highest != highest[unit]:
                db.execute("UPDATE units SET highest_seq = ? WHERE unit = ?", (new_highest, unit))
                highest[unit] = new_highest

        last_seen: dict[str, str] = {}
        for m in accepted:
            if not m.inbound.retained:  # a retained copy re-delivered on subscribe is old news
                last_seen[m.unit] = max(last_seen.get(m.unit, ""), m.inbound.received_at)
            if isinstance(m, StatusMsg):
                self._update_retained(m, "status", m.status)
                out.counts["status"] += 1
            elif isinstance(m, BirthMsg):
                self._update_retained(m, "birth", json.dumps(m.doc, sort_keys=True))
                out.counts["births"] += 1
            elif isinstance(m, StatsMsg):
                db.execute("UPDATE units SET stats = ?, stats_at = ? WHERE unit = ?",
                           (json.dumps(m.doc), m.inbound.received_at, m.unit))
                out.counts["stats"] += 1
            elif isinstance(m, EventMsg):
                self._event(m, out)
            elif isinstance(m, CalibrationMsg):
                n = db.executemany(
                    "INSERT INTO calibrations (unit, received_at, sha256, certificate_id, document) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (unit, sha256) DO NOTHING",
                    [(m.unit, m.inbound.received_at, m.sha256, _text_or_none(m.doc.get("calibration_id")),
                      json.dumps(m.doc))])
                out.counts["calibrations"] += n
        db.executemany("UPDATE units SET last_seen = ? WHERE unit = ? AND (last_seen IS NULL OR last_seen < ?)",
                       [(t, u, t) for u, t in sorted(last_seen.items())])
        self._quarantine(rejected)
        out.counts.update(f"quarantined:{r.category}" for r in rejected)

        for unit, seqs in by_unit.items():
            out.acks[unit] = (seqs, gaps.open_ranges(db, unit, MAX_MISSING_RANGES))
        for unit in sorted({m.unit for m in accepted if isinstance(m, (BirthMsg, StatusMsg, StatsMsg, EventMsg))}):
            if unit not in out.acks and highest[unit] > 0:
                missing = gaps.open_ranges(db, unit, MAX_MISSING_RANGES)
                if missing:
                    out.gap_requests[unit] = missing

    # --- parts ----------------------------------------------------------------------------
    def _update_retained(self, m: Parsed, column: str, value: str) -> None:
        """Set ``units.<column>`` and its ``<column>_at``; a retained re-delivery of the value the
        bureau already holds (every ingester restart) changes nothing, not even the time."""
        sql = f"UPDATE units SET {column} = ?, {column}_at = ? WHERE unit = ?"
        params: tuple = (value, m.inbound.received_at, m.unit)
        if m.inbound.retained:
            sql += f" AND ({column} IS NULL OR {column} <> ?)"
            params += (value,)
        self.db.execute(sql, params)

    def _lock_units(self, units: list[str]) -> dict[str, int]:
        """Lock the units' rows (sorted, so two ingesters cannot deadlock) and read highest_seq."""
        if not units:
            return {}
        highest: dict[str, int] = {}
        for i in range(0, len(units), 500):
            chunk = units[i:i + 500]
            rows = self.db.query(f"SELECT unit, highest_seq FROM units WHERE unit IN ({', '.join('?' * len(chunk))}) "
                                 f"ORDER BY unit{self.db.lock_rows_sql()}", chunk)
            highest.update((u, int(h)) for u, h in rows)
        return highest

    def _insert_results(self, msgs: list[ResultMsg], out: BatchOutcome) -> list[Rejected]:
        if not msgs:
            return []
        inserted = self.db.insert_many("results", RESULT_COLUMNS, [result_row(m) for m in msgs], ("unit", "seq"))
        out.counts["stored"] += inserted
        out.counts["duplicates"] += len(msgs) - inserted
        conflicts: list[Rejected] = []
        if inserted < len(msgs):
            # Some were already there: the same record again (ack it), or another record under the
            # same seq (Ed25519 signatures are deterministic, so a different signature is a different record).
            by_unit: dict[str, list[ResultMsg]] = defaultdict(list)
            for m in msgs:
                by_unit[m.unit].append(m)
            for unit, group in by_unit.items():
                seqs = [m.seq for m in group]
                held = dict(self.db.query(
                    f"SELECT seq, signature FROM results WHERE unit = ? AND seq IN ({', '.join('?' * len(seqs))})",
                    [unit, *seqs]))
                for m in group:
                    if held.get(m.seq) != m.doc["signature"]:
                        conflicts.append(_conflict(m))
            out.counts["duplicates"] -= len(conflicts)
        self.db.insert_many("spectra", SPECTRUM_COLUMNS, [spectrum_row(m) for m in msgs], ("unit", "seq"))
        return conflicts

    def _event(self, m: EventMsg, out: BatchOutcome) -> None:
        d = m.doc
        self.db.execute(
            "INSERT INTO events (unit, source, time, received_at, kind, severity, code, message, detail) "
            "VALUES (?, 'unit', ?, ?, ?, ?, ?, ?, ?)",
            (m.unit, d["time"], m.inbound.received_at, d["kind"], d["severity"], d["code"], d["message"],
             json.dumps(d.get("detail", {}))))
        out.counts["events"] += 1
        if m.purged:
            out.counts["purged_seqs"] += gaps.mark_purged(self.db, m.unit, m.purged, m.inbound.received_at)

    def _quarantine(self, rejected: list[Rejected]) -> None:
        if not rejected:
            return
        rows = []
        for r in rejected:
            payload = r.inbound.payload
            rows.append((r.inbound.received_at, r.inbound.received_at, r.inbound.topic, r.unit or None, r.seq,
                         r.category, r.reason, hashlib.sha256(payload).hexdigest(), len(payload),
                         payload[:self.quarantine_keep_bytes]))
        self.db.executemany(UPSERT_QUARANTINE, rows)


def _conflict(m: ResultMsg) -> Rejected:
    return Rejected(m.inbound, m.unit, SEQ_CONFLICT,
                    f"seq {m.seq} of {m.unit} is already stored with another record (different signature): "
                    "the unit reused a seq", m.seq)


def _text_or_none(value) -> str | None:
    return value if isinstance(value, str) and len(value) <= 200 else None
