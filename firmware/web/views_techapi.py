"""The technician's JSON API, for tools (``nir-host calibrate-unit``) rather than browsers.

How a tool authenticates (the same rules as the pages, nothing weaker):

1. ``POST /api/technician/login`` with ``Content-Type: application/json`` and
   ``{"password": "…"}``. The answer sets the session cookie (HttpOnly, SameSite=Strict) and
   returns ``{"csrf_token": "…"}``. Wrong passwords count in the same per-address rate limit as
   the login form. The login needs no CSRF token because a JSON body cannot be sent cross-site
   without a CORS preflight, which this device never grants; a form post (what a hostile page
   can send) is refused with 415.
2. Every later request sends the cookie; every POST also sends the token as ``X-CSRF-Token`` and
   its arguments as a JSON object (415 otherwise), except the model upload (``application/zip``).
3. ``POST /api/technician/logout`` ends the session.

Errors are ``{"error", "message", "status"}`` with the status the page uses for the same cause
(`firmware.web.outcome`): 400 bad input, 401 not logged in, 409 busy / not ready, 415 wrong body
type, 422 reading / package / certificate refused, 503 hardware fault.

| endpoint | body | answer |
|---|---|---|
| ``GET /api/technician/calibration/status`` | | certificate, session, corrections, unit, head, grid, serial, state |
| ``POST /api/technician/reference`` | ``{kind: white|dark}`` | reference summary |
| ``POST /api/technician/selftest`` | ``{}`` | self-test report |
| ``POST /api/technician/scan`` | ``{scans, repeats, interval_s, predict}`` | `firmware.calibration.scan` |
| ``POST /api/technician/calibration/session`` | ``{action: begin|trial|abort, corrections}`` | status |
| ``POST /api/technician/model`` | the zipped signed package | ``{installed, replaced, stored_as}`` |
| ``POST /api/technician/calibration`` | ``{certificate: {…}}`` | ``{installed, replaced, stored_as, state,
  reason}`` |
"""
from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, jsonify, request, session
from werkzeug.exceptions import TooManyRequests

from ..errors import ConfigError, JournalError, PlastiNIRError
from ..references import KINDS
from . import context
from .outcome import classify
from .security import CSRF_FIELD, check_csrf, check_password, describe_wait, fingerprint, login_required, \
    password_hash_source

bp = Blueprint("techapi", __name__, url_prefix="/api/technician")


def _json_body() -> dict[str, Any]:
    if not request.is_json:
        abort(415, "send the arguments as a JSON object (Content-Type: application/json)")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "the request body must be a JSON object")
    return body


def _refused(exc: Exception):
    status, title, message = classify(exc)
    return jsonify(error=title, message=message, status=status), status


def _action(fn):
    """Run a device action; a deliberate refusal becomes its JSON error."""
    try:
        return jsonify(fn())
    except PlastiNIRError as exc:
        return _refused(exc)
    except (ValueError, TypeError) as exc:  # bad arguments from the tool
        return jsonify(error="Check the request", message=str(exc), status=400), 400


@bp.post("/login")
def login():
    body = _json_body()
    ctx = context()
    addr = request.remote_addr or "unknown"
    wait = ctx.limiter.retry_after(addr)
    if wait is not None:
        raise TooManyRequests(f"too many failed logins from {addr}: try again in {describe_wait(wait)}",
                              retry_after=int(wait + 0.999))
    try:
        pw_hash, source = password_hash_source(ctx.http, ctx.state_dir)
    except ConfigError as exc:
        abort(503, f"login unavailable: {exc}")
    if pw_hash is None:
        abort(503, f"no technician password is set on this device: run `nir-device passwd` (it writes {source})")
    password = body.get("password")
    if not isinstance(password, str) or not password or not check_password(pw_hash, password):
        ctx.limiter.failure(addr)
        abort(401, "wrong password")
    ctx.limiter.success(addr)
    session.clear()
    session.permanent = True
    token = secrets.token_urlsafe(32)
    session.update(user="technician", pw=fingerprint(pw_hash), **{CSRF_FIELD: token})
    return jsonify(csrf_token=token, user="technician")


@bp.post("/logout")
@login_required
def logout():
    check_csrf()
    session.clear()
    return jsonify(logged_out=True)


@bp.get("/calibration/status")
@login_required
def calibration_status():
    return _action(lambda: context().port.calibration_status())


@bp.post("/reference")
@login_required
def reference():
    check_csrf()
    kind = _json_body().get("kind")
    if kind not in KINDS:
        return jsonify(error="Check the request", message=f"kind {kind!r} is not one of {', '.join(KINDS)}",
                       status=400), 400
    return _action(lambda: context().port.take_reference(kind))


@bp.post("/selftest")
@login_required
def selftest():
    check_csrf()
    _json_body()
    return _action(lambda: context().port.self_test())


@bp.post("/scan")
@login_required
def scan():
    check_csrf()
    body = _json_body()
    unknown = sorted(set(body) - {"scans", "repeats", "interval_s", "predict"})
    if unknown:
        return jsonify(error="Check the request", message=f"unknown argument(s) {', '.join(unknown)}",
                       status=400), 400
    kwargs = {k: body[k] for k in ("scans", "repeats", "interval_s", "predict") if k in body}
    for key in ("scans", "repeats"):
        if key in kwargs and (not isinstance(kwargs[key], int) or isinstance(kwargs[key], bool)):
            return jsonify(error="Check the request", message=f"{key} must be a whole number", status=400), 400
    if "predict" in kwargs and not isinstance(kwargs["predict"], bool):
        return jsonify(error="Check the request", message="predict must be true or false", status=400), 400
    return _action(lambda: context().port.technician_scan(**kwargs))


@bp.post("/calibration/session")
@login_required
def calibration_session():
    check_csrf()
    body = _json_body()
    action = body.get("action")
    corrections = body.get("corrections")
    if corrections is not None and not isinstance(corrections, dict):
        return jsonify(error="Check the request", message="corrections must be an object", status=400), 400
    return _action(lambda: context().port.calibration_session(action, corrections))


@bp.post("/calibration")
@login_required
def install_calibration():
    check_csrf()
    cert = _json_body().get("certificate")
    if not isinstance(cert, dict):
        return jsonify(error="Check the request", message="certificate must be a JSON object", status=400), 400
    return _action(lambda: context().port.install_calibration(cert))


@bp.post("/model")
@login_required
def model():
    check_csrf()
    if request.mimetype not in ("application/zip", "application/octet-stream"):
        abort(415, "send the zipped signed package as the body (Content-Type: application/zip)")
    ctx = context()
    folder = Path(tempfile.mkdtemp(prefix=".upload-", dir=ctx.state_dir))
    try:
        path = folder / "package.zip"
        try:
            with open(path, "wb") as fh:
                shutil.copyfileobj(request.stream, fh, 1 << 20)
        except OSError as exc:
            return _refused(JournalError(f"{ctx.state_dir}: cannot store the upload: {exc.strerror or exc}"))
        return _action(lambda: ctx.port.install_model(path))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
