"""The device's state machine: what it is doing, and why it will not measure when it will not.

    booting → self_test → needs_reference ⇄ referencing → ready → measuring → result
                              ↑________________________________|          ↘ fault
              needs_calibration ⇄ calibrating (technician scans of standards)

Every state but ``ready`` and ``result`` carries a reason a person can act on ("white
reference needed: it is 9.1 h old (limit 8.0 h)", "fault: DRDY timeout on /dev/spidev0.0").
``referencing`` (taking a dark or white reference) is a state of its own because it uses the
hardware exactly like a measurement and must refuse triggers the same way; so is ``calibrating``
(a technician scanning a calibration standard). ``needs_calibration`` is the idle state of a unit
that may not measure because of its calibration (certificate failing, past due, required but
missing, or a calibration in progress); like ``needs_reference`` it carries the reason and still
allows references, self-tests and calibration scans.

Triggers come from the button, the CLI, the page and MQTT, on different threads. `begin` checks
and enters ``measuring``/``referencing`` atomically under one lock, so two triggers can never
both start; the loser gets `DeviceBusy` (while busy) or `NotReady` (needs reference, fault,
booting) with the reason. Listeners (the page's live updates, MQTT stats) are called after
every transition, outside the lock, with the new snapshot.
"""
from __future__ import annotations

import enum
import threading
import time
from collections import deque
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from .errors import DeviceBusy, InvalidTransition, NotReady
from .record import utc_now_rfc3339


class State(str, enum.Enum):
    BOOTING = "booting"
    SELF_TEST = "self_test"
    NEEDS_REFERENCE = "needs_reference"
    READY = "ready"
    REFERENCING = "referencing"
    MEASURING = "measuring"
    RESULT = "result"
    FAULT = "fault"
    NEEDS_CALIBRATION = "needs_calibration"
    CALIBRATING = "calibrating"


S = State
#: Allowed transitions. A state may also be re-entered to update its reason.
TRANSITIONS: dict[State, frozenset[State]] = {
    S.BOOTING: frozenset({S.SELF_TEST, S.FAULT}),
    S.SELF_TEST: frozenset({S.NEEDS_REFERENCE, S.NEEDS_CALIBRATION, S.READY, S.FAULT}),
    S.NEEDS_REFERENCE: frozenset({S.REFERENCING, S.CALIBRATING, S.READY, S.NEEDS_CALIBRATION, S.SELF_TEST,
                                  S.FAULT}),
    S.READY: frozenset({S.MEASURING, S.REFERENCING, S.CALIBRATING, S.NEEDS_REFERENCE, S.NEEDS_CALIBRATION,
                        S.SELF_TEST, S.FAULT}),
    S.REFERENCING: frozenset({S.READY, S.NEEDS_REFERENCE, S.NEEDS_CALIBRATION, S.FAULT}),
    S.MEASURING: frozenset({S.RESULT, S.NEEDS_REFERENCE, S.NEEDS_CALIBRATION, S.READY, S.FAULT}),
    S.RESULT: frozenset({S.MEASURING, S.REFERENCING, S.CALIBRATING, S.READY, S.NEEDS_REFERENCE,
                         S.NEEDS_CALIBRATION, S.SELF_TEST, S.FAULT}),
    S.FAULT: frozenset({S.SELF_TEST}),
    S.NEEDS_CALIBRATION: frozenset({S.REFERENCING, S.CALIBRATING, S.READY, S.NEEDS_REFERENCE, S.SELF_TEST,
                                    S.FAULT}),
    S.CALIBRATING: frozenset({S.READY, S.NEEDS_REFERENCE, S.NEEDS_CALIBRATION, S.FAULT}),
}
#: States that use the hardware; a trigger in one of them is refused as busy.
BUSY = frozenset({S.MEASURING, S.REFERENCING, S.SELF_TEST, S.CALIBRATING})
#: States a measurement may start from.
CAN_MEASURE = frozenset({S.READY, S.RESULT})
#: States a reference may be taken from.
CAN_REFERENCE = frozenset({S.READY, S.RESULT, S.NEEDS_REFERENCE, S.NEEDS_CALIBRATION})
#: States a self-test may be started from (it is also the way out of a fault).
CAN_SELF_TEST = frozenset({S.BOOTING, S.READY, S.RESULT, S.NEEDS_REFERENCE, S.NEEDS_CALIBRATION, S.FAULT})
#: States a technician's calibration scan may start from: a unit refused for its calibration must
#: still scan the standards that recalibrate it.
CAN_CALIBRATE = frozenset({S.READY, S.RESULT, S.NEEDS_REFERENCE, S.NEEDS_CALIBRATION})
#: States in which nothing uses the hardware and the reference and calibration status decide
#: ready or not.
IDLE = frozenset({S.READY, S.RESULT, S.NEEDS_REFERENCE, S.NEEDS_CALIBRATION})
#: Idle states that refuse measuring, with the reason.
BLOCKED = frozenset({S.NEEDS_REFERENCE, S.NEEDS_CALIBRATION})
#: States whose reason must be given (the user needs to know why the device is not ready).
NEEDS_REASON = frozenset({S.NEEDS_REFERENCE, S.NEEDS_CALIBRATION, S.FAULT})

Listener = Callable[[dict[str, Any]], None]


