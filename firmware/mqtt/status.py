"""What the link tells the status page and ``/metrics``: its state, since when, why, and counters.

The page calls ``runtime.link_status()`` from its own threads while paho's network thread and
the link's worker change the state, so everything here sits behind one lock and every reader
gets a copy. The state is "connected" only after the broker accepted the connection (CONNACK
reason code) *and* the subscriptions the link depends on (SUBACK reason codes): without the
``ack`` subscription the outbox could never empty, so the link must not claim to be up.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from ..record import utc_now_rfc3339

#: The states a link can be in (the page shows them; ``/metrics`` counts "connected" as up).
CONNECTING = "connecting"      # a connection attempt is under way (first one, or after a loss)
SUBSCRIBING = "subscribing"    # CONNACK accepted; waiting for the SUBACK of ack + commands
CONNECTED = "connected"        # both accepted: results flow and acks can come back
REFUSED = "refused"            # CONNACK or SUBACK refused: detail says why; retried with backoff
DISCONNECTED = "disconnected"  # lost; reconnecting with backoff
STOPPED = "stopped"            # clean exit
STATES = (CONNECTING, SUBSCRIBING, CONNECTED, REFUSED, DISCONNECTED, STOPPED)


def rfc3339(unix: float | None) -> str | None:
    return None if unix is None else utc_now_rfc3339(datetime.fromtimestamp(unix, timezone.utc))


class LinkStatus:
    """Thread-safe state of one link: ``state, broker, since, last_puback, detail`` + counters."""

    def __init__(self, broker: str, clock=time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.broker = broker
        self._state = CONNECTING
        self._since = clock()
        self._detail: str | None = "starting"
        self._last_puback: float | None = None
        self.protocol: str | None = None
        self._counters: Counter[str] = Counter()

    def set(self, state: str, detail: str | None = None) -> None:
        """Enter ``state`` (``since`` moves only when the state changes; ``detail`` always)."""
        if state not in STATES:
            raise ValueError(f"unknown link state {state!r}")
        with self._lock:
            if state != self._state:
                self._state = state
                self._since = self._clock()
            self._detail = detail

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    def puback(self) -> None:
        with self._lock:
            self._last_puback = self._clock()

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counters[name] += n

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters)

    def as_dict(self) -> dict[str, Any]:
        """What ``runtime.link_status()`` returns (docs/RUNTIME.md): the page's "Broker link" line."""
        with self._lock:
            detail = self._detail
            if self.protocol and self._state in (SUBSCRIBING, CONNECTED):
                detail = f"MQTT {self.protocol}" + (f"; {detail}" if detail else "")
            return {"state": self._state, "broker": self.broker, "since": rfc3339(self._since),
                    "last_puback": rfc3339(self._last_puback), "detail": detail}
