import sys

import pytest

from firmware.clock import clock_synced, kernel_clock_synced


def test_fixed_policies():
    assert clock_synced("always") is True and clock_synced("never") is False
    with pytest.raises(ValueError, match="not auto, always or never"):
        clock_synced("maybe")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="adjtimex is Linux-only")
def test_kernel_answer_matches_adjtimex_flag():
    """Cross-check our ctypes adjtimex against glibc's ntp_gettime(): both return the kernel's
    clock state, TIME_ERROR (5) whenever STA_UNSYNC is set (kernel/time/ntp.c, is_error_status)."""
    import ctypes
    import ctypes.util

    answer = kernel_clock_synced()
    assert answer in (True, False)
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    buf = ctypes.create_string_buffer(256)  # struct ntptimeval, generously sized
    state = libc.ntp_gettime(buf)
    assert answer == (state != 5)  # TIME_ERROR = 5 (sys/timex.h)
    assert clock_synced("auto") is answer
