"""The simulated chips refuse what the datasheets forbid (TI SBAS288K ADS1256, SBAS246 DAC8532)."""
import pytest

from firmware.chips import ads1256_regs as R
from firmware.errors import ProtocolViolation

from hw_support import DAC_CS, BareAdc

T6 = 50 / 7.68e6


@pytest.fixture
def b():
    board = BareAdc({0: 0.25})
    board.adc.hardware_reset()
    board.adc.configure(pga=1, data_rate=1000)
    return board


def test_rdata_while_drdy_high(b):
    b.adc.read_channel(0)                  # reads the only new conversion
    b.select()
    with pytest.raises(ProtocolViolation, match="RDATA while DRDY is high"):
        b.raw(R.RDATA)


def test_rdata_after_sync_in_mux_cycling_is_allowed(b):
    """Figure 19: on DRDY low, WREG MUX + SYNC + WAKEUP, then RDATA reads the previous result."""
    b.adc.wait_drdy()
    b.adc.set_mux(3, force=True)
    b.adc.sync_wakeup()
    b.select()
    b.raw(R.RDATA)
    b.clock.sleep(T6)
    assert R.sign_extend_24(int.from_bytes(b.raw(0xFF, 0xFF, 0xFF), "big")) == round(0.25 / (5 / 0x7FFFFF))
    b.deselect()


def test_rreg_during_rdatac(b):
    b.adc.wait_drdy()
    b.select()
    b.raw(R.RDATAC)
    b.clock.sleep(T6)
    b.raw(0xFF, 0xFF, 0xFF)
    b.clock.sleep(5e-6)
    with pytest.raises(ProtocolViolation, match="RREG 0h during RDATAC: issue SDATAC"):
        b.raw(R.RREG, 0x00)


def test_rdatac_then_sdatac_returns_to_commands(b):
    b.adc.wait_drdy()
    b.select()
    b.raw(R.RDATAC)
    b.clock.sleep(T6)
    b.raw(0xFF, 0xFF, 0xFF)
    b.adc.wait_drdy()
    assert R.sign_extend_24(int.from_bytes(b.raw(0x00, 0x00, 0x00), "big")) == round(0.25 / (5 / 0x7FFFFF))
    b.raw(R.SDATAC)
    b.clock.sleep(5e-6)
    b.raw(R.RREG | R.DRATE, 0x00)
    b.clock.sleep(T6)
    assert b.raw(0xFF) == bytes([0xA1])
    b.deselect()


def test_t6_before_data(b):
    b.adc.wait_drdy()
    b.select()
    with pytest.raises(ProtocolViolation, match="t6 violated"):
        b.raw(R.RDATA, 0xFF, 0xFF, 0xFF)    # no wait between command and data


def test_t11_between_sync_and_wakeup(b):
    b.select()
    with pytest.raises(ProtocolViolation, match=r"t11 violated: WAKEUP sent .* after SYNC"):
        b.raw(R.SYNC, R.WAKEUP)


def test_t10_before_cs_high(b):
    b.select()
    b.raw(R.SDATAC)
    with pytest.raises(ProtocolViolation, match="t10 violated"):
        b.gpio.write(22, 1)                 # no wait after the last SCLK edge


def test_command_during_calibration(b):
    b.select()
    b.raw(R.SELFCAL)
    with pytest.raises(ProtocolViolation, match="sent during calibration"):
        b.raw(R.RREG, 0x00)


@pytest.mark.parametrize("data,match", [((0x02,), "undefined command byte 02h"),
                                        ((R.RREG | 0x0A, 0x01), "runs past the last register 0Ah"),
                                        ((R.WREG | R.DRATE, 0x00, 0x20), "DRATE code 20h is not in Table 19"),
                                        ((R.RREG, 0x13), "upper nibble must be 0")])
def test_malformed_commands(b, data, match):
    b.select()
    with pytest.raises(ProtocolViolation, match=match):
        b.raw(*data)


def test_cs_raised_mid_command(b):
    b.select()
    b.raw(R.WREG | R.MUX)
    with pytest.raises(ProtocolViolation, match="CS raised in the middle of WREG"):
        b.deselect()


def test_bus_needs_exactly_one_chip_selected(b):
    with pytest.raises(ProtocolViolation, match="no chip selected"):
        b.raw(R.WAKEUP)
    b.select()
    b.gpio.write(DAC_CS, 0)
    with pytest.raises(ProtocolViolation, match="several chips selected"):
        b.raw(R.WAKEUP)


def test_bus_mode_and_speed(b):
    b.select()
    b.bus.mode = 0
    with pytest.raises(ProtocolViolation, match="SPI mode 0 not supported"):
        b.raw(R.WAKEUP)
    b.bus.mode = 1
    b.bus.max_speed_hz = 2_000_000          # above fCLKIN/4 = 1.92 MHz
    with pytest.raises(ProtocolViolation, match="above its limit 1920000 Hz"):
        b.raw(R.WAKEUP)


def test_dac_frames(b):
    b.gpio.write(DAC_CS, 0)
    b.bus.xfer(bytes([0x10, 0x12]))
    with pytest.raises(ProtocolViolation, match="raised after 16 of 24 bits"):
        b.gpio.write(DAC_CS, 1)
    b.gpio.write(DAC_CS, 0)
    with pytest.raises(ProtocolViolation, match="reserved bits"):
        b.bus.xfer(bytes([0x50, 0x00, 0x01]))
    b.gpio.write(DAC_CS, 1)
    b.gpio.write(DAC_CS, 0)
    with pytest.raises(ProtocolViolation, match="more than 24 bits"):
        b.bus.xfer(bytes([0x10, 0x00, 0x01, 0x10]))
