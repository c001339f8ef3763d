"""Writing and signing model packages (DESIGN.md, Contracts: Model package).

The reader and verifier is `firmware.model_package`; this is its one writer, so what the
toolchain writes is by construction what the device accepts: every write is read back and
verified with `load_package` before it is reported done.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware.contracts import MANIFEST_SCHEMA
from firmware.errors import KeyFileError
from firmware.model_package import MANIFEST_FILE, ONNX_FILE, ModelPackage, load_package
from firmware.signing import json_safe, load_private_key, public_key_b64, sign_document

ISSUER_KEY_ENV = "PLASTINIR_ISSUER_KEY"


def issuer_key(path: str | os.PathLike | None = None) -> Ed25519PrivateKey:
    """The issuer key from ``path``, else from ``PLASTINIR_ISSUER_KEY``; never made up silently."""
    path = path or os.environ.get(ISSUER_KEY_ENV)
    if not path:
        raise KeyFileError(f"no issuer key: pass --key FILE or set {ISSUER_KEY_ENV} "
                           f"(create one with `nir-host keys new --out FILE`)")
    return load_private_key(path)


def write_package(out_dir: str | os.PathLike, manifest: dict[str, Any], onnx_bytes: bytes,
                  key: Ed25519PrivateKey, files: dict[str, bytes] | None = None) -> ModelPackage:
    """Write ``manifest.json`` + ``model.onnx`` (+ ``files``) into ``out_dir``, signed, atomically.

    ``manifest`` holds the model fields; schema, hashes, issuer key and signature are filled in
    here. The folder is assembled next to its destination and renamed into place, so a crash
    never leaves a half-written package where the device would look for one.
    """
    out = Path(out_dir)
    files = dict(files or {})
    for name in files:
        if name in (MANIFEST_FILE, ONNX_FILE) or "/" in name or name.startswith("."):
            raise ValueError(f"extra package file name {name!r} not allowed")
    doc = json_safe(dict(manifest))
    doc.update({
        "schema": MANIFEST_SCHEMA,
        "onnx_sha256": hashlib.sha256(onnx_bytes).hexdigest(),
        "files": {n: hashlib.sha256(b).hexdigest() for n, b in sorted(files.items())},
        "issuer_public_key": public_key_b64(key),
    })
    signed = sign_document(doc, key)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / MANIFEST_FILE).write_text(json.dumps(signed, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
        (tmp / ONNX_FILE).write_bytes(onnx_bytes)
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        load_package(tmp, [signed["issuer_public_key"]])  # what we wrote is what a device accepts
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return load_package(out, [signed["issuer_public_key"]])
