"""Who holds the hardware: an advisory lock file in the state directory.

Only one process may drive the SPI bus, the lamp and the LEDs; ``nir-device run`` holds the lock
for its lifetime, and ``measure``/``reference``/``selftest`` take it for the one operation.
A second user fails at once with the message the issue prescribes, naming the holder. The
journal is *not* behind this lock: ``export`` or a page in another process keep reading it.

``flock(2)`` is released by the kernel when the holder dies (even by SIGKILL), so a crash never
leaves a stale lock behind; the pid and command written into the file are only for the message.
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

from .errors import DeviceBusy, JournalError

LOCK_FILE = "hardware.lock"
BUSY_MESSAGE = "device busy: use the status page or MQTT"


def _describe(info: dict[str, Any] | None) -> str:
    if not info:
        return ""
    since = info.get("since")
    age = f", for {time.time() - since:.0f} s" if isinstance(since, (int, float)) else ""
    return f" (held by pid {info.get('pid')}: {info.get('owner')}{age})"


class HardwareLock:
    """``with HardwareLock(state_dir, "nir-device measure"):`` — raises `DeviceBusy` if taken."""

    def __init__(self, state_dir: str | Path, owner: str) -> None:
        self.path = Path(state_dir) / LOCK_FILE
        self.owner = owner
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "HardwareLock":
        if self._fd is not None:
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise JournalError(f"{self.path}: cannot open the hardware lock: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = _read(fd)
            os.close(fd)
            raise DeviceBusy(BUSY_MESSAGE + _describe(info)) from None
        except OSError as exc:
            os.close(fd)
            raise JournalError(f"{self.path}: cannot lock: {exc.strerror}") from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "owner": self.owner, "since": time.time()}).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self) -> "HardwareLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read(fd: int) -> dict[str, Any] | None:
    try:
        data = os.pread(fd, 4096, 0)
        return json.loads(data) if data else None
    except (OSError, ValueError):
        return None


def holder(state_dir: str | Path) -> dict[str, Any] | None:
    """Who holds the hardware now (``{pid, owner, since}``), or None if nobody does.

    Reads the file and checks the pid is alive instead of probing the lock, so asking (the
    status page does, often) can never make a real acquirer fail for a moment.
    """
    path = Path(state_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        info = _read(fd)
    finally:
        os.close(fd)
    if not info or not isinstance(info.get("pid"), int):
        return None
    try:
        os.kill(info["pid"], 0)
    except ProcessLookupError:
        return None  # killed without releasing: the kernel already dropped its flock
    except PermissionError:
        pass  # alive, owned by another user
    return info
