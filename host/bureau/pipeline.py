"""The ingester's pipeline: parse batches in one thread, commit them in another, then acknowledge.

The parse thread takes batches from the inbound queue (up to ``batch_max`` messages, waiting at
most ``batch_wait_ms`` for a batch to fill) and parses them (`payloads.Parser`: size, UTF-8,
JSON, schema, topic, registered unit, signature — the CPU-heavy part). The store thread writes
each parsed batch in one transaction (`store.Store`) and only then calls ``on_commit`` (the
ingester publishes acks and PUBACKs). While one batch waits for its commit (an fsync, a round
trip to PostgreSQL) the next is being verified.

Failure rules: a payload that breaks any rule is quarantined by the parser, never fatal; a
batch the database refuses is retried one message at a time so only the offending message is
quarantined (``internal``); a lost database connection is retried with backoff and nothing is
acknowledged meanwhile; no exception ends either thread.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from typing import Callable

from .config import IngestSettings
from .database import Database
from .errors import DatabaseError, DatabaseUnavailable
from .migrations import open_database
from .payloads import INTERNAL, Inbound, Parsed, Parser, Rejected
from .store import BatchOutcome, Store
from .units import KeyCache

log = logging.getLogger("plastinir.bureau")

#: ``on_commit(batch, outcome)``; outcome None: the batch's one message was quarantined on its own.
OnCommit = Callable[[list[Inbound], "BatchOutcome | None"], None]


class Counters:
    """Thread-safe event counters (received, stored, duplicates, quarantined:<category>, …)."""

    def __init__(self):
        self._counts: Counter = Counter()
        self._lock = threading.Lock()

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n

    def update(self, counts: Counter) -> None:
        with self._lock:
            self._counts.update(counts)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            snap = dict(self._counts)
        snap["quarantined"] = sum(v for k, v in snap.items() if k.startswith("quarantined:"))
        return snap


class Pipeline:
    """Parse and store threads over one database URL."""

    def __init__(self, db_url: str, parser: Parser, keys: KeyCache, settings: IngestSettings, counters: Counters,
                 on_commit: OnCommit, on_idle: Callable[[], None] = lambda: None):
        self.db_url = db_url
        self.parser = parser
        self.keys = keys
        self.settings = settings
        self.counters = counters
        self.on_commit = on_commit
        self.on_idle = on_idle
        self.inbound: "queue.Queue[Inbound]" = queue.Queue()
        # parsed batches waiting for their commit; small, so parsing runs only a batch or two ahead
        self._parsed: "queue.Queue[tuple[list[Inbound], list[Parsed]] | None]" = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._done = threading.Event()
        self.db: Database | None = None          # the store thread's connection
        self.lookup_db: Database | None = None   # the parse thread's (key lookups)
        self.store: Store | None = None
        self._threads: list[threading.Thread] = []
        self.last_error: str | None = None

    # --- life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Connect (migrating the schema) and start both threads."""
        self.db = open_database(self.db_url)
        self.lookup_db = Database(self.db.url)
        self.store = Store(self.db, quarantine_keep_bytes=self.settings.quarantine_keep_bytes)
        self._threads = [threading.Thread(target=self._parse_loop, name="bureau-parse", daemon=True),
                         threading.Thread(target=self._store_loop, name="bureau-store", daemon=True)]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float) -> None:
        """Finish what is queued (commit and acknowledge), then close the connections."""
        self._stop.set()
        if self._threads:
            self._done.wait(timeout)
        for db in (self.db, self.lookup_db):
            if db is not None:
                db.close()

    def alive(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def queued(self) -> int:
        """Messages received and not yet finished (committed and acknowledged, or given up): those in
        the queue *and* the batch being parsed or committed, so 0 means everything received is in
        the database. (``unfinished_tasks`` grows in ``put``, under the queue's own lock.)"""
        with self.inbound.mutex:
            return self.inbound.unfinished_tasks

    def _finished(self, batch: list[Inbound]) -> None:
        for _ in batch:
            self.inbound.task_done()

    # --- parse thread ---------------------------------------------------------------------
    def _next_batch(self) -> list[Inbound]:
        try:
            batch = [self.inbound.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.settings.batch_wait_ms / 1000
        while len(batch) < self.settings.batch_max:
            try:
                batch.append(self.inbound.get_nowait())
                continue
            except queue.Empty:
                pass
            left = deadline - time.monotonic()
            if left <= 0 or self._stop.is_set():
                break
            try:
                batch.append(self.inbound.get(timeout=left))
            except queue.Empty:
                break
        return batch

    def _parse_loop(self) -> None:
        try:
            while True:
                batch: list[Inbound] = []
                try:
                    batch = self._next_batch()
                    if not batch:
                        if self._stop.is_set():
                            return
                        self.on_idle()
                        continue
                    parsed = self._parse_batch(batch)
                    if parsed is not None:
                        self._parsed.put((batch, parsed))
                        batch = []  # the store thread finishes it
                except Exception:  # the pipeline must never stop: log, count, carry on
                    self.counters.count("worker_errors")
                    log.exception("unexpected error in the parse thread; continuing")
                    time.sleep(0.1)
                finally:
                    self._finished(batch)  # dropped (stopping, or an error): not PUBACKed, the broker redelivers
        finally:
            self._parsed.put(None)

    def _parse_batch(self, batch: list[Inbound]) -> list[Parsed] | None:
        """Parse, retrying while key lookups cannot reach the database; None if stopped meanwhile."""
        backoff = 0.2
        while True:
            try:
                return [self.parse(m) for m in batch]
            except DatabaseUnavailable as exc:
                self._db_trouble(exc, backoff, self.lookup_db)
                if self._stop.is_set():
                    return None  # not PUBACKed: the broker redelivers, the units re-send
                backoff = min(backoff * 2, 10.0)

    def parse(self, inbound: Inbound) -> Parsed:
        assert self.lookup_db is not None
        try:
            return self.parser.parse(self.lookup_db, inbound)
        except DatabaseError:
            raise
        except Exception as exc:  # a parser bug must cost one message, not the ingester
            log.exception("parser failed on %s", inbound.topic)
            return Rejected(inbound, self.parser.split_topic(inbound.topic)[0] or "", INTERNAL,
                            f"parser error: {type(exc).__name__}: {exc}")

    def _db_trouble(self, exc: Exception, backoff: float, db: Database | None) -> None:
        self.counters.count("db_unavailable")
        self.last_error = str(exc)
        log.warning("database unavailable (%s); retrying in %.1f s", exc, backoff)
        time.sleep(backoff)
        if db is not None:
            try:
                db.connect()
            except DatabaseUnavailable as again:
                log.warning("database still unavailable: %s", again)

    # --- store thread ---------------------------------------------------------------------
    def _store_loop(self) -> None:
        try:
            while True:
                item = self._parsed.get()
                if item is None:
                    return
                try:
                    self._store_with_retry(*item)
                finally:
                    self._finished(item[0])
        finally:
            self._done.set()

    def _store_with_retry(self, batch: list[Inbound], parsed: list[Parsed]) -> None:
        backoff, give_up_at = 0.2, None
        while True:
            try:
                self.commit(batch, parsed)
                return
            except DatabaseUnavailable as exc:
                if self._stop.is_set():
                    give_up_at = give_up_at or time.monotonic() + 5
                    if time.monotonic() > give_up_at:
                        log.error("stopping with %d messages not stored; the broker and the units keep them",
                                  len(batch))
                        return
                self._db_trouble(exc, backoff, self.db)
                backoff = min(backoff * 2, 10.0)
            except Exception:
                self.counters.count("worker_errors")
                log.exception("unexpected error storing a batch of %d; left unacknowledged", len(batch))
                return

    def commit(self, batch: list[Inbound], parsed: list[Parsed]) -> None:
        """Write one batch, then call ``on_commit``; isolate the message the database refuses.

        If the connection drops while isolating, the caller retries the whole batch: what was
        already committed comes back as duplicates and is acknowledged again.
        """
        assert self.store is not None
        try:
            outcome = self.store.write(parsed)  # committed when this returns
        except DatabaseUnavailable:
            raise
        except DatabaseError as exc:
            self.counters.count("db_refused_batches")
            if len(batch) > 1:
                log.warning("database refused a batch of %d (%s); retrying one by one", len(batch), exc)
                for inbound, one in zip(batch, parsed):
                    self.commit([inbound], [one])
                return
            inbound, one = batch[0], parsed[0]
            rejected = Rejected(inbound, self.parser.split_topic(inbound.topic)[0] or "", INTERNAL,
                                f"database refused it: {exc}", getattr(one, "seq", None))
            self.store.quarantine([rejected])
            self.counters.count(f"quarantined:{INTERNAL}")
            log.error("quarantined %s: %s", inbound.topic, rejected.reason[:300])
            self.on_commit(batch, None)
            return
        for unit, key in outcome.registered:
            self.keys.put(unit, key)
            log.warning("unit %s registered by trust on first use", unit)
        outcome.counts["batches"] += 1
        self.counters.update(outcome.counts)
        for r in parsed:
            if isinstance(r, Rejected):
                log.info("quarantined %s (%s): %s", r.inbound.topic, r.category, r.reason[:300])
        self.on_commit(batch, outcome)
