"""``[clock]``: how the device decides whether its clock is synchronised (``clock_synced`` in records).

A Pi has no battery-backed clock: after a power cut without network it starts at the last saved
time, and a result's timestamp may be hours off. Records carry ``clock_synced`` so the bureau
can tell. ``auto`` asks the kernel (adjtimex: the flag NTP daemons and systemd-timesyncd clear
once synchronised; what ``timedatectl``'s NTPSynchronized reports); the fixed values exist for
units with a GPS/RTC time source the kernel flag does not see, and for tests.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Section


class ClockSection(Section):
    synced: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="'auto': the kernel's NTP synchronisation status (adjtimex); 'always'/'never': "
                    "fixed answer for units with another trusted time source, or for tests.")
