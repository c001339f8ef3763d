"""Live updates for the Now page: server-sent events, bounded so they cannot starve the server.

waitress serves from a fixed pool of threads, and an event stream keeps its thread for as long
as it is open. A tab left open on a phone in a drawer would hold that thread forever, and a few
of them would leave none for the pages themselves. So:

- at most ``max_clients`` streams are open at once; the next page gets ``503`` with
  ``Retry-After`` and its script falls back to polling ``/api/state`` (one short request at a
  time, no thread held);
- every stream ends after ``lifetime_s``, telling the browser to reconnect after a pause; a tab
  that is still open and visible simply reconnects (the script closes the stream while the tab
  is hidden);
- an idle stream sends a comment every ``heartbeat_s``: writing to a vanished client fails, so
  its thread comes back within one heartbeat instead of at the end of the lifetime;
- the hub subscribes to the device state *once*; each stream only waits on a condition variable
  for the version number to change. A listener on the runtime's thread never blocks.

`close` ends every stream at once (server shutdown).
"""
from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Iterator

#: What a stream sends of a snapshot (the page fetches the rendered panel itself).
EVENT_FIELDS = ("state", "reason", "since", "busy", "can_measure")


class LiveHub:
    def __init__(self, subscribe: Callable[[Callable[[dict], None]], Callable[[], None]], *, max_clients: int,
                 lifetime_s: float, heartbeat_s: float, retry_ms: int = 3000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_clients = max_clients
        self.lifetime_s = lifetime_s
        self.heartbeat_s = heartbeat_s
        self.retry_ms = retry_ms
        self.clock = clock
        self._cond = threading.Condition()
        self._version = 0
        self._latest: dict[str, Any] | None = None
        self._clients = 0
        self._closed = False
        self.served_total = 0
        self.refused_total = 0
        self._unsubscribe = subscribe(self._changed)

    # --- the runtime side --------------------------------------------------------------------

    def _changed(self, snapshot: dict[str, Any]) -> None:
        """State listener: note the change and wake the streams (never blocks the runtime)."""
        with self._cond:
            self._version += 1
            self._latest = {k: snapshot.get(k) for k in EVENT_FIELDS}
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._unsubscribe()

    # --- the page side -----------------------------------------------------------------------

    @property
    def clients(self) -> int:
        with self._cond:
            return self._clients

    @property
    def version(self) -> int:
        with self._cond:
            return self._version

    def open(self, initial: dict[str, Any]) -> "Stream | None":
        """A new stream starting with ``initial``, or None when the limit is reached (or closed)."""
        with self._cond:
            if self._closed or self._clients >= self.max_clients:
                self.refused_total += 1
                return None
            self._clients += 1
            self.served_total += 1
            version = self._version
        return Stream(self, version, {k: initial.get(k) for k in EVENT_FIELDS})

    def _release(self) -> None:
        with self._cond:
            self._clients -= 1

    def _wait(self, version: int, timeout: float) -> tuple[int, dict | None, bool]:
        """Wait until the version moves past ``version`` or ``timeout``; (version, latest, closed)."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or self._version != version, timeout=max(0.0, timeout))
            return self._version, self._latest, self._closed


def _event(name: str, data: dict[str, Any], event_id: int) -> bytes:
    return f"event: {name}\nid: {event_id}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class Stream:
    """One client's event stream: the WSGI response body. ``close`` (called by the server when the
    response ends or the client is gone) gives the slot back exactly once, even if never iterated."""

    def __init__(self, hub: LiveHub, version: int, initial: dict[str, Any]) -> None:
        self.hub = hub
        self.version = version
        self.initial = initial
        self._released = False
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self.hub._release()

    def __iter__(self) -> Iterator[bytes]:
        hub = self.hub
        deadline = hub.clock() + hub.lifetime_s
        yield f"retry: {hub.retry_ms}\n\n".encode() + _event("state", self.initial, self.version)
        version = self.version
        while True:
            now = hub.clock()
            if now >= deadline:
                # Lifetime over: say so, and let the browser reconnect after retry_ms if it still cares.
                yield b": lifetime over, reconnect\n\n"
                return
            new, latest, closed = hub._wait(version, min(hub.heartbeat_s, deadline - now))
            if closed:
                return
            if new != version:
                version = new
                yield _event("state", latest or {}, new)
            elif hub.clock() < deadline:
                yield b": heartbeat\n\n"
