"""Step 1: warm-up check (head temperature and lamp signal stable over N readings), then the dark
(stray-light) and white references every later figure is computed against."""
from __future__ import annotations

import numpy as np

from .device import DeviceRequestError
from .run import Check, Run, judged, not_made
from .standards import TRAP_SOURCE, WHITE_SOURCE

STEP = "warm-up"


def self_test(run: Run) -> bool:
    """The unit's own board and head self-test, on the white tile (it also reopens a faulted board)."""
    run.place("white", "Place the white reference tile on the port (self-test)")
    try:
        report = run.device.selftest()
    except DeviceRequestError as exc:
        run.add(Check("selftest", STEP, "Board and head self-test", "result", None, "", None, False, str(exc)))
        return False
    run.figures["self_test"] = report
    run.add(Check("selftest", STEP, "Board and head self-test", "result", None, "", None, True,
                  "ADC, data lines, DRDY, DAC, temperature and light checks passed"))
    return True


def warm_up(run: Run, *, readings: int = 5, interval_s: float = 30.0) -> bool:
    """``readings`` readings of the white tile ``interval_s`` apart; True when stable."""
    run.use_standard("white-tile", "White reference tile", "white", WHITE_SOURCE, reflectance=0.99)
    run.place("white", "Place the white reference tile on the port")
    run.log(f"warm-up: {readings} readings {interval_s:g} s apart")
    try:
        scan = run.device.scan(scans=1, repeats=readings, interval_s=interval_s)
    except DeviceRequestError as exc:
        for cid, name, key in (("warmup.temperature_span", "Head temperature span", "warmup.temperature_span"),
                               ("warmup.signal_drift", "White signal drift", "warmup.signal_drift")):
            run.add(not_made(cid, STEP, name, str(exc), key))
        return False
    temps = [r["temperature_c"] for r in scan["repeats"]]
    nets = [float(np.mean(r["net"])) if r.get("net") else np.nan for r in scan["repeats"]]
    run.figures["warm_up"] = {"temperatures_c": temps, "white_net_counts": nets, "interval_s": interval_s}
    if any(t is None for t in temps) or not np.all(np.isfinite(nets)):
        why = "a reading saturated or had no temperature"
        run.add(not_made("warmup.temperature_span", STEP, "Head temperature span", why, "warmup.temperature_span"))
        run.add(not_made("warmup.signal_drift", STEP, "White signal drift", why, "warmup.signal_drift"))
        return False
    span = float(max(temps) - min(temps))
    drift = float((max(nets) - min(nets)) / np.mean(nets) * 100.0)
    a = run.add(judged("warmup.temperature_span", STEP, "Head temperature span", span, "warmup.temperature_span",
                       phase="result", detail=f"{len(temps)} readings, {min(temps):.2f}–{max(temps):.2f} °C"))
    b = run.add(judged("warmup.signal_drift", STEP, "White signal drift", drift, "warmup.signal_drift", phase="result",
                       detail=f"{len(nets)} readings of the white tile"))
    return bool(a.passed and b.passed)


def references(run: Run) -> bool:
    """Dark (port on the light trap) then white reference; each one a check."""
    ok = True
    run.use_standard("trap", "Black light trap", "trap", TRAP_SOURCE, reflectance=0.0)
    for kind, spec, instruction in (("dark", "trap", "Cover the port with the black light trap"),
                                    ("white", "white", "Place the white reference tile on the port")):
        run.place(spec, instruction)
        cid, name = f"references.{kind}", f"{kind.capitalize()} reference taken"
        try:
            summary = run.device.reference(kind)
        except DeviceRequestError as exc:
            run.add(not_made(cid, STEP, name, str(exc)))
            ok = False
            continue
        run.figures[f"{kind}_reference"] = summary
        t = summary.get("temperature_c")
        run.add(judged_reference(cid, name, t))
    return ok


def judged_reference(cid: str, name: str, temperature_c: float | None) -> Check:
    """A reference the device accepted (its own checks: light on every channel, tile still, port covered)."""
    return Check(cid, STEP, name, "result", temperature_c, "°C", None, True,
                 "accepted by the device's reference checks"
                 + (f" at {temperature_c:.2f} °C" if temperature_c else ""))
