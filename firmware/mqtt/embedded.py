"""The demo's own MQTT broker: Mosquitto when it is installed, else amqtt in this process.

``nir-device demo`` must show results travelling over MQTT on a fresh machine, so it brings a
broker along (issue 4):

- **Mosquitto** (Debian package ``mosquitto``; ``/usr/sbin`` is searched too, Debian puts it
  there) as a child process on a loopback port, from a temporary config with persistence in the
  demo's state directory — the broker the field uses, MQTT 5;
- otherwise **amqtt** (``pip install '.[demo]'``; ``make demo`` installs it when Mosquitto is
  absent), a pure-Python broker run on its own thread. It speaks MQTT 3.1.1 only, so the link
  falls back to 3.1.1 (no response topics: command replies go to ``cmd/<name>/reply``) — the
  degraded path, shown working. It keeps nothing on disk.

Only loopback addresses are used: the demo's broker is for this machine.
"""
from __future__ import annotations

import asyncio
import logging
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import ConfigError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_PORT = 1883


@dataclass
class EmbeddedBroker:
    """A running demo broker: ``kind`` (mosquitto | amqtt), ``url``, ``protocol`` ("5" | "3.1.1")."""

    kind: str
    port: int
    protocol: str
    persistence: str | None
    _stop: Callable[[], None] = field(repr=False)

    @property
    def url(self) -> str:
        return f"mqtt://{HOST}:{self.port}"

    def stop(self) -> None:
        self._stop()


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def choose_port(port: int | None) -> int:
    """``port`` if given (it must be free; 0 = any free port), else 1883 when free, else any free port."""
    if port:
        if not port_free(port):
            raise ConfigError(f"demo MQTT port {port} on {HOST} is in use; pick another with --mqtt-port")
        return port
    if port is None and port_free(DEFAULT_PORT):
        return DEFAULT_PORT
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _listening(port: int, timeout: float, alive: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def start_mosquitto(binary: str, state_dir: Path, port: int) -> EmbeddedBroker:
    """Mosquitto on ``127.0.0.1:port``, anonymous, persistence in ``<state_dir>/mosquitto/``."""
    workdir = Path(state_dir) / "mosquitto"
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "mosquitto.conf"
    conf.write_text("\n".join([
        "# written by nir-device demo; rewritten at every start",
        f"user {pwd.getpwuid(os.getuid()).pw_name}",  # as root Mosquitto would drop to 'mosquitto'
        f"listener {port} {HOST}",
        "allow_anonymous true",
        "persistence true",
        f"persistence_location {workdir}/",
        "autosave_interval 10",
        f"log_dest file {workdir / 'mosquitto.log'}",
        "log_type error", "log_type warning", "log_type notice",
    ]) + "\n")
    out = open(workdir / "mosquitto.stdout", "ab")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out.close()
    if not _listening(port, 10.0, lambda: proc.poll() is None):
        proc.kill()
        proc.wait(5)
        tail = (workdir / "mosquitto.stdout").read_text(errors="replace")[-500:]
        raise ConfigError(f"the demo's Mosquitto did not start on {HOST}:{port}: {tail.strip() or 'no output'} "
                          f"(log: {workdir / 'mosquitto.log'})")

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()          # a clean stop saves the persistence file
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    return EmbeddedBroker("mosquitto", port, "5", str(workdir), stop)


def start_amqtt(port: int) -> EmbeddedBroker:
    """amqtt (MQTT 3.1.1) on ``127.0.0.1:port`` in a thread with its own event loop."""
    try:
        from amqtt.broker import Broker
    except ImportError:
        raise ConfigError("no MQTT broker for the demo: install Mosquitto (apt-get install mosquitto) or the "
                          "pure-Python one (pip install '.[demo]'), or run with --broker none") from None
    logging.getLogger("amqtt").setLevel(logging.ERROR)
    logging.getLogger("transitions").setLevel(logging.WARNING)  # amqtt's state machines log every step
    loop = asyncio.new_event_loop()
    started = threading.Event()
    outcome: dict = {}

    async def boot() -> None:
        broker = Broker({"listeners": {"default": {"type": "tcp", "bind": f"{HOST}:{port}"}},
                         "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}})
        await broker.start()
        outcome["broker"] = broker

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(boot())
        except Exception as exc:  # noqa: BLE001 - reported to the caller below
            outcome["error"] = exc
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=run, name="demo-amqtt", daemon=True)
    thread.start()
    if not started.wait(15) or "error" in outcome:
        raise ConfigError(f"the demo's amqtt broker did not start on {HOST}:{port}: {outcome.get('error', 'timeout')}")

    def stop() -> None:
        broker = outcome.get("broker")
        if broker is not None and loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(broker.shutdown(), loop).result(10)
            except Exception as exc:  # noqa: BLE001 - stopping: report and go on
                log.warning("amqtt shutdown: %s", exc)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    return EmbeddedBroker("amqtt", port, "3.1.1", None, stop)


def start_embedded_broker(state_dir: str | Path, port: int | None = None, prefer: str | None = None) -> EmbeddedBroker:
    """Mosquitto if installed (or ``prefer="mosquitto"``), else amqtt; `ConfigError` if neither."""
    chosen = choose_port(port)
    binary = mosquitto_binary()
    if prefer == "amqtt" or binary is None:
        if prefer == "mosquitto":
            raise ConfigError("mosquitto is not installed (Debian package 'mosquitto')")
        return start_amqtt(chosen)
    return start_mosquitto(binary, Path(state_dir), chosen)
