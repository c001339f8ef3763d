"""The optical heads on the simulated board give physically sensible readings."""
import numpy as np
import pytest

from firmware import optics
from firmware.errors import AdcSaturation, DrdyTimeout
from firmware.sim.samples import SpectrumSource

from hw_support import reflectance, sim_head, synthetic_spectrum, write_csv

WL = np.arange(800.0, 2100.0, 2.0)
SPECTRUM = synthetic_spectrum(WL)


def readings(board, head, *samples, motion=0.0):
    out = []
    for s in samples:
        board.sim.place(s, motion)
        out.append(head.acquire())
    return out


@pytest.mark.parametrize("name", ["fpi", "led8"])
def test_brightness_order_white_sample_black_empty(name, tmp_path):
    csv = write_csv(tmp_path / "s.csv", WL, SPECTRUM)
    with sim_head(name) as (board, head):
        white, sample, black, empty = readings(board, head, "white", f"csv:{csv}:0", "black", "empty")
    assert np.all(white.net > sample.net) and np.all(sample.net > black.net) and np.all(black.net > empty.net)
    assert np.all(empty.net > 0)                       # stray light
    assert white.wavelengths_nm.shape == white.dark.shape == white.lit.shape
    assert white.lit.max() < 0.95 * white.full_scale_counts


@pytest.mark.parametrize("name", ["fpi", "led8"])
def test_spectrum_matches_the_shared_optics(name, tmp_path):
    """The simulator and the training toolchain see a sample identically (firmware.optics)."""
    csv = write_csv(tmp_path / "s.csv", WL, SPECTRUM)
    with sim_head(name) as (board, head):
        white, sample, empty = readings(board, head, "white", f"csv:{csv}:0", "empty")
    expected = optics.head_optics(name).measure(WL, SPECTRUM)
    # shot + amplifier noise is ~1e-4 of white per reading; a 1 nm passband shift moves the fpi
    # values by ~4e-3 and the led8 values by ~7e-4
    assert reflectance(sample, white, empty) == pytest.approx(expected, abs=5e-4)


def test_fpi_wavelength_error_shifts_the_passbands():
    with sim_head("fpi", wavelength_error_nm=6.0) as (board, head):
        white, empty = readings(board, head, "white", "empty")
        sample, = readings(board, head, SpectrumSource("synthetic", WL, SPECTRUM))
    got = reflectance(sample, white, empty)
    o = optics.fpi_optics()
    assert got == pytest.approx(o.measure(WL, SPECTRUM, wavelength_shift_nm=6.0), abs=2e-3)
    assert np.abs(got - o.measure(WL, SPECTRUM)).max() > 5e-3


def test_led8_wavelength_error_shifts_the_led_peaks():
    with sim_head("led8", wavelength_error_nm=-8.0) as (board, head):
        white, empty = readings(board, head, "white", "empty")
        sample, = readings(board, head, SpectrumSource("synthetic", WL, SPECTRUM))
    got = reflectance(sample, white, empty)
    assert got == pytest.approx(optics.led8_optics().measure(WL, SPECTRUM, wavelength_shift_nm=-8.0), abs=2e-3)


@pytest.mark.parametrize("name", ["fpi", "led8"])
def test_gain_error_survives_the_white_reference(name):
    """sim.gain_error = g: the unit reports (1 + g) × the reflectance (its own tile is 0.99/(1+g))."""
    with sim_head(name, gain_error=0.05) as (board, head):
        white, grey, empty = readings(board, head, "white", "black", "empty")
    assert reflectance(grey, white, empty) == pytest.approx(1.05 * 0.03, rel=0.02)


def test_fpi_compensates_temperature_with_its_table():
    with sim_head("fpi") as (board, head):
        white25, empty25 = readings(board, head, "white", "empty")
        board.sim.set_temperature(38.0)
        white38, sample38, empty38 = readings(board, head, "white", SpectrumSource("s", WL, SPECTRUM), "empty")
    assert white25.temperature_c == pytest.approx(25.0, abs=0.05)
    assert sample38.temperature_c == pytest.approx(38.0, abs=0.05)
    assert white38.extra["tuning_v"][0] > white25.extra["tuning_v"][0]   # more volts when warm
    # dark current doubles every 10 °C: the warm dark level is higher
    assert sample38.dark[0] > white25.dark[0]
    assert reflectance(sample38, white38, empty38) == pytest.approx(optics.fpi_optics().measure(WL, SPECTRUM),
                                                                    abs=2e-3)


def test_sliding_sample_makes_successive_scans_disagree():
    source = SpectrumSource("s", WL, SPECTRUM)
    with sim_head("led8") as (board, head):
        still = readings(board, head, source, source)
        board.sim.place(source, motion=0.8)
        sliding = [head.acquire() for _ in range(3)]
    assert np.abs(still[0].net / still[1].net - 1).max() < 0.005
    spread = max(np.abs(a.net / b.net - 1).max() for a, b in zip(sliding, sliding[1:]))
    assert spread > 0.05


def test_lights_off_and_filter_parked_even_on_error():
    with sim_head("fpi") as (board, head):
        lamp = board.hardware.lamp_pin
        # the ADC dies the moment the lamp comes on
        board.sim.gpio.on_change(lamp, lambda level, t: level and board.sim.inject("drdy-stuck"))
        with pytest.raises(DrdyTimeout):
            head.acquire()
        assert board.sim.gpio.driven_level(lamp) == 0
        assert board.sim.dac.output_v("A") == 0.0
    with sim_head("led8", sample="white", faults=["saturation"]) as (board, head):
        with pytest.raises(AdcSaturation):
            head.acquire()
        assert all(board.sim.gpio.driven_level(p) == 0 for p in board.hardware.led_pins)


def test_gain_steps_down_until_the_sample_fits():
    with sim_head("led8", sample="white", head_settings={"pga": 64}) as (board, head):
        with pytest.raises(AdcSaturation, match="PGA 64"):
            head.acquire()
        steps = 0
        while True:
            try:
                reading = head.acquire()
                break
            except AdcSaturation:
                assert head.lower_gain()
                steps += 1
        assert reading.gain["pga"] in (1, 2) and steps >= 5
        head.reset_gain()
        assert head.pga == 64
        head.pga = 1
        assert head.lower_gain() is False


def test_physical_time_follows_the_sequence():
    with sim_head("fpi", sample="white") as (board, head):
        r = head.acquire()
    # warm-up 0.5 s + cool-down 0.2 s + 61 × (2 ms settle + 1.18 ms t18 + 1 ms second conversion)
    assert 0.9 < r.physical_time_s < 1.2
    with sim_head("led8", sample="white") as (board, head):
        r = head.acquire()
    # 8 × (5 ms settle + 1.18 ms t18 + 7 ms) + dark
    assert 0.1 < r.physical_time_s < 0.15
    assert r.gain["pga"] == 1 and r.gain["conversions"] == 8  # config/head.py defaults


def test_fpi_dark_sweep_and_json():
    with sim_head("fpi", sample="black", head_settings={"dark_sweep": True}) as (board, head):
        r = head.acquire()
    assert r.dark.std() > 0                              # one dark value per wavelength
    doc = r.to_json()
    assert doc["head"] == "fpi" and len(doc["dark"]) == len(doc["wavelengths_nm"]) == 61
