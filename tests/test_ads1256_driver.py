"""The ADS1256 driver against the simulated chip, byte for byte (TI SBAS288K)."""
import pytest

from firmware.chips import ads1256_regs as R
from firmware.errors import ChipIdError, DataLineStuck, DrdyTimeout, HardwareError

from hw_support import BareAdc

TCLK = 1 / 7.68e6
BYTE_1MHZ = 8e-6


def gap_after(log, i):
    """Time from the end of transfer i to the start of transfer i + 1 (1 MHz SCLK)."""
    return log[i + 1].t - (log[i].t + len(log[i].mosi) * BYTE_1MHZ)


@pytest.fixture
def b():
    board = BareAdc({i: 0.1 * (i + 1) for i in range(8)})
    board.adc.hardware_reset()
    return board


def test_init_sequence_is_the_datasheets(b):
    b.bus.recording = True
    assert b.adc.check_lines_and_id() == 3
    b.adc.configure(pga=1, data_rate=1000)
    log = b.bus.log
    # RREG from STATUS, 4 registers: 0001 0000, 0000 0011 ("RREG", Table 24), then 4 output bytes
    assert [t.mosi for t in log] == [bytes([0x10, 0x03]), b"\xff" * 4,
                                     # WREG from STATUS, 4 registers: STATUS ACAL=1, MUX AIN0/AINCOM,
                                     # ADCON PGA 1 (CLK bits at reset 01), DRATE 1000 SPS = A1h (Table 19)
                                     bytes([0x50, 0x03, 0x04, 0x08, 0x20, 0xA1])]
    # register reset values (Table 23): STATUS x1h (ID 3; DRDY bit 0 once calibrated), MUX 01h,
    # ADCON 20h, DRATE F0h
    assert log[1].miso == bytes([0x30, 0x01, 0x20, 0xF0])
    assert gap_after(log, 0) >= 50 * TCLK      # t6 before the data are clocked out
    assert b.chip.regs[R.STATUS] & 0x0E == R.STATUS_ACAL
    assert (b.chip.regs[R.MUX], b.chip.regs[R.ADCON], b.chip.regs[R.DRATE]) == (0x08, 0x20, 0xA1)


def test_read_sequence_and_code(b):
    b.adc.configure(pga=1, data_rate=1000)
    b.bus.recording = True
    code = b.adc.read_channel(2)[0]
    log = b.bus.log
    # WREG MUX = AIN2/AINCOM, SYNC, WAKEUP, RDATA, 24 bits (Figure 19 sequence, Table 24 codes)
    assert [t.mosi for t in log] == [bytes([0x51, 0x00, 0x28]), b"\xfc", b"\x00", b"\x01", b"\xff\xff\xff"]
    assert gap_after(log, 1) >= 24 * TCLK      # t11 after SYNC before WAKEUP
    assert gap_after(log, 3) >= 50 * TCLK      # t6 after RDATA
    lsb = 2 * 2.5 / (1 * 0x7FFFFF)             # "Data Format": 2·VREF / (PGA · (2^23 − 1))
    assert code == round(0.3 / lsb)
    assert log[-1].miso == code.to_bytes(3, "big")
    # the first settled DRDY comes t18 after WAKEUP (Table 13: 1.18 ms at 1000 SPS)
    assert log[3].t - log[2].t == pytest.approx(1.18e-3, abs=20e-6)


@pytest.mark.parametrize("raw,value", [(0x7FFFFF, 8388607), (0x800000, -8388608), (0xFFFFFF, -1),
                                       (0x000001, 1), (0x000000, 0)])
def test_sign_extension(raw, value):
    assert R.sign_extend_24(raw) == value
    assert R.encode_24(value) == raw.to_bytes(3, "big")


@pytest.mark.parametrize("volts,raw,code", [(5.2, 0x7FFFFF, 8388607),          # clips at +full scale
                                            (-5.2, 0x800000, -8388608),        # clips at -full scale
                                            (-2 * 2.5 / 0x7FFFFF, 0xFFFFFF, -1)])
def test_sign_extension_end_to_end(b, volts, raw, code):
    b.adc.configure(pga=1, data_rate=1000)
    b.volts[4] = volts
    b.bus.recording = True
    assert b.adc.read_channel(4) == [code]
    assert b.bus.log[-1].miso == raw.to_bytes(3, "big")


