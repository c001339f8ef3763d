"""Certificates kept in the state directory: ``<state dir>/calibration/<calibration_id>.json``
and ``CURRENT`` naming the one in force.

Every certificate ever installed stays (they are small, and the history is what an auditor
asks for); ``CURRENT`` changes by an atomic rename after the new file is on disk, so a power
cut leaves either the old certificate in force or the new one, never a torn file.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from ..errors import CertificateError, JournalError
from ..signing import canonical_json

CURRENT = "CURRENT"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise JournalError(f"{path}: cannot store the calibration certificate: {exc.strerror or exc}") from exc


class CertificateStore:
    def __init__(self, state_dir: str | Path) -> None:
        self.dir = Path(state_dir) / "calibration"

    def path_of(self, calibration_id: str) -> Path:
        if not _SAFE.match(calibration_id or ""):
            raise CertificateError(f"calibration_id {calibration_id!r} is not a safe file name")
        return self.dir / f"{calibration_id}.json"

    def save(self, doc: dict[str, Any]) -> Path:
        """Keep ``doc`` (already verified) and make it current; returns its file."""
        path = self.path_of(str(doc.get("calibration_id")))
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"{self.dir}: cannot create the certificate folder: {exc.strerror or exc}") from exc
        _write_atomic(path, canonical_json(doc) + b"\n")
        _write_atomic(self.dir / CURRENT, path.name.encode("ascii") + b"\n")
        return path

    def current(self) -> tuple[dict[str, Any] | None, str | None]:
        """``(document, None)``, ``(None, None)`` without one, or ``(None, why)`` when the stored
        one cannot be read (card corruption, a hand-edited file)."""
        pointer = self.dir / CURRENT
        try:
            name = pointer.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None, None
        except (OSError, UnicodeDecodeError) as exc:
            return None, f"{pointer}: unreadable: {exc}"
        path = self.dir / name
        if not name.endswith(".json") or not _SAFE.match(name[:-5]):
            return None, f"{pointer}: names {name!r}, not a certificate file"
        try:
            return json.loads(path.read_text(encoding="utf-8")), None
        except FileNotFoundError:
            return None, f"{path}: the current certificate's file is missing"
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            return None, f"{path}: unreadable: {exc}"

    def history(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(p.stem for p in self.dir.glob("*.json"))
