"""DAC8532 driver and simulated chip (TI SBAS246: "Input Shift Register", "DAC Section")."""
import pytest

from hw_support import DAC_CS, BareAdc


@pytest.fixture
def b():
    return BareAdc()


def test_frames_are_control_byte_then_code(b):
    b.bus.recording = True
    b.dac.write_code("A", 0x1234)
    b.dac.write_code("b", 0xFEDC)
    # 0x10: LD A + buffer A; 0x24: LD B + buffer B; code MSB first
    assert [t.mosi for t in b.bus.log] == [bytes([0x10, 0x12, 0x34]), bytes([0x24, 0xFE, 0xDC])]
    assert b.dac_chip.output_v("A") == pytest.approx(5.0 * 0x1234 / 65536)
    assert b.dac_chip.output_v("B") == pytest.approx(5.0 * 0xFEDC / 65536)


def test_code_volts_conversion(b):
    # Vout = VREF · D / 65536
    assert b.dac.code_for_volts(2.5) == 32768
    assert b.dac.volts_for_code(65535) == pytest.approx(4.999924)
    assert b.dac.write_volts("A", 1.0) == pytest.approx(1.0, abs=5.0 / 65536)
    assert b.dac.code_for_volts(5.0) == 65535
    with pytest.raises(ValueError, match="outside 0–5 V"):
        b.dac.code_for_volts(5.2)
    with pytest.raises(ValueError, match="channel 'C'"):
        b.dac.write_code("C", 1)
    with pytest.raises(ValueError, match="code 70000"):
        b.dac.write_code("A", 70000)


def test_load_bits_follow_the_datasheet(b):
    def frame(*data):
        b.gpio.write(DAC_CS, 0)
        b.bus.xfer(bytes(data))
        b.gpio.write(DAC_CS, 1)

    frame(0x04, 0x80, 0x00)      # buffer B only, no load: output B unchanged
    assert b.dac_chip.output_v("B") == 0.0
    frame(0x10, 0x40, 0x00)      # buffer A, load A
    assert b.dac_chip.output_v("A") == pytest.approx(1.25) and b.dac_chip.output_v("B") == 0.0
    frame(0x30, 0x40, 0x00)      # Waveshare's "channel A": buffer A, load A and B
    assert b.dac_chip.output_v("B") == pytest.approx(2.5)


def test_power_down(b):
    b.dac.write_code("A", 40000)
    b.bus.recording = True
    b.dac.power_down("A", "hi-z")
    assert b.bus.log[-1].mosi == bytes([0x13, 0x00, 0x00])
    assert b.dac_chip.output_v("A") == 0.0
