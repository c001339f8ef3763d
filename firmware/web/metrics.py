"""``/metrics`` in the Prometheus text exposition format (version 0.0.4), written by hand.

The format is a few lines of text; ``prometheus_client`` would add a package, a registry and a
collector thread to a device that counts its megabytes, for a dozen figures. What is exposed:

- ``plastinir_results_total{verdict}`` / ``plastinir_rejections_total{reason}`` /
  ``plastinir_inference_seconds`` (summary) / ``plastinir_measurement_seconds`` (summary):
  counters since the page started, from every result journaled since then whatever its trigger
  (button, page, MQTT). `ResultTally` reads new seqs from the journal at scrape time, at most
  `TALLY_BATCH` per scrape, so a scrape stays cheap and never misses a result;
- ``plastinir_journal_last_seq``: monotonic count of results ever journaled on this unit;
- ``plastinir_results_stored{verdict}``, ``plastinir_rejections_stored{reason}``: what the
  journal holds now (gauges: retention removes acknowledged results);
- outbox depth and oldest age, link state, reference age, state, uptime, disk, clock;
- the page's own live-stream and login counters.
"""
from __future__ import annotations

import math
import threading
from typing import Any, Iterable

from ..state import State

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TALLY_BATCH = 2000
LINK_UP_STATES = {"connected", "up", "online"}


