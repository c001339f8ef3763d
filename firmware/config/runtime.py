"""``[runtime]``: the acquisition loop of ``nir-device run`` — trigger button, periodic checks, watchdog.

The loop polls the trigger button instead of waiting for an edge interrupt (RPi.GPIO's edge
detection clashes with other users of a line, and a poll at 10 ms costs nothing next to a
measurement); a press counts once the line has been low for ``button_debounce_s``, so contact
bounce and interference spikes never start a measurement.
"""
from __future__ import annotations

from pydantic import Field, model_validator

from .base import Section


class RuntimeSection(Section):
    button_debounce_s: float = Field(
        default=0.03, ge=0.005, le=0.5,
        description="The trigger line must stay at its new level this long before a press (or release) "
                    "counts; push buttons bounce for 1–10 ms.")
    button_poll_s: float = Field(
        default=0.01, gt=0, le=0.1, description="How often the loop reads the trigger button.")
    refresh_interval_s: float = Field(
        default=10.0, ge=0.5, le=3600,
        description="How often the idle device re-checks its white reference (age, head temperature), so "
                    "the page shows 'white reference needed' as soon as it is.")
    retention_interval_s: float = Field(
        default=3600.0, ge=1, le=86400,
        description="How often the loop purges acknowledged results beyond the journal's limits.")
    max_activity_s: float = Field(
        default=120.0, ge=5, le=3600,
        description="A measurement, reference or self-test running longer than this is hung: the loop "
                    "stops pinging the systemd watchdog, which then restarts the service.")
    pending_tags_ttl_s: float = Field(
        default=600.0, ge=10, le=14400,
        description="Tags typed on the status page (or sent by cmd/tag) for the next button press expire "
                    "after this long unused, so an old shop's tags never land on another shop's item.")

    @model_validator(mode="after")
    def _poll_faster_than_debounce(self) -> "RuntimeSection":
        if self.button_poll_s * 2 > self.button_debounce_s:
            raise ValueError(f"button_poll_s = {self.button_poll_s:g} must be at most half of "
                             f"button_debounce_s = {self.button_debounce_s:g}, or a press is judged on one sample")
        return self
