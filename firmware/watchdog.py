"""systemd notifications: READY=1 once the device can measure, WATCHDOG=1 from the loop, STATUS=.

The watchdog is pinged from the acquisition loop itself, not from a helper thread: if the loop
hangs (a driver waiting forever on DRDY, a deadlock), the pings stop and systemd restarts the
service (``WatchdogSec=`` with ``Restart=on-failure``). `ping` is cheap and rate-limited to
half the watchdog interval, so the loop may call it on every pass.

Outside systemd (no ``$NOTIFY_SOCKET``: development, tests, the demo) every method is a no-op;
the sdnotify socket is only created when there is somewhere to send to.
"""
from __future__ import annotations

import os
import time


class Watchdog:
    """Reads ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID`` from the environment
    (sdnotify reads ``NOTIFY_SOCKET`` itself)."""

    def __init__(self) -> None:
        env = os.environ
        self.enabled = bool(env.get("NOTIFY_SOCKET"))
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        watched = usec is not None and usec.isdigit() and int(usec) > 0 and (pid is None or pid == str(os.getpid()))
        #: Seconds between pings (half systemd's WatchdogSec), or None when no watchdog is set.
        self.interval_s: float | None = int(usec) / 2e6 if watched and self.enabled else None
        self._last_ping = float("-inf")
        self._notifier = None
        if self.enabled:
            import sdnotify  # only where systemd listens: sdnotify leaks a socket otherwise

            self._notifier = sdnotify.SystemdNotifier()

    def _send(self, message: str) -> None:
        if self._notifier is not None:
            self._notifier.notify(message)

    def ready(self, status: str | None = None) -> None:
        """The service is up (``Type=notify``: systemd waits for this before calling it started)."""
        self._send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> None:
        self._send(f"STATUS={text.splitlines()[0] if text else ''}")

    def ping(self, force: bool = False) -> bool:
        """WATCHDOG=1 if half the interval has passed since the last one; returns whether it sent."""
        if self.interval_s is None:
            return False
        now = time.monotonic()
        if not force and now - self._last_ping < self.interval_s:
            return False
        self._last_ping = now
        self._send("WATCHDOG=1")
        return True

    def stopping(self) -> None:
        self._send("STOPPING=1")

    def close(self) -> None:
        sock = getattr(self._notifier, "socket", None)
        if sock is not None:
            sock.close()
        self._notifier = None