class DeviceState:
    """Thread-safe holder of the current state; see the module docstring."""

    def __init__(self, *, clock: Callable[[], float] = time.time, history: int = 20) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self._state = S.BOOTING
        self._reason: str | None = "starting"
        self._since = clock()
        self._trigger: str | None = None
        self._last_result: dict[str, Any] | None = None
        self._counts: dict[str, int] = {}
        self._history: deque[dict[str, Any]] = deque(maxlen=history)
        self._listeners: list[Listener] = []

    # --- reading -----------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def reason(self) -> str | None:
        return self._reason

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy for the status page, ``/metrics`` and MQTT stats."""
        with self._lock:
            now = self._clock()
            return {
                "state": self._state.value,
                "reason": self._reason,
                "since": utc_now_rfc3339(_dt(self._since)),
                "age_s": round(max(0.0, now - self._since), 3),
                "busy": self._state in BUSY,
                "can_measure": self._state in CAN_MEASURE,
                "trigger": self._trigger,
                "last_result": dict(self._last_result) if self._last_result else None,
                "counts": dict(self._counts),
                "history": list(self._history),
            }

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(snapshot)`` after every transition; returns the unsubscribe function."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
        return unsubscribe

    # --- changing ----------------------------------------------------------------------------

    def transition(self, to: State | str, reason: str | None = None, *, trigger: str | None = None) -> None:
        """Move to ``to`` if the table allows it; `InvalidTransition` otherwise (a runtime bug)."""
        to = State(to)
        with self._lock:
            self._check(to, reason)
            self._set(to, reason, trigger)
            snap = self.snapshot()
        self._notify(snap)

    def _check(self, to: State, reason: str | None) -> None:
        if to != self._state and to not in TRANSITIONS[self._state]:
            raise InvalidTransition(f"state {self._state.value} → {to.value} is not allowed "
                                    f"(allowed: {', '.join(sorted(s.value for s in TRANSITIONS[self._state]))})")
        if to in NEEDS_REASON and not reason:
            raise InvalidTransition(f"state {to.value} needs a reason the user can act on")

    def _set(self, to: State, reason: str | None, trigger: str | None) -> None:
        now = self._clock()
        self._history.append({"from": self._state.value, "to": to.value, "reason": reason,
                              "time": utc_now_rfc3339(_dt(now))})
        self._state, self._reason, self._since = to, reason, now
        self._trigger = trigger if to in BUSY else None

    def _notify(self, snap: dict[str, Any]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(snap)
            except Exception:  # noqa: BLE001 - a broken page/MQTT listener must not stop the device
                pass

    def begin(self, activity: State | str, trigger: str) -> None:
        """Atomically check that ``activity`` (measuring/referencing/self_test) may start now, and start it.

        Raises `DeviceBusy` while the hardware is in use, `NotReady` with the reason otherwise.
        """
        activity = State(activity)
        allowed = {S.MEASURING: CAN_MEASURE, S.REFERENCING: CAN_REFERENCE, S.SELF_TEST: CAN_SELF_TEST,
                   S.CALIBRATING: CAN_CALIBRATE}.get(activity)
        if allowed is None:
            raise ValueError(f"{activity.value} is not an activity that can be triggered")
        with self._lock:
            if self._state in BUSY:
                age = self._clock() - self._since
                by = f" (started by {self._trigger} {age:.1f} s ago)" if self._trigger else ""
                raise DeviceBusy(f"device busy: {self._state.value.replace('_', ' ')}{by}; "
                                 f"{activity.value} refused")
            if self._state not in allowed:
                why = self._reason or self._state.value.replace("_", " ")
                raise NotReady(f"cannot start {activity.value}: {why}")
            self._set(activity, None, trigger)
            snap = self.snapshot()
        self._notify(snap)

    @contextmanager
    def activity(self, activity: State | str, trigger: str) -> Iterator["DeviceState"]:
        """``begin`` + a guarantee the state leaves ``activity``: to ``fault`` if the body raised
        without moving on itself (the body sets the end state on success)."""
        activity = State(activity)
        self.begin(activity, trigger)
        try:
            yield self
        except BaseException as exc:
            with self._lock:
                still = self._state == activity
            if still:
                self.transition(S.FAULT, f"fault: {exc}" if str(exc) else f"fault: {type(exc).__name__}")
            raise
        with self._lock:
            if self._state == activity:
                raise InvalidTransition(f"{activity.value} ended without choosing the next state")

    def settle(self, ok: bool, reason: str | None = None, blocked: State = S.NEEDS_REFERENCE) -> bool:
        """From an idle state only: ``blocked`` (``needs_reference`` or ``needs_calibration``, with
        ``reason``) unless ``ok``, else ready.

        ``result`` stays ``result`` while the references are fine (the page keeps showing the
        last verdict). Does nothing while busy or in fault, so a periodic check can never
        interrupt a measurement. Returns whether the state changed.
        """
        blocked = State(blocked)
        if blocked not in BLOCKED:
            raise ValueError(f"{blocked.value} is not a state that blocks measuring")
        with self._lock:
            if self._state not in IDLE:
                return False
            if ok:
                if self._state not in BLOCKED:
                    return False
                self._set(S.READY, None, None)
            else:
                if self._state == blocked and self._reason == reason:
                    return False
                self._check(blocked, reason)
                self._set(blocked, reason, None)
            snap = self.snapshot()
        self._notify(snap)
        return True

    def record_result(self, summary: dict[str, Any]) -> None:
        """Enter ``result`` with the result's summary (seq, verdict, class, …) and count it."""
        with self._lock:
            self._check(S.RESULT, None)
            self._last_result = dict(summary)
            verdict = str(summary.get("verdict", "unknown"))
            self._counts[verdict] = self._counts.get(verdict, 0) + 1
            self._set(S.RESULT, None, None)
            snap = self.snapshot()
        self._notify(snap)


def _dt(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, timezone.utc)
