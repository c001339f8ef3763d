"""The MQTT side of ``nir-device demo``: its own broker and, when it can, a bureau that acknowledges.

A newcomer should see a result travel the whole way: journal → MQTT → bureau database → ack →
out of the outbox. So the demo starts

- the embedded broker (`firmware.mqtt.embedded`: Mosquitto, else amqtt) on 127.0.0.1, and
- with Mosquitto and the host tools installed (``nir-host``, the ``host`` extra that ``make``
  installs), a bureau ingester as a child process (``nir-host bureau``) storing into
  ``<state dir>/bureau.db`` with the demo unit registered (``nir-host units add``). The firmware
  never imports ``host`` (DESIGN.md's dependency rule), so it runs the bureau's command line.
  The bureau speaks MQTT 5 only, so with amqtt there is no bureau: results are published and
  wait in the outbox, as they would with a bureau that is down.

`AckWatcher` prints each result the bureau acknowledged, read from the journal.
"""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from .mqtt.embedded import HOST, EmbeddedBroker, choose_port, start_embedded_broker

BUREAU_CLIENT_ID = "nir-demo-bureau"
EMBEDDED = "embedded"


def nir_host() -> str | None:
    """The ``nir-host`` command installed beside this Python (the venv), else on PATH."""
    beside = Path(sys.executable).with_name("nir-host")
    return str(beside) if beside.exists() else shutil.which("nir-host")


class DemoMqtt:
    """Broker choice for the demo (``--broker embedded|URL|none``) and the processes it starts.

    Use as a context manager: leaving it stops the bureau, then the broker.
    """

    def __init__(self, broker: str, *, state_dir: str | Path, port: int | None = None, prefer: str | None = None,
                 bureau: bool = True) -> None:
        self.choice = broker.strip()
        self.state_dir = Path(state_dir)
        self.prefer = prefer
        self.want_bureau = bureau
        self.port = choose_port(port) if self.choice == EMBEDDED else None
        self.broker: EmbeddedBroker | None = None
        self.bureau: subprocess.Popen | None = None
        self.bureau_url: str | None = None
        self.notes: list[str] = []

    def config_overrides(self) -> dict[str, Any]:
        if self.choice != EMBEDDED:
            return {"broker": self.choice}
        # loopback: a short CONNACK timeout lets the amqtt fallback happen in seconds; short timers
        # so a newcomer sees stats and re-sends without waiting a minute
        return {"broker": f"mqtt://{HOST}:{self.port}", "connack_timeout_s": 2.0, "stats_interval_s": 10.0,
                "resend_after_s": 10.0}

    # --- start / stop -----------------------------------------------------------------------

    def start(self, unit: str, public_key: str) -> None:
        if self.choice != EMBEDDED:
            return
        self.broker = start_embedded_broker(self.state_dir, self.port, self.prefer)
        if not self.want_bureau:
            return
        if self.broker.protocol != "5":
            self.notes.append("no bureau: the bureau speaks MQTT 5 and this broker only 3.1.1 "
                              "(install mosquitto for the full round trip)")
            return
        tool = nir_host()
        if tool is None:
            self.notes.append("no bureau: nir-host is not installed (pip install '.[host]')")
            return
        self._start_bureau(tool, unit, public_key)

    def _start_bureau(self, tool: str, unit: str, public_key: str) -> None:
        db = f"sqlite:///{(self.state_dir / 'bureau.db').resolve()}"
        added = subprocess.run([tool, "units", "add", unit, "--public-key", public_key, "--db", db],
                               capture_output=True, text=True, timeout=120)
        if added.returncode != 0:
            self.notes.append(f"no bureau: registering the unit failed: {added.stderr.strip()[-300:]}")
            return
        log_path = self.state_dir / "bureau.log"
        with open(log_path, "ab") as log_file:
            self.bureau = subprocess.Popen(
                [tool, "bureau", "--db", db, "--broker", self.broker.url, "--client-id", BUREAU_CLIENT_ID],
                stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.bureau_url = db
        self.bureau_log = log_path
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and self.bureau.poll() is None:
            if "subscribed:" in log_path.read_text(errors="replace"):
                return
            time.sleep(0.1)
        if self.bureau.poll() is not None:
            self.notes.append(f"the bureau exited at start (exit {self.bureau.returncode}); see {log_path}")
            self.bureau_url = None

    def stop(self) -> None:
        if self.bureau is not None and self.bureau.poll() is None:
            self.bureau.send_signal(signal.SIGTERM)
            try:
                self.bureau.wait(20)
            except subprocess.TimeoutExpired:
                self.bureau.kill()
                self.bureau.wait(5)
        if self.broker is not None:
            self.broker.stop()

    def __enter__(self) -> "DemoMqtt":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- telling the user -------------------------------------------------------------------

    def describe(self, unit: str) -> list[str]:
        if self.choice == "none":
            return ["  MQTT:        none (--broker none): results wait in the journal's outbox"]
        if self.broker is None:
            return [f"  MQTT:        {self.choice} (the demo's link publishes there)"]
        b = self.broker
        name = "Mosquitto, MQTT 5" if b.kind == "mosquitto" else "amqtt, MQTT 3.1.1: no response topics"
        lines = [f"  MQTT:        {b.url}  ({name}" + (f"; persistence in {b.persistence}" if b.persistence else "")
                 + ")",
                 f"               watch it: mosquitto_sub -h {HOST} -p {b.port} -v -t 'plastinir/{unit}/#'"]
        if self.bureau_url:
            lines += [f"  bureau:      nir-host bureau → {self.bureau_url}  (log {self.bureau_log})",
                      f"               nir-host report results --db {self.bureau_url}"]
        lines += [f"  note:        {n}" for n in self.notes]
        return lines

    def wait_drained(self, journal: Any, timeout_s: float, out: Callable[[str], None]) -> None:
        """With a bureau: wait (bounded) until it acknowledged everything, so a counted demo ends clean."""
        if not self.bureau_url:
            return
        deadline = time.monotonic() + timeout_s
        while journal.depth() and time.monotonic() < deadline:
            time.sleep(0.1)
        left = journal.depth()
        if left:
            out(f"{left} result(s) not yet acknowledged by the bureau; they stay in the outbox for the next run")


class AckWatcher:
    """Prints the results the bureau has acknowledged (``acked_at`` in the journal), as they come."""

    def __init__(self, journal: Any, *, out: Callable[[str], None], stop: threading.Event, poll_s: float = 0.5):
        self.journal = journal
        self.out = out
        self.stop = stop
        self.poll_s = poll_s
        self.first = journal.last_seq() + 1  # only what this run measures
        self.reported: set[int] = set()
        self._thread = threading.Thread(target=self._run, name="demo-acks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            stopping = self.stop.wait(self.poll_s)
            try:
                self._report()
            except Exception:  # noqa: BLE001 - a display helper; the journal may be closing
                return
            if stopping:
                return

    def _report(self) -> None:
        rows = [r for r in self.journal.history(limit=200)
                if r["seq"] >= self.first and r["acked_at"] and r["seq"] not in self.reported]
        if not rows:
            return
        seqs = sorted(r["seq"] for r in rows)
        self.reported.update(seqs)
        what = f"seq {seqs[0]}" if len(seqs) == 1 else f"seq {seqs[0]}–{seqs[-1]}"
        self.out(f"          ✓ stored by the bureau and acknowledged: {what} (outbox {self.journal.depth()})")


__all__ = ["AckWatcher", "DemoMqtt"]
