"""The JSON a unit publishes and the commands it accepts, exactly as docs/MQTT.md fixes them.

Builders take what the runtime already knows (``snapshot()``, ``model_info()``, a journaled
event row) and return the payload bytes; the bureau's parsers (``host/bureau/payloads.py``)
are the other half of the contract. `parse_command` is the one place a command is checked:
whatever is wrong comes back as `MessageError` naming the cause, which the link sends back as
the command's reply instead of crashing.
"""
from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from .. import __version__
from ..contracts import BIRTH_SCHEMA, CMD_REPLY_SCHEMA, CMD_SCHEMA, COMMANDS, EVENT_SCHEMA, STATS_SCHEMA
from ..errors import MessageError
from ..record import utc_now_rfc3339

#: Spellings of a certificate's due date (``plastinir.calibration/1`` and its drafts), first wins.
CERT_DUE_KEYS = ("due", "valid_until", "calibration_due", "next_due")


def dumps(document: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON; NaN/inf are not JSON and become null (a missing figure)."""
    return json.dumps(_finite(document), separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _model(info: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The contract's ``{name, version, sha256}`` of the model in service."""
    if not info:
        return None
    return {k: str(info.get(k)) for k in ("name", "version", "sha256")}


def birth(runtime: Any) -> dict[str, Any]:
    """``plastinir.birth/1`` (retained): who this unit is and what it runs, without ``time`` so two
    births can be compared; `with_time` adds it when publishing."""
    return {"schema": BIRTH_SCHEMA, "unit": runtime.identity.unit, "firmware": __version__,
            "model": _model(runtime.model_info()), "calibration_id": runtime.calibration_id(),
            "boot_id": runtime.boot_info.boot_id, "public_key": runtime.identity.public_key,
            "head": runtime.head.name}


def with_time(document: Mapping[str, Any]) -> dict[str, Any]:
    return {**document, "time": utc_now_rfc3339()}


def calibration_due(certificate: Mapping[str, Any] | None) -> str | None:
    if not isinstance(certificate, Mapping):
        return None
    due = next((certificate[k] for k in CERT_DUE_KEYS if certificate.get(k)), None)
    return str(due) if due is not None else None


def _optional(provider: Any) -> Any:
    """A figure another part may provide as ``runtime.<name>()`` (lamp hours); None if absent."""
    if not callable(provider):
        return None
    try:
        return provider()
    except Exception:  # noqa: BLE001 - a missing figure must not stop the stats
        return None


def stats(runtime: Any) -> dict[str, Any]:
    """``plastinir.stats/1`` from ``runtime.snapshot()`` and the journal's outbox."""
    snap = runtime.snapshot()
    white = (snap.get("references") or {}).get("white") or {}
    try:
        disk_free = shutil.disk_usage(Path(runtime.state_dir)).free
    except OSError:
        disk_free = None
    lamp = _optional(getattr(runtime, "lamp_hours", None))
    return {"schema": STATS_SCHEMA, "unit": snap["unit"], "time": utc_now_rfc3339(), "boot_id": snap["boot_id"],
            "state": snap["state"], "state_reason": _clip(snap.get("reason"), 500), "uptime_s": snap.get("uptime_s"),
            "outbox_depth": snap.get("outbox_depth"),
            "oldest_unacked_age_s": _round(runtime.journal.oldest_unacked_age()),
            "last_seq": snap.get("last_seq"), "reference_age_s": white.get("age_s"),
            "temperature_c": snap.get("temperature_c"), "model": _model(snap.get("model")),
            "calibration_id": runtime.calibration_id(), "calibration_due": calibration_due(runtime.calibration()),
            "lamp_hours": float(lamp) if isinstance(lamp, (int, float)) else None,
            "disk_free_bytes": disk_free, "clock_synced": snap.get("clock_synced")}


def _clip(text: str | None, n: int) -> str | None:
    return text if text is None or len(text) <= n else text[: n - 1] + "…"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def event(unit: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """``plastinir.event/1`` from a journaled event (`Journal.events` row or the hook's payload)."""
    return {"schema": EVENT_SCHEMA, "unit": unit,
            "time": utc_now_rfc3339(datetime.fromtimestamp(float(row["unix"]), timezone.utc)),
            "kind": row["kind"], "severity": row["severity"], "code": row["code"], "message": row["message"],
            "detail": dict(row.get("detail") or {})}


# --- commands -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Command:
    """Where one request from ``<prefix>/<unit>/cmd/<name>`` is answered: the MQTT v5
    ``ResponseTopic`` and ``CorrelationData`` (None under 3.1.1 or when the requester set none)."""

    name: str
    response_topic: str | None
    correlation: bytes | None


def parse_command(name: str, payload: bytes) -> dict[str, Any]:
    """The ``args`` of a ``plastinir.cmd/1`` body; `MessageError` says what is wrong."""
    if name not in COMMANDS:
        raise MessageError(f"unknown command {name!r}; known: {', '.join(COMMANDS)}")
    try:
        document = json.loads(payload) if payload else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise MessageError(f"command body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise MessageError(f"command body must be a JSON object, got {type(document).__name__}")
    if document.get("schema") != CMD_SCHEMA:
        raise MessageError(f"command schema {document.get('schema')!r} is not {CMD_SCHEMA!r}")
    args = document.get("args", {})
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise MessageError(f"command args must be a JSON object, got {type(args).__name__}")
    unknown = sorted(set(document) - {"schema", "args"})
    if unknown:
        raise MessageError(f"unknown command field(s) {unknown}; a command has 'schema' and 'args'")
    return args


def reply(name: str, *, ok: bool, error: str | None = None, result: Any = None) -> bytes:
    """``plastinir.cmd-reply/1``."""
    return dumps({"schema": CMD_REPLY_SCHEMA, "command": name, "ok": ok, "error": error,
                  "result": result if result is not None else {}})
