"""Topic → typed parser: every inbound MQTT message becomes one parsed message or a `Rejected`.

A registry keyed by the topic's leaf (``result``, ``birth``, ``status``, ``stats``,
``calibration``, ``event/<kind>``) maps each message to its parser. Parsers never raise for bad
input: whatever is wrong (too big, not UTF-8, not JSON, duplicate keys, wrong schema, another
unit's topic, unknown unit, bad signature) comes back as a `Rejected` whose ``category`` is
counted and whose ``reason`` is stored with the payload in ``quarantine``.

Result records are checked with the shared contract (`firmware.record.validate_record`, then the
signature against the unit's *registered* key with `firmware.signing.verify_document` — the two
halves of `firmware.record.verify_record`, split so the registered key is looked up only for a
well-formed record on its own unit's topic). A result in the canonical form units publish takes
a fast path first (orjson, and the signed bytes cut out of the payload: `signed_text`); anything
else — and every rejection, with its reason — goes through the full stdlib path.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from firmware.contracts import BIRTH_SCHEMA, CERTIFICATE_SCHEMA, EVENT_KINDS, EVENT_SCHEMA, STATS_SCHEMA
from firmware.calibration.certificate import validate_certificate
from firmware.errors import CertificateError, RecordError, SignatureError
from firmware.record import validate_record
from firmware.signing import public_key_b64, public_key_from_b64, verify_document
from firmware.validation import describe

from .database import Database
from .signed_text import accept_canonical
from .units import UNIT_PATTERN, KeyCache

# Rejection categories (quarantine.category and the ingester's counters).
SIZE, ENCODING, JSON_, SCHEMA, TOPIC = "size", "encoding", "json", "schema", "topic"
UNKNOWN_UNIT, SIGNATURE, KEY_MISMATCH, TEXT, INTERNAL = "unknown-unit", "signature", "key-mismatch", "text", "internal"
STATUSES = ("online", "offline", "stopped")


@dataclass(frozen=True)
class Inbound:
    """One MQTT message as received; ``ref`` is what the MQTT side needs to PUBACK it later.

    ``retained``: delivered from the broker's retained store because the bureau (re)subscribed,
    not because the unit just published it — so it says nothing about when the unit was last seen.
    """

    topic: str
    payload: bytes
    received_at: str
    ref: Any = None
    retained: bool = False


@dataclass
class Parsed:
    inbound: Inbound
    unit: str


@dataclass
class ResultMsg(Parsed):
    seq: int
    doc: dict
    text: str


@dataclass
class BirthMsg(Parsed):
    doc: dict
    register: bool = False  # trust on first use: register doc['public_key']


@dataclass
class StatusMsg(Parsed):
    status: str


@dataclass
class StatsMsg(Parsed):
    doc: dict


@dataclass
class EventMsg(Parsed):
    doc: dict
    purged: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class CalibrationMsg(Parsed):
    doc: dict
    sha256: str


@dataclass
class Rejected(Parsed):
    category: str
    reason: str
    seq: int | None = None


class _Reject(Exception):
    def __init__(self, category: str, reason: str, seq: int | None = None):
        super().__init__(reason)
        self.category, self.reason, self.seq = category, reason, seq


# --- health documents (docs/MQTT.md). Extra fields are kept: a newer unit must not lose its birth.
Text = Annotated[str, Field(max_length=200)]
NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Doc(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", populate_by_name=True)


class ModelInfo(_Doc):
    name: Text
    version: Text
    sha256: Text


class Birth(_Doc):
    schema_: Literal["plastinir.birth/1"] = Field(alias="schema")
    unit: Annotated[str, Field(pattern=UNIT_PATTERN.pattern)]
    time: Text
    firmware: Text
    model: Optional[ModelInfo] = None
    calibration_id: Optional[Text] = None
    boot_id: Text
    public_key: Text
    head: Optional[Text] = None

    @field_validator("public_key")
    @classmethod
    def _key(cls, v: str) -> str:
        try:
            public_key_from_b64(v)
        except SignatureError as exc:
            raise ValueError(str(exc)) from None
        return v


class Stats(_Doc):
    schema_: Literal["plastinir.stats/1"] = Field(alias="schema")
    unit: Annotated[str, Field(pattern=UNIT_PATTERN.pattern)]
    time: Text
    boot_id: Optional[Text] = None
    state: Optional[Text] = None
    state_reason: Optional[Annotated[str, Field(max_length=500)]] = None
    uptime_s: Optional[NonNeg] = None
    outbox_depth: Optional[Annotated[int, Field(ge=0)]] = None
    oldest_unacked_age_s: Optional[NonNeg] = None
    last_seq: Optional[Annotated[int, Field(ge=0)]] = None
    reference_age_s: Optional[NonNeg] = None
    temperature_c: Optional[Annotated[float, Field(allow_inf_nan=False)]] = None
    model: Optional[ModelInfo] = None
    calibration_id: Optional[Text] = None
    calibration_due: Optional[Text] = None
    lamp_hours: Optional[NonNeg] = None
    disk_free_bytes: Optional[Annotated[int, Field(ge=0)]] = None
    clock_synced: Optional[bool] = None


class Event(_Doc):
    schema_: Literal["plastinir.event/1"] = Field(alias="schema")
    unit: Annotated[str, Field(pattern=UNIT_PATTERN.pattern)]
    time: Text
    kind: Literal[EVENT_KINDS]  # type: ignore[valid-type]
    severity: Literal["info", "warning", "error"]
    code: Annotated[str, Field(min_length=1, max_length=100)]
    message: Annotated[str, Field(max_length=2000)]
    detail: dict = Field(default_factory=dict)


class Purged(BaseModel):
    model_config = ConfigDict(strict=True)
    purged: Annotated[list[Annotated[list[Annotated[int, Field(ge=1, lt=2**63)]],
                                     Field(min_length=2, max_length=2)]], Field(max_length=10_000)]


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        seen: set[str] = set()
        dupes = sorted({k for k, _ in pairs if k in seen or seen.add(k)})
        raise ValueError(f"duplicate key(s) {dupes}: the document is ambiguous")
    return doc


def _no_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class Parser:
    """Parses inbound messages for one topic prefix; needs the database only to look up keys."""

    def __init__(self, prefix: str, keys: KeyCache, *, max_payload_bytes: int = 512 * 1024,
                 trust_on_first_use: bool = False, trusted_technicians: list[str] | None = None,
                 fast_path: bool = True):
        self.prefix = prefix
        #: Try `signed_text.accept_canonical` before the full path (False: the benchmark's reference).
        self.fast_path = fast_path
        self.keys = keys
        self.max_payload_bytes = max_payload_bytes
        self.trust_on_first_use = trust_on_first_use
        #: Whose calibration certificates are accepted (None: any whose signature verifies).
        self.trusted_technicians = trusted_technicians
        self._leaves: dict[str, Callable[[Database, Inbound, str, str], Parsed]] = {
            "result": self._result, "birth": self._birth, "status": self._status, "stats": self._stats,
            "calibration": self._calibration, "event": self._event,
        }
        #: Results accepted on the fast path / checked on the full path (bench and tests read it).
        self.paths = {"fast": 0, "full": 0}

    # --- entry ----------------------------------------------------------------------------
    def parse(self, db: Database, inbound: Inbound) -> Parsed:
        unit, leaf = self.split_topic(inbound.topic)
        try:
            if unit is None:
                raise _Reject(TOPIC, f"topic {inbound.topic!r} is not {self.prefix}/<unit>/<leaf>")
            head, _, rest = leaf.partition("/")
            handler = self._leaves.get(head)
            if handler is None or (head == "event") != bool(rest):
                raise _Reject(TOPIC, f"topic leaf {leaf!r} is not one the bureau ingests")
            if len(inbound.payload) > self.max_payload_bytes:
                raise _Reject(SIZE, f"payload of {len(inbound.payload)} bytes exceeds the limit of "
                                    f"{self.max_payload_bytes} bytes")
            return handler(db, inbound, unit, rest)
        except _Reject as rej:
            return Rejected(inbound, unit or "", rej.category, rej.reason, rej.seq)

    def split_topic(self, topic: str) -> tuple[str | None, str]:
        if not topic.startswith(self.prefix + "/"):
            return None, ""
        unit, _, leaf = topic[len(self.prefix) + 1:].partition("/")
        return (unit or None), leaf

    # --- shared steps ---------------------------------------------------------------------
    @staticmethod
    def _text(inbound: Inbound) -> str:
        try:
            return inbound.payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Reject(ENCODING, f"payload is not UTF-8: {exc.reason} at byte {exc.start}") from None

    def _json(self, inbound: Inbound) -> tuple[str, dict]:
        text = self._text(inbound)
        try:
            doc = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
        except RecursionError:
            raise _Reject(JSON_, "payload is not JSON: nested too deeply") from None
        except ValueError as exc:
            raise _Reject(JSON_, f"payload is not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise _Reject(JSON_, f"payload must be a JSON object, got {type(doc).__name__}")
        if "\\u" in text:  # only escapes can smuggle NUL or unpaired surrogates into the strings
            if _has_nul(doc):
                raise _Reject(TEXT, "a text field contains a NUL character")
            try:
                json.dumps(doc, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                raise _Reject(ENCODING, "a text field holds an unpaired surrogate (\\ud800-\\udfff)") from None
        return text, doc

    @staticmethod
    def _same_unit(doc: dict, unit: str, topic: str) -> None:
        if doc.get("unit") != unit:
            raise _Reject(TOPIC, f"document of unit {doc.get('unit')!r} published on {topic!r} "
                                 f"(another unit's topic)")

    def _registered(self, db: Database, unit: str):
        key = self.keys.get(db, unit)
        if key is None:
            raise _Reject(UNKNOWN_UNIT, f"unit {unit!r} is not registered at the bureau "
                                        "(nir-host units add UNIT --public-key KEY)")
        return key

    def _model(self, model: type[BaseModel], doc: dict, what: str) -> BaseModel:
        try:
            return model.model_validate(doc)
        except ValidationError as exc:
            raise _Reject(SCHEMA, f"invalid {what}: {describe(exc, limit=3)}") from None

    # --- leaves ---------------------------------------------------------------------------
    def _result(self, db: Database, inbound: Inbound, unit: str, _rest: str) -> Parsed:
        doc = accept_canonical(inbound.payload, unit, lambda: self.keys.get(db, unit)) if self.fast_path else None
        if doc is not None:
            self.paths["fast"] += 1
            return ResultMsg(inbound, unit, doc["seq"], doc, inbound.payload.decode("utf-8"))
        self.paths["full"] += 1
        text, doc = self._json(inbound)
        seq = doc.get("seq")
        seq = seq if type(seq) is int and 0 < seq < 2**63 else None  # only a plausible seq is kept
        try:
            try:
                validate_record(doc)
            except RecordError as exc:
                raise _Reject(SCHEMA, str(exc)) from None
            self._same_unit(doc, unit, inbound.topic)
            key = self._registered(db, unit)
            try:
                verify_document(doc, key)
            except SignatureError as exc:
                raise _Reject(SIGNATURE, f"{exc} (checked against the key registered for {unit})") from None
        except _Reject as rej:
            rej.seq = seq
            raise
        return ResultMsg(inbound, unit, doc["seq"], doc, text)

    def _birth(self, db: Database, inbound: Inbound, unit: str, _rest: str) -> Parsed:
        _, doc = self._json(inbound)
        birth = self._model(Birth, doc, BIRTH_SCHEMA)
        self._same_unit(doc, unit, inbound.topic)
        key = self.keys.get(db, unit)
        if key is None:
            if self.trust_on_first_use:
                return BirthMsg(inbound, unit, doc, register=True)
            self._registered(db, unit)
        if public_key_b64(key) != birth.public_key:
            raise _Reject(KEY_MISMATCH, f"birth of {unit} announces public key {birth.public_key}, "
                                        f"not the registered one {public_key_b64(key)}")
        return BirthMsg(inbound, unit, doc)

    def _status(self, db: Database, inbound: Inbound, unit: str, _rest: str) -> Parsed:
        status = self._text(inbound).strip()
        if status not in STATUSES:
            raise _Reject(SCHEMA, f"status {status[:40]!r} is not one of {', '.join(STATUSES)}")
        self._registered(db, unit)
        return StatusMsg(inbound, unit, status)

    def _stats(self, db: Database, inbound: Inbound, unit: str, _rest: str) -> Parsed:
        _, doc = self._json(inbound)
        self._model(Stats, doc, STATS_SCHEMA)
        self._same_unit(doc, unit, inbound.topic)
        self._registered(db, unit)
        return StatsMsg(inbound, unit, doc)

    def _event(self, db: Database, inbound: Inbound, unit: str, kind: str) -> Parsed:
        _, doc = self._json(inbound)
        event = self._model(Event, doc, EVENT_SCHEMA)
        self._same_unit(doc, unit, inbound.topic)
        if event.kind != kind:
            raise _Reject(TOPIC, f"event of kind {event.kind!r} published on {inbound.topic!r}")
        self._registered(db, unit)
        purged: list[tuple[int, int]] = []
        if kind == "link" and "purged" in event.detail:
            try:
                ranges = Purged.model_validate({"purged": event.detail["purged"]}).purged
            except ValidationError as exc:
                raise _Reject(SCHEMA, f"invalid event detail.purged: {describe(exc, limit=3)}") from None
            for first, last in ranges:
                if first > last:
                    raise _Reject(SCHEMA, f"purged range [{first}, {last}] runs backwards")
            purged = [(a, b) for a, b in ranges]
        return EventMsg(inbound, unit, doc, purged)

    def _calibration(self, db: Database, inbound: Inbound, unit: str, _rest: str) -> Parsed:
        """The device's schema check (`firmware.calibration.certificate`), then the technician's
        signature (by a trusted technician when ``trusted_technicians`` is set), then the unit."""
        _, doc = self._json(inbound)
        if doc.get("schema") != CERTIFICATE_SCHEMA:
            raise _Reject(SCHEMA, f"calibration schema {doc.get('schema')!r} is not {CERTIFICATE_SCHEMA!r}")
        try:
            cert = validate_certificate(doc)
        except CertificateError as exc:
            raise _Reject(SCHEMA, str(exc)) from None
        self._same_unit(doc, unit, inbound.topic)
        if self.trusted_technicians is not None and cert.issuer_public_key not in self.trusted_technicians:
            raise _Reject(SIGNATURE, f"certificate {cert.calibration_id} is signed by a key the bureau does not "
                                     f"trust (ingest.trusted_technicians)")
        try:
            verify_document(doc, cert.issuer_public_key)
        except SignatureError as exc:
            raise _Reject(SIGNATURE, f"certificate {cert.calibration_id}: {exc}") from None
        self._registered(db, unit)
        return CalibrationMsg(inbound, unit, doc, hashlib.sha256(inbound.payload).hexdigest())