def _escape(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(value: float | int | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class Exposition:
    """Collects metric families and renders them; every family gets HELP and TYPE once."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str,
               samples: Iterable[tuple[dict[str, Any], float | int | bool]] | float | int | bool | None) -> None:
        if samples is None:
            return  # not available: an absent series, never a made-up zero
        if not isinstance(samples, (list, tuple)) and not hasattr(samples, "__next__"):
            samples = [({}, samples)]
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            if value is None:
                continue
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            self._lines.append(f"{name}{{{label_text}}} {_num(value)}" if label_text else f"{name} {_num(value)}")

    def summary(self, name: str, help_text: str, total: float, count: int) -> None:
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} summary")
        self._lines.append(f"{name}_sum {_num(total)}")
        self._lines.append(f"{name}_count {count}")

    def render(self) -> str:
        return "\n".join(self._lines) + "\n"


class ResultTally:
    """Counters over results journaled since ``start_seq`` (the journal's last seq at page start)."""

    def __init__(self, journal, start_seq: int | None = None) -> None:
        self.journal = journal
        self.seen = journal.last_seq() if start_seq is None else start_seq
        self._lock = threading.Lock()
        self.by_verdict: dict[str, int] = {}
        self.by_reason: dict[str, int] = {}
        self.inference_s = [0.0, 0]
        self.measurement_s = [0.0, 0]

    def update(self) -> None:
        with self._lock:
            last = self.journal.last_seq()
            upto = min(last, self.seen + TALLY_BATCH)
            for seq in range(self.seen + 1, upto + 1):
                record = self.journal.get(seq)
                if record is not None:  # purged already (only if acknowledged that fast): nothing to count
                    self._count(record)
            self.seen = upto

    def _count(self, record: dict[str, Any]) -> None:
        verdict = str(record.get("verdict"))
        self.by_verdict[verdict] = self.by_verdict.get(verdict, 0) + 1
        if verdict == "rejected":
            code = str(record.get("reason") or "").split(":", 1)[0].strip() or "unspecified"
            self.by_reason[code] = self.by_reason.get(code, 0) + 1
        timings = record.get("timings_ms") or {}
        for key, acc in (("inference", self.inference_s), ("total", self.measurement_s)):
            value = timings.get(key)
            if isinstance(value, (int, float)) and math.isfinite(value):
                acc[0] += value / 1000.0
                acc[1] += 1


def render_metrics(port, tally: ResultTally, *, live=None, limiter=None) -> str:
    """Everything above for one scrape."""
    tally.update()
    snap = port.snapshot()
    info = port.device_info()
    journal = port.journal
    out = Exposition()
    model = info.get("model") or {}
    out.family("plastinir_info", "gauge", "Unit identity and versions (value always 1).",
               [({"unit": info.get("unit") or "", "firmware": info.get("firmware") or "",
                  "head": info.get("head") or "", "model": model.get("name") or "",
                  "model_version": model.get("version") or "", "boot_id": info.get("boot_id") or ""}, 1)])
    states = [s.value for s in State] + (["offline"] if snap.get("state") == "offline" else [])
    out.family("plastinir_state", "gauge", "Device state (1 for the current one).",
               [({"state": s}, int(snap.get("state") == s)) for s in states])
    with tally._lock:
        out.family("plastinir_results_total", "counter", "Results journaled since the page started, by verdict.",
                   [({"verdict": v}, n) for v, n in sorted(tally.by_verdict.items())])
        out.family("plastinir_rejections_total", "counter",
                   "Rejected samples since the page started, by reason code.",
                   [({"reason": r}, n) for r, n in sorted(tally.by_reason.items())])
        out.summary("plastinir_inference_seconds", "Model inference time per measurement since the page started.",
                    *tally.inference_s)
        out.summary("plastinir_measurement_seconds", "Trigger-to-record time per measurement since the page started.",
                    *tally.measurement_s)
    out.family("plastinir_journal_last_seq", "counter", "Results ever journaled on this unit (highest seq).",
               journal.last_seq())
    out.family("plastinir_results_stored", "gauge", "Results held in the journal now, by verdict.",
               [({"verdict": v}, n) for v, n in sorted(journal.counts_by_verdict().items())])
    out.family("plastinir_rejections_stored", "gauge", "Rejections held in the journal now, by reason code.",
               [({"reason": r or "unspecified"}, n) for r, n in sorted(journal.counts_by_reason().items(),
                                                                      key=lambda kv: str(kv[0]))])
    outbox = info.get("outbox") or {}
    out.family("plastinir_outbox_depth", "gauge", "Results not yet acknowledged by the bureau.", outbox.get("depth"))
    out.family("plastinir_outbox_oldest_age_seconds", "gauge", "Age of the oldest unacknowledged result.",
               outbox.get("oldest_unacked_age_s"))
    link = info.get("link")
    if link is not None:
        out.family("plastinir_link_up", "gauge", "MQTT link to the broker is connected (1) or not (0).",
                   int(str(link.get("state", "")).lower() in LINK_UP_STATES))
    refs = (info.get("references") or {})
    out.family("plastinir_reference_age_seconds", "gauge", "Age of the newest reference by kind.",
               [({"kind": k}, (refs.get(k) or {}).get("age_s")) for k in ("white", "dark") if refs.get(k)])
    out.family("plastinir_uptime_seconds", "gauge", "Seconds since the device process started.", info.get("uptime_s"))
    disk = info.get("disk") or {}
    out.family("plastinir_disk_free_bytes", "gauge", "Free bytes on the state directory's filesystem.",
               disk.get("free_bytes"))
    synced = info.get("clock_synced")
    out.family("plastinir_clock_synced", "gauge", "System clock synchronised (1) or not (0).",
               None if synced is None else int(synced))
    out.family("plastinir_temperature_celsius", "gauge", "Last known head temperature.", info.get("temperature_c"))
    out.family("plastinir_lamp_hours", "counter",
               "Hours the head's light source was on (fpi: halogen lamp; led8: any LED) since the last lamp reset.",
               info.get("lamp_hours"))
    if live is not None:
        out.family("plastinir_page_live_clients", "gauge", "Open live-update streams.", live.clients)
        out.family("plastinir_page_live_refused_total", "counter",
                   "Live-update streams refused at the limit (the page polled instead).", live.refused_total)
    if limiter is not None:
        out.family("plastinir_page_login_failures_total", "counter", "Failed technician logins.",
                   limiter.failures_total)
        out.family("plastinir_page_login_lockouts_total", "counter", "Addresses locked out after failed logins.",
                   limiter.lockouts_total)
    return out.render()
