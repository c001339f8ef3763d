"""What the reports share: the day a result belongs to, label classes, time arithmetic."""
from __future__ import annotations

from datetime import datetime, timezone

from firmware.contracts import IDENTIFIED, UNKNOWN, is_degradable, normalize_label

#: SQL for the day of a result: the unit's clock when it was synchronised, else the bureau's.
DAY_SQL = "CASE WHEN clock_synced THEN substr(time, 1, 10) ELSE substr(received_at, 1, 10) END"


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def age_s(then: str | None, now: datetime) -> float | None:
    t = parse_time(then)
    return None if t is None else max(0.0, (now - t).total_seconds())


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def nonconformity(claimed: str | None, verdict: str, label: str | None) -> str | None:
    """Why a result is a nonconformity, or None.

    A product that claims a degradable material (the contract's table) but is identified as a
    conventional polymer, or is outside every class the model knows (``unknown``).
    """
    if not is_degradable(claimed):
        return None
    claim = normalize_label(claimed)
    if verdict == IDENTIFIED and not is_degradable(label):
        return f"claims {claim} (degradable), identified as {normalize_label(label)} (conventional)"
    if verdict == UNKNOWN:
        return f"claims {claim} (degradable), not identified as any known polymer (unknown)"
    return None


def day_filter(since: str | None, until: str | None) -> tuple[str, list]:
    """WHERE fragment for an inclusive day range on `DAY_SQL`."""
    clauses, params = [], []
    if since:
        clauses.append(f"{DAY_SQL} >= ?")
        params.append(since)
    if until:
        clauses.append(f"{DAY_SQL} <= ?")
        params.append(until)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params
