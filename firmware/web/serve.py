"""Serving the page with waitress inside ``nir-device run`` (and in tests), and stopping it cleanly.

waitress is a pure-Python server with a fixed pool of worker threads: nothing to compile on
the Pi and a known ceiling on memory. The pool size is ``[http] threads``; live streams are
bounded by the app itself (`firmware.web.live`) so ordinary pages always find a free thread.
The request body limit is set to the upload limit plus room for the form, so waitress refuses an
oversized upload before buffering it.

    server = PageServer(app, config.http)          # binds now: a busy port fails here, with the cause
    server.start()                                  # serves in a daemon thread
    ...
    server.stop()                                   # ends live streams, closes sockets, joins threads
"""
from __future__ import annotations

import errno
import logging
import socket
import threading

from flask import Flask
from waitress import wasyncore
from waitress.server import create_server

from ..config.http import HttpSection
from ..errors import ConfigError

log = logging.getLogger(__name__)


def _bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (first address the name resolves to)."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ConfigError(f"http: cannot listen on {host}:{port}: {exc.strerror} (http.bind in the config)") from exc
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        why = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise ConfigError(f"http: cannot listen on {host}:{port}: {why} (set http.bind / http.port in "
                          f"the config, or --http-port)") from exc
    return sock


class PageServer:
    def __init__(self, app: Flask, http: HttpSection, *, host: str | None = None, port: int | None = None) -> None:
        self.app = app
        self.http = http
        host = http.bind if host is None else host
        port = http.port if port is None else port
        sock = _bind(host, port)  # here, so a busy port fails before waitress starts any thread
        self._server = create_server(
            app, sockets=[sock], threads=http.threads, ident="plastinir",
            max_request_body_size=int((http.max_upload_mb + 1) * 1024 * 1024),
            clear_untrusted_proxy_headers=True, channel_timeout=60, connection_limit=64)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def host(self) -> str:
        return str(self._server.effective_host)

    @property
    def url(self) -> str:
        host = self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def serve_forever(self) -> None:
        """Serve in this thread until `stop` (from another thread)."""
        log.info("status page on %s (%d threads, %d live streams max)", self.url, self.http.threads,
                 self.http.sse_max_clients)
        self._server.run()

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.serve_forever, name="status-page", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 5.0) -> None:
        """End live streams, let the workers finish their requests, then close every socket.

        In that order, and the sockets are closed by the server's own loop thread (a thunk sent
        through its trigger), so nothing is closed under a worker still writing and the loop
        exits by itself once its socket map is empty.
        """
        ext = self.app.extensions.get("plastinir")
        if ext is not None:
            ext.live.close()
        server = self._server
        server.task_dispatcher.shutdown(timeout=timeout)
        if self._thread is not None and self._thread.is_alive():
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
            self._thread.join(timeout)
        else:
            wasyncore.close_all(server._map)
