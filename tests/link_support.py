"""TEST-ONLY helpers for the MQTT link's tests: a simulated unit with its link, results in bulk,
and what the bureau's database holds.

Results in bulk are real ``plastinir.result/1`` records (``conftest.unsigned_record``) signed with
the unit's own key and appended through the unit's journal — the same transaction, outbox entry
and hook as a measurement, at ~1 ms instead of ~60 ms — so a stream of hundreds fits the time
budget. Tests that need the whole pipeline measure through the simulator as well.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import register_unit, unsigned_record
from device_support import make_runtime, place, white_reference
from firmware.mqtt import MqttLink
from firmware.runtime import DeviceRuntime
from support.mqtt import wait_until

#: Fast timers for tests (seconds); a test overrides what it is about.
FAST = {"resend_after_s": 1.0, "reconnect_min_s": 0.05, "reconnect_max_s": 0.5, "stats_interval_s": 3600.0,
        "keepalive_s": 5, "connack_timeout_s": 3.0}


def unit_with_link(state_dir: Path, broker_url: str, *, start_link: bool = True, reference: bool = True,
                   sections: dict | None = None, **mqtt: Any) -> tuple[DeviceRuntime, MqttLink | None]:
    """A started simulated unit (white reference taken) and its started link; ``sections`` are
    other config sections, ``mqtt`` the link's settings over `FAST`."""
    rt = make_runtime(state_dir, {**(sections or {}), "mqtt": {"broker": broker_url, **FAST, **mqtt}})
    if reference:
        white_reference(rt)
    link = MqttLink(rt).start() if start_link else None
    return rt, link


def append_results(rt: DeviceRuntime, n: int, **changes: Any) -> list[int]:
    """``n`` signed results through the unit's journal (outbox + hook), as measurements would."""
    seqs = []
    for _ in range(n):
        record = rt.journal.append_result(lambda seq: rt.identity.sign(unsigned_record(rt.identity.unit, seq,
                                                                                          **changes)))
        seqs.append(record["seq"])
    return seqs


def measure(rt: DeviceRuntime, spec: str = "pet", **tags: Any) -> dict:
    place(rt, spec)
    return rt.measure(tags or {"sample_id": f"T-{spec}"}, trigger="test")


def register(db_url: str, rt: DeviceRuntime) -> None:
    register_unit(db_url, rt.identity.unit, rt.identity.public_key)


def stored(db_url: str, unit: str) -> list[int]:
    """Seqs of ``unit`` in the bureau's ``results`` (with repeats, if there were any)."""
    from host.bureau.migrations import open_database
    with open_database(db_url) as db:
        return [int(r[0]) for r in db.query("SELECT seq FROM results WHERE unit = ? ORDER BY seq", (unit,))]


def gaps(db_url: str, unit: str) -> list[tuple[int, int, str]]:
    from host.bureau.migrations import open_database
    with open_database(db_url) as db:
        return [(int(a), int(b), s) for a, b, s in db.query(
            "SELECT first_seq, last_seq, state FROM gaps WHERE unit = ? ORDER BY first_seq", (unit,))]


def drained(rt: DeviceRuntime, timeout: float = 20.0) -> bool:
    return wait_until(lambda: rt.journal.depth() == 0, timeout)


def connected(link: MqttLink, timeout: float = 10.0) -> bool:
    return wait_until(lambda: link.status.state == "connected", timeout)


def stop_all(link: MqttLink | None, rt: DeviceRuntime | None) -> None:
    if link is not None:
        link.stop()
    if rt is not None:
        rt.close()

