import numpy as np
import pytest

from firmware.errors import NotReady, QualityRejection
from firmware.journal import Journal
from firmware.reading import RawReading
from firmware.references import (DARK, WHITE, Reference, ReferenceStore, average, check_dark_reading, check_white,
                                 check_white_reading, gain_ratio, reflectance)

WL = np.arange(1550.0, 1851.0, 5.0)


def reading(lit, dark=1000.0, gain=None, temperature=25.0, wl=WL, head="fpi"):
    wl = np.asarray(wl, float)
    return RawReading(head=head, wavelengths_nm=wl, dark=np.full(wl.size, dark),
                      lit=np.broadcast_to(np.asarray(lit, float), wl.shape).copy(), gain=gain or {"pga": 64},
                      temperature_c=temperature, started_at=0, ended_at=0, physical_time_s=0.6)


def white_ref(taken_at=1000.0, temperature=25.0, lit=2_001_000.0, **kw):
    return average(WHITE, [reading(lit, temperature=temperature, **kw)], now=taken_at)


LIMITS = dict(max_age_s=8 * 3600.0, max_temperature_change_c=3.0)


def test_reflectance_formula():
    white = white_ref()  # net 2,000,000 counts
    r = reflectance(reading(1_001_000.0), white, tile_reflectance=0.99)
    np.testing.assert_allclose(r, 0.5 * 0.99)  # (lit − dark) / (white_lit − white_dark) × tile


def test_reflectance_with_stray_light_reference():
    white = white_ref()
    stray = average(DARK, [reading(101_000.0)])  # 100,000 counts of stray light with the port covered
    r = reflectance(reading(1_051_000.0), white, tile_reflectance=1.0, stray=stray)
    np.testing.assert_allclose(r, (1_050_000 - 100_000) / (2_000_000 - 100_000))


def test_reflectance_scaled_by_gain():
    white = white_ref()
    # half the PGA gain gives half the counts for the same sample: same reflectance
    r = reflectance(reading(501_000.0, gain={"pga": 32}), white, tile_reflectance=1.0)
    np.testing.assert_allclose(r, 0.5)
    assert gain_ratio({"factor": 0.25, "led_ma": 20}, {"factor": 1.0, "led_ma": 50}) == 0.25
    with pytest.raises(NotReady, match="white reference needed: the reading's gain"):
        gain_ratio({"led_ma": 20}, {"led_ma": 50})


def test_channel_without_white_signal_is_nan():
    lit = np.full(WL.size, 2_001_000.0)
    lit[0] = 1000.0
    white = average(WHITE, [reading(lit)])
    r = reflectance(reading(501_000.0), white, tile_reflectance=1.0)
    assert np.isnan(r[0]) and np.isfinite(r[1:]).all()


@pytest.mark.parametrize("ref, now, temp, head, wl, code, text", [
    (None, 1000.0, 25.0, "fpi", WL, "missing", "white reference needed: none taken yet for the fpi head"),
    ("white", 1000.0, 25.0, "led8", WL, "head", "taken on the fpi head, this is led8"),
    ("white", 1000.0, 25.0, "fpi", WL[:-1], "grid", "taken on 61 channels 1550–1850 nm, the head now reads 60"),
    ("white", 1000.0 + 9 * 3600, 25.0, "fpi", WL, "expired", "it is 9.0 h old (limit 8.0 h)"),
    ("white", 500.0, 25.0, "fpi", WL, "future", "500 s in the future"),
    ("white", 1000.0, 28.5, "fpi", WL, "temperature",
     "head temperature 28.5 °C is 3.5 °C from the 25.0 °C it was taken at (limit 3.0 °C)"),
    ("white", 1000.0, float("nan"), "fpi", WL, "temperature", "head temperature unknown"),
])
def test_white_validity_rules(ref, now, temp, head, wl, code, text):
    white = white_ref() if ref else None
    v = check_white(white, head=head, wavelengths_nm=wl, temperature_c=temp, now=now, **LIMITS)
    assert not v.ok and v.code == code
    assert v.reason.startswith("white reference needed: ") and text in v.reason


def test_white_valid_within_limits():
    v = check_white(white_ref(), head="fpi", wavelengths_nm=WL, temperature_c=27.9, now=1000.0 + 7.9 * 3600, **LIMITS)
    assert v.ok and v.reason is None


def test_white_reading_checks():
    check_white_reading(white_ref(), min_fraction=0.01)
    lit = np.full(WL.size, 2_001_000.0)
    lit[12] = 30_000.0  # one channel dead: 29,000 net counts < 1 % of 8,388,607
    with pytest.raises(QualityRejection, match=r"1 of 61 channels \(weakest 1610 nm: 29000 counts, need ≥ 83886"):
        check_white_reading(average(WHITE, [reading(lit)]), min_fraction=0.01)


def test_dark_reading_checks():
    white = white_ref()
    check_dark_reading(average(DARK, [reading(101_000.0)]), white, max_fraction=0.1)  # 5 % of white: fine
    with pytest.raises(QualityRejection, match=r"dark reference reads 50.0% of the white signal"):
        check_dark_reading(average(DARK, [reading(1_001_000.0)]), white, max_fraction=0.1)
    check_dark_reading(average(DARK, [reading(1_001_000.0)]), None, max_fraction=0.1)  # nothing to compare


def test_average_refuses_mixed_scans():
    with pytest.raises(ValueError, match="differ in head, grid or gain"):
        average(WHITE, [reading(1e6), reading(1e6, gain={"pga": 32})])


def test_store_roundtrip_through_journal(tmp_path):
    with Journal.open(tmp_path) as journal:
        store = ReferenceStore(journal)
        assert store.latest(WHITE) is None
        saved = store.save(white_ref(taken_at=1234.5, temperature=24.2))
        assert saved.id is not None
        back = store.latest(WHITE, "fpi")
        assert isinstance(back, Reference) and back.taken_at == 1234.5 and back.temperature_c == 24.2
        np.testing.assert_array_equal(back.net, saved.net)
        assert back.gain == {"pga": 64} and back.summary(now=1300.0)["age_s"] == 65.5
        store.save(average(DARK, [reading(5000.0, wl=WL[:10])]))
        assert store.stray("fpi", WL) is None  # another grid: not used
        store.save(average(DARK, [reading(5000.0)]))
        assert store.stray("fpi", WL) is not None
