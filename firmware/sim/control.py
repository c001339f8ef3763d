"""Remote hands for a simulated unit inside a running ``nir-device run --sim`` (soak tests only).

A soak harness (``python -m soak``) drives several device *processes*; it cannot call
``board.sim.inject`` in them. With ``[sim] control = true`` the process watches
``<state dir>/sim-control/`` for request files and does what a person at the bench would do to
the simulated board, nothing more — every effect must still travel the real code paths
(drivers noticing the fault, the fault state and event, the button's debounce, the journal):

========================================  ==================================================
request (``<name>.json``)                 what happens
========================================  ==================================================
``{"action": "inject", "fault": NAME}``   ``board.sim.inject(NAME)`` (`firmware.sim.faults`)
``{"action": "clear"}``                   faults cleared; in ``fault`` the runtime's
                                          self-test reopens the board (the way out of a fault)
``{"action": "press"}``                   the trigger button clicked (100 ms, with bounce)
``{"action": "place", "sample": SPEC}``   a new item on the port (``white``, ``pet``, …)
``{"action": "press-every", "seconds": S}``  the timer below from now on (0: stop pressing)
========================================  ==================================================

The answer is written next to it as ``<name>.done`` (``{"ok", "error", "result"}``) and the
request is removed; both files are written whole (temporary file + rename), so either side only
ever reads complete JSON. ``[sim] press_every_s`` additionally clicks the button on a timer: a
unit that measures continuously. Both are off by default and refused on real hardware (a
`ConfigError` at start): nothing here can reach a real board, and nothing is reachable over the
network — only whoever may write into the state directory can use it.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError, PlastiNIRError
from .faults import FAULTS

log = logging.getLogger(__name__)

CONTROL_DIR = "sim-control"
#: How often the directory is looked at (requests are rare; a press or a fault need no hurry).
POLL_S = 0.05


def write_whole(path: Path, document: Any) -> None:
    """Write JSON so a reader never sees half of it: temporary file in the same directory, rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(document))
    os.replace(tmp, path)


class SimControl:
    """The service: one thread answering request files and pressing the button on its timer."""

    name = "sim control"

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        cfg = runtime.config.sim
        self.directory = Path(runtime.state_dir) / CONTROL_DIR
        self.watch = cfg.control
        self.press_every_s = cfg.press_every_s
        self.where = (f"{self.directory} (requests)" if self.watch else "") + \
            (f"{', ' if self.watch else ''}button pressed every {self.press_every_s:g} s" if self.press_every_s else "")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-control", daemon=True)
        self.presses = 0
        self.handled = 0

    def start(self) -> "SimControl":
        if self.watch:
            self.directory.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    # --- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        last_press = time.monotonic()
        while not self._stop.wait(POLL_S):
            try:
                if self.watch:
                    for request in sorted(self.directory.glob("*.json")):
                        self._answer(request)
                if self.press_every_s and time.monotonic() >= last_press + self.press_every_s:
                    last_press = time.monotonic()
                    self._press()
            except Exception:  # noqa: BLE001 - a harness mistake must not stop the unit's service
                log.exception("sim control")

    def _answer(self, request: Path) -> None:
        try:
            document = json.loads(request.read_text())
            result = self.handle(document)
            answer = {"ok": True, "error": None, "result": result}
        except (PlastiNIRError, ValueError, KeyError, TypeError) as exc:
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "result": None}
        except Exception as exc:  # noqa: BLE001 - every request is answered, or the harness waits forever
            log.exception("sim control request %s", request.name)
            answer = {"ok": False, "error": f"internal error: {type(exc).__name__}: {exc}", "result": None}
        self.handled += 1
        write_whole(request.with_suffix(".done"), answer)
        request.unlink(missing_ok=True)
        log.info("sim control %s: %s", request.stem, answer["error"] or "done")

    # --- actions ----------------------------------------------------------------------------

    def _sim(self):
        board = self.runtime.board
        if board is None:
            raise ConfigError(f"the board is not open ({self.runtime.state.reason})")
        if board.sim is None:
            raise ConfigError("sim control needs the simulated board")
        return board.sim

    def _press(self) -> None:
        board = self.runtime.board
        if board is None or board.sim is None:  # being reopened by a self-test: try again next time
            return
        self.presses += 1
        board.sim.button.click(hold_s=0.1)

    def handle(self, request: dict) -> dict:
        """Do one request; returns what the answer's ``result`` holds."""
        if not isinstance(request, dict):
            raise ValueError(f"a request is a JSON object, got {type(request).__name__}")
        action = request.get("action")
        if action == "inject":
            fault = request.get("fault")
            if fault not in FAULTS:
                raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
            sim = self._sim()
            sim.inject(fault)
            return {"active_faults": sim.active_faults}
        if action == "clear":
            board = self.runtime.board
            if board is not None and board.sim is not None:
                board.sim.clear_faults()
            if self.runtime.state.state.value == "fault":
                self.runtime.self_test(trigger="sim-control")
            return {"state": self.runtime.state.state.value}
        if action == "press":
            self._sim()
            self._press()
            return {"presses": self.presses}
        if action == "place":
            active = self.runtime.models.current()  # its classes name the simulator's items
            package = getattr(active.model, "package", None) if active is not None else None
            item = self._sim().place(str(request.get("sample")), package=package)
            return {"item": getattr(item, "name", None)}
        if action == "press-every":
            seconds = request.get("seconds")
            if not isinstance(seconds, (int, float)) or not 0 <= seconds <= 3600:
                raise ValueError(f"press-every: seconds must be a number from 0 to 3600, got {seconds!r}")
            self.press_every_s = float(seconds)
            return {"press_every_s": self.press_every_s}
        raise ValueError(f"unknown action {action!r}; known: inject, clear, press, place, press-every")


def start_sim_control(runtime: Any) -> SimControl | None:
    """The service when ``[sim] control`` or ``press_every_s`` asks for it; `ConfigError` on real hardware."""
    cfg = runtime.config.sim
    if not cfg.control and not cfg.press_every_s:
        return None
    board = runtime.board
    if board is not None and board.sim is None:
        raise ConfigError(f"sim.control = {str(cfg.control).lower()}, sim.press_every_s = {cfg.press_every_s:g}: "
                          f"these drive the simulated board, and this unit runs on {board.backend} hardware")
    return SimControl(runtime).start()
