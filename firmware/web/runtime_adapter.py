"""`DevicePort` on top of the runtime's pieces, so the composition root only passes objects in.

``nir-device run`` (`firmware.services.start_page`) hands the runtime's `Measurement` (which
holds the journal, the state machine, the head, the identity, the boot and the `ModelSlot`) to
`RuntimeAdapter`. Pieces that other parts own and that may not exist in a given process (the
MQTT link's state, the calibration certificate, the lamp's hour counter, a cached head
temperature) come in as optional callables; without one the page says "not available" rather
than guessing.

Actions the runtime owns end to end come in as callables too, and the page never does them
itself: installing a model (`DeviceRuntime.install_model`: verification for this unit's head and
grid, the kept copy in `firmware.model_store`, the atomic swap, the ``model`` event — one
install path, whether the package came by page, MQTT or config reload), the self-test (which
reopens a faulted board), and the technician's calibration actions. Measuring and references go
through `Measurement`, which takes the head lock and the state machine itself. Nothing here
reads the hardware: the temperature is whatever the runtime last measured.

Built with only a journal (``RuntimeAdapter(journal=j)``) it is a read-only viewer of a state
directory: pages work, actions are refused with "not available in this process".
"""
from __future__ import annotations

import logging
import math
import os
import shutil
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

from .. import __version__
from ..contracts import normalize_label
from ..errors import NotReady, PlastiNIRError
from ..model_slot import ActiveModel
from ..pending_tags import PendingTags
from ..record import utc_now_rfc3339

log = logging.getLogger(__name__)

NOT_HERE = "not available in this process: no device runtime is attached (the page only reads the journal)"
#: Known spellings of a certificate's id and due date (``plastinir.calibration/1`` and older drafts).
CERT_ID_KEYS = ("calibration_id", "id")
CERT_DUE_KEYS = ("due", "valid_until", "calibration_due", "next_due")

#: An optional provider of a figure another part owns (link state, certificate, lamp hours …).
Provider = Callable[[], Any] | None
#: An optional action the runtime carries out itself (model install, self-test, calibration …).
Action = Callable[..., dict[str, Any]] | None


def manifest_of(active: ActiveModel | None) -> dict[str, Any] | None:
    """The package manifest behind a loaded model (``firmware.inference.Model.package.manifest``)."""
    if active is None:
        return None
    package = getattr(active.model, "package", None)
    manifest = getattr(package, "manifest", None)
    return manifest if isinstance(manifest, dict) else None


def _band(entry: Any) -> dict[str, list[float]] | None:
    """A ``{wavelengths_nm, mean, sd}`` entry, checked: equal lengths, finite numbers, sd ≥ 0."""
    if not isinstance(entry, Mapping):
        return None
    try:
        wl, mean, sd = (list(map(float, entry[k])) for k in ("wavelengths_nm", "mean", "sd"))
    except (KeyError, TypeError, ValueError):
        return None
    if not wl or not (len(wl) == len(mean) == len(sd)):
        return None
    if not all(math.isfinite(v) for v in wl + mean + sd) or any(s < 0 for s in sd):
        return None
    return {"wavelengths_nm": wl, "mean": mean, "sd": sd}


def certificate_summary(cert: Mapping[str, Any] | None, today: date | None = None) -> dict[str, Any] | None:
    """``{id, due, overdue, passed, failed_checks}`` from a certificate, whichever of the known key
    spellings it uses (``passed``/``failed_checks`` are None where the document has none)."""
    if not cert:
        return None
    cid = next((cert[k] for k in CERT_ID_KEYS if cert.get(k)), None)
    due = next((cert[k] for k in CERT_DUE_KEYS if cert.get(k)), None)
    overdue = None
    if isinstance(due, str):
        try:
            overdue = date.fromisoformat(due[:10]) < (today or datetime.now(timezone.utc).date())
        except ValueError:
            overdue = None
    failed = cert.get("failed_checks")
    return {"id": cid, "due": due, "overdue": overdue,
            "passed": cert.get("passed") if isinstance(cert.get("passed"), bool) else None,
            "failed_checks": list(failed) if isinstance(failed, list) else None}


def _call(fn: Provider, what: str) -> Any:
    """An optional provider's answer; a failing provider shows as "not available", never as a 500."""
    if fn is None:
        return None
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - another part's bug must not take the page down
        log.warning("status page: %s provider failed: %s", what, exc)
        return None


