"""How a refused action is answered: the HTTP status that fits the cause, and its message.

The message is always the runtime's own (it names the cause: "white reference needed: none
taken yet", "manifest signature invalid", "device busy: measuring …"); only the status differs,
so a script can tell "try later" (409) from "fix the input" (400/422) from "the device is ill"
(503).
"""
from __future__ import annotations

from ..errors import (CertificateError, DeviceBusy, HardwareError, JournalError, ModelPackageError, NotReady,
                      PlastiNIRError, QualityRejection, RecordError)
from .forms import FormError

#: (exception class, status, what the page prefixes the message with)
STATUSES: tuple[tuple[type[BaseException], int, str], ...] = (
    (FormError, 400, "Check the form"),
    (RecordError, 400, "Check the form"),
    (DeviceBusy, 409, "Busy"),
    (NotReady, 409, "Refused"),
    (QualityRejection, 422, "Reading refused"),
    (ModelPackageError, 422, "Package refused"),
    (CertificateError, 422, "Certificate refused"),
    (HardwareError, 503, "Hardware fault"),
    (JournalError, 500, "Storage problem"),
    (PlastiNIRError, 500, "Failed"),
)


def classify(exc: BaseException) -> tuple[int, str, str]:
    """``(status, title, message)`` for a deliberate failure."""
    for cls, status, title in STATUSES:
        if isinstance(exc, cls):
            return status, title, str(exc) or type(exc).__name__
    raise exc
