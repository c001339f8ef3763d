"""The status page: what an inspector sees on a phone and a technician uses at the bench.

`create_app` builds the Flask app (blueprints: now, history, device, technician, auth). It
reads the device only through a `firmware.web.port.DevicePort` (a state snapshot, the journal,
summaries) and triggers actions through it; it never touches the hardware. ``nir-device run``
passes its `RuntimeAdapter` and serves the app with `firmware.web.serve.PageServer` (waitress).

Without a runtime the app is a read-only viewer of a state directory's journal: every page
works and every action is refused with "not available in this process".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping

from flask import Flask, jsonify, render_template, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException

from ..config import DeviceConfig, load_config
from ..config.http import HttpSection
from ..state_dir import resolve_state_dir
from .live import LiveHub
from .metrics import ResultTally
from .port import DevicePort
from .security import (LoginLimiter, csrf_token, deny_anonymous, load_or_create_secret_key, logged_in,
                       wants_json)

__all__ = ["create_app", "WebContext", "context"]


@dataclass
class WebContext:
    """What the views share: the port, the settings and the page's own bounded state."""

    port: DevicePort
    config: DeviceConfig
    state_dir: Path
    live: LiveHub
    limiter: LoginLimiter
    tally: ResultTally
    _unit: str | None = field(default=None, repr=False)

    @property
    def http(self) -> HttpSection:
        return self.config.http

    def unit(self) -> str:
        if self._unit is None:
            self._unit = self.port.device_info().get("unit") or ""
        return self._unit


def context() -> WebContext:
    from flask import current_app
    return current_app.extensions["plastinir"]


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session whose Secure flag can follow the request (``cookie_secure = auto``)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        mode = app.extensions["plastinir"].http.cookie_secure
        if mode == "auto":
            return request.is_secure
        return mode == "always"


def _read_only_port(state_dir: Path, config: DeviceConfig) -> DevicePort:
    """A journal viewer for a state directory without a runtime (never creates a unit key)."""
    from ..identity import KEY_FILE, load_identity
    from ..journal import Journal
    from .runtime_adapter import RuntimeAdapter
    identity = load_identity(state_dir, config.unit) if (state_dir / KEY_FILE).exists() else None
    return RuntimeAdapter(journal=Journal.open(state_dir, busy_timeout_s=config.journal.busy_timeout_s),
                          identity=identity, config=config, state_dir=state_dir)


def create_app(config: DeviceConfig | None = None, *, runtime: DevicePort | None = None,
               state_dir: str | Path | None = None, flask_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the page for ``runtime`` (else a read-only journal viewer of ``state_dir``).

    ``config`` is the device's validated config (its ``[http]`` section applies); default: the
    built-in defaults. ``state_dir`` holds the session secret key and the password hash file;
    default: the runtime's, else the usual lookup. ``flask_config`` overrides Flask settings
    (tests: ``{"TESTING": True}``).
    """
    config = config if config is not None else load_config(None)
    if state_dir is None and runtime is not None:
        state_dir = getattr(runtime, "state_dir", None) or Path(runtime.journal.path).parent
    state_dir = resolve_state_dir(state_dir)
    port = runtime if runtime is not None else _read_only_port(state_dir, config)
    http = config.http

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=load_or_create_secret_key(state_dir),
        SESSION_COOKIE_NAME="plastinir_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=http.session_lifetime_h),
        # The cookie is written only when the session changes: the page's background requests
        # (live panel, polling) would otherwise send back a stale copy and race a form's flash
        # message away. A login therefore lasts session_lifetime_h from the login itself.
        SESSION_REFRESH_EACH_REQUEST=False,
        MAX_CONTENT_LENGTH=int(http.max_upload_mb * 1024 * 1024),
        JSON_SORT_KEYS=False,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.config.update(flask_config or {})
    app.session_interface = _SessionInterface()
    app.extensions["plastinir"] = WebContext(
        port=port, config=config, state_dir=state_dir,
        live=LiveHub(port.subscribe, max_clients=http.sse_max_clients, lifetime_s=http.sse_lifetime_s,
                     heartbeat_s=http.sse_heartbeat_s),
        limiter=LoginLimiter(http.login_max_failures, http.login_window_s),
        tally=ResultTally(port.journal))

    from . import filters, views_auth, views_device, views_history, views_now, views_tech, views_techapi
    filters.register(app)
    for bp in (views_now.bp, views_history.bp, views_device.bp, views_tech.bp, views_auth.bp, views_techapi.bp):
        app.register_blueprint(bp)

    @app.context_processor
    def _globals() -> dict[str, Any]:
        ctx = context()
        return {"csrf_token": csrf_token, "logged_in": logged_in(), "unit": ctx.unit(),
                "public_read": ctx.http.public_read}

    @app.before_request
    def _read_access():
        """With ``public_read = false`` every page but login and static files needs the login."""
        open_endpoints = ("auth.login", "auth.login_post", "techapi.login", "static", None)
        if context().http.public_read or request.endpoint in open_endpoints:
            return None
        return None if logged_in() else deny_anonymous()

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # Everything is served by the device itself: no CDN, no inline script.
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                    "script-src 'self'; frame-ancestors 'none'; form-action 'self'")
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        message = exc.description or exc.name
        if exc.code == 413:
            message = (f"upload larger than the {http.max_upload_mb:g} MB limit (http.max_upload_mb); "
                       f"nothing was installed")
        headers = {}
        retry = getattr(exc, "retry_after", None)
        if retry:
            headers["Retry-After"] = str(int(retry))
        if wants_json():
            return jsonify(error=exc.name, message=message, status=exc.code), exc.code, headers
        return render_template("error.html", code=exc.code, name=exc.name, message=message), exc.code, headers

    return app
