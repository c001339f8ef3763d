"""The bureau's acknowledgement, schema ``plastinir.ack/1`` (docs/MQTT.md), for both ends.

The bureau builds acks after its commit; the device's link parses them to empty its outbox
(``stored``) and to re-send or report as purged what the bureau is missing (``missing``). Both
use this module so the two ends agree on the shape, the limits and the range notation.
"""
from __future__ import annotations

import json
from typing import Annotated, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .contracts import ACK_SCHEMA
from .errors import MessageError
from .validation import describe

#: Most seqs listed in one ack's ``stored``; a bigger batch is acknowledged in several acks.
MAX_STORED = 1000
#: Most ranges in one ack's ``missing`` (the lowest first); more follow in later acks.
MAX_MISSING_RANGES = 64

Seq = Annotated[int, Field(ge=1, lt=2**63)]


class Ack(BaseModel):
    """One ack as parsed by a unit. ``missing`` holds inclusive ``[first, last]`` seq ranges."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=True)

    schema_: Literal["plastinir.ack/1"] = Field(alias="schema")
    stored: Annotated[list[Seq], Field(max_length=MAX_STORED)]
    missing: Annotated[list[Annotated[list[Seq], Field(min_length=2, max_length=2)]],
                       Field(max_length=MAX_MISSING_RANGES)]

    @model_validator(mode="after")
    def _ordered_ranges(self) -> "Ack":
        for first, last in self.missing:
            if first > last:
                raise ValueError(f"missing range [{first}, {last}] runs backwards")
        return self


def seq_ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Inclusive ranges covering ``seqs``: ``[1, 2, 3, 7]`` → ``[(1, 3), (7, 7)]``."""
    out: list[tuple[int, int]] = []
    for s in sorted(set(seqs)):
        if out and s == out[-1][1] + 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out


def build_acks(stored: Iterable[int], missing: Iterable[tuple[int, int]]) -> list[bytes]:
    """The ack payloads for ``stored`` seqs (split by `MAX_STORED`) and the first missing ranges.

    Always at least one payload; every one carries the same ``missing`` list.
    """
    seqs = sorted(set(stored))
    gaps = [[int(a), int(b)] for a, b in list(missing)[:MAX_MISSING_RANGES]]
    chunks = [seqs[i:i + MAX_STORED] for i in range(0, len(seqs), MAX_STORED)] or [[]]
    return [json.dumps({"schema": ACK_SCHEMA, "stored": chunk, "missing": gaps},
                       separators=(",", ":")).encode() for chunk in chunks]


def parse_ack(payload: bytes | str) -> Ack:
    """Decode and validate an ack; `MessageError` names what is wrong."""
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MessageError(f"ack is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise MessageError(f"ack must be a JSON object, got {type(document).__name__}")
    if document.get("schema") != ACK_SCHEMA:
        raise MessageError(f"ack schema {document.get('schema')!r} is not {ACK_SCHEMA!r}")
    try:
        return Ack.model_validate(document)
    except ValidationError as exc:
        raise MessageError(f"invalid ack: {describe(exc, limit=1, whole='(ack)')}") from None
