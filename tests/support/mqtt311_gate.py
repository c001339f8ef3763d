"""A loopback TCP front that makes a real Mosquitto look like an MQTT 3.1.1-only broker.

Mosquitto cannot be told to refuse MQTT 5 on a listener, and the link's fallback must be proven
against a broker that does. This gate reads each client's CONNECT: protocol level 5 is answered
exactly as MQTT 3.1.1 §3.1.2.2 prescribes for an unsupported level — CONNACK with return code
0x01 "unacceptable protocol version", then the connection is closed — and anything else is
spliced byte for byte to the Mosquitto behind it. So the unit talks 3.1.1 to the real broker
while the bureau (MQTT 5) connects to Mosquitto directly.
"""
from __future__ import annotations

import socket
import threading

from .ports import free_port

#: CONNACK, remaining length 2, no session present, return code 1 (MQTT 3.1.1 table 3.1).
CONNACK_UNACCEPTABLE_PROTOCOL = bytes([0x20, 0x02, 0x00, 0x01])


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed while reading CONNECT")
        data += chunk
    return data


def read_connect(sock: socket.socket) -> tuple[bytes, int]:
    """The whole CONNECT packet as received, and its protocol level (4 = 3.1.1, 5 = MQTT 5)."""
    head = _read_exactly(sock, 1)
    if head[0] >> 4 != 1:
        raise ConnectionError(f"first packet is not CONNECT (type {head[0] >> 4})")
    length, shift, raw_len = 0, 0, b""
    while True:
        b = _read_exactly(sock, 1)
        raw_len += b
        length |= (b[0] & 0x7F) << shift
        shift += 7
        if not b[0] & 0x80:
            break
    body = _read_exactly(sock, length)
    name_len = int.from_bytes(body[:2], "big")
    level = body[2 + name_len]
    return head + raw_len + body, level


class Mqtt311Gate:
    """``Mqtt311Gate(upstream_port).start()``; ``.url`` for the unit; ``.refused_v5`` counts refusals."""

    host = "127.0.0.1"

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.refused_v5 = 0
        self.accepted = 0
        self._listener: socket.socket | None = None
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> "Mqtt311Gate":
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((self.host, self.port))
        self._listener.listen(16)
        threading.Thread(target=self._accept, name="gate-accept", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            socks = list(self._socks)
        if self._listener is not None:
            socks.append(self._listener)
        for s in socks:
            try:
                s.close()
            except OSError:
                pass

    def _track(self, s: socket.socket) -> socket.socket:
        with self._lock:
            self._socks.append(s)
        return s

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(self._track(client),), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            packet, level = read_connect(client)
            if level == 5:
                self.refused_v5 += 1
                client.sendall(CONNACK_UNACCEPTABLE_PROTOCOL)
                client.close()
                return
            upstream = self._track(socket.create_connection(self.upstream, timeout=5))
            upstream.settimeout(None)
            upstream.sendall(packet)
            self.accepted += 1
        except OSError:
            client.close()
            return
        threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()
        self._pipe(client, upstream)

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
