"""``<prefix>/<unit>/cmd/<name>``: run a command on the device and answer it.

paho's network thread must never run a measurement (seconds of SPI traffic would stall the
keep-alive and every ack), so a command is handed to one worker thread and runs there, one at
a time. A command that arrives while another one runs is answered at once with ok=false,
"device busy: …" — never queued, because a measurement an operator asked for a minute ago must
not start by surprise. The runtime's own refusals (another trigger is measuring, not ready, a
refused model) come back the same way, with the runtime's reason.

The answer goes to the MQTT v5 ``ResponseTopic`` with the request's ``CorrelationData``; without
one (an MQTT 3.1.1 broker, or a requester that set none) to ``<prefix>/<unit>/cmd/<name>/reply``.
A malformed command (not JSON, wrong schema, unknown name or argument) is answered with the
cause; nothing a requester sends can stop the worker or the link.
"""
from __future__ import annotations

import base64
import binascii
import logging
import queue
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from ..errors import MessageError, PlastiNIRError
from .payloads import Command, parse_command, reply

log = logging.getLogger(__name__)

#: ``publish(command, reply_bytes)``: the link sends a reply where the command asked for it.
Replier = Callable[[Command, bytes], None]
INCOMING_DIR = "incoming"


def _only(args: dict[str, Any], allowed: tuple[str, ...], name: str) -> None:
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise MessageError(f"{name}: unknown argument(s) {unknown}; allowed: {', '.join(allowed) or 'none'}")


class CommandWorker:
    """One thread running commands through the runtime's actions; see the module docstring."""

    def __init__(self, runtime: Any, send: Replier, *, max_bytes: int, count: Callable[[str], None]) -> None:
        self.runtime = runtime
        self.send = send
        self.max_bytes = max_bytes
        self.count = count
        self._queue: queue.Queue[tuple[Command, bytes] | None] = queue.Queue()
        self._slot = threading.Lock()          # held from acceptance until the reply is sent
        self._running: tuple[str, float] | None = None
        self._thread = threading.Thread(target=self._run, name="mqtt-commands", daemon=True)
        self.handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "measure": self._measure, "reference": self._reference, "model": self._model,
            "calibration": self._calibration, "reload": self._reload, "tag": self._tag}

    def start(self) -> "CommandWorker":
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    # --- from the network thread: accept or refuse at once ----------------------------------

    def offer(self, command: Command, payload: bytes) -> None:
        """Take ``command`` for the worker, or answer "device busy" if one is running."""
        if len(payload) > self.max_bytes:
            self.count("commands_refused")
            self.send(command, reply(command.name, ok=False,
                                     error=f"command payload of {len(payload)} bytes exceeds mqtt.max_command_mb "
                                           f"({self.max_bytes} bytes)"))
            return
        if not self._slot.acquire(blocking=False):
            running = self._running
            what = f"command {running[0]!r} running for {time.monotonic() - running[1]:.1f} s" if running else \
                "another command is running"
            self.count("commands_busy")
            self.send(command, reply(command.name, ok=False, error=f"device busy: {what}; try again when it "
                                                                   f"has answered"))
            return
        self._running = (command.name, time.monotonic())
        self._queue.put((command, payload))

    # --- the worker -------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            command, payload = item
            try:
                self.send(command, self._execute(command.name, payload))
            except Exception:  # noqa: BLE001 - the worker must outlive anything a command does
                self.count("command_errors")
                log.exception("command %s: the reply could not be sent", command.name)
            finally:
                self._running = None
                self._slot.release()

    def _execute(self, name: str, payload: bytes) -> bytes:
        self.count("commands")
        try:
            args = parse_command(name, payload)
            result = self.handlers[name](args)
        except (PlastiNIRError, ValueError) as exc:  # refusals with their cause (busy, not ready, bad args …)
            self.count("commands_failed")
            log.info("command %s refused: %s", name, exc)
            return reply(name, ok=False, error=str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must still answer, and the worker lives on
            self.count("command_errors")
            log.exception("command %s failed", name)
            return reply(name, ok=False, error=f"internal error: {type(exc).__name__}: {exc}")
        log.info("command %s done", name)
        return reply(name, ok=True, result=result)

    # --- handlers ---------------------------------------------------------------------------

    def _measure(self, args: dict[str, Any]) -> dict[str, Any]:
        _only(args, ("sample", "operator"), "measure")
        sample, operator = args.get("sample"), args.get("operator")
        if sample is not None and not isinstance(sample, dict):
            raise MessageError(f"measure: args.sample must be an object of tags, got {type(sample).__name__}")
        if operator is not None and not isinstance(operator, str):
            raise MessageError(f"measure: args.operator must be text, got {type(operator).__name__}")
        return {"record": self.runtime.measure(sample, trigger="mqtt", operator=operator)}

    def _reference(self, args: dict[str, Any]) -> dict[str, Any]:
        _only(args, ("kind",), "reference")
        kind = args.get("kind", "white")
        if kind not in ("white", "dark"):
            raise MessageError(f"reference: args.kind must be 'white' or 'dark', got {kind!r}")
        return {"reference": self.runtime.take_reference(kind, trigger="mqtt")}

    def _model(self, args: dict[str, Any]) -> dict[str, Any]:
        _only(args, ("package_b64",), "model")
        text = args.get("package_b64")
        if not isinstance(text, str) or not text:
            raise MessageError("model: args.package_b64 (the zipped, signed package in base64) is missing")
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MessageError(f"model: args.package_b64 is not valid base64: {exc}") from None
        incoming = Path(self.runtime.state_dir) / INCOMING_DIR
        incoming.mkdir(parents=True, exist_ok=True)
        path = incoming / f"mqtt-model-{uuid.uuid4().hex}.zip"
        try:
            path.write_bytes(data)
            return self.runtime.install_model(path)   # refused → ModelPackageError, previous kept
        finally:
            path.unlink(missing_ok=True)

    def _calibration(self, args: dict[str, Any]) -> Any:
        _only(args, ("certificate",), "calibration")
        certificate = args.get("certificate")
        if not isinstance(certificate, dict):
            raise MessageError("calibration: args.certificate (a plastinir.calibration/1 document) is missing")
        return self.runtime.install_calibration(certificate, trigger="mqtt")  # refused → CertificateError

    def _reload(self, args: dict[str, Any]) -> dict[str, Any]:
        _only(args, (), "reload")
        return self.runtime.reload_config()

    def _tag(self, args: dict[str, Any]) -> dict[str, Any]:
        """Tags for the next button press (`firmware.pending_tags`): ``{"sample": {...}}`` sets them,
        ``{"clear": true}`` drops them, ``{}`` asks what waits; the answer is what waits now."""
        _only(args, ("sample", "clear"), "tag")
        sample, clear = args.get("sample"), args.get("clear", False)
        if not isinstance(clear, bool):
            raise MessageError(f"tag: args.clear must be true or false, got {clear!r}")
        if sample is not None and clear:
            raise MessageError("tag: give args.sample (set the tags) or args.clear (drop them), not both")
        if sample is not None:
            if not isinstance(sample, dict):
                raise MessageError(f"tag: args.sample must be an object of tags, got {type(sample).__name__}")
            return {"pending_tags": self.runtime.set_pending_tags(sample, source="mqtt")}
        if clear:
            return {"cleared": self.runtime.clear_pending_tags(), "pending_tags": None}
        return {"pending_tags": self.runtime.pending_tags()}
