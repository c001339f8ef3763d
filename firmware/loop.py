"""The acquisition loop of ``nir-device run``: button, periodic checks, systemd watchdog.

One thread runs `AcquisitionLoop.run` until its stop event is set. Each pass (every
``runtime.button_poll_s``) it

- reads the trigger button (`firmware.trigger.Button`); a debounced press starts a measurement
  on a worker thread, so the loop keeps running: a second press meanwhile is refused with the
  reason (``refused`` hook) instead of being lost, and the watchdog keeps its pings;
- every ``refresh_interval_s`` re-checks the white reference while idle (`DeviceRuntime.refresh`);
- every ``retention_interval_s`` purges acknowledged results beyond the journal's limits;
- pings the systemd watchdog — from this loop itself, so a hung loop stops the pings — unless
  a measurement, reference or self-test has been running longer than ``max_activity_s``: a
  driver stuck on another thread must get the service restarted too.

After a self-test reopened the board (`DeviceRuntime.hardware_generation` changed) the button is
set up again on the new board.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from .errors import DeviceBusy, NotReady, PlastiNIRError
from .trigger import Button

log = logging.getLogger(__name__)


class AcquisitionLoop:
    def __init__(self, runtime: Any, *, stop: threading.Event | None = None) -> None:
        self.runtime = runtime
        self.stop = stop or threading.Event()
        self.button: Button | None = None
        self._generation = -1
        self._workers: list[threading.Thread] = []
        self._hung_logged = False
        #: Button-triggered measurements started / refused (for tests and stats).
        self.button_measurements = 0
        self.button_refusals = 0

    # --- the button ---------------------------------------------------------------------------

    def _arm_button(self) -> None:
        rt = self.runtime
        self._generation = rt.hardware_generation
        self.button = None
        if rt.board is None:
            return
        cfg = rt.config
        try:
            self.button = Button(rt.board.gpio, cfg.hardware.trigger_pin, debounce_s=cfg.runtime.button_debounce_s)
        except PlastiNIRError as exc:
            log.error("trigger button on GPIO%d unusable: %s", cfg.hardware.trigger_pin, exc)

    def _pressed(self) -> None:
        self._workers = [t for t in self._workers if t.is_alive()]
        worker = threading.Thread(target=self._measure_for_button, name="button-measurement", daemon=True)
        self._workers.append(worker)
        worker.start()

    def _measure_for_button(self) -> None:
        try:
            record = self.runtime.measure({}, trigger="button")
        except (DeviceBusy, NotReady) as exc:
            self.button_refusals += 1
            log.warning("button: %s", exc)
            self.runtime.hooks.emit("refused", {"trigger": "button", "action": "measure", "reason": str(exc)})
        except PlastiNIRError as exc:  # the state is fault with the cause and a fault event is journaled
            log.error("button measurement failed: %s", exc)
        else:
            self.button_measurements += 1
            log.info("button: seq %s %s %s", record["seq"], record["verdict"], record.get("class") or "")

    # --- the loop -----------------------------------------------------------------------------

    def _watchdog(self) -> None:
        snap = self.runtime.state.snapshot()
        limit = self.runtime.config.runtime.max_activity_s
        if snap["busy"] and snap["age_s"] > limit:
            if not self._hung_logged:
                log.error("%s has run %.0f s (limit %.0f s): no more watchdog pings", snap["state"], snap["age_s"],
                          limit)
                self._hung_logged = True
            return
        self._hung_logged = False
        self.runtime.watchdog.ping()

    def run(self) -> None:
        """Loop until `stop` is set; then wait for a button measurement still running."""
        cfg = self.runtime.config.runtime
        now = time.monotonic()
        next_refresh, next_retention = now + cfg.refresh_interval_s, now
        while not self.stop.is_set():
            if self.runtime.hardware_generation != self._generation:
                self._arm_button()
            if self.button is not None:
                try:
                    if self.button.poll():
                        self._pressed()
                except PlastiNIRError as exc:
                    log.error("trigger button: %s", exc)
                    self.button = None
            now = time.monotonic()
            try:
                if now >= next_refresh:
                    next_refresh = now + cfg.refresh_interval_s
                    self.runtime.refresh()
                if now >= next_retention:
                    next_retention = now + cfg.retention_interval_s
                    self.runtime.apply_retention()
            except PlastiNIRError as exc:  # logged; the state and the journal carry the details
                log.error("periodic check: %s", exc)
            self._watchdog()
            self.stop.wait(cfg.button_poll_s)
        for worker in self._workers:
            worker.join(timeout=self.runtime.config.runtime.max_activity_s)
