import numpy as np
import pytest

from firmware.quality import QualityIssue, assess, check_agreement, check_dark, check_empty, check_saturation
from firmware.reading import ADC_FULL_SCALE, RawReading

WL = np.arange(1550.0, 1851.0, 5.0)
LIMITS = dict(saturation_fraction=0.95, scan_agreement=0.02, empty_max_reflectance=0.015, dark_max_reflectance=0.08)


def reading(lit):
    return RawReading(head="fpi", wavelengths_nm=WL, dark=np.full(WL.size, 1000.0),
                      lit=np.broadcast_to(np.asarray(lit, float), WL.shape).copy(), gain={"pga": 64},
                      temperature_c=25.0, started_at=0, ended_at=0, physical_time_s=0.6)


def test_saturated_reports_level_and_channel():
    lit = np.full(WL.size, 3e6)
    lit[20] = ADC_FULL_SCALE  # 1650 nm at full scale
    issue = check_saturation([reading(3e6), reading(lit)], 0.95)
    assert issue.code == "saturated" and issue.retry_lower_gain
    assert issue.figures["wavelength_nm"] == 1650.0 and issue.figures["max_fraction"] == 1.0
    assert "counts reach 100.0% of full scale at 1650 nm (1 channel readings ≥ 95%)" in issue.detail
    assert issue.reason.startswith("saturated: ")
    assert check_saturation([reading(0.94 * ADC_FULL_SCALE)], 0.95) is None


def test_unstable_scans():
    steady = np.array([np.full(WL.size, 0.5), np.full(WL.size, 0.505), np.full(WL.size, 0.495)])
    assert check_agreement(steady, 0.02) is None
    moved = steady.copy()
    moved[2] = 0.30  # the third scan saw something else: mean 0.435, scan 3 is 13.5 % off
    issue = check_agreement(moved, 0.02)
    assert issue.code == "unstable" and issue.figures["scan"] == 3
    assert issue.figures["worst_rms"] == pytest.approx(0.135)
    assert "scan 3 of 3 differs from their mean by 13.5% RMS reflectance (limit 2.0%)" in issue.detail
    assert check_agreement(moved[:1], 0.02) is None  # one scan cannot disagree


def test_empty_port():
    r = np.full(WL.size, 0.004)
    r[:3] = 0.05  # 95 % of channels at stray-light level
    issue = check_empty(r, 0.015)
    assert issue.code == "empty" and issue.reason.startswith("empty: no sample on the port")
    assert issue.figures["share_below"] == pytest.approx(58 / 61)
    assert check_empty(np.full(WL.size, 0.03), 0.015) is None


def test_dark_sample():
    issue = check_dark(np.full(WL.size, 0.035), 0.08)
    assert issue.reason == ("dark: cannot identify black/dark samples by NIR "
                            "(median reflectance 3.5%, below the 8.0% limit)")
    assert check_dark(np.full(WL.size, 0.2), 0.08) is None


def test_assess_order_and_pass():
    ok = [reading(2e6)] * 3
    r_ok = np.full((3, WL.size), 0.45)
    assert assess(ok, r_ok, **LIMITS) is None
    # saturation wins over everything; without reflectance only saturation is checked
    sat = [reading(ADC_FULL_SCALE)] * 3
    assert assess(sat, np.full((3, WL.size), 0.01), **LIMITS).code == "saturated"
    assert assess(ok, None, **LIMITS) is None
    # a moving sample is "unstable", not "dark", even if its mean is dark
    r_moving = np.array([np.full(WL.size, 0.01), np.full(WL.size, 0.10), np.full(WL.size, 0.01)])
    assert assess(ok, r_moving, **LIMITS).code == "unstable"
    assert assess(ok, np.full((3, WL.size), 0.005), **LIMITS).code == "empty"
    assert assess(ok, np.full((3, WL.size), 0.04), **LIMITS).code == "dark"


def test_all_nan_channels_do_not_warn():
    r = np.full((3, WL.size), 0.4)
    r[:, 5] = np.nan
    assert assess([reading(2e6)] * 3, r, **LIMITS) is None


def test_unknown_code_refused():
    with pytest.raises(ValueError, match="unknown rejection code"):
        QualityIssue("blurry", "x")
