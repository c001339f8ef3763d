"""Model packages installed through the page (or MQTT) kept in the state directory.

An upload that only swapped the model in memory would silently revert at the next restart, and
the technician would not know. So an accepted package is copied into ``<state dir>/models/``
under its name and version, and ``CURRENT`` (one line: the file name) is replaced atomically to
point at it; the composition root loads `ModelStore.current` at start, before the shipped
default. The copy and the pointer are written to temporary names, fsynced and renamed, so a
power cut leaves either the old or the new pointer, never half a file.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from ..errors import JournalError

POINTER = "CURRENT"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ModelStore:
    """``<state dir>/models``: installed packages and the pointer to the one in service."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def current(self) -> Path | None:
        """The installed package to load at start, or None (then config or the shipped default)."""
        try:
            name = (self.directory / POINTER).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise JournalError(f"{self.directory / POINTER}: unreadable: {exc.strerror}") from exc
        path = self.directory / name
        if not name or "/" in name or not path.is_file():
            raise JournalError(f"{self.directory / POINTER} names {name!r}, which is not an installed package "
                               f"in {self.directory}; remove {POINTER} to fall back to the configured model")
        return path

    def keep(self, source: str | Path, name: str, version: str) -> Path:
        """Copy the verified package ``source`` in and point ``CURRENT`` at it; returns the kept file.

        Raises `JournalError` naming the path on any filesystem failure (then nothing changed).
        """
        target_name = f"{_SAFE.sub('_', name)}-v{_SAFE.sub('_', version)}.zip"
        target = self.directory / target_name
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=self.directory)
            try:
                with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                    shutil.copyfileobj(src, out)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, target)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
            fd, tmp = tempfile.mkstemp(prefix=".current-", dir=self.directory)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(target_name + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.directory / POINTER)
            _fsync_dir(self.directory)
        except OSError as exc:
            raise JournalError(f"{self.directory}: cannot keep the model package: {exc.strerror or exc}") from exc
        return target
