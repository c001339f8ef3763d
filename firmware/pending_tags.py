"""Tags for the next button press: typed on the phone, carried by the one result the button stores next.

In a shop the inspector types the sample's tags on the status page (or a bureau tool sends
``cmd/tag``), then places the item and presses the trigger button on the device. The button
carries no tags of its own, so the tags wait here:

- **one set at a time**: tagging again replaces what was waiting (the inspector corrected a typo
  or moved to another item); "clear" drops it;
- **used by exactly one result**: a button press that finds tags waiting measures with them, and
  the journal deletes them in the same transaction that stores the result
  (`Journal.append_result(..., consume_tags=id)`). Any stored result uses them up, a quality
  rejection too (dark, empty port, unstable, saturated): that record documents what happened to
  *this* item in *this* shop, and tags that outlived a rejection would silently land on the next
  item if the inspector moved on — a black item, for one, never gives anything but ``dark``.
  To measure the same item again the inspector taps "Tag the next button press" once more (the
  page keeps the form filled). A press that stores nothing — refused (busy, not ready, no
  reference), or stopped by a hardware fault — leaves them waiting;
- **expiring**: after ``runtime.pending_tags_ttl_s`` (default 10 min) unused they no longer apply,
  so tags typed in one shop never land on an item in the next. Expired tags stay visible (marked
  expired, "not applied") until replaced or cleared, so the inspector sees why a press was
  untagged. The expiry is wall-clock time stored with them: it holds across a restart. If the
  clock is stepped back by more than `CLOCK_SLACK_S` past the time they were set, their age is
  unknown and they count as expired;
- **persisted** in the journal (`firmware.journal.pending`), so a restart (watchdog, power cut,
  update) does not silently turn the next press into an untagged result.

Only the button uses them. The page's "Measure now", ``nir-device measure`` and ``cmd/measure``
send their own tags with the trigger and leave waiting tags alone; so does a button-triggered
call that brings its own tags.
"""
from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from .errors import JournalError, RecordError
from .journal import Journal
from .record import utc_now_rfc3339
from .result_builder import normalize_sample

log = logging.getLogger(__name__)

#: The trigger that uses waiting tags.
BUTTON = "button"
#: A clock stepped back by more than this past the tags' ``set_at`` makes their age unknown.
CLOCK_SLACK_S = 60.0
#: Who may set tags (shown on the page and in the answer): the status page, an MQTT command.
SOURCES = ("page", "mqtt", "cli")


def _rfc3339(unix: float) -> str:
    return utc_now_rfc3339(datetime.fromtimestamp(unix, timezone.utc))


class PendingTags:
    """The waiting tags of one unit, over its journal; see the module docstring.

    ``ttl_s`` is read when tags are set (a callable, so a reloaded config applies to the next
    tags, never to ones already waiting: their expiry was shown to the inspector).
    """

    def __init__(self, journal: Journal, ttl_s: Callable[[], float] | float,
                 clock: Callable[[], float] = time.time) -> None:
        self.journal = journal
        self._ttl = ttl_s if callable(ttl_s) else (lambda: float(ttl_s))
        self.clock = clock

    @staticmethod
    def expired(row: Mapping[str, Any], now: float) -> bool:
        return now >= row["expires_at"] or now < row["set_at"] - CLOCK_SLACK_S

    def view(self, row: Mapping[str, Any] | None = None, now: float | None = None) -> dict[str, Any] | None:
        """``{id, tags, sample, source, set_at, expires_at, expires_in_s, expired, ttl_s}`` of the waiting
        tags (``tags``: the filled-in fields only; times RFC 3339 UTC), or None."""
        if row is None:
            row = self.journal.pending_tags_row()
            if row is None:
                return None
        now = self.clock() if now is None else now
        sample = dict(row["sample"])
        return {"id": row["id"], "tags": {k: v for k, v in sample.items() if v}, "sample": sample,
                "source": row["source"], "set_at": _rfc3339(row["set_at"]), "expires_at": _rfc3339(row["expires_at"]),
                "expires_in_s": round(max(0.0, row["expires_at"] - now), 1), "expired": self.expired(row, now),
                "ttl_s": round(row["expires_at"] - row["set_at"], 1)}

    def set(self, sample: Mapping[str, Any] | None, source: str) -> dict[str, Any]:
        """Wait with ``sample`` (the contract's sample fields) for the next button press; replaces
        what was waiting. `RecordError` for a bad tag, or when every field is blank (an empty set
        would only hide that the press will be untagged)."""
        if source not in SOURCES:
            raise ValueError(f"tag source must be one of {', '.join(SOURCES)}, got {source!r}")
        clean = normalize_sample(sample)
        if not any(clean.values()):
            raise RecordError("no tags given: fill in at least one field (sample ID, merchant, …) to tag the "
                              "next button press")
        now = self.clock()
        ttl = float(self._ttl())
        tag_id = uuid.uuid4().hex
        self.journal.set_pending_tags(tag_id, clean, source, now, now + ttl)
        log.info("tags for the next button press set by %s (expire in %.0f s): %s", source, ttl,
                 {k: v for k, v in clean.items() if v})
        return self.view({"id": tag_id, "sample": clean, "source": source, "set_at": now,
                          "expires_at": now + ttl}, now)

    def clear(self) -> bool:
        """Drop the waiting tags (expired or not); whether there were any."""
        cleared = self.journal.clear_pending_tags()
        if cleared:
            log.info("tags for the next button press cleared")
        return cleared

    def claim(self) -> tuple[str, dict[str, str | None]] | None:
        """``(id, sample)`` of the tags a button press measures with now, or None (none, or expired).

        Nothing is removed here: the journal deletes them with the stored result, so a press that
        stores nothing leaves them waiting.
        """
        try:
            row = self.journal.pending_tags_row()
            if row is not None:
                sample = normalize_sample(row["sample"])
        except (JournalError, RecordError) as exc:  # damaged tags must not stop the trigger button
            log.error("button: tags waiting for the button unusable, measuring untagged: %s", exc)
            return None
        if row is None:
            return None
        if self.expired(row, self.clock()):
            log.warning("button: tags set at %s expired at %s; measuring untagged", _rfc3339(row["set_at"]),
                        _rfc3339(row["expires_at"]))
            return None
        return row["id"], sample

    def for_trigger(self, trigger: str,
                    sample: Mapping[str, Any] | None) -> tuple[Mapping[str, Any] | None, str | None]:
        """``(tags to measure with, id of the waiting tags the stored result uses up, or None)``:
        the waiting tags for a button press without tags of its own, else ``sample`` unchanged."""
        if trigger != BUTTON or any((sample or {}).values()):
            return sample, None
        claim = self.claim()
        return (sample, None) if claim is None else (claim[1], claim[0])
