"""The unit as the technician's tool reaches it: the device's JSON API over HTTP.

Authentication follows `firmware.web.views_techapi`: log in once with the technician password
(JSON), keep the session cookie, send the CSRF token it returns as ``X-CSRF-Token`` on every
POST. A refusal comes back as `DeviceRequestError` with the device's own message and status
(409: busy or not ready, 422: a reading/package/certificate refused, 503: hardware fault), so
the workflow can record *why* a check could not be made.
"""
from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.request
from typing import Any, Mapping

from firmware.errors import PlastiNIRError


class DeviceRequestError(PlastiNIRError, RuntimeError):
    """The device refused or failed a request; ``status`` is the HTTP status (0: not reachable)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class HttpDevice:
    """``HttpDevice(url).login(password)``, then the calls below. ``timeout_s`` covers the longest
    request: ten repeats of a three-scan reading take about 30 s on a real fpi head."""

    def __init__(self, url: str, *, timeout_s: float = 300.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self._cookies))
        self._csrf: str | None = None
        #: Sum of the scans' physical time (the unit's own clock: readings and waits).
        self.physical_time_s = 0.0

    # --- transport -----------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                 content_type: str = "application/json") -> Any:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode("utf-8"))
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        if method == "POST" and self._csrf:
            headers["X-CSRF-Token"] = self._csrf
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with self._opener.open(req, timeout=self.timeout_s) as resp:
                text = resp.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read().decode("utf-8"))
                message = detail.get("message") or detail.get("error") or exc.reason
            except (ValueError, UnicodeDecodeError, AttributeError):
                message = exc.reason
            raise DeviceRequestError(f"{method} {path}: {exc.code} {message}", exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeviceRequestError(f"{self.url}: device not reachable: {reason}") from None
        try:
            return json.loads(text)
        except ValueError:
            raise DeviceRequestError(f"{method} {path}: the device answered something that is not JSON") from None

    # --- the API -------------------------------------------------------------------------------

    def login(self, password: str) -> None:
        self._csrf = self._request("POST", "/api/technician/login", {"password": password})["csrf_token"]

    def logout(self) -> None:
        self._request("POST", "/api/technician/logout", {})
        self._csrf = None

    def status(self) -> dict[str, Any]:
        return self._request("GET", "/api/technician/calibration/status")

    def device(self) -> dict[str, Any]:
        return self._request("GET", "/api/device")

    def reference(self, kind: str) -> dict[str, Any]:
        return self._request("POST", "/api/technician/reference", {"kind": kind})

    def selftest(self) -> dict[str, Any]:
        return self._request("POST", "/api/technician/selftest", {})

    def scan(self, *, scans: int | None = None, repeats: int = 1, interval_s: float = 0.0,
             predict: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"repeats": repeats, "interval_s": interval_s, "predict": predict}
        if scans is not None:
            body["scans"] = scans
        result = self._request("POST", "/api/technician/scan", body)
        self.physical_time_s += float(result.get("physical_time_s") or 0.0)
        return result

    def session(self, action: str, corrections: Mapping[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"action": action}
        if corrections is not None:
            body["corrections"] = dict(corrections)
        return self._request("POST", "/api/technician/calibration/session", body)

    def install_model(self, package_zip: bytes) -> dict[str, Any]:
        return self._request("POST", "/api/technician/model", raw=package_zip, content_type="application/zip")

    def install_calibration(self, certificate: Mapping[str, Any]) -> dict[str, Any]:
        return self._request("POST", "/api/technician/calibration", {"certificate": dict(certificate)})

    def certificate(self) -> dict[str, Any] | None:
        return self._request("GET", "/api/calibration").get("certificate")
