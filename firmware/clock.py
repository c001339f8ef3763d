"""Is the system clock synchronised? The answer goes into every record as ``clock_synced``.

``auto`` asks the kernel through ``adjtimex(2)`` with no modes set (read-only, needs no
privilege and no D-Bus, works inside a hardened systemd service): the clock counts as
synchronised when the call does not return ``TIME_ERROR`` and ``STA_UNSYNC`` is clear. NTP
daemons (chrony, ntpd) and systemd-timesyncd clear that flag once they have disciplined the
clock; it is exactly what ``timedatectl show -p NTPSynchronized`` reports. Where the call is not
available (not Linux), the answer is ``False``: an unknown clock is not a synchronised one.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache

TIME_ERROR = 5
STA_UNSYNC = 0x0040


class _Timex(ctypes.Structure):
    """The head of ``struct timex`` (linux/timex.h) up to ``status``; the tail is padding.

    ``long`` fields follow the platform's C ``long``, so the offsets are right on 32- and 64-bit.
    """

    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("_rest", ctypes.c_byte * 256)]


@lru_cache(maxsize=1)
def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return lib if hasattr(lib, "adjtimex") else None
    except OSError:
        return None


def kernel_clock_synced() -> bool | None:
    """The kernel's view (True/False), or None where adjtimex is not available."""
    lib = _libc()
    if lib is None:
        return None
    tx = _Timex()
    tx.modes = 0  # read only
    state = lib.adjtimex(ctypes.byref(tx))
    if state < 0:
        return None
    return state != TIME_ERROR and not (tx.status & STA_UNSYNC)


def clock_synced(policy: str = "auto") -> bool:
    """``policy`` is ``[clock] synced``: ``auto`` (the kernel's flag), ``always`` or ``never``."""
    if policy == "always":
        return True
    if policy == "never":
        return False
    if policy != "auto":
        raise ValueError(f"clock policy {policy!r} is not auto, always or never")
    return bool(kernel_clock_synced())
