"""TEST-ONLY helpers for the device runtime's end-to-end tests: a simulated unit in a temporary
state directory, the ``nir-device`` command in a subprocess, a systemd notify socket, and
re-signed copies of the shipped model packages (throwaway issuer keys, never committed).

Everything runs the real code path: register-level simulator, drivers, heads, the shipped model
package through onnxruntime, the SQLite journal.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from firmware.config import load_config
from firmware.config.model import MODELS_DIR
from firmware.runtime import DeviceRuntime
from firmware.signing import generate_key, public_key_b64
from host.package_writer import write_package

NIR_DEVICE = str(Path(sys.executable).with_name("nir-device"))
FPI_PACKAGE = MODELS_DIR / "fpi-1550-1850-v1"
LED8_PACKAGE = MODELS_DIR / "led8-8band-v1"
#: Manifest fields `write_package` fills in itself.
SIGNED_FIELDS = ("schema", "onnx_sha256", "files", "issuer_public_key", "signature")
#: Environment variables that would make a child process pick up this machine's settings.
ISOLATE = ("PLASTINIR_CONFIG", "PLASTINIR_BACKEND", "STATE_DIRECTORY", "NOTIFY_SOCKET", "WATCHDOG_USEC",
           "WATCHDOG_PID", "CREDENTIALS_DIRECTORY")


def merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def sim_config(sections: dict | None = None):
    """A simulated fpi unit with a fixed seed, no page, no clock guessing."""
    base = {"hardware": {"backend": "sim"}, "sim": {"seed": 11}, "clock": {"synced": "never"},
            "http": {"enabled": False}}
    return load_config(None, merge(base, sections or {}))


def make_runtime(state_dir: Path, sections: dict | None = None, *, start: bool = True, **kwargs: Any) -> DeviceRuntime:
    rt = DeviceRuntime(sim_config(sections), state_dir=state_dir, **kwargs)
    if start:
        rt.start()
    return rt


def package_of(rt: DeviceRuntime):
    return rt.models.current().model.package


def place(rt: DeviceRuntime, spec: str, motion: float = 0.0) -> None:
    rt.board.sim.place(spec, motion=motion, package=package_of(rt))


def white_reference(rt: DeviceRuntime) -> dict:
    rt.board.sim.place("white")
    return rt.take_reference("white", trigger="test")


def resign(source: Path, out: Path, key=None, **changes: Any) -> tuple[Path, str]:
    """Copy of a package signed by ``key`` (default: a new throwaway key) with manifest ``changes``.

    Returns (package folder, the issuer's base64 public key).
    """
    key = key or generate_key()
    manifest = json.loads((source / "manifest.json").read_text())
    for name in SIGNED_FIELDS:
        manifest.pop(name, None)
    manifest.update(changes)
    files = {p.name: p.read_bytes() for p in source.iterdir() if p.name not in ("manifest.json", "model.onnx")}
    write_package(out, manifest, (source / "model.onnx").read_bytes(), key, files)
    return out, public_key_b64(key)


def copy_package(source: Path, out: Path) -> Path:
    shutil.copytree(source, out)
    return out


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ISOLATE}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONFAULTHANDLER"] = "1"  # SIGABRT makes a hung child print every thread's stack (`communicate`)
    env.update(extra)
    return env


def communicate(proc: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """``proc.communicate(timeout)``; a child still running then is aborted, and the test fails
    with the stacks of its threads (faulthandler, see `child_env`) instead of a bare timeout."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        out, err = proc.communicate(timeout=10)
        pytest.fail(f"{proc.args[:2]} still running after {timeout} s; its threads:\n{err[-8000:]}")


def nir_device(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 60.0
               ) -> subprocess.CompletedProcess:
    return subprocess.run([NIR_DEVICE, *args], capture_output=True, text=True, cwd=cwd,
                          env=env or child_env(), timeout=timeout)


class NotifySocket:
    """A systemd ``NOTIFY_SOCKET`` stand-in: collects READY=1, STATUS=, WATCHDOG=1, STOPPING=1."""

    def __init__(self, directory: Path) -> None:
        self.path = str(directory / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages: list[str] = []

    def wait_for(self, prefix: str, timeout: float = 30.0) -> str:
        """The first message (so far or arriving) that starts with ``prefix``."""
        for message in self.messages:
            if message.startswith(prefix):
                return message
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                message = self.sock.recv(65536).decode()
            except socket.timeout:
                break
            self.messages.append(message)
            if message.startswith(prefix):
                return message
        raise AssertionError(f"no {prefix!r} from the device within {timeout} s; got {self.messages}")

    def close(self) -> None:
        self.sock.close()
