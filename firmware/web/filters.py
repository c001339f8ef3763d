"""Jinja filters: figures as a person reads them ("2.1 h", "14.3 GB", "08:31 UTC"), and one
spelling of "not available" for anything the runtime could not provide."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import Flask

NA = "not available"

STATE_WORDS = {
    "booting": "Starting", "self_test": "Self-test running", "needs_reference": "Needs a white reference",
    "ready": "Ready to measure", "referencing": "Taking a reference", "measuring": "Measuring",
    "result": "Ready (last result below)", "fault": "Fault", "offline": "Not running",
    "needs_calibration": "Needs calibration", "calibrating": "Calibration scan",
}


def age(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return NA
    s = abs(float(seconds))
    if s < 90:
        text = f"{s:.0f} s"
    elif s < 5400:
        text = f"{s / 60:.0f} min"
    elif s < 3 * 86400:
        text = f"{s / 3600:.1f} h"
    else:
        text = f"{s / 86400:.1f} days"
    return text if seconds >= 0 else f"in {text}"


def size(n: Any) -> str:
    if not isinstance(n, (int, float)):
        return NA
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return NA


def when(text: Any) -> str:
    """``2026-11-27T08:31:08.123Z`` → ``2026-11-27 08:31:08 UTC``."""
    if not isinstance(text, str) or not text:
        return NA
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return text
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


def num(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return NA
    return f"{value:.{digits}g}"


def na(value: Any) -> Any:
    return NA if value is None or value == "" else value


def yesno(value: Any) -> str:
    return NA if value is None else ("yes" if value else "no")


def state_words(state: Any) -> str:
    return STATE_WORDS.get(str(state), str(state).replace("_", " "))


def register(app: Flask) -> None:
    for name, fn in (("age", age), ("size", size), ("when", when), ("num", num), ("na", na), ("yesno", yesno),
                     ("state_words", state_words)):
        app.add_template_filter(fn, name)
