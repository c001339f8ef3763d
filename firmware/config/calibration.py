"""``[calibration]``: whether the unit needs a calibration certificate to measure, and whose
certificates it accepts.

A certificate (``plastinir.calibration/1``, written by ``nir-host calibrate-unit``) records the
unit's verification and carries its corrections (wavelength, photometric). A unit whose
certificate *failed* or is *past due* always refuses to measure, with that reason. A unit with
*no* certificate measures unless ``required = true``: the simulator, the demo and the tests run
without one, while production units set ``required = true`` so that a unit fresh from the
bench cannot be used before a technician has certified it.
"""
from __future__ import annotations

from pydantic import Field, field_validator

from .base import Section
from .model import check_public_keys


class CalibrationSection(Section):
    required: bool = Field(
        default=False,
        description="Refuse to measure without a calibration certificate (production units: true). "
                    "Default false so the simulator, the demo and tests run uncertified; a failing or "
                    "past-due certificate is refused either way.")
    trusted_keys: list[str] | None = Field(
        default=None,
        description="Base64 Ed25519 public keys of the technicians whose certificates the unit accepts. "
                    "Unset: the model issuers the unit trusts ([model] trusted_issuers).")

    @field_validator("trusted_keys")
    @classmethod
    def _keys_are_ed25519(cls, keys: list[str] | None) -> list[str] | None:
        return None if keys is None else check_public_keys(keys)