def test_mux_cycling_files_each_result_under_its_input(b):
    b.adc.configure(pga=1, data_rate=1000)
    order = [3, 0, 5, 1, 7, 2]
    codes = b.adc.scan(order)
    volts = [b.adc.to_volts(c) for c in codes]
    assert volts == pytest.approx([0.1 * (ch + 1) for ch in order], abs=2e-6)
    # one read per input in turn, as the heads do
    for ch in (6, 1, 6, 0):
        assert b.adc.to_volts(b.adc.read_channel(ch)[0]) == pytest.approx(0.1 * (ch + 1), abs=2e-6)


def test_mux_change_without_sync_gives_a_mixed_value(b):
    """Why read_channel syncs: Table 15, the first result after an input step is a mix."""
    b.adc.configure(pga=1, data_rate=1000)
    b.adc.read_channel(0)
    b.adc.set_mux(5)                        # WREG only, no SYNC
    first = b.adc.to_volts(b.adc.read_data())
    second = b.adc.to_volts(b.adc.read_data())
    assert 0.1 < first < 0.6 and abs(first - 0.6) > 0.01
    assert second == pytest.approx(0.6, abs=2e-6)


def test_drdy_timeout_uses_simulated_time(b):
    b.adc.configure(pga=1, data_rate=1000)
    b.chip.drdy_stuck = True
    t0 = b.clock.monotonic()
    with pytest.raises(DrdyTimeout, match=r"DRDY timeout after 0\.5 s"):
        b.adc.read_channel(0)
    assert b.clock.monotonic() - t0 == pytest.approx(0.5, abs=1e-3)


def test_stuck_miso_and_wrong_id_are_told_apart(b):
    b.bus.miso_stuck = 0x00
    with pytest.raises(DataLineStuck, match="MISO stuck low"):
        b.adc.check_lines_and_id()
    b.bus.miso_stuck = 0xFF
    with pytest.raises(DataLineStuck, match="MISO stuck high"):
        b.adc.check_lines_and_id()
    b.bus.miso_stuck = None
    b.chip.id_override = 1
    with pytest.raises(ChipIdError, match=r"reads 0x1[01], i\.e\. chip ID 1, expected 3"):
        b.adc.check_lines_and_id()


def test_verify_notices_a_chip_that_lost_its_registers(b):
    b.adc.configure(pga=8, data_rate=500)
    b.adc.verify()
    b.select()
    b.raw(R.RESET)                          # a supply glitch, as far as the driver knows
    b.deselect()
    b.clock.sleep(0.01)
    with pytest.raises(HardwareError, match="register STATUS reads 0x00 but 0x04 was written"):
        b.adc.verify()


def test_reset_command_and_pin_restore_defaults(b):
    b.adc.configure(pga=16, data_rate=100)
    b.adc.reset()
    assert b.adc.pga == 1 and b.adc.data_rate == 30000
    assert bytes(b.chip.regs[1:4]) == bytes([0x01, 0x20, 0xF0])
    b.adc.configure(pga=16, data_rate=100)
    b.adc.hardware_reset()
    assert bytes(b.chip.regs[1:4]) == bytes([0x01, 0x20, 0xF0])


def test_acal_recalibrates_after_gain_and_rate_changes(b):
    b.adc.configure(pga=1, data_rate=1000)
    t0 = b.clock.monotonic()
    b.adc.set_pga(8)
    # ACAL=1: a WREG to ADCON starts a self-calibration; SELFCAL at 1000 SPS takes 3.6 ms (Table 21)
    assert b.clock.monotonic() - t0 >= 3.6e-3
    assert b.chip.regs[R.ADCON] == 0x23
    b.adc.set_data_rate(100)
    assert b.chip.regs[R.DRATE] == 0x82
    t0 = b.clock.monotonic()
    b.adc.read_channel(1)
    assert b.clock.monotonic() - t0 == pytest.approx(10.18e-3, abs=0.1e-3)   # t18 at 100 SPS


def test_without_acal_the_driver_sends_selfcal(b):
    b.bus.recording = True
    b.adc.configure(pga=2, data_rate=60, acal=False)
    assert [t.mosi for t in b.bus.log] == [bytes([0x50, 0x03, 0x00, 0x08, 0x21, 0x72]), bytes([R.SELFCAL])]


def test_invalid_settings_are_refused(b):
    with pytest.raises(ValueError, match="PGA 3"):
        b.adc.configure(pga=3)
    with pytest.raises(ValueError, match="data rate 1234"):
        b.adc.set_data_rate(1234)
    with pytest.raises(ValueError, match="AIN0–AIN7"):
        b.adc.set_mux(9)
