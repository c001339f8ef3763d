"""The device runtime: the one place that builds the unit from its config and state directory.

``DeviceRuntime(config, state_dir=…, backend=…)`` takes the hardware lock, opens the journal,
loads the unit key, counts the boot, and wires the state machine, the head and the model slot
into the measurement pipeline. `start` runs the boot sequence::

    booting → (open board + head) → self_test → needs_reference | ready
                      ↘ fault: <cause>          ↘ fault: <cause>

Every part that acts on the device — the CLI commands, the acquisition loop with its button,
the status page, the MQTT link — goes through the actions here (`measure`, `take_reference`,
`self_test`, `install_model`, `reload_config`), which run under the state machine and refuse
with a reason when they may not run. Parts that only watch use `snapshot` and the hooks
(`subscribe` for state changes, `on_result`, `on_event`, `on_refused`; see `firmware.hooks`).

A hardware failure never takes the process down: the state becomes ``fault`` with the cause,
a ``fault`` event is journaled, and a later `self_test` reopens the board (that is the way out
of a fault). A model package is verified completely before it is used, at start and at run
time; the one in service changes only by an atomic swap (`firmware.model_slot`).
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from . import __version__
from .board import Board, open_board, open_head
from .clock import clock_synced as kernel_clock_synced
from .config import DeviceConfig, load_config
from .config.model import newest_package
from .errors import ConfigError, HardwareError, PlastiNIRError
from .hooks import Hooks, Listener, ObservedJournal
from .identity import load_identity, start_boot
from .lamp_hours import LampMeter
from .lock import HardwareLock
from .measurement import Measurement, fault_detail, resample_to_model
from .model_slot import ModelSlot
from .model_store import ModelStore
from .runtime_calibration import RuntimeCalibration
from .runtime_models import RuntimeModels
from .selftest import run_selftest
from .state import BUSY, IDLE, DeviceState, State
from .state_dir import resolve_state_dir
from .unit_head import UnitHead
from .watchdog import Watchdog

log = logging.getLogger(__name__)

#: Config sections a running process cannot change: they take effect at the next start.
RESTART_SECTIONS = ("unit", "hardware", "head", "sim", "http", "mqtt", "runtime")


class DeviceRuntime(RuntimeModels, RuntimeCalibration):
    """The composition root; see the module docstring.

    ``backend`` is the ``--sim`` choice (``"sim"``) or None (config / ``PLASTINIR_BACKEND``);
    ``owner`` names the process in the hardware lock ("device busy … held by pid N: <owner>");
    ``config_path``/``overrides`` are what `reload_config` reads again.
    """

    def __init__(self, config: DeviceConfig, *, state_dir: str | Path | None = None, backend: str | None = None,
                 owner: str = "nir-device", config_path: str | Path | None = None,
                 overrides: Mapping[str, Any] | None = None, watchdog: Watchdog | None = None) -> None:
        self.config = config
        self.config_path = config_path
        self.overrides = dict(overrides or {})
        self.backend = backend
        self.state_dir = resolve_state_dir(state_dir)
        self.lock = HardwareLock(self.state_dir, owner).acquire()  # DeviceBusy before anything is touched
        self.hooks = Hooks()
        try:
            self.journal = ObservedJournal.open_with(self.state_dir, self.hooks,
                                                     busy_timeout_s=config.journal.busy_timeout_s)
            self.identity = load_identity(self.state_dir, config.unit)
            self.boot_info = start_boot(self.journal)
        except BaseException:
            if hasattr(self, "journal"):
                self.journal.close()
            self.lock.release()
            raise
        self.state = DeviceState()
        self.models = ModelSlot()
        self.store = ModelStore(self.state_dir)
        self.store.clean_staged()
        self._own_watchdog = watchdog is None
        self.watchdog = watchdog if watchdog is not None else Watchdog()
        self.head = UnitHead(config.head.name)
        #: The light source's on-time, kept in the journal (`firmware.lamp_hours`): noted after
        #: every reading (throttled), every result, hardware close, self-test and idle refresh.
        self.lamp = LampMeter(self.journal, self.head,
                              service_hours=getattr(config.head, config.head.name).light_service_hours)
        self.head.after_reading = self.lamp.on_reading
        self.hooks.subscribe("result", lambda _record: self.lamp.note())
        try:
            self.lamp.open()
        except PlastiNIRError as exc:  # a maintenance counter must not keep the unit from measuring
            log.error("lamp hour counter: %s", exc)
        self.board: Board | None = None
        #: Incremented whenever the board is (re)opened: the loop re-arms its button then.
        self.hardware_generation = 0
        self.model_source: str | None = None
        self.model_errors: list[str] = []
        self.last_self_test: dict[str, Any] | None = None
        #: ``() -> {state, broker, since, last_puback, detail}``; the MQTT link replaces it.
        self.link_status: Callable[[], dict[str, Any] | None] = lambda: None
        #: ``() -> certificate dict | None``: the certificate in force (`firmware.runtime_calibration`).
        self.calibration: Callable[[], dict[str, Any] | None] = lambda: None
        self._install_lock = threading.Lock()
        self._closed = False
        self._init_calibration()
        self.measurement = Measurement(
            head=self.head, journal=self.journal, identity=self.identity, boot=self.boot_info, config=config,
            state=self.state, models=self.models, to_grid=resample_to_model, clock_synced=self.clock_synced,
            calibration_id=self.calibration_id, watchdog=self.watchdog,
            calibration_gate=self._calibration_gate, correct=self._correct_reflectance)

    # --- boot ---------------------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        """Open the hardware, load the model, self-test; returns the snapshot (never raises for
        a hardware fault: the state says it). `ConfigError` if no backend is chosen."""
        try:
            self._open_hardware()
        except ConfigError:
            raise
        except PlastiNIRError as exc:
            self.state.transition(State.FAULT, f"fault: {exc}")
            self._event("fault", "error", "hardware", f"hardware bring-up failed: {exc}", fault_detail(exc))
            self._load_boot_model()
            return self.snapshot()
        self._load_boot_model()
        try:
            self.self_test(trigger="startup")
        except PlastiNIRError as exc:
            log.error("self-test at start failed: %s", exc)
        return self.snapshot()

    def _open_hardware(self) -> None:
        board = open_board(self.config, backend=self.backend)
        try:
            head = open_head(self.config, board)
        except BaseException:
            board.close()
            raise
        self.board = board
        self.head.attach(head)
        self.hardware_generation += 1
        self._apply_corrections_to_head()

    def _close_hardware(self, reason: str) -> None:
        head, board = self.head.detach(reason), self.board
        self.board = None
        for part in (head, board):
            if part is None:
                continue
            try:
                part.close()
            except PlastiNIRError as exc:  # a broken board must still release what it can
                log.warning("closing %s: %s", type(part).__name__, exc)
        if head is not None:
            self.lamp.note(head)  # closed: its light is off and its count final

    # --- actions ------------------------------------------------------------------------------

    def measure(self, sample: Mapping[str, Any] | None = None, trigger: str = "cli", *,
                operator: str | None = None) -> dict[str, Any]:
        """Measure the item on the port; returns the signed, journaled record.

        Refused with `NotReady` (no valid white reference, no model, fault: the reason) or
        `DeviceBusy`; nothing is journaled then. A rejected sample (dark, empty, unstable,
        saturated) is a journaled result. A hardware error leaves the state in fault.
        """
        return self.measurement.measure(sample, trigger=trigger, operator=operator)

    def set_pending_tags(self, sample: Mapping[str, Any] | None, source: str = "cli") -> dict[str, Any]:
        """Tags for the next button press (`firmware.pending_tags`); returns what now waits.
        `RecordError` for a bad or empty set of tags."""
        return self.measurement.pending.set(sample, source)

    def clear_pending_tags(self) -> bool:
        """Drop the tags waiting for the next button press; whether there were any."""
        return self.measurement.pending.clear()

    def pending_tags(self) -> dict[str, Any] | None:
        """The tags waiting for the next button press (with expiry), or None."""
        return self.measurement.pending.view()

    def take_reference(self, kind: str, trigger: str = "cli") -> dict[str, Any]:
        """Take a ``white`` (tile on the port) or ``dark`` (port covered) reference; its summary.

        `QualityRejection` names what was wrong with the reading (nothing stored then).
        """
        return self.measurement.take_reference(kind, trigger=trigger).summary(time.time())

    def self_test(self, trigger: str = "cli") -> dict[str, Any]:
        """Board checks + one reading; from a fault (or without hardware) the board is reopened
        first. Ends in ready / needs_reference, or raises and leaves the state in fault."""

        def hardware() -> dict[str, Any]:
            self._close_hardware("reopening for the self-test")
            self._open_hardware()
            return {"reopened": True, "backend": self.board.backend}

        def board() -> list[dict[str, Any]]:
            checks = run_selftest(self.board, self.head.inner)
            self.last_self_test = {"ok": None, "board": [c.to_json() for c in checks]}
            failed = [c for c in checks if c.ok is False]
            if failed:
                raise HardwareError("self-test failed: " + "; ".join(f"{c.name}: {c.message}" for c in failed))
            return [c.to_json() for c in checks]

        steps = [hardware] if self.state.state == State.FAULT or not self.head.attached else []
        self.last_self_test = None
        try:
            report = self.measurement.self_test([*steps, board], trigger=trigger)
        except PlastiNIRError as exc:
            self.last_self_test = {**(self.last_self_test or {}), "ok": False, "error": str(exc)}
            raise
        finally:
            self.lamp.note()  # the self-test reads the real head directly, not through UnitHead
        self.last_self_test = {"ok": True, **report}
        return report

    def refresh(self) -> bool:
        """Idle re-check of the white reference (ready ⇄ needs_reference); a hardware error while
        idle puts the device in fault. Returns whether the state changed."""
        if not self.head.attached:
            return False
        self.lamp.note()  # idle: write what the last readings left (usually nothing)
        try:
            return self.measurement.refresh()
        except HardwareError as exc:
            if self.state.state in IDLE:
                self.state.transition(State.FAULT, f"fault: {exc}")
                self._event("fault", "error", "idle-check", f"hardware failed while idle: {exc}", fault_detail(exc))
                return True
            raise

    def apply_retention(self) -> list[tuple[int, int]]:
        j = self.config.journal
        return self.journal.apply_retention(j.max_results, j.max_age_days * 86400.0)

    def reload_config(self) -> dict[str, Any]:
        """Read the config again and apply what a running device can change.

        Measurement, references, journal, clock and model settings apply at once (a changed
        ``[model]`` installs its package through `install_model`; if that is refused, nothing
        changes). Sections in `RESTART_SECTIONS` are reported as ``restart_needed``.
        """
        new = load_config(self.config_path, self.overrides or None)
        changed = [name for name in type(new).model_fields if getattr(new, name) != getattr(self.config, name)]
        restart = [n for n in changed if n in RESTART_SECTIONS]
        live = [n for n in changed if n not in RESTART_SECTIONS]
        applied = self.config.model_copy(update={n: getattr(new, n) for n in live})
        model = None
        if "model" in live:
            target = applied.model.package or newest_package(self.head.name)
            if target is None:
                raise ConfigError(f"model: no package configured and none shipped for the {self.head.name} head")
            model = self.install_model(target, config=applied)
        self.config = applied
        self.measurement.config = applied
        if restart:
            log.warning("config reload: %s changed; they take effect at the next start", ", ".join(restart))
        return {"changed": changed, "applied": live, "restart_needed": restart, "model": model}

    # --- views (cheap, thread-safe, never touch the hardware) ----------------------------------

    def clock_synced(self) -> bool:
        return kernel_clock_synced(self.config.clock.synced)

    def calibration_id(self) -> str | None:
        cert = self.calibration()
        return (cert or {}).get("calibration_id") if isinstance(cert, Mapping) else None

    def temperature_c(self) -> float | None:
        """The head temperature the last reading saw (never a hardware read)."""
        return self.head.last_temperature_c

    def lamp_hours(self) -> float | None:
        """Hours the head's light source has been on (fpi: halogen lamp; led8: LED hours, any LED
        on), over the unit's life since the last ``nir-device lamp reset``; never a hardware read.
        `LampCounterError` if the stored counter is corrupt (the page shows "not available")."""
        return self.lamp.hours()

    def snapshot(self) -> dict[str, Any]:
        """The state machine's snapshot plus what the page's first line and MQTT stats show."""
        snap = self.state.snapshot()
        try:
            references = self.measurement.reference_status()
        except PlastiNIRError:
            references = None  # no head attached: the state's reason says why
        snap.update(
            unit=self.identity.unit, boot_id=self.boot_info.boot_id, firmware=__version__, head=self.head.name,
            backend=self.board.backend if self.board is not None else None, hardware=self.head.attached,
            model=self.model_info(), model_errors=list(self.model_errors), references=references,
            temperature_c=self.temperature_c(), uptime_s=round(self.boot_info.uptime_s(), 1),
            outbox_depth=self.journal.depth(), last_seq=self.journal.last_seq(), clock_synced=self.clock_synced(),
            self_test=self.last_self_test)
        return snap

    # --- hooks --------------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """``listener(state snapshot)`` after every state transition (the page's live updates)."""
        return self.state.subscribe(listener)

    def on_result(self, listener: Listener) -> Callable[[], None]:
        """``listener(record)`` after every journaled result (the MQTT link publishes it)."""
        return self.hooks.subscribe("result", listener)

    def on_event(self, listener: Listener) -> Callable[[], None]:
        """``listener(event)`` after every journaled event (``event/<kind>`` on MQTT)."""
        return self.hooks.subscribe("event", listener)

    def on_refused(self, listener: Listener) -> Callable[[], None]:
        """``listener({trigger, action, reason})`` when a trigger nobody waits on was refused."""
        return self.hooks.subscribe("refused", listener)

    # --- helpers and shutdown -----------------------------------------------------------------

    def _event(self, kind: str, severity: str, code: str, message: str, detail: dict | None = None) -> None:
        try:
            self.journal.add_event(kind, severity, code, message, detail or {})
        except PlastiNIRError as exc:
            log.error("cannot journal %s event %r: %s", kind, message, exc)

    def close(self, timeout_s: float = 10.0) -> None:
        """Wait (up to ``timeout_s``) for a running activity, then lights off, board released,
        journal closed, hardware lock released. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout_s
        while self.state.state in BUSY and time.monotonic() < deadline:
            time.sleep(0.02)
        try:
            self._close_hardware("runtime closed")
        finally:
            try:
                self.journal.close()
            finally:
                if self._own_watchdog:
                    self.watchdog.close()
                self.lock.release()

    def __enter__(self) -> "DeviceRuntime":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