class RuntimeAdapter:
    """`firmware.web.port.DevicePort` for the device runtime; see the module docstring.

    Parameters (keyword-only; everything but ``journal``/``measurement`` is optional):

    measurement : `firmware.measurement.Measurement`; supplies state, models, identity, boot,
        config and journal unless given separately. Without it, measuring and references are
        refused.
    journal, state, models, identity, boot, config : the pieces themselves.
    state_dir : for disk usage (default: the journal's directory).
    link_status : ``() -> {state, broker, since, last_puback, detail}`` from the MQTT link.
    calibration : ``() -> certificate dict | None``.
    lamp_hours, temperature_c, clock_synced : ``() -> value`` (last known, never a hardware read).
    install_model : ``path -> {installed, replaced, stored_as}`` (`DeviceRuntime.install_model`).
    self_test : ``() -> report`` (`DeviceRuntime.self_test` with ``trigger="page"``).
    technician_scan, calibration_session, install_calibration, calibration_status : the
        runtime's calibration actions (`firmware.runtime_calibration`), bound to the
        ``technician`` trigger; signatures as in `firmware.web.port.DevicePort`.

    An action that was not given is refused with "not available in this process".
    """

    def __init__(self, *, journal=None, measurement=None, state=None, models=None, identity=None, boot=None,
                 config=None, state_dir: str | Path | None = None,
                 link_status: Provider = None, calibration: Provider = None, lamp_hours: Provider = None,
                 temperature_c: Provider = None, clock_synced: Provider = None,
                 install_model: Action = None, self_test: Action = None, technician_scan: Action = None,
                 calibration_session: Action = None, install_calibration: Action = None,
                 calibration_status: Action = None, firmware_version: str = __version__,
                 clock: Callable[[], float] = time.time) -> None:
        m = measurement
        self.measurement = m
        self.journal = journal if journal is not None else getattr(m, "journal", None)
        if self.journal is None:
            raise ValueError("RuntimeAdapter needs a journal (or a measurement that has one)")
        self.state = state if state is not None else getattr(m, "state", None)
        self.models = models if models is not None else getattr(m, "models", None)
        self.identity = identity if identity is not None else getattr(m, "identity", None)
        self.boot = boot if boot is not None else getattr(m, "boot", None)
        self.config = config if config is not None else getattr(m, "config", None)
        self.state_dir = Path(state_dir) if state_dir is not None else Path(self.journal.path).parent
        #: The runtime's waiting tags; a read-only viewer shows the journal's but cannot change them.
        self.pending = getattr(m, "pending", None) or PendingTags(self.journal, 0.0)
        self._link, self._calibration, self._lamp = link_status, calibration, lamp_hours
        self._temperature, self._clock_synced = temperature_c, clock_synced
        self._actions: dict[str, Action] = {
            "install_model": install_model, "self_test": self_test, "technician_scan": technician_scan,
            "calibration_session": calibration_session, "install_calibration": install_calibration,
            "calibration_status": calibration_status}
        self.firmware_version = firmware_version
        self.clock = clock
        self._started = time.monotonic()

    # --- views -------------------------------------------------------------------------------

    def pending_tags(self) -> dict[str, Any] | None:
        try:
            return self.pending.view()
        except PlastiNIRError as exc:  # damaged tags: the page still shows; "Clear" removes them
            log.warning("status page: tags waiting for the button unreadable: %s", exc)
            return None

    def snapshot(self) -> dict[str, Any]:
        if self.state is None:
            return {"state": "offline", "reason": NOT_HERE, "since": None, "age_s": None, "busy": False,
                    "can_measure": False, "trigger": None, "last_result": None, "counts": {}, "history": []}
        return self.state.snapshot()

    def subscribe(self, listener):
        if self.state is None:
            return lambda: None
        return self.state.subscribe(listener)

    def model_info(self) -> dict[str, Any] | None:
        active = self.models.current() if self.models is not None else None
        if active is None:
            return None
        wl = active.wavelengths_nm
        manifest = manifest_of(active) or {}
        return {**active.summary(), "head": active.head,
                "classes": list(manifest.get("classes", [])), "degradable": dict(manifest.get("degradable", {})),
                "wavelengths": {"count": int(wl.size), "min_nm": float(wl.min()) if wl.size else None,
                                "max_nm": float(wl.max()) if wl.size else None},
                "issuer_public_key": manifest.get("issuer_public_key"),
                "reference_classes": sorted((manifest.get("reference_spectra") or {}).keys()),
                "screening": manifest.get("screening") is True}

    def reference_band(self, class_name: str) -> dict[str, list[float]] | None:
        manifest = manifest_of(self.models.current() if self.models is not None else None)
        spectra = (manifest or {}).get("reference_spectra")
        if not isinstance(spectra, Mapping) or not class_name:
            return None
        wanted = normalize_label(class_name)
        for name, entry in spectra.items():
            if normalize_label(name) == wanted:
                return _band(entry)
        return None

    def calibration_certificate(self) -> dict[str, Any] | None:
        cert = _call(self._calibration, "calibration certificate")
        return dict(cert) if isinstance(cert, Mapping) else None

    def _references(self) -> dict[str, Any] | None:
        if self.measurement is None:
            return None
        try:
            status = self.measurement.reference_status()
        except PlastiNIRError as exc:
            log.warning("status page: reference status unavailable: %s", exc)
            return None
        if self.config is not None:
            status["white_max_age_s"] = self.config.references.white_max_age_s
            status["max_temperature_change_c"] = self.config.references.max_temperature_change_c
        return status

    def _disk(self) -> dict[str, Any] | None:
        try:
            usage = shutil.disk_usage(self.state_dir)
        except OSError:
            return None
        return {"path": str(self.state_dir), "total_bytes": usage.total, "free_bytes": usage.free}

    def device_info(self) -> dict[str, Any]:
        head = getattr(getattr(self.measurement, "head", None), "name", None)
        uptime = self.boot.uptime_s() if self.boot is not None else None
        synced = _call(self._clock_synced, "clock sync")
        temperature = _call(self._temperature, "temperature")
        lamp = _call(self._lamp, "lamp hours")
        link = _call(self._link, "link status")
        return {
            "unit": getattr(self.identity, "unit", None),
            "public_key": getattr(self.identity, "public_key", None),
            "head": head,
            "firmware": self.firmware_version,
            "boot_id": getattr(self.boot, "boot_id", None),
            "model": self.model_info(),
            "calibration": certificate_summary(self.calibration_certificate()),
            "references": self._references(),
            "temperature_c": float(temperature) if isinstance(temperature, (int, float)) else None,
            "lamp_hours": float(lamp) if isinstance(lamp, (int, float)) else None,
            "lamp_service_hours": self._service_hours(head),
            "outbox": {"depth": self.journal.depth(), "oldest_unacked_age_s": self.journal.oldest_unacked_age()},
            "link": dict(link) if isinstance(link, Mapping) else None,
            "disk": self._disk(),
            "uptime_s": None if uptime is None else round(uptime, 1),
            "page_uptime_s": round(time.monotonic() - self._started, 1),
            "clock_synced": None if synced is None else bool(synced),
            "journal": {"last_seq": self.journal.last_seq(), "path": str(self.journal.path)},
            "time": utc_now_rfc3339(),
        }

    def _service_hours(self, head: str | None) -> float | None:
        """``head.<name>.light_service_hours`` from config (the page's "replacement due")."""
        section = getattr(getattr(self.config, "head", None), head or "", None)
        value = getattr(section, "light_service_hours", None)
        return float(value) if isinstance(value, (int, float)) else None

    # --- actions -----------------------------------------------------------------------------

    def _need_measurement(self, what: str):
        if self.measurement is None:
            raise NotReady(f"{what} is {NOT_HERE}")
        return self.measurement

    def measure(self, sample: Mapping[str, str | None], trigger: str = "page") -> dict[str, Any]:
        return self._need_measurement("measuring").measure(dict(sample), trigger=trigger)

    def set_pending_tags(self, sample: Mapping[str, str | None], source: str = "page") -> dict[str, Any]:
        return self._need_measurement("tagging the next button press").pending.set(sample, source)

    def clear_pending_tags(self) -> bool:
        return self._need_measurement("clearing the tags of the next button press").pending.clear()

    def take_reference(self, kind: str) -> dict[str, Any]:
        ref = self._need_measurement("taking a reference").take_reference(kind, trigger="page")
        return ref.summary(self.clock())

    def _runtime_action(self, name: str, what: str) -> Callable[..., dict[str, Any]]:
        action = self._actions[name]
        if action is None:
            raise NotReady(f"{what} {NOT_HERE}")
        return action

    def self_test(self) -> dict[str, Any]:
        return self._runtime_action("self_test", "the self-test is")()

    def install_model(self, path: Path) -> dict[str, Any]:
        return self._runtime_action("install_model", "installing a model is")(Path(path))

    # --- calibration (the technician's tool, nir-host calibrate-unit) -------------------------

    def technician_scan(self, **kwargs: Any) -> dict[str, Any]:
        return self._runtime_action("technician_scan", "calibration scans are")(**kwargs)

    def calibration_session(self, action: str, corrections: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self._runtime_action("calibration_session", "calibration sessions are")(action, corrections)

    def install_calibration(self, certificate: Mapping[str, Any]) -> dict[str, Any]:
        return self._runtime_action("install_calibration", "installing a calibration certificate is")(certificate)

    def calibration_status(self) -> dict[str, Any]:
        return self._runtime_action("calibration_status", "the calibration status is")()


def uploaded_path_name(filename: str | None) -> str:
    """A safe basename for an uploaded file (messages name it; the path is ours)."""
    base = os.path.basename((filename or "").replace("\\", "/")) or "upload.zip"
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in base)[:100]
