"""Exporting the journal: spectra CSV (the interchange format) and JSON lines (the signed records).

The CSV is what a technician feeds back into the calibration toolchain or compares with lab
results, so a row is a spectrum the model saw (reflectance on the model's grid) with the
sample's tags as metadata; ``label`` is the class the device identified (empty otherwise), not
a ground truth. A spectra CSV has one wavelength grid, so results of different models are
exported separately (``model=``); rows without a complete spectrum (a refused reading) are
skipped and counted. JSON lines carry every record exactly as signed.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from typing import IO, Any

from ..errors import JournalError
from ..spectra_csv import format_wavelength
from . import Journal

#: Metadata columns after ``sample_id, label, degradable``, in this order.
CSV_META = ("unit", "seq", "uuid", "time", "verdict", "reason", "confidence", "merchant", "location",
            "batch", "product", "claimed_material", "operator", "model", "model_version",
            "calibration_id", "clock_synced")


@dataclass
class ExportSummary:
    written: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    wavelengths_nm: tuple[float, ...] = ()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_row(record: dict) -> dict[str, str]:
    """Metadata of one record as spectra-CSV columns."""
    sample = record.get("sample") or {}
    model = record.get("model") or {}
    identified = record.get("verdict") == "identified"
    row = {
        # A result without a sample id is its own physical item for any later split.
        "sample_id": sample.get("sample_id") or f"{record['unit']}-{record['seq']}",
        "label": (record.get("class") or "") if identified else "",
        "degradable": _text(record.get("degradable")) if identified else "",
        "unit": record["unit"], "seq": str(record["seq"]), "uuid": record["uuid"], "time": record["time"],
        "verdict": record["verdict"], "reason": _text(record.get("reason")),
        "confidence": _text(record.get("confidence")),
        "operator": _text(record.get("operator")), "model": _text(model.get("name")),
        "model_version": _text(model.get("version")), "calibration_id": _text(record.get("calibration_id")),
        "clock_synced": _text(record.get("clock_synced")),
    }
    for key in ("merchant", "location", "batch", "product", "claimed_material"):
        row[key] = _text(sample.get(key))
    return row


def export_csv(journal: Journal, out: IO[str], *, model: str | None = None, **filters: Any) -> ExportSummary:
    """Write matching results as a spectra CSV to ``out``; filters as `Journal.iter_records`.

    Raises `JournalError` naming the grids if the results span more than one wavelength grid.
    """
    grids = journal.grids(model=model, **filters)
    if len(grids) > 1:
        described = "; ".join(f"{len(g)} points {format_wavelength(g[0])}–{format_wavelength(g[-1])} nm: "
                              f"{n} results" for g, n in grids.items() if g)
        raise JournalError(f"{journal.path}: results use {len(grids)} wavelength grids ({described}); "
                           f"a spectra CSV holds one: export each model separately (--model NAME)")
    if not grids:
        raise JournalError(f"{journal.path}: no results match the export filters")
    summary = ExportSummary()
    summary.wavelengths_nm = next(iter(grids))
    header_written = False
    writer = csv.writer(out, lineterminator="\n")
    columns = ("sample_id", "label", "degradable") + CSV_META
    for record in journal.iter_records(model=model, **filters):
        spectrum = record.get("spectrum") or []
        if not spectrum or any(v is None or not math.isfinite(v) for v in spectrum):
            reason = record.get("reason", "").split(":", 1)[0] or record["verdict"]
            summary.skipped[reason] = summary.skipped.get(reason, 0) + 1
            continue
        if not header_written:
            writer.writerow(list(columns) + [format_wavelength(w) for w in summary.wavelengths_nm])
            header_written = True
        row = csv_row(record)
        writer.writerow([row[c] for c in columns] + [repr(float(v)) for v in spectrum])
        summary.written += 1
    if not header_written:
        raise JournalError(f"{journal.path}: none of the matching results has a complete spectrum "
                           f"(skipped: {summary.skipped})")
    return summary


def export_jsonl(journal: Journal, out: IO[str], **filters: Any) -> ExportSummary:
    """One signed record per line, exactly as stored (verifiable with `firmware.record.verify_record`)."""
    summary = ExportSummary()
    for payload in journal.iter_records(raw=True, **filters):
        out.write(payload + "\n")
        summary.written += 1
    return summary
