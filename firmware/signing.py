"""Ed25519 keys, canonical JSON and document signatures (DESIGN.md, Contracts).

Result records, model manifests and calibration certificates are all signed the same way:
Ed25519 over the canonical JSON of the document without its ``signature`` field (sorted keys,
no spaces, UTF-8), the signature as base64. Doing it in one place means the bureau, the
device and the toolchain cannot drift apart on what "canonical" means.

Public keys travel as base64 of the raw 32 bytes. Private keys live in PEM (PKCS#8) files
created with mode 0600 and are never committed: a device makes its own on first start, an
issuer's comes from ``PLASTINIR_ISSUER_KEY`` or ``nir-host keys new``.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import KeyFileError, SignatureError

SIGNATURE_FIELD = "signature"


def canonical_json(document: Any) -> bytes:
    """The exact bytes that get signed: sorted keys, no spaces, UTF-8, no NaN or infinity.

    NaN is refused rather than written as the non-standard ``NaN`` token, because another JSON
    implementation would then parse (and re-serialise) the document differently.
    """
    try:
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    except ValueError as exc:
        raise SignatureError(f"document cannot be signed: {exc} (replace NaN/inf with null)") from exc
    return text.encode("utf-8")


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, what: str) -> bytes:
    """Strict base64 decoding; ``what`` names the field in the error."""
    if not isinstance(text, str):
        raise SignatureError(f"{what} must be a base64 string, got {type(text).__name__}")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise SignatureError(f"{what} is not valid base64: {exc}") from exc


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    raw = b64decode(text, "public key")
    if len(raw) != 32:
        raise SignatureError(f"public key must be 32 raw bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def public_key_b64(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    return b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def unit_id_for(public_key: str) -> str:
    """Default unit id: ``nir-`` + first 12 hex digits of SHA-256 of the raw public key.

    A new state directory makes a new key and therefore a new unit, so ``(unit, seq)`` never
    collides between two installations that both start counting at 1.
    """
    raw = b64decode(public_key, "public key")
    return "nir-" + hashlib.sha256(raw).hexdigest()[:12]


# --- key files -------------------------------------------------------------------------------

def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def save_private_key(key: Ed25519PrivateKey, path: str | Path) -> Path:
    """Write a new key file readable by its owner only; refuse to overwrite an existing one.

    The file is created with mode 0600 from the start (``O_EXCL``), so there is no window in
    which another user could read it.
    """
    path = Path(path)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise KeyFileError(f"{path}: key file already exists; refusing to overwrite it") from exc
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot create key file: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())
    return path


def load_private_key(path: str | Path, *, require_private_mode: bool = True) -> Ed25519PrivateKey:
    """Read an Ed25519 PEM key; refuse files that group or others can read."""
    path = Path(path)
    try:
        st = path.stat()
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise KeyFileError(f"{path}: key file not found") from exc
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read key file: {exc.strerror}") from exc
    if require_private_mode and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{path}: key file is readable by group or others "
                           f"(mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: key is {type(key).__name__}, expected Ed25519")
    return key


def load_or_create_key(path: str | Path) -> tuple[Ed25519PrivateKey, bool]:
    """The device's first-start behaviour: load the key, or make one. Returns (key, created)."""
    path = Path(path)
    if path.exists():
        return load_private_key(path), False
    key = generate_key()
    try:
        save_private_key(key, path)
    except KeyFileError:
        if path.exists():  # another process won the race; use its key
            return load_private_key(path), False
        raise
    return key, True


# --- signatures ------------------------------------------------------------------------------

def sign_bytes(key: Ed25519PrivateKey, message: bytes) -> str:
    return b64encode(key.sign(message))


def verify_bytes(public_key: str | Ed25519PublicKey, message: bytes, signature: str) -> None:
    """Raise `SignatureError` unless ``signature`` (base64) verifies ``message``."""
    pub = public_key_from_b64(public_key) if isinstance(public_key, str) else public_key
    sig = b64decode(signature, "signature")
    if len(sig) != 64:
        raise SignatureError(f"signature must be 64 bytes, got {len(sig)}")
    try:
        pub.verify(sig, message)
    except InvalidSignature as exc:
        raise SignatureError("signature does not verify: document altered or signed by another key") from exc


def signed_payload(document: dict) -> bytes:
    """Canonical bytes of ``document`` without its signature field."""
    if not isinstance(document, dict):
        raise SignatureError(f"only JSON objects are signed, got {type(document).__name__}")
    return canonical_json({k: v for k, v in document.items() if k != SIGNATURE_FIELD})


def sign_document(document: dict, key: Ed25519PrivateKey) -> dict:
    """Return a copy of ``document`` with ``signature`` set (any old signature replaced)."""
    unsigned = {k: v for k, v in document.items() if k != SIGNATURE_FIELD}
    return {**unsigned, SIGNATURE_FIELD: sign_bytes(key, canonical_json(unsigned))}


def verify_document(document: dict, public_key: str | Ed25519PublicKey) -> None:
    """Raise `SignatureError` unless the document's ``signature`` verifies with ``public_key``."""
    signature = document.get(SIGNATURE_FIELD) if isinstance(document, dict) else None
    if not signature:
        raise SignatureError("document has no signature")
    verify_bytes(public_key, signed_payload(document), signature)


def json_safe(value: Any) -> Any:
    """Replace NaN/inf floats (anywhere in nested lists/dicts) by None so a document can be signed."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
