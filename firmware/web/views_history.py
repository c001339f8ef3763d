"""History: the journal newest first, filters, one result in detail, and exports.

Pages are cursors (``before`` = the last seq shown), not offsets: a result arriving while the
inspector pages does not shift what "older" means. Exports are the journal's own: the spectra
CSV of `firmware.journal.export` (one model grid per file) and the signed records as JSON lines.
They are written to a spooled temporary file first, so a refused export (several grids, nothing
matching) is a clean 4xx with the reason instead of a half-sent file.
"""
from __future__ import annotations

import tempfile
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request

from ..errors import JournalError
from ..journal import SEQ_MAX
from ..journal.export import export_csv, export_jsonl
from . import context
from .explain import row_headline
from .forms import FormError, filter_query, parse_filters
from .views_now import result_view

bp = Blueprint("history", __name__)
SPOOL_BYTES = 1 << 20


def _query() -> tuple[dict[str, Any], dict[str, str]]:
    """Filters from the query string; a bad value is a 400 naming it."""
    try:
        filters = parse_filters(request.args, default_limit=context().http.history_page_size)
    except FormError as exc:
        abort(400, str(exc))
    return filters, filter_query(filters, request.args)


def _page(filters: dict[str, Any]) -> dict[str, Any]:
    journal = context().port.journal
    keys = ("verdict", "since", "until", "merchant")
    rows = journal.history(filters["limit"] + 1, before_seq=filters["before_seq"],
                           **{k: filters[k] for k in keys})
    more = len(rows) > filters["limit"]
    rows = [row | {"headline": row_headline(row)} for row in rows[: filters["limit"]]]
    return {"results": rows, "total": journal.count(**{k: filters[k] for k in keys}),
            "next_before": rows[-1]["seq"] if more and rows else None}


@bp.get("/history")
def index():
    try:
        filters = parse_filters(request.args, default_limit=context().http.history_page_size)
    except FormError as exc:
        return render_template("history.html", error=str(exc), args=request.args, results=[], total=None,
                               next_before=None, query={}), 400
    return render_template("history.html", args=request.args, query=filter_query(filters, request.args),
                           first_page=filters["before_seq"] is None, **_page(filters))


@bp.get("/api/history")
def api_index():
    filters, query = _query()
    return jsonify(filters=query, **_page(filters))


def _record_or_404(seq: int) -> dict[str, Any]:
    journal = context().port.journal
    record = journal.get(seq) if 1 <= seq <= SEQ_MAX else None
    if record is None:
        purged = any(lo <= seq <= hi for lo, hi in journal.purged_ranges())
        if purged:
            abort(404, f"result #{seq} was removed from this device by retention after the bureau "
                       f"acknowledged storing it; the bureau has it")
        abort(404, f"there is no result #{seq} on this device (the newest is #{journal.last_seq()})")
    return record


@bp.get("/history/<int:seq>")
def detail(seq: int):
    return render_template("result.html", **result_view(_record_or_404(seq)))


@bp.get("/api/history/<int:seq>")
def api_detail(seq: int):
    return jsonify(_record_or_404(seq))


def _export(kind: str):
    filters, _ = _query()
    journal = context().port.journal
    selection = {k: filters[k] for k in ("verdict", "since", "until", "merchant", "model")}
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+", encoding="utf-8", newline="")
    try:
        if kind == "csv":
            export_csv(journal, spool, **selection)
        else:
            export_jsonl(journal, spool, **selection)
    except JournalError as exc:
        spool.close()
        message = str(exc).replace(f"{journal.path}: ", "")
        abort(404 if "no results match" in message else 400, message)
    spool.seek(0)

    def chunks():
        try:
            while block := spool.read(64 * 1024):
                yield block
        finally:
            spool.close()

    unit = context().unit() or "unit"
    name = f"plastinir-{unit}-results.{'csv' if kind == 'csv' else 'jsonl'}"
    mimetype = "text/csv" if kind == "csv" else "application/x-ndjson"
    return Response(chunks(), mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/history/export.csv")
def export_spectra_csv():
    return _export("csv")


@bp.get("/history/export.jsonl")
def export_records_jsonl():
    return _export("jsonl")
