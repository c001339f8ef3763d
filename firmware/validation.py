"""What a pydantic validation found wrong in a received document, in one line.

The result record, the calibration certificate, trial corrections and the bureau's payloads
are all refused with the fields that broke, so whoever sent them can fix them. (Config files
have their own, fuller format with file, key and value: `firmware.config.format_validation_error`.)
"""
from __future__ import annotations

from pydantic import ValidationError


def describe(exc: ValidationError, *, limit: int = 5, whole: str = "(document)") -> str:
    """``loc: reason`` for the first ``limit`` errors, ``; and N more`` for the rest; ``whole``
    names an error about the document itself (empty location)."""
    errors = exc.errors()
    parts = []
    for err in errors[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or whole
        parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    more = len(errors) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
