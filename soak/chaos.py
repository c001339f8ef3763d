"""What the soak does to the fleet, one action at a time, chosen by a seeded random generator.

Actions run one after another (never two at once), and the two that must be *observed* — a fault
and a batch of bad payloads — wait until the bureau shows what they caused before the next action
may kill anything. That is deliberate: a unit's events are delivered on PUBACK (docs/LINK.md: only
results wait for the bureau's ack), so an event the broker accepted in the last second before a
SIGKILL (autosave interval 1 s) can be lost with the broker; the soak checks the fault path, not
that known limit (docs/RELIABILITY.md).
"""
from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from firmware.sim.faults import FAULTS

from . import payloads as bad
from .rig import wait_for

if TYPE_CHECKING:
    from .run import Soak

log = logging.getLogger("soak")

#: The SPI faults a running unit gets; each must become a fault event with this ``detail.error``.
INJECTED_FAULTS = ("drdy-stuck", "miso-low", "miso-high", "wrong-id", "dac-dead", "lamp-failure")
#: Every action, and how often the random schedule picks it after each has run once.
WEIGHTS = {"broker-kill": 2, "broker-stop": 1, "device-kill": 3, "ingester-kill": 3, "fault": 3, "bad-payloads": 2}


@dataclass
class InjectedFault:
    unit: str
    fault: str
    error: str                      # the exception class the fault table promises
    at: float
    journal_event: int | None = None  # id of the device journal's fault event
    bureau_seen: bool = False


@dataclass
class Record:
    """What the chaos did, for the report and the checks."""

    actions: list[tuple[float, str, str]] = field(default_factory=list)   # (t, action, detail)
    restarts: dict[str, int] = field(default_factory=lambda: {k: 0 for k in WEIGHTS if k.endswith(("kill", "stop"))})
    faults: list[InjectedFault] = field(default_factory=list)
    bad: list[bad.BadPayload] = field(default_factory=list)


def schedule(rng: random.Random, plan: list[str] | None) -> Callable[[], str]:
    """The next action: ``plan`` in order then again, or every action once (shuffled) then weighted picks."""
    if plan:
        unknown = [a for a in plan if a not in WEIGHTS]
        if unknown:
            raise ValueError(f"unknown soak action(s) {unknown}; known: {', '.join(WEIGHTS)}")
        queue = list(plan)
        return lambda: queue.pop(0) if queue else rng.choice(plan)
    first = list(WEIGHTS)
    rng.shuffle(first)
    names, weights = list(WEIGHTS), list(WEIGHTS.values())
    return lambda: first.pop(0) if first else rng.choices(names, weights)[0]


# --- the actions ----------------------------------------------------------------------------------

def broker_kill(soak: "Soak", rng: random.Random) -> str:
    soak.broker.kill()
    down = rng.uniform(1.0, 4.0)
    time.sleep(down)
    soak.broker.start()
    return f"SIGKILL, down {down:.1f} s"


def broker_stop(soak: "Soak", rng: random.Random) -> str:
    soak.broker.stop()
    down = rng.uniform(0.5, 3.0)
    time.sleep(down)
    soak.broker.start()
    return f"clean stop, down {down:.1f} s"


def device_kill(soak: "Soak", rng: random.Random) -> str:
    device = rng.choice(soak.devices)
    time.sleep(rng.uniform(0.0, 0.5))  # anywhere in its press/measure/publish cycle
    device.kill()
    down = rng.uniform(0.2, 2.0)
    time.sleep(down)
    device.start()
    device.place_next()                # the new board starts with an empty port
    return f"{device.name} ({device.unit}) SIGKILL, down {down:.1f} s"


def ingester_kill(soak: "Soak", rng: random.Random) -> str:
    ingester = rng.choice(soak.ingesters)
    ingester.kill()
    down = rng.uniform(0.5, 3.0)
    time.sleep(down)
    ingester.start()
    return f"{ingester.name} SIGKILL, down {down:.1f} s"


