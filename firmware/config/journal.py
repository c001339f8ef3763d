"""``[journal]``: how long results stay in the device's journal once the bureau has them.

Only results the bureau has acknowledged storing may be purged; an unacknowledged result is
kept whatever the limits say (it may be the only copy of an inspection).
"""
from __future__ import annotations

from pydantic import Field

from .base import Section


class JournalSection(Section):
    max_results: int = Field(
        default=100_000, ge=100,
        description="Acknowledged results beyond this count are purged, oldest first "
                    "(a result with spectrum and raw counts is about 4 kB).")
    max_age_days: float = Field(
        default=365.0, gt=0,
        description="Acknowledged results older than this (days) are purged.")
    busy_timeout_s: float = Field(
        default=10.0, gt=0, le=300,
        description="How long a process waits for another one's write transaction before giving up.")
