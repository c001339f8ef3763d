"""Exceptions of the bureau; leaves of `firmware.errors.PlastiNIRError` like everything deliberate.

The CLI prints their message on one line, so each says what failed and where (the URL without
its password, the file and line, the unit).
"""
from __future__ import annotations

from firmware.errors import PlastiNIRError


class BureauError(PlastiNIRError):
    """Root of the bureau's failures."""


class DatabaseUrlError(BureauError, ValueError):
    """``--db`` is not ``sqlite:///PATH`` or ``postgresql://…``."""


class DatabaseError(BureauError, OSError):
    """The database cannot be opened, or a statement failed; names the (redacted) URL."""


class DatabaseUnavailable(DatabaseError, ConnectionError):
    """The connection is gone (server restarted, network): transient, worth retrying."""


class SchemaVersionError(DatabaseError):
    """The database was migrated by a newer nir-host than this one."""


class UnitError(BureauError, ValueError):
    """A unit cannot be registered (bad id or key, already registered with another key)."""


class LabImportError(BureauError, ValueError):
    """A lab results CSV is malformed; names file, line and column."""


class BrokerUrlError(BureauError, ValueError):
    """``--broker`` is not ``mqtt://host:port`` or ``mqtts://host:port``."""


class ReportError(BureauError, ValueError):
    """A report cannot be made with the options given."""
