"""``[references]``: when the white reference must be renewed, and what the tile reflects.

Reflectance is only as good as the white reference: the lamp ages and drifts with temperature
and the detector's responsivity changes with temperature, so a reference expires with age and
with a temperature change since it was taken (both limits are checked before every measurement).
"""
from __future__ import annotations

from pydantic import Field

from .base import Section


class ReferencesSection(Section):
    white_max_age_s: float = Field(
        default=8 * 3600.0, gt=0, le=30 * 86400.0,
        description="Age after which the white reference is expired (seconds); default one working day.")
    max_temperature_change_c: float = Field(
        default=3.0, gt=0, le=50.0,
        description="Head temperature change since the white reference beyond which it is expired (°C).")
    tile_reflectance: float = Field(
        default=0.99, gt=0.5, le=1.0,
        description="Reflectance of the white tile (from its certificate; sintered PTFE ≈ 0.99 in the NIR).")
    white_min_fraction: float = Field(
        default=0.01, gt=0, lt=1,
        description="A white reading with any channel's net signal below this fraction of the ADC full "
                    "scale is refused: lamp or an LED dead, or the tile is not on the port.")
    dark_max_fraction_of_white: float = Field(
        default=0.10, gt=0, lt=1,
        description="A dark (stray-light) reference brighter than this fraction of the white one is "
                    "refused: the port was not covered.")
