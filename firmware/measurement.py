"""One measurement, from trigger to signed, journaled record (DESIGN.md, Data flow).

    check white reference → N scans (head.acquire) → quality checks → saturated? lower the
    gain and scan again once → reflectance → model grid → predict → build, sign, journal
    (record + outbox entry in one transaction) → state ``result``

Written against the `OpticalHead` interface and any model with ``predict`` (`ModelSlot`), so
the same code runs on a Pi, in the simulator and in tests with stand-in heads.

Refusals and rejections are different things. A *refusal* (no valid white reference, no model,
device busy) means no measurement happened: nothing is journaled, the caller gets `NotReady` or
`DeviceBusy` with the reason. A *rejection* (dark, empty, saturated, unstable sample) is a
measurement whose answer is "cannot say": it is journaled and published like any result, with
``verdict = rejected`` and the reason, because the inspector did test that item.

Threading: the head is not thread-safe. Every method that touches it holds ``_head_lock``;
`measure`, `take_reference` and `self_test` additionally go through the state machine, so a
second trigger from another thread is refused at once instead of queueing behind the first.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .config import DeviceConfig
from .errors import AdcSaturation, NotReady, PlastiNIRError, QualityRejection
from .heads.base import OpticalHead
from .identity import Boot, Identity
from .journal import Journal
from .model_slot import ActiveModel, ModelSlot
from .optics import resample
from .pending_tags import PendingTags
from .quality import QualityIssue, assess, check_agreement, check_saturation, nanmean
from .reading import RawReading
from .record import utc_now_rfc3339
from .references import (DARK, KINDS, NEEDED, WHITE, Reference, ReferenceStore, Validity, average, check_dark_reading,
                         check_white, check_white_reading, reflectance)
from .result_builder import build_signed_record, normalize_sample, outcome_fields, rejected_outcome
from .state import DeviceState, State
from .watchdog import Watchdog

log = logging.getLogger(__name__)

#: ``(head wavelengths (C,), reflectance (N, C), model) → (N, W)`` on the model's grid.
GridMapper = Callable[[np.ndarray, np.ndarray, ActiveModel], np.ndarray]
#: ``(head wavelengths (C,), reflectance (S, C)) → (S, C)``: the unit's calibration corrections.
Correction = Callable[[np.ndarray, np.ndarray], np.ndarray]


def saturation_issue(exc: AdcSaturation) -> QualityIssue:
    """A head that stops at the first saturated conversion (it raises `AdcSaturation`, light already
    off) gives no reading at all; this is the same ``saturated`` issue `check_saturation` finds in
    counts, so both kinds of head take the same lower-gain-and-retry path."""
    detail = str(exc).split(" — ")[0]
    figures = {k: float(v) for k, v in (("pga", getattr(exc, "pga", None)),) if isinstance(v, (int, float))}
    return QualityIssue("saturated", detail, figures)


def resample_to_model(wavelengths_nm: np.ndarray, values: np.ndarray, model: ActiveModel) -> np.ndarray:
    """Default grid mapping: identity on the same grid, else linear interpolation (never extrapolation)."""
    wl = np.asarray(wavelengths_nm, dtype=float)
    values = np.atleast_2d(np.asarray(values, dtype=float))
    if wl.shape == model.wavelengths_nm.shape and np.allclose(wl, model.wavelengths_nm, atol=1e-6, rtol=0):
        return values
    try:
        return resample(wl, values, model.wavelengths_nm, what="head grid")
    except ValueError as exc:
        raise NotReady(f"model {model.name} cannot be used with this head: {exc}") from None


@dataclass
class Scans:
    """One attempt: the readings ``S × (C,)`` and their reflectance ``(S, C)`` (None if not computable)."""

    readings: list[RawReading]
    reflectance: np.ndarray | None
    issue: QualityIssue | None
    wall_s: float
    timings: dict[str, float] = field(default_factory=dict)

    def dark(self, channels: int) -> np.ndarray:
        """Mean dark counts ``(C,)``; NaN when the acquisition stopped at saturation (no reading)."""
        if not self.readings:
            return np.full(channels, np.nan)
        return np.mean([r.dark for r in self.readings], axis=0)

    def lit(self, channels: int) -> np.ndarray:
        """Mean lit counts ``(C,)``; NaN when the acquisition stopped at saturation (no reading)."""
        if not self.readings:
            return np.full(channels, np.nan)
        return np.mean([r.lit for r in self.readings], axis=0)

    @property
    def physical_s(self) -> float:
        return float(sum(r.physical_time_s for r in self.readings))


class Measurement:
    """The measurement pipeline of one unit; see the module docstring."""

    def __init__(self, *, head: OpticalHead, journal: Journal, identity: Identity, boot: Boot,
                 config: DeviceConfig, state: DeviceState, models: ModelSlot,
                 to_grid: GridMapper = resample_to_model, clock_synced: Callable[[], bool] = lambda: False,
                 calibration_id: Callable[[], str | None] = lambda: None,
                 watchdog: Watchdog | None = None, clock: Callable[[], float] = time.time,
                 calibration_gate: Callable[[], str | None] = lambda: None,
                 correct: Correction | None = None) -> None:
        self.head = head
        self.journal = journal
        self.identity = identity
        self.boot = boot
        self.config = config
        self.state = state
        self.models = models
        self.to_grid = to_grid
        self.clock_synced = clock_synced
        self.calibration_id = calibration_id
        #: The reason the unit's calibration forbids measuring (failing / past-due certificate …), or None.
        self.calibration_gate = calibration_gate
        #: The unit's corrections, applied to every reflectance before the quality checks and the model.
        self.correct = correct
        self.watchdog = watchdog
        self.clock = clock
        self.references = ReferenceStore(journal)
        #: Tags waiting for the next button press (`firmware.pending_tags`); TTL read when set.
        self.pending = PendingTags(journal, lambda: self.config.runtime.pending_tags_ttl_s, clock=clock)
        self._head_lock = threading.Lock()

    # --- references --------------------------------------------------------------------------

    def white_validity(self, temperature_c: float | None = None) -> Validity:
        """Whether the stored white reference may be used now (reads the head temperature if not given)."""
        if temperature_c is None:
            temperature_c = self.head.read_temperature_c()
        refs = self.config.references
        return check_white(self.references.latest(WHITE), head=self.head.name,
                           wavelengths_nm=self.head.wavelengths_nm, temperature_c=temperature_c,
                           max_age_s=refs.white_max_age_s, max_temperature_change_c=refs.max_temperature_change_c,
                           now=self.clock())

    @property
    def head_lock(self) -> threading.Lock:
        """Held around every use of the head (a calibration swapping the fpi table takes it too)."""
        return self._head_lock

    def readiness(self, temperature_c: float | None = None) -> tuple[State, str | None]:
        """What the idle state should be: the calibration first (a technician must act), then the
        white reference. Returns ``(ready | needs_calibration | needs_reference, reason)``."""
        gate = self.calibration_gate()
        if gate:
            return State.NEEDS_CALIBRATION, gate
        validity = self.white_validity(temperature_c)
        return (State.READY, None) if validity.ok else (State.NEEDS_REFERENCE, validity.reason)

    def refresh(self) -> bool:
        """Re-check calibration and white reference while idle (from the loop): ``ready`` ⇄
        ``needs_reference`` / ``needs_calibration``.

        Skips the check (returns False) while the head is in use.
        """
        if not self._head_lock.acquire(blocking=False):
            return False
        try:
            if self.state.state not in (State.READY, State.RESULT, State.NEEDS_REFERENCE, State.NEEDS_CALIBRATION):
                return False
            state, reason = self.readiness()
        finally:
            self._head_lock.release()
        return self.state.settle(state == State.READY, reason,
                                 state if state != State.READY else State.NEEDS_REFERENCE)

    def reference_status(self) -> dict[str, Any]:
        """White/dark reference summaries and validity, for the page and MQTT stats."""
        now = self.clock()
        white = self.references.latest(WHITE)
        dark = self.references.stray(self.head.name, self.head.wavelengths_nm)
        return {"white": white.summary(now) if white else None, "dark": dark.summary(now) if dark else None}

    def take_reference(self, kind: str, *, trigger: str = "cli") -> Reference:
        """Take a white (tile on the port) or dark (port covered) reference and store it.

        A reading that fails its checks is refused with `QualityRejection` and nothing is stored;
        the state returns to what the stored references allow.
        """
        if kind not in KINDS:
            raise ValueError(f"reference kind {kind!r} is not one of {', '.join(KINDS)}")
        cfg, refs = self.config.measurement, self.config.references
        with self.state.activity(State.REFERENCING, trigger), self._head_lock:
            try:
                readings, saturated = self._acquire_checked(cfg.n_scans)
                if saturated and self.head.lower_gain():
                    readings, saturated = self._acquire_checked(cfg.n_scans)
                if saturated:
                    raise QualityRejection(f"{saturated.detail}, even after lowering the gain")
                ref = average(kind, readings, now=self.clock())
                if kind == WHITE:
                    check_white_reading(ref, min_fraction=refs.white_min_fraction)
                    per_scan = np.stack([reflectance(r, ref, tile_reflectance=1.0) for r in readings])
                    unstable = check_agreement(per_scan, cfg.scan_agreement)
                    if unstable:
                        raise QualityRejection(f"tile moved or light unstable: {unstable.detail}")
                else:
                    check_dark_reading(ref, self.references.latest(WHITE, self.head.name),
                                       max_fraction=refs.dark_max_fraction_of_white)
                ref = self.references.save(ref)
            except QualityRejection as exc:
                self._settle_after(f"{kind} reference refused: {exc}")
                raise
            except Exception as exc:
                self._event("fault", "error", "reference", f"{kind} reference failed: {exc}", fault_detail(exc))
                raise
            finally:
                self.head.reset_gain()
            self._event("reference", "info", f"{kind}-reference",
                        f"{kind} reference taken at {ref.temperature_c:.1f} °C", ref.summary())
            self._settle_after(None)
        return ref

    def _settle_after(self, refused: str | None) -> None:
        """Leave ``referencing``/``self_test``/``calibrating`` for ready, needs_calibration or
        needs_reference, as the calibration and the white reference allow."""
        state, reason = self.readiness()
        if state == State.READY:
            self.state.transition(State.READY)
        else:
            self.state.transition(state, reason if refused is None else f"{refused}; {reason}")

    def settle_after_activity(self, refused: str | None = None) -> None:
        """For activities run outside this class (a technician's calibration scan): leave the
        activity's state for what the calibration and the references allow."""
        self._settle_after(refused)

    # --- self-test ----------------------------------------------------------------------------

    def self_test(self, checks: Sequence[Callable[[], Any]] = (), *, trigger: str = "startup") -> dict[str, Any]:
        """Board checks (``checks``: callables that raise on failure), temperature, one reading.

        On success the state becomes ready or needs_reference; on failure fault with the cause.
        """
        report: dict[str, Any] = {}
        with self.state.activity(State.SELF_TEST, trigger), self._head_lock:
            try:
                for check in checks:
                    report[getattr(check, "__name__", "check")] = check()
                temperature = self.head.read_temperature_c()
                if not np.isfinite(temperature):
                    raise NotReady(f"head temperature reads {temperature}: thermistor open or shorted?")
                reading = self.head.acquire()
                report.update(temperature_c=float(temperature), channels=int(reading.wavelengths_nm.size),
                              physical_time_s=reading.physical_time_s)
            except Exception as exc:
                self._event("fault", "error", "self-test", f"self-test failed: {exc}", fault_detail(exc))
                raise
            finally:
                self.head.reset_gain()
            self._settle_after(None)
        return report

    # --- measuring ----------------------------------------------------------------------------

    def _acquire(self, n: int) -> list[RawReading]:
        readings = []
        for _ in range(n):
            readings.append(self.head.acquire())
            if self.watchdog is not None:
                self.watchdog.ping()
        return readings

    def _acquire_checked(self, n: int) -> tuple[list[RawReading], QualityIssue | None]:
        """``n`` readings and the saturation issue, whether the head reported it in its counts or
        stopped with `AdcSaturation` (then no readings)."""
        try:
            readings = self._acquire(n)
        except AdcSaturation as exc:
            return [], saturation_issue(exc)
        return readings, check_saturation(readings, self.config.measurement.saturation_fraction)

    def _scan(self, white: Reference, stray: Reference | None) -> Scans:
        cfg = self.config.measurement
        t0 = time.perf_counter()
        try:
            readings = self._acquire(cfg.n_scans)
        except AdcSaturation as exc:
            return Scans([], None, saturation_issue(exc), time.perf_counter() - t0, {"quality": 0.0})
        t1 = time.perf_counter()
        refl = np.stack([reflectance(r, white, tile_reflectance=self.config.references.tile_reflectance,
                                     stray=stray) for r in readings])
        if self.correct is not None:
            refl = self.correct(readings[0].wavelengths_nm, refl)
        issue = assess(readings, refl, saturation_fraction=cfg.saturation_fraction,
                       scan_agreement=cfg.scan_agreement, empty_max_reflectance=cfg.empty_max_reflectance,
                       dark_max_reflectance=cfg.dark_max_reflectance)
        return Scans(readings, refl, issue, t1 - t0, {"quality": time.perf_counter() - t1})

    def measure(self, sample: Mapping[str, Any] | None = None, *, trigger: str = "cli",
                operator: str | None = None) -> dict[str, Any]:
        """Measure the sample on the port; returns the signed record as journaled.

        Raises `NotReady` (no valid white reference, no usable model: nothing journaled),
        `DeviceBusy` (another activity runs), or the hardware error that put the device in fault.

        A ``button`` trigger without tags of its own measures with the tags waiting for it
        (`firmware.pending_tags`, unless expired); the stored result uses them up in the same
        transaction, and a refusal or fault leaves them waiting.
        """
        sample, consume_tags = self.pending.for_trigger(trigger, sample)
        sample = normalize_sample(sample)  # a bad tag is refused before anything moves
        model = self.models.current()
        if model is None:
            raise NotReady("no model loaded: install a signed model package")
        if model.head != self.head.name:
            raise NotReady(f"model {model.name} is for the {model.head} head, this unit has {self.head.name}")
        t_start = time.perf_counter()
        with self.state.activity(State.MEASURING, trigger), self._head_lock:
            try:
                gate = self.calibration_gate()
                if gate:
                    self.state.transition(State.NEEDS_CALIBRATION, gate)
                    raise NotReady(gate)
                temperature = self.head.read_temperature_c()
                validity = self.white_validity(temperature)
                if not validity.ok:
                    self.state.transition(State.NEEDS_REFERENCE, validity.reason)
                    raise NotReady(validity.reason)
                record = self._measure(model, sample, operator, t_start, consume_tags=consume_tags)
            except NotReady as exc:
                # Reference problems found while measuring (no white signal on some points, a gain
                # the reference cannot be compared with) need a new reference; anything else is a
                # configuration fault, which the activity context turns into the fault state.
                if self.state.state == State.MEASURING and str(exc).startswith(NEEDED):
                    self.state.transition(State.NEEDS_REFERENCE, str(exc))
                raise
            except Exception as exc:
                self._event("fault", "error", "measurement", f"measurement failed: {exc}", fault_detail(exc))
                raise
            finally:
                self.head.reset_gain()
            self.state.record_result(_summary(record))
        self._retention()
        return record

    def _measure(self, model: ActiveModel, sample: dict, operator: str | None, t_start: float, *,
                 consume_tags: str | None = None) -> dict[str, Any]:
        white = self.references.latest(WHITE)
        stray = self.references.stray(self.head.name, self.head.wavelengths_nm)
        scans = self._scan(white, stray)
        timings = {"acquire": scans.wall_s, "physical": scans.physical_s, "quality": scans.timings["quality"]}
        if scans.issue is not None and scans.issue.retry_lower_gain and self.head.lower_gain():
            try:
                retry = self._scan(white, stray)
            except NotReady as exc:  # the head cannot say how much lower: keep the saturated answer
                scans.issue = QualityIssue("saturated", f"{scans.issue.detail}; retry at lower gain unusable: {exc}",
                                           scans.issue.figures)
            else:
                timings["acquire"] += retry.wall_s
                timings["physical"] += retry.physical_s
                timings["quality"] += retry.timings["quality"]
                timings["retry_acquire"] = retry.wall_s
                scans = retry
        channels = self.head.wavelengths_nm.size
        if scans.readings:
            wl = scans.readings[0].wavelengths_nm
            spectrum = self.to_grid(wl, nanmean(scans.reflectance, axis=0)[None, :], model)[0]
        else:  # stopped at saturation: no spectrum to show, only the reason
            spectrum = np.full(model.wavelengths_nm.size, np.nan)
        if scans.issue is not None:
            outcome: Any = rejected_outcome(scans.issue.code, scans.issue.detail)
        else:
            if not np.isfinite(spectrum).all():
                raise NotReady(f"{NEEDED}: it has no signal at "
                               f"{int(np.count_nonzero(~np.isfinite(spectrum)))} points of the model grid")
            t_inf = time.perf_counter()
            predictions = model.model.predict(spectrum[None, :].astype(np.float32))
            timings["inference"] = time.perf_counter() - t_inf
            if len(predictions) != 1:
                raise PlastiNIRError(f"model {model.name} returned {len(predictions)} predictions for 1 spectrum")
            outcome = outcome_fields(predictions[0])
        fields = dict(unit=self.identity.unit, boot_id=self.boot.boot_id, time=utc_now_rfc3339(),
                      clock_synced=self.clock_synced(), model=model.summary(), outcome=outcome, sample=sample,
                      wavelengths_nm=model.wavelengths_nm, spectrum=spectrum, raw_dark=scans.dark(channels),
                      raw_lit=scans.lit(channels), calibration_id=self.calibration_id(), operator=operator)

        def make(seq: int) -> dict[str, Any]:
            total = {k: v * 1000.0 for k, v in timings.items()} | {"total": (time.perf_counter() - t_start) * 1000.0}
            return build_signed_record(self.identity.key, seq=seq, timings_ms=total, **fields)

        return self.journal.append_result(make, consume_tags=consume_tags)

    # --- helpers ------------------------------------------------------------------------------

    def _event(self, kind: str, severity: str, code: str, message: str, detail: dict) -> None:
        try:
            self.journal.add_event(kind, severity, code, message, detail)
        except PlastiNIRError as exc:  # the event is secondary to the failure being reported
            log.error("cannot journal %s event %r: %s", kind, message, exc)

    def _retention(self) -> None:
        j = self.config.journal
        try:
            self.journal.apply_retention(j.max_results, j.max_age_days * 86400.0)
        except PlastiNIRError as exc:  # the result is stored; purging can wait for the next one
            log.error("journal retention failed: %s", exc)


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    """What the state snapshot shows of the last result."""
    return {k: record.get(k) for k in ("seq", "uuid", "time", "verdict", "reason", "class", "degradable",
                                       "confidence")} | {"sample_id": (record.get("sample") or {}).get("sample_id")}


__all__ = ["Measurement", "GridMapper", "resample_to_model", "DARK", "WHITE"]


def fault_detail(exc: BaseException) -> dict[str, str]:
    """A fault event's ``detail``: the ``code`` says where it happened (measurement, self-test …),
    ``detail.error`` which failure it was (``DrdyTimeout``, ``DataLineStuck``, …: the classes of
    `firmware.errors`, the names the simulator's fault table promises), so the bureau can count
    faults by kind without parsing the message."""
    return {"error": type(exc).__name__}
