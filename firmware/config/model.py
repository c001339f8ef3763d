"""``[model]``: which model package the device runs and whose signatures it trusts.

The device runs only packages signed by an issuer it trusts (DESIGN.md, Keys). By default that
list is ``models/TRUSTED_ISSUERS`` of the installation (one base64 key per line, ``#``
comments), so the shipped packages verify out of the box; a deployment that signs its own
models lists its keys here instead.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from pydantic import Field, field_validator

from ..signing import public_key_from_b64
from .base import Section



def find_models_dir(checkout: Path = Path(__file__).resolve().parents[2] / "models",
                    installed: Path = Path(sys.prefix) / "share" / "plastinir" / "models") -> Path:
    """``models/`` of a source checkout (or an editable install), else the copy setup.py installs
    under ``<prefix>/share/plastinir/models`` (``pip install '.[pi]'`` on a unit)."""
    return installed if not checkout.is_dir() and installed.is_dir() else checkout


#: The shipped model packages and ``TRUSTED_ISSUERS`` of this installation.
MODELS_DIR = find_models_dir()
TRUSTED_ISSUERS_FILE = MODELS_DIR / "TRUSTED_ISSUERS"
_VERSIONED = re.compile(r"-v(\d+)(?:\.zip)?$")


def read_trusted_issuers(path: Path = TRUSTED_ISSUERS_FILE) -> list[str]:
    """Keys listed in ``path`` (one per line, ``#`` starts a comment); [] if the file is absent.

    A malformed key is an error naming the file and line, not a silently shorter trust list.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    keys = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            public_key_from_b64(text)
        except ValueError as exc:
            raise ValueError(f"{path} line {number}: {exc}") from None
        keys.append(text)
    return keys


def check_public_keys(keys: list[str]) -> list[str]:
    """``keys`` if each is a base64 Ed25519 public key and none repeats; else `ValueError` naming the
    entry (a config validator for every list of trusted keys: issuers, technicians)."""
    for i, key in enumerate(keys):
        try:
            public_key_from_b64(key)
        except ValueError as exc:
            raise ValueError(f"entry {i} is not a base64 Ed25519 public key: {exc}") from None
    if len(set(keys)) != len(keys):
        raise ValueError("lists the same key twice")
    return keys


def newest_package(head: str, models_dir: Path = MODELS_DIR) -> Path | None:
    """The shipped package ``<head>-…-v<N>`` with the highest N (folder or .zip), or None."""
    best: tuple[int, str, Path] | None = None
    for p in models_dir.glob(f"{head}-*"):
        m = _VERSIONED.search(p.name)
        if m and (p.is_dir() or p.suffix == ".zip"):
            key = (int(m.group(1)), p.name, p)
            best = key if best is None or key[:2] > best[:2] else best
    return best[2] if best else None


class ModelSection(Section):
    package: Path | None = Field(
        default=None,
        description="Model package (folder or .zip). Unset: the newest models/<head>-*-v<N> package "
                    "for the configured head.")
    trusted_issuers: list[str] | None = Field(
        default=None, validate_default=True,
        description="Base64 Ed25519 public keys whose model packages the device accepts. "
                    "Unset: the keys in models/TRUSTED_ISSUERS (always a list once validated).")

    @field_validator("trusted_issuers")
    @classmethod
    def _keys_are_ed25519(cls, keys: list[str] | None) -> list[str]:
        if keys is None:  # read here, not in a default factory, so a bad file is a config error
            return read_trusted_issuers()
        return check_public_keys(keys)
