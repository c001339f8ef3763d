"""Malformed and tampered payloads, each with the quarantine category the bureau must give it.

Every payload is new (a nonce, a fresh random field), so each one must appear in ``quarantine`` as
its own row — found by (topic, SHA-256 of the payload) — with the expected ``category``
(docs/BUREAU.md lists them). The tampered ones start from real records out of a device's journal.
"""
from __future__ import annotations

import hashlib
import json
import random
import uuid
from dataclasses import dataclass

from firmware.identity import load_identity
from firmware.record import sign_record
from firmware.signing import canonical_json, generate_key, public_key_b64, unit_id_for

from .rig import PREFIX, Device


@dataclass(frozen=True)
class BadPayload:
    kind: str
    topic: str
    payload: bytes
    category: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.payload).hexdigest()


def _journal_record(device: Device, rng: random.Random, *, acked: bool = False) -> dict | None:
    """A random record from the device's journal (acknowledged by the bureau when ``acked``)."""
    with device.journal() as con:
        where = " WHERE acked_at IS NOT NULL" if acked else ""
        seqs = [r[0] for r in con.execute(f"SELECT seq FROM results{where} ORDER BY seq DESC LIMIT 200")]
        if not seqs:
            return None
        row = con.execute("SELECT record FROM results WHERE seq = ?", (rng.choice(seqs),)).fetchone()
    return json.loads(row[0])


def make_batch(devices: list[Device], rng: random.Random) -> list[BadPayload]:
    """One of each kind, aimed at registered units of the fleet (kinds without a record yet are skipped)."""
    a, b = rng.sample(devices, 2) if len(devices) > 1 else (devices[0], devices[0])
    nonce = uuid.uuid4().hex
    result = lambda unit: f"{PREFIX}/{unit}/result"  # noqa: E731
    out = [
        BadPayload("bad JSON", result(a.unit), f'{{"schema": "plastinir.result/1", "nonce": "{nonce}", "seq": '.encode(),
                   "json"),
        BadPayload("wrong schema", result(a.unit),
                   json.dumps({"schema": "plastinir.result/9", "unit": a.unit, "seq": 1, "nonce": nonce}).encode(),
                   "schema"),
        BadPayload("not UTF-8", result(a.unit), b"\xff\xfe" + nonce.encode(), "encoding"),
        BadPayload("too big", result(a.unit), b'{"nonce": "' + nonce.encode() + b'", "pad": "' + b"x" * 600_000 + b'"}',
                   "size"),
        BadPayload("malformed event", f"{PREFIX}/{a.unit}/event/fault",
                   json.dumps({"schema": "plastinir.event/1", "unit": a.unit, "kind": "fault",
                               "nonce": nonce}).encode(), "schema"),
    ]
    stranger = generate_key()
    unknown = unit_id_for(public_key_b64(stranger))
    out.append(BadPayload("unknown unit", result(unknown), canonical_json(sign_record(
        _any_record(unknown, rng), stranger)), "unknown-unit"))
    record = _journal_record(a, rng)
    if record is not None:
        tampered = dict(record, confidence=round(rng.uniform(0.01, 0.99), 6))
        out.append(BadPayload("tampered signature", result(a.unit), canonical_json(tampered), "signature"))
        if b is not a:
            out.append(BadPayload("another unit's topic", result(b.unit), canonical_json(record), "topic"))
    acked = _journal_record(a, rng, acked=True)
    if acked is not None:
        # a unit reusing a seq: a different record under a seq the bureau already stored, properly
        # signed with the unit's own key (read from its state directory, as a buggy restore would)
        key = load_identity(a.state_dir).key
        unsigned = {k: v for k, v in acked.items() if k != "signature"}
        unsigned.update(uuid=str(uuid.uuid4()), sample={**acked["sample"], "sample_id": f"REUSED-{nonce[:8]}"})
        out.append(BadPayload("seq reused", result(a.unit), canonical_json(sign_record(unsigned, key)),
                              "seq-conflict"))
    return out


def _any_record(unit: str, rng: random.Random) -> dict:
    wl = [1550.0 + 5 * i for i in range(61)]
    return {"schema": "plastinir.result/1", "unit": unit, "seq": rng.randint(1, 1000), "uuid": str(uuid.uuid4()),
            "boot_id": "soak", "time": "2026-11-27T08:31:08.123Z", "clock_synced": False,
            "model": {"name": "fpi-1550-1850-v1", "version": "1", "sha256": "a" * 64}, "calibration_id": None,
            "operator": None, "sample": {"sample_id": "SOAK"}, "verdict": "identified", "reason": None,
            "class": "PET", "degradable": False, "confidence": 0.9, "scores": {"PET": 0.9}, "t2": 1.0, "q": 0.01,
            "limits": {"t2": 12.0, "q": 0.05}, "composition": {}, "wavelengths_nm": wl, "spectrum": [0.5] * 61,
            "raw": {"dark": [100.0] * 61, "lit": [5e4] * 61}, "timings_ms": {"total": 50.0}}
