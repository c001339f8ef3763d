"""The result record, schema ``plastinir.result/1`` (DESIGN.md, Contracts), in one place.

The device builds and signs records; the bureau validates and verifies them. Both use this
module, so "a valid record" means the same thing at both ends. Validation is strict (no
unknown fields, no type coercion, bounded sizes) because the bureau must quarantine, not
store, anything that is not exactly what a device would send, and must name why.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .contracts import IDENTIFIED, RESULT_SCHEMA
from .errors import RecordError
from .signing import sign_document, verify_document
from .validation import describe

MAX_TEXT = 200
MAX_POINTS = 4096
MAX_CLASSES = 64
_RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
_UNIT = r"^[A-Za-z0-9._-]{1,64}$"

Text = Annotated[str, Field(max_length=MAX_TEXT)]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class ModelRef(_Strict):
    name: Text
    version: Text
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Sample(_Strict):
    """What the inspector tagged; every field optional, ``sample_id`` links to lab results."""

    sample_id: Optional[Text] = None
    merchant: Optional[Text] = None
    location: Optional[Text] = None
    batch: Optional[Text] = None
    product: Optional[Text] = None
    claimed_material: Optional[Text] = None


class Limits(_Strict):
    t2: Optional[Finite] = None
    q: Optional[Finite] = None


class Quantity(_Strict):
    value: Finite
    uncertainty: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    unit: Text


class Raw(_Strict):
    dark: Annotated[list[Optional[Finite]], Field(max_length=MAX_POINTS)]
    lit: Annotated[list[Optional[Finite]], Field(max_length=MAX_POINTS)]


class ResultRecord(_Strict):
    """One measurement as the device publishes it; field names are the contract's."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=True)

    schema_: Literal["plastinir.result/1"] = Field(alias="schema")
    unit: Annotated[str, Field(pattern=_UNIT)]
    seq: Annotated[int, Field(ge=1, lt=2**63)]
    uuid: Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    boot_id: Text
    time: str
    clock_synced: bool
    model: ModelRef
    calibration_id: Optional[Text] = None
    operator: Optional[Text] = None
    sample: Sample
    verdict: Literal["identified", "unknown", "ambiguous", "rejected"]  # contracts.VERDICTS
    reason: Optional[Annotated[str, Field(max_length=500)]] = None
    class_: Optional[Text] = Field(default=None, alias="class")
    degradable: Optional[bool] = None
    confidence: Optional[Annotated[float, Field(ge=0, le=1)]] = None
    scores: Annotated[dict[Text, Annotated[float, Field(ge=0, le=1)]], Field(max_length=MAX_CLASSES)]
    t2: Optional[Finite] = None
    q: Optional[Finite] = None
    limits: Optional[Limits] = None
    composition: Annotated[dict[Text, Quantity], Field(max_length=16)]
    wavelengths_nm: Annotated[list[Finite], Field(max_length=MAX_POINTS)]
    spectrum: Annotated[list[Optional[Finite]], Field(max_length=MAX_POINTS)]
    raw: Raw
    timings_ms: Annotated[dict[Text, Finite], Field(max_length=32)]
    signature: Annotated[str, Field(min_length=80, max_length=100)]

    @field_validator("time")
    @classmethod
    def _utc_time(cls, v: str) -> str:
        if not _RFC3339_UTC.match(v):
            raise ValueError("must be RFC 3339 UTC like 2026-11-27T08:31:08.123Z")
        datetime.fromisoformat(v.replace("Z", "+00:00"))  # rejects month 13 etc.
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "ResultRecord":
        if self.verdict == IDENTIFIED and not self.class_:
            raise ValueError("an identified verdict needs a class")
        if self.verdict != IDENTIFIED and not self.reason:
            raise ValueError(f"verdict {self.verdict!r} needs a reason")
        if len(self.spectrum) != len(self.wavelengths_nm):
            raise ValueError(f"spectrum has {len(self.spectrum)} points for {len(self.wavelengths_nm)} wavelengths")
        return self


def utc_now_rfc3339(now: datetime | None = None) -> str:
    """Current UTC time as RFC 3339 with milliseconds and ``Z``."""
    now = now or datetime.now(timezone.utc)
    return now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def validate_record(document: Any) -> ResultRecord:
    """Check a decoded JSON document against the schema; `RecordError` names the bad fields."""
    if not isinstance(document, dict):
        raise RecordError(f"record must be a JSON object, got {type(document).__name__}")
    if document.get("schema") != RESULT_SCHEMA:
        raise RecordError(f"schema {document.get('schema')!r} is not {RESULT_SCHEMA!r}")
    try:
        return ResultRecord.model_validate(document)
    except ValidationError as exc:
        raise RecordError(f"invalid result record: {describe(exc, whole='(record)')}") from None


def sign_record(document: dict, key) -> dict:
    """Sign a record (Ed25519 over its canonical JSON without ``signature``) and validate it."""
    signed = sign_document(document, key)
    validate_record(signed)
    return signed


def verify_record(document: dict, public_key: str) -> ResultRecord:
    """Validate, then verify the signature; raises `RecordError` or `SignatureError`."""
    record = validate_record(document)
    verify_document(document, public_key)
    return record
