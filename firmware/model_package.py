"""Reading and verifying model packages (DESIGN.md, Contracts: Model package).

A package is a folder (or a ``.zip`` of one) holding ``model.onnx`` and ``manifest.json``, and
optionally further files the manifest lists under ``files`` with their SHA-256 (e.g. the
preprocessed training library that ``nir-host adapt`` needs). The device runs only packages
that pass every check here, in this order, and the first failure is the one reported:

1. the manifest parses and has the contract's fields with the right types and schema version;
2. ``model.onnx`` hashes to ``onnx_sha256`` and every listed file to its hash;
3. the manifest's signature verifies with the ``issuer_public_key`` it names;
4. that issuer is one the device trusts (``trusted_issuers`` in its config).

Writing and signing packages is the toolchain's job (``host``); this module only reads, so the
device never needs scikit-learn.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .contracts import MANIFEST_SCHEMA, normalize_label
from .errors import ModelPackageError, SignatureError
from .signing import verify_document

MANIFEST_FILE = "manifest.json"
ONNX_FILE = "model.onnx"
#: A zip bigger than this is refused before it is unpacked into memory.
MAX_PACKAGE_BYTES = 256 * 1024 * 1024

#: Manifest fields the contract requires, with the JSON type each must have.
REQUIRED_FIELDS: dict[str, type | tuple[type, ...]] = {
    "schema": str, "name": str, "version": str, "head": str, "wavelengths_nm": list,
    "input": dict, "classes": list, "degradable": dict, "limits": dict, "reference_spectra": dict,
    "quantities": (list, dict), "metrics": dict, "provenance": dict, "onnx_sha256": str,
    "issuer_public_key": str, "signature": str,
}


@dataclass
class ModelPackage:
    """A verified package: its manifest, the ONNX bytes and any extra files it lists."""

    source: Path
    manifest: dict[str, Any]
    onnx_bytes: bytes = field(repr=False)
    files: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def head(self) -> str:
        return self.manifest["head"]

    @property
    def sha256(self) -> str:
        """SHA-256 of ``model.onnx``: what a result record names as ``model.sha256``."""
        return self.manifest["onnx_sha256"]

    @property
    def wavelengths_nm(self) -> np.ndarray:
        return np.asarray(self.manifest["wavelengths_nm"], dtype=float)

    @property
    def classes(self) -> list[str]:
        return list(self.manifest["classes"])

    @property
    def issuer_public_key(self) -> str:
        return self.manifest["issuer_public_key"]

    def summary(self) -> dict[str, str]:
        """``{name, version, sha256}``: the record's ``model`` field."""
        return {"name": self.name, "version": self.version, "sha256": self.sha256}


def _read_members(source: Path) -> tuple[dict[str, bytes], str]:
    """All files of a package folder or zip, keyed by their name relative to the package root."""
    if source.is_dir():
        members = {}
        for p in sorted(source.rglob("*")):
            if p.is_file():
                members[p.relative_to(source).as_posix()] = p.read_bytes()
        return members, "folder"
    if not source.exists():
        raise ModelPackageError(f"{source}: no such model package (expected a folder or .zip)")
    if not zipfile.is_zipfile(source):
        raise ModelPackageError(f"{source}: not a folder and not a zip archive")
    try:
        with zipfile.ZipFile(source) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            total = sum(i.file_size for i in infos)
            if total > MAX_PACKAGE_BYTES:
                raise ModelPackageError(f"{source}: unpacks to {total} bytes, over the "
                                        f"{MAX_PACKAGE_BYTES}-byte limit")
            members = {i.filename: zf.read(i) for i in infos}
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ModelPackageError(f"{source}: corrupt zip archive: {exc}") from exc
    # A zip of the folder may hold everything under one top-level directory.
    if MANIFEST_FILE not in members:
        tops = {n.split("/", 1)[0] for n in members}
        if len(tops) == 1:
            top = tops.pop() + "/"
            members = {n[len(top):]: b for n, b in members.items() if n.startswith(top)}
    return members, "zip"


