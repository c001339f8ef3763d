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

from ..signing import public_key_from_b64
from .base import Section


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
        if keys is None:
            return None
        for i, key in enumerate(keys):
            try:
                public_key_from_b64(key)
            except ValueError as exc:
                raise ValueError(f"entry {i} is not a base64 Ed25519 public key: {exc}") from None
        if len(set(keys)) != len(keys):
            raise ValueError("lists the same key twice")
        return keys
