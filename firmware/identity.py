"""Who this unit is (Ed25519 key, unit id) and which start of the process this is (boot id).

The key is made on first start in the state directory (mode 0600, never leaves the unit); the
unit id is the configured one or derived from the public key (DESIGN.md, Unit identity), so a
fresh state directory is a fresh unit and ``(unit, seq)`` never collides. The boot id changes
with every process start: the bureau uses it to tell a restart (seq continues, new boot id)
from a replayed or cloned unit.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .signing import load_or_create_key, public_key_b64, sign_document, unit_id_for

if TYPE_CHECKING:
    from .journal import Journal

KEY_FILE = "unit-key.pem"


@dataclass(frozen=True)
class Identity:
    unit: str
    public_key: str
    key: Ed25519PrivateKey = field(repr=False)
    key_path: Path
    created: bool = False

    def as_json(self) -> dict[str, str]:
        """What ``nir-device id --json`` prints and ``nir-host units add`` takes."""
        return {"unit": self.unit, "public_key": self.public_key}

    def sign(self, document: dict) -> dict:
        return sign_document(document, self.key)


def load_identity(state_dir: str | Path, unit: str | None = None) -> Identity:
    """Load the unit key from ``state_dir`` (creating it on first start) and name the unit."""
    path = Path(state_dir) / KEY_FILE
    key, created = load_or_create_key(path)
    pub = public_key_b64(key)
    return Identity(unit=unit or unit_id_for(pub), public_key=pub, key=key, key_path=path, created=created)


@dataclass(frozen=True)
class Boot:
    """One start of the device process."""

    boot_id: str
    count: int
    started_at: float
    started_monotonic: float

    def uptime_s(self) -> float:
        return time.monotonic() - self.started_monotonic


def start_boot(journal: "Journal") -> Boot:
    """Count this start in the journal and make its boot id: ``<count>-<random>``.

    The count makes boot ids sortable by eye in the bureau's tables; the random part keeps two
    units restored from one backup (same count) apart.
    """
    count = journal.increment_counter("boot")
    return Boot(f"{count}-{uuid.uuid4().hex[:12]}", count, time.time(), time.monotonic())
