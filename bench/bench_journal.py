"""The journal: what durability costs, how fast the outbox drains, how big a result is on disk.

- build + sign + store time with ``synchronous=FULL`` (every committed result survives a power cut) and the
  ratio to ``synchronous=NORMAL`` measured in the same run: the price of the guarantee;
- building + signing a record against storing it (both happen in one transaction);
- outbox drain: pending → mark_sent → acknowledge per result, the MQTT link's backlog path;
- bytes per result on disk (spectrum 61 points + raw counts), for sizing ``max_results``;
- a lamp-hour write (`Journal.add_lamp_seconds`, the runtime's one extra transaction after each
  result, `firmware.lamp_hours`) against storing a result.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from bench import Figure
from firmware.identity import load_identity
from firmware.journal import Journal
from firmware.optics import fpi_grid
from firmware.result_builder import build_signed_record, rejected_outcome

WL = fpi_grid()


def _fields(identity, seq: int, rng: np.random.Generator) -> dict:
    return dict(unit=identity.unit, seq=seq, boot_id="1-bench", time="2026-11-27T08:31:08.123Z", clock_synced=True,
                model={"name": "fpi-1550-1850-v1", "version": "1", "sha256": "a" * 64},
                outcome=rejected_outcome("dark", "median reflectance 3.1%"),
                sample={"sample_id": f"S-{seq}", "merchant": "Shop A"}, wavelengths_nm=WL,
                spectrum=rng.uniform(0.2, 0.8, WL.size), raw_dark=rng.normal(1200, 200, WL.size),
                raw_lit=rng.uniform(1e6, 4e6, WL.size), timings_ms={"acquire": 1830.0, "total": 1850.0})


def _store(path: Path, identity, n: int, synchronous: str) -> float:
    rng = np.random.default_rng(1)
    with Journal.open(path) as journal:
        journal._conn().execute(f"PRAGMA synchronous={synchronous}")
        t0 = time.perf_counter()
        for _ in range(n):
            journal.append_result(lambda seq: build_signed_record(identity.key, **_fields(identity, seq, rng)))
        return (time.perf_counter() - t0) / n


def run(quick: bool) -> list[Figure]:
    n = 40 if quick else 1000
    with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp:
        tmp = Path(tmp)
        identity = load_identity(tmp / "full")
        full = _store(tmp / "full", identity, n, "FULL")
        normal = _store(tmp / "normal", load_identity(tmp / "normal"), n, "NORMAL")
        rng = np.random.default_rng(2)
        t0 = time.perf_counter()
        for seq in range(1, n + 1):
            build_signed_record(identity.key, **_fields(identity, seq, rng))
        build = (time.perf_counter() - t0) / n
        with Journal.open(tmp / "full") as journal:
            size = sum(p.stat().st_size for p in (tmp / "full").glob("journal.db*"))
            t0 = time.perf_counter()
            while journal.depth():
                batch = [e.seq for e in journal.pending(limit=50)]
                journal.mark_sent(batch)
                journal.acknowledge(batch)
            drain = (time.perf_counter() - t0) / n
            journal.start_lamp_counter("fpi", ("maintenance", "info", "lamp-counter-started", "bench", {}))
            t0 = time.perf_counter()
            for _ in range(n):
                journal.add_lamp_seconds("fpi", 2.28)  # one fpi measurement's lamp time
            lamp = (time.perf_counter() - t0) / n
    return [
        Figure("build, sign and store one result, synchronous=FULL", full * 1e3, "ms", full / normal,
               "same with synchronous=NORMAL"),
        Figure("build + sign one record", build * 1e3, "ms", build / full, "build, sign, store (FULL)"),
        Figure("outbox drain per result (batches of 50)", drain * 1e3, "ms", drain / full, "build, sign, store (FULL)"),
        Figure("journal bytes per result (61-point spectrum)", size / n, "B"),
        Figure("lamp-hour write per result (synchronous=FULL)", lamp * 1e3, "ms", lamp / full,
               "build, sign, store (FULL)"),
    ]
