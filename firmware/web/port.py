"""The narrow interface between the status page and the device runtime.

The page runs in waitress's worker threads beside the acquisition loop and the MQTT link. It
must never drive the hardware itself (the head is not thread-safe, and only the runtime knows
whether a measurement may start), and it must not grow a second copy of the runtime's state. So
the app sees the device only through `DevicePort`: a handful of read-only views, each cheap and
safe to call from any thread at any time, and four actions that the runtime carries out under
its own state machine and locks, refusing them with a reason when they may not run.

Anything that gives the page a view is a candidate member only if a page shows it; anything
that changes the device is a member only if a technician or inspector triggers it from the
page. `firmware.web.runtime_adapter.RuntimeAdapter` implements this on top of `Journal`,
`DeviceState`, `Measurement`, `ModelSlot` and the unit identity; tests may implement it with
anything else.

Errors (all `firmware.errors.PlastiNIRError` leaves, so the page shows their message):

- `RecordError`: a sample tag is not acceptable (too long, unknown field);
- `NotReady`: the device may not do this now (no white reference, no model, fault, or the
  action is not available in this process) — the message is the reason the user reads;
- `DeviceBusy`: another measurement, reference or self-test is running;
- `QualityRejection`: a reference reading failed its checks (tile missing, port not covered);
- `ModelPackageError`: an uploaded package is refused; the message names the failed check;
- `HardwareError`: the hardware failed (the runtime is then in ``fault`` with the cause).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Protocol, runtime_checkable


@runtime_checkable
class JournalReader(Protocol):
    """The read-only part of `firmware.journal.Journal` the page uses (History, Now, export, metrics).

    A protocol rather than the class so the page's dependency is visible: it reads, never writes
    (writes belong to the measurement pipeline and the MQTT link).
    """

    path: Path

    def history(self, limit: int = 50, *, before_seq: int | None = None, verdict: str | None = None,
                since: Any = None, until: Any = None, merchant: str | None = None) -> list[dict]:
        """Summary rows (``firmware.journal.SUMMARY_COLUMNS``) newest first; page with ``before_seq``."""

    def count(self, *, verdict: str | None = None, since: Any = None, until: Any = None,
              merchant: str | None = None) -> int:
        """How many results match (the History page's total)."""

    def get(self, seq: int) -> dict | None:
        """The full signed record, or None (never existed, or purged after the bureau stored it)."""

    def latest(self) -> dict | None:
        """The newest record: what the Now page shows, even after a restart."""

    def last_seq(self) -> int:
        """Highest seq ever allocated: a monotonic count of journaled results for /metrics."""

    def depth(self) -> int:
        """Results not yet acknowledged by the bureau (the outbox)."""

    def oldest_unacked_age(self, now: float | None = None) -> float | None:
        """Seconds since the oldest unacknowledged result was stored."""

    def counts_by_verdict(self, *, since: Any = None, until: Any = None) -> dict[str, int]:
        """Stored results per verdict."""

    def counts_by_reason(self, *, since: Any = None, until: Any = None) -> dict[str, int]:
        """Stored rejections per reason code."""

    def iter_records(self, *, verdict: str | None = None, since: Any = None, until: Any = None,
                     merchant: str | None = None, model: str | None = None, raw: bool = False,
                     batch: int = 200) -> Iterator[dict] | Iterator[str]:
        """Full records in seq order, in batches (exports never load the whole journal)."""

    def grids(self, *, verdict: str | None = None, since: Any = None, until: Any = None,
              merchant: str | None = None, model: str | None = None) -> dict[tuple[float, ...], int]:
        """Wavelength grids of the matching results (a spectra CSV holds one)."""

    def purged_ranges(self) -> list[tuple[int, int]]:
        """Seq ranges retention removed: lets a detail page say "purged" instead of "never existed"."""


Listener = Callable[[dict[str, Any]], None]


@runtime_checkable
class DevicePort(Protocol):
    """Everything the status page may see of, and ask from, the device (see the module docstring)."""

    #: The result journal, read-only: History, result details, exports, the Now page's latest
    #: result and the counters of /metrics all come from it, so they survive a restart and agree
    #: with what the bureau receives.
    journal: JournalReader

    # --- views: cheap, thread-safe, never touch the hardware ----------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The state machine's snapshot (``firmware.state.DeviceState.snapshot``): ``state``,
        ``reason``, ``since``, ``busy``, ``can_measure``, ``last_result`` …

        Why: the Now page's first line ("ready", "white reference needed: …") and the trigger
        button's enabled state; JSON-ready so /api/now passes it through unchanged.
        """

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(snapshot)`` after every state transition; returns the unsubscribe function.

        Why: live updates are pushed (server-sent events) instead of every open page polling the
        device. The listener runs on the runtime's thread and must only note the change.
        """

    def model_info(self) -> dict[str, Any] | None:
        """The model in service: ``name, version, sha256, head, classes, degradable, wavelengths
        {count, min_nm, max_nm}, issuer_public_key, screening`` — or None when no model is loaded.
        ``screening`` is True when the manifest says the model is a screening head (its
        identifications are hints for the lab, never confirmations).

        Why: Device and Technician pages, and the "installed / replaced" answer after an upload.
        """

    def reference_band(self, class_name: str) -> dict[str, list[float]] | None:
        """The model package's reference spectrum of a class: ``{wavelengths_nm, mean, sd}``
        (equal-length lists, source resolution), or None if the model has none for it.

        Why: the Now and detail pages plot the measured spectrum inside the matched class's band
        (mean ± sd), so an inspector sees at a glance how typical the sample is.
        """

    def device_info(self) -> dict[str, Any]:
        """The Device page: ``unit, public_key, head, firmware, boot_id, model, calibration {id, due,
        overdue}, references {white, dark}, temperature_c, lamp_hours, outbox {depth,
        oldest_unacked_age_s}, link {state, broker, since, last_puback, detail}, disk {path,
        total_bytes, free_bytes}, uptime_s, clock_synced, journal {last_seq}, time``.

        Any part the runtime cannot provide (no MQTT link in this process, a head without a lamp
        counter) is None, and the page says "not available" instead of inventing a value.
        """

    def calibration_certificate(self) -> dict[str, Any] | None:
        """The unit's current calibration certificate (``plastinir.calibration/1`` JSON twin), or None.

        Why: a technician checks at the bench which certificate the unit carries and when it is due.
        """

    def pending_tags(self) -> dict[str, Any] | None:
        """The tags waiting for the next button press (`firmware.pending_tags.PendingTags.view`):
        ``id, tags, sample, source, set_at, expires_at, expires_in_s, expired, ttl_s`` — or None.

        Why: the Now page and /api/now say "Next button press will be tagged: …" (or that the
        waiting tags expired), so the inspector sees what the physical trigger will record.
        """

    # --- actions: run by the runtime under its state machine; refused with a reason --------

    def set_pending_tags(self, sample: Mapping[str, str | None], source: str = "page") -> dict[str, Any]:
        """Keep ``sample`` for the next button press, replacing what was waiting; returns the
        `pending_tags` view. `RecordError` for a bad tag or an all-blank form."""

    def clear_pending_tags(self) -> bool:
        """Drop the tags waiting for the next button press; whether there were any."""


    def measure(self, sample: Mapping[str, str | None], trigger: str = "page") -> dict[str, Any]:
        """Measure the item on the port with the inspector's tags; returns the signed record as journaled.

        ``sample`` holds the contract's sample fields (``sample_id, merchant, location, batch,
        product, claimed_material``). Blocks for the measurement (seconds); a second trigger
        meanwhile gets `DeviceBusy` at once. A rejected sample (dark, empty …) is a result, not
        an error.
        """

    def take_reference(self, kind: str) -> dict[str, Any]:
        """Take a ``"white"`` (tile on the port) or ``"dark"`` (port covered) reference; returns its
        summary (``kind, time, age_s, temperature_c, channels, gain``). `QualityRejection` names
        what was wrong with the reading; nothing is stored then.
        """

    def self_test(self) -> dict[str, Any]:
        """Run the board and head self-test; returns its report. A failure raises and leaves the
        device in ``fault`` with the cause (the state's reason)."""

    def technician_scan(self, **kwargs: Any) -> dict[str, Any]:
        """A technician's scan of a calibration standard (``scans, repeats, interval_s, predict``):
        figures only, nothing journaled (`firmware.calibration.scan`). Why: ``nir-host
        calibrate-unit`` measures standards through the page's API."""

    def calibration_session(self, action: str, corrections: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``begin`` / ``trial`` (unsigned trial corrections) / ``abort`` a calibration session."""

    def install_calibration(self, certificate: Mapping[str, Any]) -> dict[str, Any]:
        """Verify and install a signed ``plastinir.calibration/1`` certificate; `CertificateError`
        names the cause of a refusal."""

    def calibration_status(self) -> dict[str, Any]:
        """Certificate summary, session, corrections in force, the unit's id, head, grid and serial."""

    def install_model(self, path: Path) -> dict[str, Any]:
        """Verify the package at ``path`` (a .zip) completely, keep it, and put it in service atomically.

        Returns ``{installed: model_info, replaced: model summary | None, stored_as}``. A bad
        package raises `ModelPackageError` naming the cause and the previous model stays in
        service, untouched.
        """
