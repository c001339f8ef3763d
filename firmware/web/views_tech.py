"""Technician pages (all behind the login): references, self-test, model upload, certificate.

Actions post a form and redirect back with a message (works without JavaScript); a refused
action re-renders the page with the cause and the status that fits it (`firmware.web.outcome`).
An uploaded package is saved under a private temporary folder in the state directory (same
filesystem as the model store, so keeping it is a rename) and removed afterwards whatever
happens.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from ..errors import JournalError, PlastiNIRError
from ..references import KINDS
from . import context
from .forms import FormError
from .outcome import classify
from .runtime_adapter import uploaded_path_name
from .security import check_csrf, login_required

bp = Blueprint("tech", __name__)


def _page_data() -> dict:
    port = context().port
    info = port.device_info()
    return {"info": info, "snap": port.snapshot(), "model": info.get("model"),
            "references": info.get("references"), "calibration": info.get("calibration")}


def _render(status: int = 200, *, error: str | None = None, error_title: str | None = None):
    return render_template("technician.html", **_page_data(), error=error, error_title=error_title), status


def _refused(exc: Exception):
    status, title, message = classify(exc)
    return _render(status, error=message, error_title=title)


@bp.get("/technician")
@login_required
def index():
    return _render()


@bp.get("/api/technician")
@login_required
def api_index():
    data = _page_data()
    return jsonify(state=data["snap"], model=data["model"], references=data["references"],
                   calibration=data["calibration"])


@bp.post("/technician/reference")
@login_required
def reference():
    check_csrf()
    kind = (request.form.get("kind") or "").strip()
    try:
        if kind not in KINDS:
            raise FormError("kind", f"reference kind {kind!r} is not one of {', '.join(KINDS)}")
        summary = context().port.take_reference(kind)
    except (FormError, PlastiNIRError) as exc:
        return _refused(exc)
    temp = summary.get("temperature_c")
    flash(f"{kind.capitalize()} reference taken" + (f" at {temp:.1f} \u00b0C" if isinstance(temp, float) else ""),
          "ok")
    return redirect(url_for("tech.index"), code=303)


@bp.post("/technician/selftest")
@login_required
def selftest():
    check_csrf()
    try:
        report = context().port.self_test()
    except PlastiNIRError as exc:
        return _refused(exc)
    figures = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in report.items())
    flash(f"Self-test passed: {figures}" if figures else "Self-test passed", "ok")
    return redirect(url_for("tech.index"), code=303)


@bp.post("/technician/model")
@login_required
def model():
    check_csrf()
    upload = request.files.get("package")
    if upload is None or not upload.filename:
        return _refused(FormError("package", "choose a model package file (.zip) to upload"))
    ctx = context()
    folder = Path(tempfile.mkdtemp(prefix=".upload-", dir=ctx.state_dir))
    try:
        path = folder / uploaded_path_name(upload.filename)
        try:
            upload.save(path)
        except OSError as exc:
            return _refused(JournalError(f"{ctx.state_dir}: cannot store the upload: {exc.strerror or exc}"))
        try:
            result = ctx.port.install_model(path)
        except PlastiNIRError as exc:
            status, title, message = classify(exc)
            return _render(status, error=message.replace(f"{folder}/", ""), error_title=title)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    new = result["installed"] or {}
    old = result.get("replaced")
    flash(f"Model {new.get('name')} {new.get('version')} installed and in service"
          + (f"; it replaced {old['name']} {old['version']}" if old else ""), "ok")
    return redirect(url_for("tech.index"), code=303)


@bp.get("/technician/calibration")
@login_required
def calibration():
    cert = context().port.calibration_certificate()
    return render_template("calibration.html", cert=cert, summary=_page_data()["calibration"])


@bp.get("/api/calibration")
@login_required
def api_calibration():
    return jsonify(certificate=context().port.calibration_certificate())
