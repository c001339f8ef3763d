"""Login and logout for the technician password (see `firmware.web.security`)."""
from __future__ import annotations

import secrets

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from werkzeug.exceptions import TooManyRequests

from ..errors import ConfigError
from . import context
from .security import (CSRF_FIELD, check_csrf, check_password, describe_wait, fingerprint, password_hash_source,
                       safe_next)

bp = Blueprint("auth", __name__)


def _form(status: int = 200, *, error: str | None = None):
    return render_template("login.html", error=error, next=safe_next(request.values.get("next"))), status


@bp.get("/login")
def login():
    return _form()


@bp.post("/login")
def login_post():
    check_csrf()
    ctx = context()
    addr = request.remote_addr or "unknown"
    wait = ctx.limiter.retry_after(addr)
    if wait is not None:
        raise TooManyRequests(f"too many failed logins from {addr}: {ctx.limiter.max_failures} within "
                              f"{describe_wait(ctx.limiter.window_s)}. Try again in {describe_wait(wait)}.",
                              retry_after=int(wait + 0.999))
    try:
        pw_hash, source = password_hash_source(ctx.http, ctx.state_dir)
    except ConfigError as exc:
        return _form(503, error=f"login unavailable: {exc}")
    if pw_hash is None:
        return _form(503, error="no technician password is set on this device: run `nir-device passwd` "
                                f"on the device (it writes {source})")
    password = request.form.get("password") or ""
    if not password or not check_password(pw_hash, password):
        ctx.limiter.failure(addr)
        left = ctx.limiter.max_failures - ctx.limiter.failures(addr)
        hint = f" ({left} more attempt{'s' if left != 1 else ''} before a lockout)" if left > 0 else \
            f" (locked out for {describe_wait(ctx.limiter.window_s)})"
        return _form(401, error="wrong password" + hint)
    ctx.limiter.success(addr)
    session.clear()  # a fresh session: new CSRF token, nothing carried over from before the login
    session.permanent = True
    session.update(user="technician", pw=fingerprint(pw_hash), **{CSRF_FIELD: secrets.token_urlsafe(32)})
    flash("Logged in as technician", "ok")
    return redirect(safe_next(request.form.get("next")), code=303)


@bp.post("/logout")
def logout():
    check_csrf()
    session.clear()
    flash("Logged out", "ok")
    return redirect(url_for("now.index"), code=303)
