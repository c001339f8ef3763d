"""What ``nir-device run`` (and the demo) serves beside the acquisition loop: the MQTT link and
the status page. Each is a plug-in: ``start_<name>(runtime) -> Service | None``.

These two functions are the only places the runtime meets those parts, so the runtime never
imports them:

- **MQTT link**: ``firmware.mqtt.start_link(runtime) -> Service`` (docs/LINK.md). It reads
  ``runtime.config.mqtt``; publishes results from the journal's outbox (``runtime.journal``),
  woken by ``runtime.on_result``; events from ``runtime.journal.events(unpublished=True)``,
  woken by ``runtime.on_event``; stats from ``runtime.snapshot()`` and ``runtime.lamp_hours()``;
  runs commands through ``runtime.measure / take_reference / install_model / reload_config /
  install_calibration``; and sets ``runtime.link_status`` so the page can show the link. ``--broker none`` runs
  without one.
- **Status page**: ``firmware.web.create_app(config, runtime=port)`` served by
  ``firmware.web.serve.PageServer`` (docs/WEB.md); ``http.enabled = false`` runs without one.

A `Service` has ``name``, ``where`` (what to tell the user: a URL) and ``stop()``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Protocol

log = logging.getLogger(__name__)


class Service(Protocol):
    name: str
    where: str

    def stop(self) -> None: ...


@dataclass
class Started:
    """A running service: what it is, where to look, how to stop it."""

    name: str
    where: str
    _stop: Callable[[], None]

    def stop(self) -> None:
        self._stop()


def start_link(runtime: Any) -> Service | None:
    """The MQTT link to ``mqtt.broker``, or None for ``none``."""
    if runtime.config.mqtt.endpoint is None:
        return None
    from .mqtt import start_link as start_mqtt_link
    return start_mqtt_link(runtime)


def page_port(runtime: Any):
    """The `firmware.web.port.DevicePort` the page reads the runtime through."""
    from .web.runtime_adapter import RuntimeAdapter

    # The page reads the device through its adapter over the runtime's pieces; actions the
    # runtime owns end to end (model install with head/grid checks, kept copy and event; the
    # self-test that reopens the board after a fault; the technician's calibration tool over
    # /api/technician/…) are the runtime's own methods.
    return RuntimeAdapter(
        measurement=runtime.measurement, state_dir=runtime.state_dir,
        link_status=lambda: runtime.link_status(), calibration=lambda: runtime.calibration(),
        temperature_c=runtime.temperature_c, clock_synced=runtime.clock_synced, lamp_hours=runtime.lamp_hours,
        install_model=runtime.install_model,
        self_test=lambda: runtime.self_test(trigger="page"),
        technician_scan=lambda **kw: runtime.technician_scan(**kw, trigger="technician"),
        calibration_session=lambda action, corrections=None: runtime.calibration_session(
            action, corrections, trigger="technician"),
        install_calibration=lambda cert: runtime.install_calibration(cert, trigger="technician"),
        calibration_status=runtime.calibration_status)


def start_page(runtime: Any) -> Service | None:
    """The status page on ``http.bind:http.port``, or None when disabled."""
    http = runtime.config.http
    if not http.enabled:
        return None
    from .web import create_app
    from .web.serve import PageServer

    server = PageServer(create_app(runtime.config, runtime=page_port(runtime)), http)
    server.start()
    return Started("status page", server.url, server.stop)


#: Started in this order (the link first, so the page can show its state), stopped in reverse.
PLUGINS: tuple[Callable[[Any], Service | None], ...] = (start_link, start_page)


def start_services(runtime: Any) -> list[Service]:
    """Start every plug-in; if one fails, stop those already started and re-raise."""
    started: list[Service] = []
    try:
        for plugin in PLUGINS:
            service = plugin(runtime)
            if service is not None:
                started.append(service)
    except BaseException:
        stop_services(started)
        raise
    return started


def stop_services(services: list[Service]) -> None:
    for service in reversed(services):
        try:
            service.stop()
        except Exception:  # noqa: BLE001 - stopping one must not keep the others running
            log.exception("stopping %s", service.name)
