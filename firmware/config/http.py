"""``[http]``: where ``nir-device run`` serves the status page.

Kept to what the composition root needs to start the server; the page's own settings (threads,
login, live updates, upload limit) belong to the status page and are added here by it.
"""
from __future__ import annotations

from pydantic import Field

from .base import Section


class HttpSection(Section):
    enabled: bool = Field(
        default=True, description="Serve the status page from `nir-device run` (false: no page at all).")
    bind: str = Field(
        default="0.0.0.0",
        description="Address to listen on: 0.0.0.0 = every interface of the device (its hotspot or shop "
                    "Wi-Fi), 127.0.0.1 = this machine only.")
    port: int = Field(default=8080, ge=0, le=65535,
                      description="TCP port of the page (0 = any free port, for tests); `--http-port` overrides it.")
