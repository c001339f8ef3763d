"""The soak's processes: devices (``nir-device run --sim``), ingesters (``nir-host bureau``), broker.

Each is a real process started through its command line, so SIGKILL means what it means in the
field. Logs go to files in the soak's work directory (one per process life), which it keeps
when a check fails.
"""
from __future__ import annotations

import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

from firmware.sim.control import CONTROL_DIR, write_whole

log = logging.getLogger("soak")

BIN = Path(sys.executable).parent
NIR_DEVICE = str(BIN / "nir-device")
NIR_HOST = str(BIN / "nir-host")
PREFIX = "plastinir"
SHARED_GROUP = "soak"
#: Environment variables that would make a child pick up this machine's settings.
_ISOLATE = ("PLASTINIR_CONFIG", "PLASTINIR_BACKEND", "PLASTINIR_BUREAU_CONFIG", "STATE_DIRECTORY", "NOTIFY_SOCKET",
            "WATCHDOG_USEC", "WATCHDOG_PID", "CREDENTIALS_DIRECTORY")


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _ISOLATE}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Proc:
    """One restartable child process; ``lives`` counts its starts (one log file each)."""

    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.lives = 0
        self.logs: list[Path] = []

    def command(self) -> list[str]:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} already running")
        self.lives += 1
        path = self.workdir / f"{self.name}.{self.lives}.log"
        self.logs.append(path)
        with open(path, "wb") as out:
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=child_env())

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no last words (the broker sends the Will)."""
        if self.running:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait (SIGKILL after ``timeout``); returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.error("%s did not stop within %.0f s: SIGKILL", self.name, timeout)
                self.proc.kill()
                self.proc.wait(30)
        return self.proc.returncode

    def log_tail(self, lines: int = 20) -> str:
        if not self.logs:
            return "(never started)"
        return "\n".join(self.logs[-1].read_text(errors="replace").splitlines()[-lines:])


class Ingester(Proc):
    """``nir-host bureau`` on the shared subscription, with a stable client id (its persistent session)."""

    def __init__(self, index: int, workdir: Path, db_url: str, broker_url: str, config: Path) -> None:
        super().__init__(f"ingester-{index}", workdir)
        self.client_id = f"soak-ingester-{index}"
        self.db_url, self.broker_url, self.config = db_url, broker_url, config

    def command(self) -> list[str]:
        return [NIR_HOST, "bureau", "--config", str(self.config), "--db", self.db_url, "--broker", self.broker_url,
                "--shared", SHARED_GROUP, "--client-id", self.client_id]

    _COUNTERS = re.compile(r"(?:running|stopped): (received=\d+.*)$")

    def counters(self) -> dict[str, int]:
        """Summed over every life: each life's last counter line (SIGKILL loses at most its last
        ``stats_log_interval_s``, so these are lower bounds)."""
        total: dict[str, int] = {}
        for path in self.logs:
            last = None
            for line in path.read_text(errors="replace").splitlines():
                m = self._COUNTERS.search(line)
                if m:
                    last = m.group(1)
            for part in (last or "").split(", "):
                if "=" in part:
                    k, v = part.split("=", 1)
                    total[k] = total.get(k, 0) + int(v)
        return total


def bureau_config_text() -> str:
    """Fast reconnects and frequent counter lines; everything else as shipped."""
    return ("[mqtt]\nreconnect_min_s = 0.1\nreconnect_max_s = 1.0\n\n"
            "[ingest]\nstats_log_interval_s = 2.0\ngap_request_interval_s = 5.0\n")


class Device(Proc):
    """One simulated unit: its own state directory, key, journal and ``nir-device run`` process."""

    def __init__(self, index: int, workdir: Path, broker_url: str, *, seed: int, press_every_s: float) -> None:
        super().__init__(f"device-{index}", workdir)
        self.index = index
        self.state_dir = workdir / f"unit-{index}"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.config = self.state_dir / "device.toml"
        self.config.write_text(
            f'[hardware]\nbackend = "sim"\n\n[sim]\nseed = {seed}\ncontrol = true\npress_every_s = {press_every_s}\n\n'
            '[clock]\nsynced = "never"\n\n[http]\nenabled = false\n\n'
            f'[mqtt]\nbroker = "{broker_url}"\nprefix = "{PREFIX}"\nresend_after_s = 5.0\nreconnect_min_s = 0.1\n'
            'reconnect_max_s = 1.0\nstats_interval_s = 10.0\n')
        self.unit = ""
        self.public_key = ""
        self._requests = 0
        self.samples = ("pet", "pla", "hdpe", "pp")

    def command(self) -> list[str]:
        return [NIR_DEVICE, "run", "--sim", "--state-dir", str(self.state_dir), "--config", str(self.config)]

    def prepare(self) -> None:
        """White reference (makes the key and the journal), then the unit id and key for the bureau."""
        for args in (["reference", "white", "--sim"], ["id", "--json"]):
            done = subprocess.run([NIR_DEVICE, *args, "--state-dir", str(self.state_dir), "--config", str(self.config)],
                                  capture_output=True, text=True, timeout=120, env=child_env())
            if done.returncode != 0:
                raise RuntimeError(f"nir-device {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
        ident = json.loads(done.stdout)
        self.unit, self.public_key = ident["unit"], ident["public_key"]

    # --- the sim-control requests (firmware/sim/control.py) ---------------------------------------

    def ask(self, request: dict, timeout: float = 30.0) -> dict:
        """Write a request, wait for its answer (the process may still be starting)."""
        self._requests += 1
        directory = self.state_dir / CONTROL_DIR
        directory.mkdir(exist_ok=True)
        name = f"{self._requests:06d}-{uuid.uuid4().hex[:6]}"
        write_whole(directory / f"{name}.json", request)
        done = directory / f"{name}.done"
        deadline = time.monotonic() + timeout
        while not done.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: no answer to {request} within {timeout:.0f} s "
                                   f"(running: {self.running})\n{self.log_tail()}")
            time.sleep(0.05)
        answer = json.loads(done.read_text())
        done.unlink()
        return answer

    def place_next(self) -> None:
        sample = self.samples[(self._requests + self.index) % len(self.samples)]
        answer = self.ask({"action": "place", "sample": sample})
        if not answer["ok"]:
            raise RuntimeError(f"{self.name}: placing {sample}: {answer['error']}")

    # --- the journal, read-only (the process may be writing) --------------------------------------

    def journal(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.state_dir / 'journal.db'}?mode=ro", uri=True, timeout=30)

    def depth(self) -> int:
        with self.journal() as con:
            return con.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def last_seq(self) -> int:
        with self.journal() as con:
            return con.execute("SELECT coalesce(max(seq), 0) FROM results").fetchone()[0]

    def acknowledged(self) -> int:
        with self.journal() as con:
            return con.execute("SELECT count(*) FROM results WHERE acked_at IS NOT NULL").fetchone()[0]

    def fault_events(self) -> list[tuple[int, str, str]]:
        """(id, code, detail.error) of the journal's fault events."""
        with self.journal() as con:
            rows = con.execute("SELECT id, code, detail FROM events WHERE kind = 'fault' ORDER BY id").fetchall()
        return [(i, code, json.loads(detail).get("error", "")) for i, code, detail in rows]


def wait_for(predicate, timeout: float, what: str, poll: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(poll)
