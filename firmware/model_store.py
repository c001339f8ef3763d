"""Model packages the unit accepted at run time, kept in its state directory.

An update that only swapped the model in memory would silently revert at the next restart. So
an accepted package is kept as ``<state dir>/models/<name>-v<version>.zip`` and ``CURRENT``
(one line: that file's name) points at it; at start the runtime loads ``CURRENT`` before the
configured or shipped package. Files are written under temporary names, fsynced and renamed,
so a power cut leaves the old or the new pointer, never half a file. Every install goes
through `DeviceRuntime.install_model` (CLI, page upload, MQTT command, config reload), so this
is the one store.

A package arrives as a folder or a ``.zip``; it is always kept as a zip of its files.
"""
from __future__ import annotations

import os
import re
import tempfile
import zipfile
from pathlib import Path

from .errors import JournalError, ModelPackageError

DIRECTORY = "models"
POINTER = "CURRENT"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ModelStore:
    """``<state dir>/models``: kept packages and the pointer to the one in service."""

    def __init__(self, state_dir: str | Path) -> None:
        self.directory = Path(state_dir) / DIRECTORY

    def current(self) -> Path | None:
        """The kept package to load at start, or None."""
        pointer = self.directory / POINTER
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise JournalError(f"{pointer}: unreadable: {exc.strerror}") from exc
        path = self.directory / name
        if not name or "/" in name or not path.is_file():
            raise JournalError(f"{pointer} names {name!r}, which is not a kept package in {self.directory}; "
                               f"remove {POINTER} to fall back to the configured model")
        return path

    def stage(self, source: str | Path) -> Path:
        """Copy ``source`` (folder or zip) into a temporary zip in the store; `commit` or `discard` it."""
        source = Path(source)
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".staged-", suffix=".zip", dir=self.directory)
        except OSError as exc:
            raise JournalError(f"{self.directory}: cannot keep the model package: {exc.strerror or exc}") from exc
        staged = Path(tmp)
        try:
            with os.fdopen(fd, "wb") as out:
                if source.is_dir():
                    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
                        for p in sorted(source.rglob("*")):
                            if p.is_file():
                                zf.write(p, p.relative_to(source).as_posix())
                else:
                    with open(source, "rb") as src:
                        while chunk := src.read(1 << 20):
                            out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except FileNotFoundError:
            staged.unlink(missing_ok=True)
            raise ModelPackageError(f"{source}: no such model package (expected a folder or .zip)") from None
        except OSError as exc:
            staged.unlink(missing_ok=True)
            raise JournalError(f"{self.directory}: cannot keep {source}: {exc.strerror or exc}") from exc
        return staged

    def commit(self, staged: Path, name: str, version: str) -> Path:
        """Rename ``staged`` to its final name and point ``CURRENT`` at it; returns the kept file."""
        target = self.directory / f"{_SAFE.sub('_', name)}-v{_SAFE.sub('_', version)}.zip"
        try:
            os.replace(staged, target)
            fd, tmp = tempfile.mkstemp(prefix=".current-", dir=self.directory)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(target.name + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.directory / POINTER)
            _fsync_dir(self.directory)
        except OSError as exc:
            raise JournalError(f"{self.directory}: cannot keep the model package: {exc.strerror or exc}") from exc
        return target

    def discard(self, staged: Path) -> None:
        Path(staged).unlink(missing_ok=True)

    def clean_staged(self) -> int:
        """Remove copies a crash left half-made (never pointed at); returns how many."""
        removed = 0
        for p in self.directory.glob(".staged-*"):
            p.unlink(missing_ok=True)
            removed += 1
        for p in self.directory.glob(".current-*"):
            p.unlink(missing_ok=True)
        return removed
