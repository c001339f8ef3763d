"""The long-running device process (``nir-device run`` and the demo), after the runtime started:
services up, systemd told, acquisition loop until stopped, services down.

systemd (``Type=notify``) hears READY=1 once the boot sequence has finished and the services
listen, whatever state the device is in: a unit in fault or without a white reference is *up*
(its page says why it will not measure); withholding READY would only make systemd kill it and
try again. ``STATUS=`` carries the state and its reason from then on (``systemctl status``).
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from .loop import AcquisitionLoop
from .services import Service, start_services, stop_services
from .sim.control import start_sim_control

log = logging.getLogger(__name__)


def status_line(snapshot: dict[str, Any]) -> str:
    """``ready`` / ``needs_reference: white reference needed: …`` (one line)."""
    state, reason = snapshot["state"], snapshot.get("reason")
    if not reason:
        return state
    return reason if reason.startswith(f"{state}:") else f"{state}: {reason}"


def run_daemon(runtime: Any, stop: threading.Event,
               on_ready: Callable[[list[Service]], None] | None = None) -> AcquisitionLoop:
    """Serve ``runtime`` (already `start`-ed) until ``stop`` is set; returns the finished loop."""
    services = start_services(runtime)
    unsubscribe = None
    try:
        control = start_sim_control(runtime)  # soak tests only: [sim] control / press_every_s, off by default
        if control is not None:
            services.append(control)
        unsubscribe = runtime.subscribe(lambda snap: runtime.watchdog.status(status_line(snap)))
        runtime.watchdog.ready(status_line(runtime.state.snapshot()))
        if on_ready is not None:
            on_ready(services)
        loop = AcquisitionLoop(runtime, stop=stop)
        loop.run()
        return loop
    finally:
        if unsubscribe is not None:
            unsubscribe()
        runtime.watchdog.stopping()
        stop_services(services)
