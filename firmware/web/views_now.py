"""The Now page: the device's state, the big verdict, the spectrum, and the trigger.

The tag form has two actions: "Measure now" (``/measure``: measure from the page with these
tags) and "Tag the next button press" (``/tags``: the device keeps them for the next press of
its physical trigger, `firmware.pending_tags`; ``/tags/clear`` drops them). Both are actions:
login and the CSRF token, like every form that changes the device.

``/`` is the whole page; ``/now/panel`` is its live part alone (state, verdict, plot), which the
script swaps in when the state changes, so rendering lives in one template and the tag form
the inspector is typing in is never replaced. ``/events`` pushes changes (bounded, see
`firmware.web.live`); ``/api/state`` is the cheap poll for pages that got no stream.
"""
from __future__ import annotations

from typing import Any, Mapping

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, session, url_for

from werkzeug.exceptions import ServiceUnavailable

from ..errors import PlastiNIRError
from ..result_builder import SAMPLE_FIELDS
from . import context
from .explain import claim_check, composition_rows, explain, limit_rows
from .forms import SAMPLE_LABELS, FormError, parse_sample
from .outcome import classify
from .plot import spectrum_svg
from .security import check_csrf, login_required

bp = Blueprint("now", __name__)
#: Tags kept for the next item after a measurement: an inspector measures many items in one shop.
CARRY_OVER = ("merchant", "location", "batch")


def version(snap: Mapping[str, Any], last_seq: int) -> str:
    """Changes whenever the state moves or a result is journaled (by any process)."""
    return f"{snap.get('state')}|{snap.get('since')}|{last_seq}"


def band_class(record: Mapping[str, Any]) -> str | None:
    """The class whose band to draw: the identified one, else the best-scoring candidate."""
    if record.get("class"):
        return record["class"]
    if record.get("verdict") == "ambiguous":
        scores = {k: v for k, v in (record.get("scores") or {}).items() if isinstance(v, (int, float))}
        return max(scores, key=scores.get) if scores else None
    return None


def from_screening_model(record: Mapping[str, Any], model: Mapping[str, Any] | None) -> bool:
    """Was ``record`` made by the model in service, and is that a screening head?

    The page knows only the manifest of the model in service; a record made by another model
    (replaced since) is matched by the ONNX sha256 the record names, and is not flagged when it
    does not match: the record itself does not say.
    """
    if not model or model.get("screening") is not True:
        return False
    made_by = record.get("model") or {}
    return isinstance(made_by, Mapping) and bool(made_by.get("sha256")) and made_by.get("sha256") == model.get("sha256")


def result_view(record: Mapping[str, Any] | None) -> dict[str, Any]:
    """Everything a template needs to show one result (Now page and detail page)."""
    if record is None:
        return {"record": None}
    port = context().port
    cls = band_class(record)
    band = port.reference_band(cls) if cls else None
    label = f"{cls} reference (mean \u00b1 1 sd)" if band else None
    screening = from_screening_model(record, port.model_info())
    return {"record": record, "ex": explain(dict(record), screening=screening), "claim": claim_check(dict(record)),
            "limits": limit_rows(dict(record)), "composition": composition_rows(dict(record)),
            "band_class": cls if band else None, "band": band,
            "plot": spectrum_svg(record.get("wavelengths_nm") or [], record.get("spectrum") or [], band,
                                 band_label=label, title=f"Spectrum of result #{record.get('seq')}")}


def panel_context() -> dict[str, Any]:
    port = context().port
    snap = port.snapshot()
    last_seq = port.journal.last_seq()  # before latest(): a result landing in between shows next time
    record = port.journal.latest()
    return {"snap": snap, "version": version(snap, last_seq), "pending": port.pending_tags(),
            "tag_labels": SAMPLE_LABELS, **result_view(record)}


