"""The device's journal: one SQLite database holding results, the MQTT outbox, references, events.

Results start enforcement cases, so the journal is built to lose nothing:

- WAL mode with ``synchronous=FULL``: a transaction that returned from COMMIT survives a power
  cut or SIGKILL, and readers never block the writer.
- ``seq`` comes from a persisted counter incremented in the *same* transaction that stores the
  record and queues it in the outbox. A crash before COMMIT leaves no trace (that seq was never
  published, so nothing else can have used it); after COMMIT the result and its queue entry
  both exist. The counter never wraps: at 2^63−1 the journal refuses to store.
- Several processes share it (``nir-device run`` plus a ``measure`` or ``export`` started
  beside it): writes are short ``BEGIN IMMEDIATE`` transactions, waits use ``busy_timeout``.
- Lamp hours (the head's light-source on-time) are a row per head in ``lamp_hours``; additions
  and a technician's reset are short transactions, a reset with its event in the same one.
- Tags typed for the next button press wait in ``pending_tags`` (one row) until the result
  that carries them is stored: that same transaction deletes them.
- Retention purges only results the bureau has acknowledged, and remembers the purged seq
  ranges so the MQTT link can tell the bureau a gap is final.

Each thread gets its own connection (the acquisition loop, the MQTT link and the page's
server threads all use one `Journal`).
"""
from __future__ import annotations

from .db import JOURNAL_FILE, PURGE_BATCH, SCHEMA_VERSION, SEQ_MAX, SUMMARY_COLUMNS, to_unix
from .lamp import LampMixin
from .pending import PendingTagsMixin
from .queries import QueriesMixin
from .results import OutboxEntry, ResultsMixin

__all__ = ["Journal", "OutboxEntry", "JOURNAL_FILE", "SEQ_MAX", "SCHEMA_VERSION", "SUMMARY_COLUMNS",
           "PURGE_BATCH", "to_unix"]


class Journal(ResultsMixin, QueriesMixin, LampMixin, PendingTagsMixin):
    """The journal in ``<state_dir>/journal.db`` (or any ``path``); see the module docstring.

    Public API (all methods thread-safe and safe across processes):

    - results: `append_result`, `get`, `get_payload`, `latest`, `last_seq`
    - outbox: `pending`, `mark_sent`, `acknowledge`, `depth`, `oldest_unacked_age`, `lookup_missing`
    - retention: `apply_retention`, `purged_ranges`
    - queries: `history`, `count`, `counts_by_verdict`, `counts_by_reason`, `iter_records`
    - references and events: `save_reference`, `latest_reference`, `add_event`, `events`,
      `mark_events_published`, `event_row`; counters: `increment_counter`, `counter`; `integrity_check`,
      `close`
    - lamp hours (`firmware.journal.lamp`): `lamp_seconds`, `lamp_counter`, `start_lamp_counter`,
      `add_lamp_seconds`, `set_lamp_seconds`
    - tags for the next button press (`firmware.journal.pending`): `pending_tags_row`,
      `set_pending_tags`, `clear_pending_tags`; `append_result(..., consume_tags=id)` uses them up
    """
