"""Login, CSRF, the login rate limit and the session's secret key.

- **Password**: only a werkzeug hash (scrypt or pbkdf2) exists on the device; it is looked up
  on every login (so ``nir-device passwd`` takes effect without a restart) as the secret
  ``web_password_hash`` (systemd credential, environment, config), then in the hash file.
  Checks are serialised: one scrypt check uses ~32 MB, and the device has 512 MB.
- **Sessions** are Flask's signed cookies; a login also records a fingerprint of the hash it
  was checked against, so changing the password logs every session out.
- **CSRF**: a random token per session, in a hidden field of every form (or the
  ``X-CSRF-Token`` header), compared in constant time on every state-changing request.
- **Rate limit**: failed logins are counted per client address in a fixed window; at the limit
  the address is locked out until the window ends, before any hash is computed.
- **Secret key**: 32 random bytes made at first start in ``<state dir>/web_secret_key`` (mode
  0600, never committed, never in the config), so sessions survive a restart.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import hmac
import math
import os
import secrets
import stat
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable

from flask import abort, current_app, redirect, request, session, url_for
from werkzeug.security import check_password_hash

from ..config.http import HASH_METHODS, HttpSection
from ..config.secrets import read_secret
from ..errors import ConfigError, KeyFileError

SECRET_KEY_FILE = "web_secret_key"
PASSWORD_HASH_FILE = "web_password_hash"
PASSWORD_SECRET = "web_password_hash"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

_hash_lock = threading.Lock()
log = logging.getLogger(__name__)


# --- the session's secret key ------------------------------------------------------------------

def load_or_create_secret_key(state_dir: str | Path) -> bytes:
    """The Flask secret key from ``<state_dir>/web_secret_key``, made on first start (0600, O_EXCL)."""
    path = Path(state_dir) / SECRET_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot create the page's secret key: {exc.strerror}") from exc
    else:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    try:
        st = path.stat()
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path}: cannot read the page's secret key: {exc}") from exc
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{path}: the page's secret key is readable by group or others "
                           f"(mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 32:
        raise KeyFileError(f"{path}: not a 64-hex-digit secret key; delete it to make a new one "
                           f"(everyone is logged out)")
    return key


# --- the password hash -------------------------------------------------------------------------

def password_hash_file(http: HttpSection, state_dir: str | Path) -> Path:
    """Where ``nir-device passwd`` writes and the page reads the hash when no secret overrides it."""
    return Path(http.password_hash_file) if http.password_hash_file else Path(state_dir) / PASSWORD_HASH_FILE


def password_hash_source(http: HttpSection, state_dir: str | Path,
                         environ: dict[str, str] | None = None) -> tuple[str | None, str]:
    """``(hash or None, where it came from)``: secret (credential, environment, config), then the file."""
    secret = read_secret(PASSWORD_SECRET, http.password_hash, environ=environ)
    if secret is not None:
        value = secret.get_secret_value().strip()
        if not value.startswith(HASH_METHODS):
            raise ConfigError(f"secret {PASSWORD_SECRET!r} is not a password hash (expected 'scrypt:…' or "
                              f"'pbkdf2:…' from `nir-device passwd`)")
        return value, f"secret {PASSWORD_SECRET}"
    path = password_hash_file(http, state_dir)
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None, str(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: password hash file unreadable: {exc}") from exc
    if not value:
        return None, str(path)
    if not value.startswith(HASH_METHODS):
        raise ConfigError(f"{path}: not a password hash (expected 'scrypt:…' or 'pbkdf2:…'); "
                          f"write it with `nir-device passwd`")
    return value, str(path)


def fingerprint(pw_hash: str) -> str:
    """A short digest of the hash, stored in the session: a new password invalidates old sessions."""
    return hashlib.sha256(pw_hash.encode("utf-8")).hexdigest()[:16]


def check_password(pw_hash: str, password: str) -> bool:
    """werkzeug's constant-time check, one at a time (memory: scrypt needs ~32 MB per check)."""
    with _hash_lock:
        return check_password_hash(pw_hash, password)


# --- CSRF --------------------------------------------------------------------------------------

def csrf_token() -> str:
    """This session's token (made on first use); templates put it in every form."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Abort with 400 and the reason unless the request carries this session's token."""
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not sent:
        abort(400, "CSRF token missing: reload the page and submit the form again")
    expected = session.get(CSRF_FIELD)
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        abort(400, "CSRF token does not match this session: the form comes from an old page, another "
                   "browser or another site; reload the page and try again")


# --- login state -------------------------------------------------------------------------------

def current_hash() -> str | None:
    """The hash in force, or None (unset, or unusable: the login form then says why)."""
    ext = current_app.extensions["plastinir"]
    try:
        return password_hash_source(ext.http, ext.state_dir)[0]
    except ConfigError as exc:
        log.warning("technician login disabled: %s", exc)
        return None


def logged_in() -> bool:
    """A session that logged in against the password hash in force now."""
    if session.get("user") != "technician":
        return False
    pw_hash = current_hash()
    return pw_hash is not None and hmac.compare_digest(session.get("pw", ""), fingerprint(pw_hash))


#: Paths fetched by scripts and scrapers, not navigated to: errors come as JSON, never as a redirect.
MACHINE_PATHS = ("/metrics", "/events", "/now/panel")


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path in MACHINE_PATHS


def deny_anonymous():
    """The answer to a request that needs the login: a page goes to the login form, the rest gets 401."""
    if request.method == "GET" and not wants_json():
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")), code=303)
    abort(401, "log in first: this needs the technician password")


def login_required(view: Callable) -> Callable:
    """Every action and technician page."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not logged_in():
            return deny_anonymous()
        return view(*args, **kwargs)
    return wrapped


def safe_next(target: str | None) -> str:
    """Only local paths after login (never ``//evil.example`` or ``https://…``)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("now.index")


# --- login rate limit --------------------------------------------------------------------------

class LoginLimiter:
    """Failed logins per client address in a fixed window; bounded memory (oldest addresses dropped)."""

    def __init__(self, max_failures: int, window_s: float, *, max_addresses: int = 4096,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_addresses = max_addresses
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, int]] = OrderedDict()  # addr → (window start, failures)
        self.failures_total = 0
        self.lockouts_total = 0

    def _entry(self, addr: str, now: float) -> tuple[float, int] | None:
        entry = self._entries.get(addr)
        if entry is not None and now - entry[0] >= self.window_s:
            del self._entries[addr]
            return None
        return entry

    def retry_after(self, addr: str) -> float | None:
        """Seconds this address must wait, or None if it may try."""
        with self._lock:
            now = self.clock()
            entry = self._entry(addr, now)
            if entry is None or entry[1] < self.max_failures:
                return None
            return max(1.0, entry[0] + self.window_s - now)

    def failures(self, addr: str) -> int:
        """Failed attempts counted for this address in its current window."""
        with self._lock:
            entry = self._entry(addr, self.clock())
            return entry[1] if entry else 0

    def failure(self, addr: str) -> None:
        with self._lock:
            now = self.clock()
            start, count = self._entry(addr, now) or (now, 0)
            self._entries[addr] = (start, count + 1)
            self._entries.move_to_end(addr)
            self.failures_total += 1
            if count + 1 == self.max_failures:
                self.lockouts_total += 1
            while len(self._entries) > self.max_addresses:
                self._entries.popitem(last=False)

    def success(self, addr: str) -> None:
        with self._lock:
            self._entries.pop(addr, None)


def describe_wait(seconds: float) -> str:
    minutes, secs = divmod(math.ceil(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"