def retag_offer(record: Mapping[str, Any] | None, pending: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The tags of a rejected latest result, offered for the next press when none wait: a quality
    rejection uses the tags up (`firmware.pending_tags`), and measuring the same item again after
    moving it should not mean typing them again."""
    if record is None or record.get("verdict") != "rejected" or (pending and not pending.get("expired")):
        return None
    tags = {k: v for k, v in (record.get("sample") or {}).items() if k in SAMPLE_FIELDS and v}
    return tags or None


def _render(status: int = 200, *, error: str | None = None, error_title: str | None = None,
            form: Mapping[str, Any] | None = None):
    ctx = context()
    panel = panel_context()
    values = dict(form) if form is not None else {k: v for k, v in (session.get("tags") or {}).items()}
    armed, pending = session.get("armed"), panel["pending"]
    if form is None and armed and (pending is None or pending["id"] != armed):
        # The tags this browser set for the button were used (or replaced, cleared): keep only
        # the shop's tags, as after "Measure now", so an item's id never sticks to the next item.
        values = {k: v for k, v in values.items() if k in CARRY_OVER}
    return render_template("now.html", **panel, error=error, error_title=error_title,
                           form={k: values.get(k) or "" for k in SAMPLE_FIELDS}, labels=SAMPLE_LABELS,
                           retag=retag_offer(panel["record"], pending),
                           tags_ttl_s=ctx.config.runtime.pending_tags_ttl_s,
                           poll_ms=int(ctx.http.poll_interval_s * 1000),
                           live_enabled=ctx.http.sse_max_clients > 0), status


@bp.get("/")
def index():
    return _render()


@bp.get("/now/panel")
def panel():
    return render_template("_panel.html", **panel_context())


@bp.get("/api/now")
def api_now():
    ctx = panel_context()
    record = ctx["record"]
    body: dict[str, Any] = {"state": ctx["snap"], "version": ctx["version"], "pending_tags": ctx["pending"],
                            "result": record}
    if record is not None:
        body.update(explanation=ctx["ex"], claim=ctx["claim"], limits=ctx["limits"],
                    band={"class": ctx["band_class"], **ctx["band"]} if ctx["band_class"] else None)
    return jsonify(body)


@bp.get("/api/state")
def api_state():
    port = context().port
    snap = port.snapshot()
    last_seq = port.journal.last_seq()
    return jsonify(state=snap.get("state"), reason=snap.get("reason"), since=snap.get("since"),
                   busy=snap.get("busy"), can_measure=snap.get("can_measure"), last_seq=last_seq,
                   version=version(snap, last_seq))


@bp.get("/events")
def events():
    ctx = context()
    stream = ctx.live.open(ctx.port.snapshot())
    if stream is None:
        raise ServiceUnavailable("live updates are at their limit of open streams; this page polls instead",
                                 retry_after=max(1, int(ctx.http.poll_interval_s)))
    response = Response(stream, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # a buffering proxy would hold events back
    return response


@bp.post("/measure")
@login_required
def measure():
    check_csrf()
    form = {k: (request.form.get(k) or "") for k in SAMPLE_FIELDS}
    try:
        sample = parse_sample(request.form)
        record = context().port.measure(sample, trigger="page")
    except (FormError, PlastiNIRError) as exc:
        status, title, message = classify(exc)
        return _render(status, error=message, error_title=title, form=form)
    session["tags"] = {k: sample[k] for k in CARRY_OVER if sample.get(k)}
    session.pop("armed", None)
    ex = explain(record)
    flash(f"Result #{record['seq']} stored: {ex['headline']}", "ok")
    return redirect(url_for("now.index") + "#verdict", code=303)


def describe_tags(tags: Mapping[str, Any]) -> str:
    return ", ".join(f"{SAMPLE_LABELS.get(k, k)} {v}" for k, v in tags.items() if v)


@bp.post("/tags")
@login_required
def tag_next_press():
    """Keep the form's tags on the device for the next press of its trigger button."""
    check_csrf()
    form = {k: (request.form.get(k) or "") for k in SAMPLE_FIELDS}
    try:
        sample = parse_sample(request.form)
        pending = context().port.set_pending_tags(sample, source="page")
    except (FormError, PlastiNIRError) as exc:
        status, title, message = classify(exc)
        return _render(status, error=message, error_title=title, form=form)
    # The form stays filled while the tags wait (a typo can be fixed and tagged again).
    session["tags"] = {k: v for k, v in sample.items() if v}
    session["armed"] = pending["id"]
    flash(f"The next button press will be tagged: {describe_tags(pending['tags'])} "
          f"(until {pending['expires_at'][11:19]} UTC)", "ok")
    return redirect(url_for("now.index") + "#pending-tags", code=303)


@bp.post("/tags/clear")
@login_required
def clear_tags():
    """Drop the tags waiting for the button: the next press measures untagged."""
    check_csrf()
    try:
        cleared = context().port.clear_pending_tags()
    except PlastiNIRError as exc:
        status, title, message = classify(exc)
        return _render(status, error=message, error_title=title)
    session.pop("armed", None)
    flash("Tags for the next button press cleared: the next press measures untagged." if cleared
          else "No tags were waiting for the button.", "ok")
    return redirect(url_for("now.index") + "#measure", code=303)
