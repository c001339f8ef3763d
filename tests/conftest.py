"""Fixtures shared by the whole suite.

Real data lives outside the repo (DESIGN.md): tests that need it use the ``data_dir`` fixture,
which skips with the reason when the folder is absent.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from firmware.signing import generate_key, public_key_b64, unit_id_for

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    return Path(os.environ.get("PLASTINIR_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if not (path / "SOURCES.md").exists():
        pytest.skip(f"real spectra folder {path} absent (set PLASTINIR_DATA to run data tests)")
    return path


@pytest.fixture
def unit_key():
    """A throwaway unit key: (private key, base64 public key, unit id)."""
    key = generate_key()
    pub = public_key_b64(key)
    return key, pub, unit_id_for(pub)


def unsigned_record(unit_id: str, seq: int = 1, **changes) -> dict:
    """A complete, plausible ``plastinir.result/1`` record without its signature."""
    wl = [1550.0 + 5 * i for i in range(61)]
    record = {
        "schema": "plastinir.result/1",
        "unit": unit_id,
        "seq": seq,
        "uuid": str(uuid.uuid4()),
        "boot_id": "b7c0e6f2",
        "time": "2026-11-27T08:31:08.123Z",
        "clock_synced": True,
        "model": {"name": "fpi-1550-1850-v1", "version": "1", "sha256": "a" * 64},
        "calibration_id": None,
        "operator": "inspector-7",
        "sample": {"sample_id": "S-001", "merchant": "Shop A", "location": "Utrecht", "batch": "B1",
                   "product": "carrier bag", "claimed_material": "PLA"},
        "verdict": "identified",
        "reason": None,
        "class": "HDPE",
        "degradable": False,
        "confidence": 0.97,
        "scores": {"HDPE": 0.97, "PLA": 0.03},
        "t2": 3.2,
        "q": 0.01,
        "limits": {"t2": 12.0, "q": 0.05},
        "composition": {},
        "wavelengths_nm": wl,
        "spectrum": [0.5] * len(wl),
        "raw": {"dark": [100.0] * len(wl), "lit": [50000.0] * len(wl)},
        "timings_ms": {"acquire": 900.0, "inference": 0.2},
    }
    record.update(changes)
    return record
