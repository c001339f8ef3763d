"""Backend choice, the hardware/head/sim config sections and their cross-field rules."""
from pathlib import Path

import pytest

from firmware.board import open_board, open_head, resolve_backend
from firmware.config import DeviceConfig, load_config
from firmware.errors import ConfigError
from firmware.heads.fpi_table import load_fpi_table

from hw_support import sim_config

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path, text):
    p = tmp_path / "device.toml"
    p.write_text(text)
    return p


def test_empty_config_is_valid_and_pins_default_to_the_design():
    c = DeviceConfig()
    hw = c.hardware
    assert (hw.ads1256_cs, hw.ads1256_drdy, hw.ads1256_reset, hw.dac8532_cs) == (22, 17, 18, 23)
    assert hw.led_pins == [5, 6, 12, 13, 16, 19, 20, 21] and hw.lamp_pin == 26
    assert (hw.trigger_pin, hw.status_led_pin) == (27, 24)
    assert c.head.name == "fpi" and c.head.fpi.hv_gain == 4.0 and hw.dac_vref_v == 5.0
    assert hw.backend is None and c.sim.faults == []


def test_example_config_loads():
    c = load_config(REPO / "config" / "device.example.toml")
    assert c.hardware.spi_speed_hz == 1_000_000 and c.head.led8.conversions == 8


def test_every_field_has_a_description():
    from firmware.config.hardware import HardwareSection
    from firmware.config.head import FpiSection, HeadSection, Led8Section
    from firmware.config.sim import SimSection
    for model in (HardwareSection, HeadSection, FpiSection, Led8Section, SimSection):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name}"


@pytest.mark.parametrize("text,match", [
    ("[hardware]\nlamp_pin = 22\n", r"GPIO22 is used twice: ads1256_cs and lamp_pin"),
    ("[hardware]\nled_pins = [5, 6, 12, 13, 16, 19, 20, 5]\n", r"GPIO5 is used twice: led_pins\[0\] and led_pins\[7\]"),
    ("[hardware]\nstatus_led_pin = 10\n", "GPIO10 is SPI0 MOSI"),
    ("[hardware]\nspi_speed_hz = 2000000\n", "exceeds the ADS1256 limit fCLKIN/4 = 1920000 Hz"),
    ("[hardware]\nthermistor_ain = 7\n", "AIN7 is used twice"),
    ("[hardware]\nbackend = \"fake\"\n", r"key hardware\.backend = 'fake'"),
    ("[head]\nname = \"ftir\"\n", "unknown optical head; registered: fpi, led8"),
    ("[head.fpi]\npga = 3\n", r"key head\.fpi\.pga = 3: must be one of the ADS1256 gains"),
    ("[head.led8]\ndata_rate_sps = 1234\n", "must be an ADS1256 data rate"),
    ("[head.fpi]\nstart_nm = 1500.0\n", "must lie inside the C13272-02's 1550–1850 nm"),
    ("[sim]\nfaults = [\"gremlins\"]\n", "unknown fault.*gremlins; known: drdy-stuck"),
    ("[sim]\nnoise = 2\n", r"unknown key 'sim\.noise'"),
])
def test_config_rules_name_file_key_and_reason(tmp_path, text, match):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError, match=match) as err:
        load_config(p)
    assert str(p) in str(err.value)


def test_backend_must_be_chosen(monkeypatch):
    monkeypatch.delenv("PLASTINIR_BACKEND", raising=False)
    with pytest.raises(ConfigError, match=r'hardware\.backend = "real" or "sim".*PLASTINIR_BACKEND=real\|sim.*--sim'):
        open_board(DeviceConfig())
    monkeypatch.setenv("PLASTINIR_BACKEND", "sim")
    assert resolve_backend(DeviceConfig()) == ("sim", "environment PLASTINIR_BACKEND")
    board = open_board(DeviceConfig())
    assert board.sim is not None and board.backend == "sim"
    board.close()
    monkeypatch.setenv("PLASTINIR_BACKEND", "simulator")
    with pytest.raises(ConfigError, match="PLASTINIR_BACKEND='simulator'"):
        resolve_backend(DeviceConfig())
    monkeypatch.setenv("PLASTINIR_BACKEND", "sim")
    with pytest.raises(ConfigError, match="disagree"):
        resolve_backend(sim_config(hardware={"backend": "real"}))
    assert resolve_backend(sim_config(hardware={"backend": "real"}), "sim") == ("sim", "command line")


def test_bring_up_leaves_the_chips_configured():
    config = sim_config("fpi")
    board = open_board(config)
    try:
        regs = board.sim.adc.regs
        # ACAL on, PGA 1, 1000 SPS; the last conversion read the DAC loopback (AIN7 against AINCOM)
        assert (regs[0] & 0x0E, regs[1], regs[2], regs[3]) == (0x04, 0x78, 0x20, 0xA1)
        assert board.sim.dac.output_v("A") == board.sim.dac.output_v("B") == 0.0
        assert board.sim.adc.violations == []
        head = open_head(config, board)
        assert head.wavelengths_nm.size == 61
        head.close()
    finally:
        board.close()


def test_fpi_unit_table(tmp_path):
    table = load_fpi_table(REPO / "config" / "units" / "sim-default.toml")
    assert table.voltage(1700.0, 25.0) == pytest.approx(13.48)
    for wl in (1550.0, 1633.3, 1850.0):
        for temp in (10.0, 40.0):
            assert table.wavelength(table.voltage(wl, temp), temp) == pytest.approx(wl, abs=1e-6)
    assert table.wavelength(0.0, 25.0) == 1910.0          # parked: the bracket's long end
    bad = tmp_path / "u.toml"
    bad.write_text("[fpi]\nunit='u'\nrange_nm=[1550.0,1850.0]\nreference_wavelength_nm=1700.0\n"
                   "reference_temperature_c=25.0\nvoltage_coeffs=[13.0, 0.02]\n")
    with pytest.raises(ConfigError, match="must fall monotonically"):
        load_fpi_table(bad)
    bad.write_text("[fpi]\nunit='u'\n")
    with pytest.raises(ConfigError, match=r"key fpi\.range_nm = <missing>"):
        load_fpi_table(bad)
    with pytest.raises(ConfigError, match="FPI coefficient table not found"):
        open_board(sim_config("fpi", head_settings={"unit_table": "nir-missing"}))
    board = open_board(sim_config("led8"))
    try:
        with pytest.raises(ConfigError, match="built with the 'led8' head's optics"):
            open_head(sim_config("fpi"), board)
    finally:
        board.close()


def test_real_fpi_needs_a_unit_table():
    from firmware.heads.fpi_table import table_path_for
    with pytest.raises(ConfigError, match="no unit id"):
        table_path_for(DeviceConfig(), "real")
    assert table_path_for(DeviceConfig(unit="nir-abc"), "real").name == "nir-abc.toml"
