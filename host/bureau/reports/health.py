"""``report units``: the fleet's health, one row per registered unit.

Built from what units publish (retained ``status`` and ``birth``, periodic ``stats``) and what
the bureau holds (results, gaps, quarantine, error events). Ages are computed at report time:
a reference age reported in a stats message an hour ago is an hour older now.
"""
from __future__ import annotations

import json
from datetime import datetime

from firmware.record import utc_now_rfc3339

from .. import gaps
from ..database import Database
from .common import age_s, utc_now
from .tables import Report, Table

COLUMNS = ["unit", "state", "online", "last_seen", "last_seen_age_s", "reference_age_s", "outbox_depth",
           "oldest_unacked_age_s", "model", "firmware", "calibration_id", "calibration_due", "results",
           "highest_seq", "open_gaps", "missing_seqs", "purged_seqs", "quarantined", "error_events", "registered_by",
           "attention"]


def _model(doc: dict | None) -> str | None:
    m = (doc or {}).get("model")
    if isinstance(m, dict) and m.get("name"):
        return f"{m.get('name')} {m.get('version', '')}".strip()
    return None


def units_report(db: Database, *, now: datetime | None = None, silent_after_s: float = 900.0,
                 outbox_alarm: int = 100) -> Report:
    """Per-unit health. ``state`` is the retained status (online/offline/stopped), ``silent`` when a
    unit says online but nothing came for ``silent_after_s``, ``never`` before its first message;
    ``attention`` says why a unit needs a look (silent, gaps, backlog, quarantined messages)."""
    now = now or utc_now()
    results = dict(db.query("SELECT unit, COUNT(*) FROM results GROUP BY unit"))
    quarantined = dict(db.query("SELECT unit, SUM(times) FROM quarantine WHERE unit IS NOT NULL GROUP BY unit"))
    errors = dict(db.query("SELECT unit, COUNT(*) FROM events WHERE severity = 'error' GROUP BY unit"))
    gap_summary = gaps.summary(db)
    rows = []
    for (unit, registered_by, highest, last_seen, status, status_at, birth, birth_at, stats, stats_at) in db.query(
            "SELECT unit, registered_by, highest_seq, last_seen, status, status_at, birth, birth_at, stats, stats_at "
            "FROM units ORDER BY unit"):
        birth_doc = json.loads(birth) if birth else {}
        stats_doc = json.loads(stats) if stats else {}
        seen_age = age_s(last_seen, now)
        state = status or ("never" if last_seen is None else "unknown")
        if status == "online" and seen_age is not None and seen_age > silent_after_s:
            state = "silent"
        since_stats = age_s(stats_at, now) or 0.0
        ref = stats_doc.get("reference_age_s")
        reference_age = None if ref is None else float(ref) + since_stats
        g = gap_summary.get(unit, {"open_ranges": 0, "open_seqs": 0, "purged_seqs": 0})
        attention = []
        if state in ("silent", "offline"):
            attention.append(state)
        if g["open_seqs"]:
            attention.append(f"{g['open_seqs']} results missing")
        if (stats_doc.get("outbox_depth") or 0) >= outbox_alarm:
            attention.append(f"outbox {stats_doc['outbox_depth']}")
        if quarantined.get(unit):
            attention.append(f"{int(quarantined[unit])} quarantined")
        rows.append([
            unit, state, status == "online" and state != "silent", last_seen, seen_age, reference_age,
            stats_doc.get("outbox_depth"), stats_doc.get("oldest_unacked_age_s"),
            _model(stats_doc) or _model(birth_doc), birth_doc.get("firmware"),
            stats_doc.get("calibration_id") or birth_doc.get("calibration_id"), stats_doc.get("calibration_due"),
            int(results.get(unit, 0)), int(highest), g["open_ranges"], g["open_seqs"], g["purged_seqs"],
            int(quarantined.get(unit, 0)), int(errors.get(unit, 0)), registered_by, "; ".join(attention),
        ])
    table = Table("Units", COLUMNS, rows,
                  f"Ages in seconds at report time. 'silent': says online but nothing heard for {silent_after_s:.0f} s. "
                  "Outbox depth and reference age from the unit's last stats.", flag_column="attention")
    return Report("units", "PlastiNIR fleet health", utc_now_rfc3339(), [table],
                  {"silent_after_s": silent_after_s})
