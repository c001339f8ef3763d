"""The bytes a result's signature covers, cut out of the payload as received (the ingester's fast path).

A unit signs ``firmware.signing.canonical_json(record without "signature")`` and publishes
``canonical_json(record)`` — the journal stores that text and the link sends it unchanged
(``firmware/journal/results.py``). ``canonical_json`` is ``json.dumps(…, sort_keys=True,
separators=(",", ":"), ensure_ascii=False)``: one ``"key":value`` member per key, in sorted order,
joined by single commas. So the published text is the signed text with the one member
``"signature":"<base64>"`` inserted at its sorted place, and cutting that member (and the comma
before it) out of the payload gives back, byte for byte, exactly the bytes the unit signed. The
bureau used to decode the payload and encode it again with the stdlib to get them (~50 µs of a
~280 µs parse, bench_bureau); cutting takes a microsecond.

Why verifying the cut bytes decides the same as re-encoding (`Parser._result` uses this only
after the record passed the schema):

- The member is found textually and must occur exactly once. Inside a JSON string every ``"`` is
  escaped, so ``"signature":"…"`` can only be a real member; the strict schema allows no
  ``signature`` member with a text value anywhere but at the top level; so it is *the* member.
- If the signature verifies over the cut bytes B, the unit's key signed B, and units sign only
  ``canonical_json`` output: B = canonical_json(R) for the record R it measured. The payload is
  B with one top-level member added, so its decoded document is R plus ``signature`` — exactly
  what re-encoding would have checked (a duplicate key would have to be in B, which json.dumps of
  a dict cannot produce, or be a second ``signature``, which the unit never signs).
- If it does not verify (a payload re-formatted on the way, keys in another order, spaces, an
  escape, a tampered field), the caller falls back to the full path: decode with the stdlib,
  re-encode, verify — and that path alone decides the rejection and words its reason.

`tests/test_bureau_signed_text.py` checks the byte identity on generated records and that
altered payloads never pass here.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from firmware.errors import RecordError, SignatureError
from firmware.record import validate_record
from firmware.signing import verify_bytes

try:  # the host extra installs it; without it every result takes the full (stdlib) path
    import orjson
except ImportError:  # pragma: no cover - only on installs without the host extra
    orjson = None  # type: ignore[assignment]

#: The base64 alphabet: such a string is written by json.dumps as itself between quotes.
_BASE64 = re.compile(r"[A-Za-z0-9+/]{40,120}={0,2}")
_MEMBER = b'"signature":"'


def signed_bytes(payload: bytes, signature: object) -> bytes | None:
    """The payload without its ``"signature":"…"`` member: the bytes a canonical payload's
    signature covers. None when the payload is not in a form this can cut (caller re-encodes)."""
    if not isinstance(signature, str) or not _BASE64.fullmatch(signature):
        return None
    member = _MEMBER + signature.encode("ascii") + b'"'
    at = payload.find(member)
    if at < 1 or payload.find(_MEMBER, at + 1) != -1 or payload.rfind(_MEMBER, 0, at) != -1:
        return None
    end = at + len(member)
    if payload[at - 1] == 0x2C:  # ','  … ,"seq":7,"signature":"…","spectrum":…
        return payload[:at - 1] + payload[end:]
    if payload[at - 1] == 0x7B and payload[end:end + 1] == b",":  # '{' the first member
        return payload[:at] + payload[end + 1:]
    return None


def accept_canonical(payload: bytes, unit: str, key: Callable[[], Any]) -> dict | None:
    """The decoded record if ``payload`` is a canonical, schema-valid result of ``unit`` whose
    signature verifies with ``key()`` (the registered key, or None); else None, and the caller
    runs the full path, which alone rejects — so a rejection reads the same whichever path saw
    the payload first. ``orjson`` decodes here (~10 µs against ~90 µs for the stdlib with the
    duplicate-key hook); it refuses NaN and invalid UTF-8 like the full path, keeps the last of
    duplicate keys (harmless here: see the module docstring), and payloads with ``\\u`` escapes
    are left to the full path, which checks them for NUL and lone surrogates."""
    if orjson is None or b"\\u" in payload:
        return None
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict) or doc.get("unit") != unit:
        return None
    signed = signed_bytes(payload, doc.get("signature"))
    if signed is None:
        return None
    try:
        validate_record(doc)
        public_key = key()
        if public_key is None:
            return None
        verify_bytes(public_key, signed, doc["signature"])
    except (RecordError, SignatureError):
        return None
    return doc
