"""Store-and-forward of results: from the journal's outbox to the broker, out only on the bureau's ack.

The journal puts every result in its outbox in the same transaction that stores it, so a result
that exists is a result the unit still owes the bureau until the bureau says it has *stored* it
(``plastinir.ack/1`` ``stored`` on ``<prefix>/<unit>/ack``). PUBACK only means the broker has it;
a broker can die before delivering, so PUBACK never empties the outbox.

`OutboxSender` runs on the link's thread only (no locks) and keeps, for the current connection:

- ``outstanding``: seqs sent and not yet acknowledged by the bureau, with when they were sent.
  Their number is bounded by ``mqtt.inflight_window``: after an outage the backlog drains in
  seq order through that window, paced by the bureau's acks, instead of flooding a broker whose
  queue for the bureau may be limited. A seq leaves ``outstanding`` when the bureau acknowledges
  it, when ``mqtt.resend_after_s`` passes without that ack (it is then due again and goes out in
  seq order with the rest), or when the connection is replaced (everything not acknowledged is
  sent again on the new one — except what paho itself still re-sends, see ``mids``).
- ``mids``: packet id → seq of results waiting for PUBACK. paho re-sends these itself after a
  reconnect of the same client, so the sender does not send them a second time.
- ``requested``: seqs the bureau listed in an ack's ``missing``; they go out first. A missing
  seq the journal no longer has (retention purged it after an earlier ack) is reported once per
  ``resend_after_s`` as ``event/link`` with ``detail.purged`` so the bureau can close the gap.

Which results are due is decided in memory (monotonic clock), never from the journal's wall-clock
``last_sent``: a Pi without a real-time clock may jump by months at boot when NTP syncs.
The journal's ``attempts``/``last_sent`` are still updated, as a record of what was tried, but
at most once per `MARK_INTERVAL_S` (`flush_marks`): each write is an fsync, and one per window
round trip halved the drain rate with a small window.

A result the bureau refuses (quarantine: unknown unit, bad signature, seq reused) is never
acknowledged: it is re-sent every ``resend_after_s`` and the "oldest unacknowledged" alarm
(`firmware.mqtt.health`) shows it. Such refusals hold window slots; a whole window of them
means the bureau refuses this unit altogether, and then sending more would not help.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

from ..ack import Ack, seq_ranges

log = logging.getLogger(__name__)

#: How often publish attempts are written to the journal (`Journal.mark_sent`), at most.
MARK_INTERVAL_S = 1.0
#: ``publish(payload) -> mid | None`` for the result topic (None: not taken, connection down).
Publish = Callable[[bytes], "int | None"]


class OutboxSender:
    def __init__(self, journal: Any, *, window: int, resend_after_s: float, publish: Publish,
                 count: Callable[..., None], clock: Callable[[], float] = time.monotonic) -> None:
        self.journal = journal
        self.window = window
        self.resend_after_s = resend_after_s
        self.publish = publish
        self.count = count
        self.clock = clock
        self.outstanding: dict[int, float] = {}
        self.mids: dict[int, int] = {}
        self.requested: set[int] = set()
        self._purged_reported: dict[tuple[int, int], float] = {}
        self._unmarked: list[int] = []
        self._last_mark = clock()
        #: Something may be due (new result, ack, expiry, reconnect): query the outbox on the next `send`.
        self.dirty = True

    # --- connection events ------------------------------------------------------------------

    def connected(self) -> None:
        """A connection was accepted (and subscribed): everything not acknowledged is due again,
        except results paho still holds for PUBACK (it re-sends those on this connection)."""
        awaiting_puback = set(self.mids.values())
        self.outstanding = {s: t for s, t in self.outstanding.items() if s in awaiting_puback}
        self.dirty = True

    def new_client(self) -> None:
        """The paho client was replaced: its queue (and its packet ids) are gone."""
        self.mids.clear()
        self.outstanding.clear()
        self.dirty = True

    def puback(self, mid: int, ok: bool) -> bool:
        """PUBACK for ``mid``; True if it was a result. A refused publish waits for the resend timer."""
        seq = self.mids.pop(mid, None)
        if seq is None:
            return False
        if not ok:
            log.warning("broker refused result seq %d; re-sent after %g s", seq, self.resend_after_s)
        return True

    # --- the bureau's acks ------------------------------------------------------------------

    def acknowledged(self, ack: Ack) -> int:
        """Empty the outbox of what the bureau stored; queue what it misses. Returns entries removed."""
        removed = 0
        if ack.stored:
            removed = self.journal.acknowledge(ack.stored)
            for seq in ack.stored:
                self.outstanding.pop(seq, None)
                self.requested.discard(seq)
            self.count("acked", removed)
            self.dirty = True
        if ack.missing:
            present, gone = self.journal.lookup_missing([tuple(r) for r in ack.missing])
            fresh = [s for s in present if s not in self.outstanding]
            self.requested.update(fresh)
            self.count("missing_requested", len(fresh))
            if gone:
                self.report_purged(gone)
            self.dirty = True
        return removed

    def report_purged(self, ranges: list[tuple[int, int]]) -> None:
        """Tell the bureau (``event/link``, ``detail.purged``) which missing seqs are gone for good."""
        now = self.clock()
        self._purged_reported = {r: t for r, t in self._purged_reported.items() if now - t < self.resend_after_s}
        new = [r for r in ranges if tuple(r) not in self._purged_reported]
        if not new:
            return
        for r in new:
            self._purged_reported[tuple(r)] = now
        text = ", ".join(f"{a}" if a == b else f"{a}–{b}" for a, b in new)
        self.journal.add_event("link", "warning", "purged",
                               f"results {text} were purged from the journal before the bureau stored them",
                               {"purged": [[int(a), int(b)] for a, b in new]})
        self.count("purged_reported", sum(b - a + 1 for a, b in new))

    # --- timers and sending -----------------------------------------------------------------

    def expire(self) -> int:
        """Results the bureau has not acknowledged within ``resend_after_s`` are due again."""
        now = self.clock()
        awaiting_puback = set(self.mids.values())
        late = [s for s, t in self.outstanding.items()
                if now - t >= self.resend_after_s and s not in awaiting_puback]
        for s in late:
            del self.outstanding[s]
        if late:
            self.count("resend_timeouts", len(late))
            self.dirty = True
        return len(late)

    def next_expiry(self) -> float | None:
        """Seconds until the earliest outstanding result is due again (for the thread's wait)."""
        if not self.outstanding:
            return None
        return max(0.0, min(self.outstanding.values()) + self.resend_after_s - self.clock())

    def send(self) -> list[int]:
        """Publish due results in seq order, up to the window; returns the seqs sent."""
        room = self.window - len(self.outstanding)
        if room <= 0 or not (self.dirty or self.requested):
            return []
        batch: list[tuple[int, str]] = []
        for seq in sorted(self.requested):
            if len(batch) >= room:
                break
            self.requested.discard(seq)
            if seq in self.outstanding:
                continue
            payload = self.journal.get_payload(seq)
            if payload is None:           # purged between the ack and now
                self.report_purged([(seq, seq)])
                continue
            batch.append((seq, payload))
        if len(batch) < room:
            taken = {s for s, _ in batch}
            entries = self.journal.pending(limit=room - len(batch) + len(self.outstanding))
            for entry in entries:
                if len(batch) >= room:
                    break
                if entry.seq not in self.outstanding and entry.seq not in taken:
                    batch.append((entry.seq, entry.payload))
        # Either the window is now full or every due result is in this batch: nothing more is due
        # until an ack, an expiry, a reconnect or a new result says so (they set `dirty`).
        self.dirty = False
        sent: list[int] = []
        now = self.clock()
        for seq, payload in batch:
            mid = self.publish(payload.encode("utf-8"))
            if mid is None:
                self.dirty = True
                break
            self.mids[mid] = seq
            self.outstanding[seq] = now
            sent.append(seq)
        if sent:
            self._unmarked.extend(sent)
            self.count("results_sent", len(sent))
        self.flush_marks()
        return sent

    def flush_marks(self, force: bool = False) -> None:
        """Record the publish attempts in the journal (every `MARK_INTERVAL_S`, or now with ``force``)."""
        if not self._unmarked or (not force and self.clock() - self._last_mark < MARK_INTERVAL_S):
            return
        marks, self._unmarked = self._unmarked, []
        self._last_mark = self.clock()
        self.journal.mark_sent(marks)

    def describe(self) -> dict[str, Any]:
        return {"outstanding": len(self.outstanding), "awaiting_puback": len(self.mids),
                "requested": len(self.requested),
                "outstanding_ranges": [list(r) for r in seq_ranges(self.outstanding)[:8]]}