def inject_fault(soak: "Soak", rng: random.Random) -> str:
    """Inject, wait for the device's fault event and for the bureau to store it, then clear."""
    device = rng.choice(soak.devices)
    name = INJECTED_FAULTS[len(soak.record.faults) % len(INJECTED_FAULTS)]
    fault = InjectedFault(device.unit, name, FAULTS[name].exception.__name__, time.time())
    soak.record.faults.append(fault)
    known = {e[0] for e in device.fault_events()}
    answer = device.ask({"action": "inject", "fault": name})
    if not answer["ok"]:
        raise RuntimeError(f"{device.name}: inject {name}: {answer['error']}")
    try:
        wait_for(lambda: any(e[0] not in known for e in device.fault_events()), 30,
                 f"{device.name}: no fault event in its journal 30 s after injecting {name}")
        new = [e for e in device.fault_events() if e[0] not in known]
        fault.journal_event = new[0][0]
        wait_for(lambda: soak.bureau_fault_count(device.unit, fault.error) >= _injected(soak, device.unit, fault.error),
                 60, f"the bureau has no {fault.error} fault event of {device.unit} 60 s after injecting {name}")
        fault.bureau_seen = True
    finally:
        _clear(device)
    return f"{name} into {device.name} ({device.unit}) → journal {new[0][1]}/{new[0][2]}, stored by the bureau"


def _injected(soak: "Soak", unit: str, error: str) -> int:
    return sum(1 for f in soak.record.faults if f.unit == unit and f.error == error)


def _clear(device) -> None:
    """Clear the fault; the self-test may find the unit busy with a press still running: retry."""
    deadline = time.monotonic() + 30
    while True:
        answer = device.ask({"action": "clear"})
        if answer["ok"] and answer["result"]["state"] != "fault":
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{device.name}: the fault does not clear: {answer}")
        time.sleep(0.3)
    device.place_next()


def bad_payloads(soak: "Soak", rng: random.Random) -> str:
    """Publish one of each malformed/tampered kind; wait until the bureau quarantined them all."""
    # the tampered kinds start from the units' own records, "seq reused" from an acknowledged one
    wait_for(lambda: all(d.acknowledged() for d in soak.devices), 60,
             "no unit has a result acknowledged by the bureau to tamper with")
    batch = bad.make_batch(soak.devices, rng)
    soak.record.bad += batch
    soak.publish([(b.topic, b.payload) for b in batch])
    wait_for(lambda: all(soak.quarantined(b) for b in batch), 60,
             "the bureau did not quarantine every bad payload within 60 s: " +
             json.dumps([b.kind for b in batch if not soak.quarantined(b)]))
    return ", ".join(b.kind for b in batch)


ACTIONS: dict[str, Callable[["Soak", random.Random], str]] = {
    "broker-kill": broker_kill, "broker-stop": broker_stop, "device-kill": device_kill,
    "ingester-kill": ingester_kill, "fault": inject_fault, "bad-payloads": bad_payloads,
}


def run_chaos(soak: "Soak", until: float, rng: random.Random, plan: list[str] | None,
              pause: tuple[float, float]) -> None:
    """Act until the monotonic time ``until``; an action that fails is recorded and the run goes on
    (the checks at the end decide)."""
    pick = schedule(rng, plan)
    while time.monotonic() < until:
        name = pick()
        t0 = time.monotonic()
        try:
            detail = ACTIONS[name](soak, rng)
            if name in soak.record.restarts:
                soak.record.restarts[name] += 1
        except Exception as exc:  # noqa: BLE001 - reported as a failed action and in the checks
            detail = f"FAILED: {exc}"
            soak.failures.append(f"chaos action {name}: {exc}")
        soak.record.actions.append((t0 - soak.t0, name, detail))
        log.info("[%6.1f s] %-13s %s (%.1f s)", t0 - soak.t0, name, detail, time.monotonic() - t0)
        time.sleep(min(rng.uniform(*pause), max(0.0, until - time.monotonic())))
