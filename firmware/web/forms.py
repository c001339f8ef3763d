"""Checking what a browser sends: sample tags and History filters.

Each problem becomes a `FormError` naming the field and why, which the views answer with
``400`` and the message beside the form (its values kept, so nothing has to be typed again).
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any, Mapping

from ..contracts import VERDICTS
from ..record import MAX_TEXT
from ..result_builder import SAMPLE_FIELDS
from .security import CSRF_FIELD

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_LIMIT = 200
SAMPLE_LABELS = {"sample_id": "Sample ID", "merchant": "Merchant", "location": "Location", "batch": "Batch",
                 "product": "Product", "claimed_material": "Claimed material"}


class FormError(ValueError):
    """Bad input; ``field`` is the form field, the message says what is wrong with it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_sample(form: Mapping[str, str]) -> dict[str, str | None]:
    """The tag form → the record's ``sample`` fields (blank → None); unknown fields are refused."""
    unknown = [k for k in form if k not in SAMPLE_FIELDS and k != CSRF_FIELD]
    if unknown:
        raise FormError(unknown[0], f"unknown field {unknown[0]!r} (known: {', '.join(SAMPLE_FIELDS)})")
    sample: dict[str, str | None] = {}
    for key in SAMPLE_FIELDS:
        text = (form.get(key) or "").strip()
        if len(text) > MAX_TEXT:
            raise FormError(key, f"{SAMPLE_LABELS[key]} is {len(text)} characters long; at most {MAX_TEXT} fit "
                                 f"in a result")
        if _CONTROL.search(text):
            raise FormError(key, f"{SAMPLE_LABELS[key]} contains control characters")
        sample[key] = text or None
    return sample


def _when(name: str, text: str, *, end_of_day: bool) -> float | None:
    """A date (YYYY-MM-DD, UTC) or RFC 3339 time → unix seconds; an end date includes its whole day."""
    text = text.strip()
    if not text:
        return None
    try:
        if _DATE_ONLY.match(text):
            d = date.fromisoformat(text)
            start = datetime(d.year, d.month, d.day, tzinfo=timezone.utc)
            return (start + timedelta(days=1 if end_of_day else 0)).timestamp()
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FormError(name, f"{name} = {text!r} is not a date (2026-11-27) or an RFC 3339 time "
                              f"(2026-11-27T08:31:08Z)") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.timestamp()


def parse_filters(args: Mapping[str, str], *, default_limit: int = 25) -> dict[str, Any]:
    """History/export query → ``{verdict, since, until, merchant, before_seq, limit, model}`` (unix times)."""
    verdict = (args.get("verdict") or "").strip().lower() or None
    if verdict is not None and verdict not in VERDICTS:
        raise FormError("verdict", f"verdict = {verdict!r} is not one of {', '.join(VERDICTS)}")
    since = _when("since", args.get("since") or "", end_of_day=False)
    until = _when("until", args.get("until") or "", end_of_day=True)
    if since is not None and until is not None and until <= since:
        raise FormError("until", "the end date is before the start date")
    merchant = (args.get("merchant") or "").strip() or None
    if merchant is not None and len(merchant) > MAX_TEXT:
        raise FormError("merchant", f"merchant is {len(merchant)} characters long; at most {MAX_TEXT}")
    model = (args.get("model") or "").strip() or None
    if model is not None and len(model) > MAX_TEXT:
        raise FormError("model", f"model is {len(model)} characters long; at most {MAX_TEXT}")
    before = _positive_int(args, "before", None)
    limit = _positive_int(args, "limit", default_limit)
    if limit > MAX_LIMIT:
        raise FormError("limit", f"limit = {limit} is more than {MAX_LIMIT} results per page")
    return {"verdict": verdict, "since": since, "until": until, "merchant": merchant, "before_seq": before,
            "limit": limit, "model": model}


def _positive_int(args: Mapping[str, str], name: str, default: int | None) -> int | None:
    text = (args.get(name) or "").strip()
    if not text:
        return default
    if not text.isdigit() or len(text) > 19 or not 1 <= int(text) < 2**63:
        raise FormError(name, f"{name} = {text!r} is not a positive whole number")
    return int(text)


def filter_query(filters: Mapping[str, Any], args: Mapping[str, str]) -> dict[str, str]:
    """The filters as the user typed them, to keep them in links (pagination, export)."""
    return {k: args[k] for k in ("verdict", "since", "until", "merchant", "model") if args.get(k)}