def _check_fields(manifest: Any, where: str) -> None:
    if not isinstance(manifest, dict):
        raise ModelPackageError(f"{where}: manifest must be a JSON object")
    missing = [k for k in REQUIRED_FIELDS if k not in manifest]
    if missing:
        raise ModelPackageError(f"{where}: manifest lacks required field(s): {', '.join(missing)}")
    for key, typ in REQUIRED_FIELDS.items():
        if not isinstance(manifest[key], typ):
            names = "/".join(t.__name__ for t in (typ if isinstance(typ, tuple) else (typ,)))
            raise ModelPackageError(f"{where}: manifest field {key!r} must be {names}, "
                                    f"got {type(manifest[key]).__name__}")
    if manifest["schema"] != MANIFEST_SCHEMA:
        raise ModelPackageError(f"{where}: manifest schema {manifest['schema']!r} is not {MANIFEST_SCHEMA!r}")
    wl = manifest["wavelengths_nm"]
    if not wl or not all(isinstance(w, (int, float)) for w in wl) or any(b <= a for a, b in zip(wl, wl[1:])):
        raise ModelPackageError(f"{where}: wavelengths_nm must be a non-empty, strictly increasing list of numbers")
    classes = manifest["classes"]
    if not classes or not all(isinstance(c, str) and c == normalize_label(c) and c for c in classes):
        raise ModelPackageError(f"{where}: classes must be non-empty upper-case label codes")
    if len(set(classes)) != len(classes):
        raise ModelPackageError(f"{where}: classes contain duplicates")
    missing_deg = [c for c in classes if not isinstance(manifest["degradable"].get(c), bool)]
    if missing_deg:
        raise ModelPackageError(f"{where}: degradable has no true/false for class(es) {', '.join(missing_deg)}")
    files = manifest.get("files", {})
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise ModelPackageError(f"{where}: files must map file names to SHA-256 hex strings")


def load_package(path: str | Path, trusted_issuers: Iterable[str] | None) -> ModelPackage:
    """Read and verify a package; raise `ModelPackageError` naming the first failed check.

    ``trusted_issuers`` lists base64 public keys; ``None`` skips only the trust check (for
    host tools that inspect a package), never the hash and signature checks.
    """
    source = Path(path)
    members, kind = _read_members(source)
    where = str(source)
    if MANIFEST_FILE not in members:
        raise ModelPackageError(f"{where}: {MANIFEST_FILE} missing from the package {kind}")
    if ONNX_FILE not in members:
        raise ModelPackageError(f"{where}: {ONNX_FILE} missing from the package {kind}")
    try:
        manifest = json.loads(members[MANIFEST_FILE].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelPackageError(f"{where}: {MANIFEST_FILE} is not valid JSON: {exc}") from exc
    _check_fields(manifest, where)

    onnx_bytes = members[ONNX_FILE]
    digest = hashlib.sha256(onnx_bytes).hexdigest()
    if digest != manifest["onnx_sha256"].lower():
        raise ModelPackageError(f"{where}: {ONNX_FILE} SHA-256 {digest[:16]}… does not match the "
                                f"manifest's {manifest['onnx_sha256'][:16]}… (corrupt or altered)")
    extra: dict[str, bytes] = {}
    for name, want in manifest.get("files", {}).items():
        if name not in members:
            raise ModelPackageError(f"{where}: file {name!r} listed in the manifest is missing")
        got = hashlib.sha256(members[name]).hexdigest()
        if got != want.lower():
            raise ModelPackageError(f"{where}: file {name!r} SHA-256 does not match the manifest (corrupt or altered)")
        extra[name] = members[name]

    try:
        verify_document(manifest, manifest["issuer_public_key"])
    except SignatureError as exc:
        raise ModelPackageError(f"{where}: manifest signature invalid: {exc}") from exc
    if trusted_issuers is not None:
        trusted = {k.strip() for k in trusted_issuers}
        if manifest["issuer_public_key"] not in trusted:
            raise ModelPackageError(f"{where}: signed by issuer {manifest['issuer_public_key'][:12]}…, "
                                    f"which is not in trusted_issuers")
    return ModelPackage(source, manifest, onnx_bytes, extra)
