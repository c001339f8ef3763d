"""``[measurement]``: how a measurement is taken and when a sample is refused before the model.

Thresholds are in relative reflectance against the white tile (0..1), except saturation, which
is about the ADC and therefore a fraction of its full-scale code. Defaults follow from the
physics of the heads: a black (carbon-filled) plastic returns a few percent in the NIR, mostly
its surface reflection, so a median below 8 % cannot be identified reliably; an empty port
returns only stray light, well under 2 %; a sample lying still gives scans that agree within
detector noise, far below 2 % RMS.
"""
from __future__ import annotations

from pydantic import Field, model_validator

from .base import Section


class MeasurementSection(Section):
    n_scans: int = Field(
        default=3, ge=1, le=32,
        description="Readings averaged per measurement; ≥ 2 lets the device notice a sample that moved.")
    scan_agreement: float = Field(
        default=0.02, gt=0, le=0.5,
        description="Largest RMS difference (reflectance units) between one scan and the mean of all "
                    "scans before the measurement is rejected as 'unstable' (sample moved).")
    dark_max_reflectance: float = Field(
        default=0.08, gt=0, lt=1,
        description="A sample whose median reflectance is below this is rejected as 'dark' "
                    "(black/dark samples cannot be identified by NIR).")
    empty_max_reflectance: float = Field(
        default=0.015, gt=0, lt=1,
        description="If 90 % of the channels reflect less than this, nothing is on the port ('empty').")
    saturation_fraction: float = Field(
        default=0.95, gt=0.5, le=1.0,
        description="Lit counts at or above this fraction of the ADC's full scale count as saturated; "
                    "the head lowers its gain and retries once.")
    inference_threads: int = Field(
        default=1, ge=1, le=8,
        description="onnxruntime intra-op threads; 1 keeps a Pi Zero 2 W responsive for the page and MQTT.")

    @model_validator(mode="after")
    def _empty_below_dark(self) -> "MeasurementSection":
        if self.empty_max_reflectance >= self.dark_max_reflectance:
            raise ValueError(f"empty_max_reflectance ({self.empty_max_reflectance}) must be below "
                             f"dark_max_reflectance ({self.dark_max_reflectance}): an empty port is "
                             f"darker than any sample")
        return self
