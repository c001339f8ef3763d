"""``[http]``: the status page — where it listens, who may read it, and how it bounds itself.

The page is served by waitress from a fixed pool of threads inside ``nir-device run``. Every
live-update stream (server-sent events) holds one of those threads for its whole life, so the
number of streams and their lifetime are bounded here, and at least two threads always stay free
for ordinary pages: a forgotten tab on a phone must never make the device's page unreachable.

Secrets: the technician password is never stored, only its hash (werkzeug scrypt/pbkdf2, set
with ``nir-device passwd``). The hash is looked up as the secret ``web_password_hash``
(systemd credential, then ``PLASTINIR_WEB_PASSWORD_HASH``, then ``password_hash`` here), and
finally in ``password_hash_file`` (default ``<state dir>/web_password_hash``).
"""
from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from .base import Section

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                       r"[A-Za-z0-9])?)*$")
#: Prefixes of the hashes werkzeug's ``generate_password_hash`` writes.
HASH_METHODS = ("scrypt:", "pbkdf2:")


class HttpSection(Section):
    enabled: bool = Field(
        default=True, description="Serve the status page from `nir-device run` (false: no page at all).")
    bind: str = Field(
        default="0.0.0.0",
        description="Address to listen on: 0.0.0.0 = every interface of the device (its hotspot or shop "
                    "Wi-Fi), 127.0.0.1 = this machine only, or a host name.")
    port: int = Field(default=8080, ge=0, le=65535,
                      description="TCP port of the page (0 = any free port, for tests).")
    public_read: bool = Field(
        default=True,
        description="Read-only pages (Now, History, Device, /metrics) open to anyone on the device's "
                    "network; false = they need the login too. Actions always need the login.")
    threads: int = Field(
        default=4, ge=2, le=32,
        description="waitress worker threads: the most requests (live streams included) served at once.")
    sse_max_clients: int = Field(
        default=2, ge=0, le=30,
        description="Live-update streams (server-sent events) open at once; further pages fall back to "
                    "polling. 0 = polling only. Must leave two threads free for ordinary pages.")
    sse_lifetime_s: float = Field(
        default=300.0, ge=5.0, le=3600.0,
        description="A live stream ends after this long (the browser reconnects if the tab is still open "
                    "and visible), so a forgotten tab gives its thread back.")
    sse_heartbeat_s: float = Field(
        default=15.0, ge=0.5, le=120.0,
        description="Comment line sent on an idle stream: keeps proxies from closing it and lets the "
                    "server notice a client that went away.")
    poll_interval_s: float = Field(
        default=5.0, ge=1.0, le=300.0, description="How often a page without a live stream asks for changes.")
    password_hash: SecretStr | None = Field(
        default=None,
        description="Technician password hash (from `nir-device passwd`); better kept out of this file "
                    "as the systemd credential web_password_hash or in password_hash_file.")
    password_hash_file: Path | None = Field(
        default=None,
        description="File holding the technician password hash, written by `nir-device passwd`; "
                    "unset = <state dir>/web_password_hash.")
    session_lifetime_h: float = Field(
        default=12.0, gt=0, le=24 * 30, description="A login lasts this long (hours): one working day.")
    cookie_secure: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="Secure flag of the session cookie: 'auto' = when the request itself came over HTTPS; "
                    "'always' behind a TLS-terminating proxy (waitress trusts no proxy headers); 'never'.")
    login_max_failures: int = Field(
        default=5, ge=1, le=100,
        description="Failed logins from one address within login_window_s before it is locked out "
                    "until the window ends.")
    login_window_s: float = Field(default=900.0, ge=10.0, le=86400.0,
                                  description="Length of the failed-login window and lockout (seconds).")
    max_upload_mb: float = Field(
        default=32.0, gt=0, le=256.0,
        description="Largest model package accepted by the upload form (MB); bigger requests are refused "
                    "before they are read.")
    history_page_size: int = Field(default=25, ge=5, le=200, description="Results per History page.")

    @field_validator("bind")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if not _HOSTNAME.match(value):
                raise ValueError("must be an IP address (0.0.0.0, 127.0.0.1, ::) or a host name") from None
        return value

    @field_validator("password_hash")
    @classmethod
    def _looks_like_a_hash(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value() and \
                not value.get_secret_value().startswith(HASH_METHODS):
            # Never echo the value: it might be a password typed where its hash belongs.
            raise ValueError("is not a password hash (expected 'scrypt:…' or 'pbkdf2:…' from "
                             "`nir-device passwd`); never put the password itself here")
        return value

    @model_validator(mode="after")
    def _threads_left_for_pages(self) -> "HttpSection":
        if self.sse_max_clients > self.threads - 2:
            raise ValueError(f"sse_max_clients = {self.sse_max_clients} would leave fewer than 2 of the "
                             f"{self.threads} threads for ordinary pages; raise threads or lower sse_max_clients")
        if self.sse_heartbeat_s >= self.sse_lifetime_s:
            raise ValueError(f"sse_heartbeat_s = {self.sse_heartbeat_s:g} must be shorter than "
                             f"sse_lifetime_s = {self.sse_lifetime_s:g}")
        return self
