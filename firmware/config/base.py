"""The base of every config section: unknown keys are errors, values are validated on assignment.

A typo in a config key must stop the device at `check-config` time with the key named, not be
silently ignored while the device runs on a default the operator did not choose.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section; every field carries a ``description`` that says why it exists."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)
