"""A real Mosquitto broker (the Debian package) on free loopback ports, from a temporary config.

Tests that talk MQTT use the same broker the bureau and the units use in the field, started
per test so a test can SIGKILL it mid-stream and restart it on the same port. Variants:
plain listener; password file + ACL (``users=``, ``acl=``); TLS listener with a CA the
broker generates (``tls=True``); persistence on or off.

Mosquitto refuses nothing as root but drops privileges to the user named by ``user``; the config
names the current user, so the broker can read the temporary files it was given (root on CI).
"""
from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .pki import CertFiles, TestCA
from .ports import free_port, wait_listening

REPO = Path(__file__).resolve().parents[2]
#: The shipped example ACL (config/mosquitto/acl.example); tests use it as it is.
EXAMPLE_ACL = REPO / "config" / "mosquitto" / "acl.example"


def mosquitto_binary() -> str | None:
    """Path of the ``mosquitto`` binary (Debian puts it in /usr/sbin, often not on PATH)."""
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    return found


def mosquitto_passwd_binary() -> str | None:
    return shutil.which("mosquitto_passwd") or shutil.which("mosquitto_passwd", path="/usr/sbin:/usr/bin")


class BrokerError(RuntimeError):
    """The broker did not start; the message carries the tail of its log."""


class MosquittoBroker:
    """One broker process and its temporary config.

    Parameters
    ----------
    workdir : directory for config, log, password file, certificates and persistence.
    persistence : keep sessions and queued messages in ``workdir/persist`` across restarts.
        Mosquitto writes its database every ``autosave_interval_s`` (and on clean shutdown),
        so a SIGKILL loses at most that much.
    users : ``{username: password}``; given, anonymous clients are refused and a password file
        is made with ``mosquitto_passwd``.
    acl : ACL file text (``acl_text_for_prefix`` gives the shipped example); needs ``users``.
    tls : also open a TLS listener (``tls_port``) with a server certificate from a fresh
        `TestCA` (``self.ca``); ``require_certificate`` makes clients present one.
    max_queued_messages : per-client queue for offline persistent sessions (Mosquitto's default
        1000 is too small to pre-load a benchmark).
    """

    host = "127.0.0.1"

    def __init__(self, workdir: str | Path, *, persistence: bool = False, autosave_interval_s: int = 1,
                 users: dict[str, str] | None = None, acl: str | None = None, tls: bool = False,
                 require_certificate: bool = False, max_queued_messages: int = 100_000,
                 extra_config: str = "", log_debug: bool = False):
        binary = mosquitto_binary()
        if binary is None:
            raise BrokerError("mosquitto binary not found (Debian package 'mosquitto')")
        self.binary = binary
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.persistence = persistence
        self.autosave_interval_s = autosave_interval_s
        self.users = dict(users or {})
        self.acl = acl
        self.tls = tls
        self.require_certificate = require_certificate
        self.max_queued_messages = max_queued_messages
        self.extra_config = extra_config
        self.log_debug = log_debug
        self.port: int | None = None
        self.tls_port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.conf_file = self.workdir / "mosquitto.conf"
        self.log_file = self.workdir / "mosquitto.log"
        self.ca: TestCA | None = None
        self.server_cert: CertFiles | None = None
        if acl is not None and not users:
            raise ValueError("an ACL needs users (a password file): anonymous clients have no %u")
        if tls:
            self.ca = TestCA(self.workdir / "pki")
            self.server_cert = self.ca.issue("localhost", server=True)
        if self.users:
            self._write_password_file()
        if acl is not None:
            (self.workdir / "acl").write_text(acl)

    # --- addresses ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def tls_url(self) -> str:
        if not self.tls:
            raise ValueError("this broker has no TLS listener (tls=False)")
        return f"mqtts://{self.host}:{self.tls_port}"

    @property
    def ca_file(self) -> Path:
        if self.ca is None:
            raise ValueError("this broker has no TLS listener (tls=False)")
        return self.ca.cert_file

    # --- files ----------------------------------------------------------------------------
    def _write_password_file(self) -> None:
        tool = mosquitto_passwd_binary()
        if tool is None:
            raise BrokerError("mosquitto_passwd not found (Debian package 'mosquitto')")
        path = self.workdir / "passwords"
        path.write_text("".join(f"{user}:{password}\n" for user, password in self.users.items()))
        os.chmod(path, 0o600)
        done = subprocess.run([tool, "-U", str(path)], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise BrokerError(f"mosquitto_passwd -U {path} failed: {done.stderr.strip()}")

    def _config_text(self) -> str:
        lines = [
            f"user {pwd.getpwuid(os.getuid()).pw_name}",
            "per_listener_settings false",
            f"listener {self.port} {self.host}",
            "set_tcp_nodelay true",
            f"max_queued_messages {self.max_queued_messages}",
            f"log_dest file {self.log_file}",
            "log_type error", "log_type warning", "log_type notice", "log_type information",
            "connection_messages true",
        ]
        if self.log_debug:
            lines.append("log_type debug")
        if self.persistence:
            persist = self.workdir / "persist"
            persist.mkdir(exist_ok=True)
            lines += ["persistence true", f"persistence_location {persist}/",
                      f"autosave_interval {self.autosave_interval_s}"]
        else:
            lines.append("persistence false")
        if self.users:
            lines += ["allow_anonymous false", f"password_file {self.workdir / 'passwords'}"]
        else:
            lines.append("allow_anonymous true")
        if self.acl is not None:
            lines.append(f"acl_file {self.workdir / 'acl'}")
        if self.tls:
            assert self.server_cert is not None and self.ca is not None
            lines += [f"listener {self.tls_port} {self.host}",
                      f"cafile {self.ca.cert_file}", f"certfile {self.server_cert.cert}",
                      f"keyfile {self.server_cert.key}", "tls_version tlsv1.2",
                      f"require_certificate {'true' if self.require_certificate else 'false'}"]
        if self.extra_config:
            lines.append(self.extra_config)
        return "\n".join(lines) + "\n"

    def log_text(self, tail: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-tail:])
        except FileNotFoundError:
            return "(no log)"

    def saves(self) -> int:
        """How many times the broker has written its persistence file (from its log)."""
        try:
            return self.log_file.read_text(errors="replace").count("Saving in-memory database")
        except FileNotFoundError:
            return 0

    def wait_saved(self, timeout: float = 5.0) -> bool:
        """Wait for the next autosave, so what the broker holds now survives a SIGKILL."""
        if not self.persistence:
            raise ValueError("this broker has no persistence")
        before = self.saves()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.saves() > before:
                return True
            time.sleep(0.05)
        return False

    # --- life cycle -----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 10.0) -> "MosquittoBroker":
        """Start on fresh free ports (first start) or on the same ports (restart)."""
        if self.running:
            raise BrokerError("broker already running")
        same_ports = self.port is not None
        deadline = time.monotonic() + timeout
        attempt = 0
        while True:
            attempt += 1
            if not same_ports:
                self.port = free_port()
                self.tls_port = free_port() if self.tls else None
                while self.tls and self.tls_port == self.port:
                    self.tls_port = free_port()
            self.conf_file.write_text(self._config_text())
            out = open(self.workdir / "mosquitto.stdout", "ab")
            self.proc = subprocess.Popen([self.binary, "-c", str(self.conf_file)], stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            out.close()
            ok = wait_listening(self.host, self.port, max(0.5, deadline - time.monotonic()), self._alive)
            if ok and self.tls:
                ok = wait_listening(self.host, self.tls_port, max(0.5, deadline - time.monotonic()), self._alive)
            if ok:
                return self
            self._reap()
            if time.monotonic() > deadline or (not same_ports and attempt >= 5):
                stdout = (self.workdir / "mosquitto.stdout").read_text(errors="replace")[-2000:]
                raise BrokerError(f"mosquitto did not start on port {self.port}: {stdout}\n{self.log_text()}")
            time.sleep(0.1)  # restart on the same port: wait for the old socket to go

    def _alive(self) -> bool:
        return self.running

    def _reap(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no last save of the persistence file."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self._reap()

    def stop(self) -> None:
        """SIGTERM (clean shutdown: a persistent broker saves its database)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._reap()

    def restart(self, *, kill: bool = True) -> "MosquittoBroker":
        """Kill (or stop) and start again on the same ports."""
        self.kill() if kill else self.stop()
        return self.start()

    def __enter__(self) -> "MosquittoBroker":
        return self.start() if not self.running else self

    def __exit__(self, *exc) -> None:
        self.stop()


def acl_text_for_prefix(prefix: str = "plastinir", bureau_user: str = "bureau") -> str:
    """The shipped example ACL with its prefix and bureau user replaced (tests use unique prefixes)."""
    text = EXAMPLE_ACL.read_text()
    return text.replace("plastinir/", f"{prefix}/").replace("user bureau", f"user {bureau_user}")


def secure_options(units: list[str], *, prefix: str = "plastinir", bureau_user: str = "bureau") -> dict:
    """Broker options for TLS + password file + the shipped ACL, with a random password per user.

    Returns ``MosquittoBroker`` keyword arguments; ``users`` maps each unit id (its MQTT user
    name, which the ACL's ``%u`` patterns rely on) and ``bureau_user`` to its password.
    """
    import secrets
    users = {bureau_user: secrets.token_urlsafe(12)}
    users.update({u: secrets.token_urlsafe(12) for u in units})
    return {"users": users, "acl": acl_text_for_prefix(prefix, bureau_user), "tls": True}
