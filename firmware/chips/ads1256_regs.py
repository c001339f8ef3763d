"""ADS1256 register map, commands and timing tables (TI SBAS288K, Sept 2013).

Shared by the driver and the simulated chip, so both speak the same datasheet. Section and
table numbers refer to SBAS288K; ``/work/shared/hardware/ads1256-dac8532.md`` summarises them.
"""
from __future__ import annotations

#: Nominal master clock of the board's crystal (Hz); every time below scales with it.
FCLKIN_HZ = 7.68e6

# --- commands (Table 24, "Command Definitions") --------------------------------------------
WAKEUP = 0x00
RDATA = 0x01
RDATAC = 0x03
SDATAC = 0x0F
RREG = 0x10          # 0001 rrrr, then 0000 nnnn (n = count - 1)
WREG = 0x50          # 0101 rrrr, then 0000 nnnn, then n + 1 data bytes
SELFCAL = 0xF0
SELFOCAL = 0xF1
SELFGCAL = 0xF2
SYSOCAL = 0xF3
SYSGCAL = 0xF4
SYNC = 0xFC
STANDBY = 0xFD
RESET = 0xFE
WAKEUP_ALT = 0xFF
CALIBRATIONS = (SELFCAL, SELFOCAL, SELFGCAL, SYSOCAL, SYSGCAL)

_COMMAND_NAMES = {WAKEUP: "WAKEUP", RDATA: "RDATA", RDATAC: "RDATAC", SDATAC: "SDATAC",
                  SELFCAL: "SELFCAL", SELFOCAL: "SELFOCAL", SELFGCAL: "SELFGCAL",
                  SYSOCAL: "SYSOCAL", SYSGCAL: "SYSGCAL", SYNC: "SYNC", STANDBY: "STANDBY",
                  RESET: "RESET", WAKEUP_ALT: "WAKEUP"}


def command_name(cmd: int) -> str:
    if cmd & 0xF0 == RREG:
        return f"RREG {cmd & 0x0F:X}h"
    if cmd & 0xF0 == WREG:
        return f"WREG {cmd & 0x0F:X}h"
    return _COMMAND_NAMES.get(cmd, f"{cmd:02X}h")


# --- registers (Table 23, "Register Map"; reset values) ------------------------------------
STATUS, MUX, ADCON, DRATE, IO, OFC0, OFC1, OFC2, FSC0, FSC1, FSC2 = range(11)
N_REGISTERS = 11
REGISTER_NAMES = ("STATUS", "MUX", "ADCON", "DRATE", "IO", "OFC0", "OFC1", "OFC2", "FSC0", "FSC1", "FSC2")
#: Reset values of STATUS..IO. STATUS is "x1h": ID in the upper nibble, DRDY bit set.
RESET_VALUES = {STATUS: 0x31, MUX: 0x01, ADCON: 0x20, DRATE: 0xF0, IO: 0xE0}
CHIP_ID = 3                  # STATUS[7:4] of an ADS1256
STATUS_ORDER = 0x08
STATUS_ACAL = 0x04
STATUS_BUFEN = 0x02
STATUS_DRDY = 0x01
AINCOM = 8                   # MUX nibble 1xxx selects AINCOM

#: PGA gain → ADCON[2:0] (Table 18; 111 also means 64).
PGA_CODES = {1: 0, 2: 1, 4: 2, 8: 3, 16: 4, 32: 5, 64: 6}
PGA_STEPS = tuple(sorted(PGA_CODES))

#: Data rate (SPS) → DRATE code (Table 19). Other codes are "unpredictable" per the datasheet.
DRATE_CODES = {
    30000: 0xF0, 15000: 0xE0, 7500: 0xD0, 3750: 0xC0, 2000: 0xB0, 1000: 0xA1, 500: 0x92,
    100: 0x82, 60: 0x72, 50: 0x63, 30: 0x53, 25: 0x43, 15: 0x33, 10: 0x23, 5: 0x13, 2.5: 0x03,
}
DRATE_BY_CODE = {code: sps for sps, code in DRATE_CODES.items()}

#: t18 (s): SYNC/WAKEUP or mux change to the first settled DRDY (Table 13).
SETTLING_S = {
    30000: 0.21e-3, 15000: 0.25e-3, 7500: 0.31e-3, 3750: 0.44e-3, 2000: 0.68e-3, 1000: 1.18e-3,
    500: 2.18e-3, 100: 10.18e-3, 60: 16.84e-3, 50: 20.18e-3, 30: 33.51e-3, 25: 40.18e-3,
    15: 66.84e-3, 10: 100.18e-3, 5: 200.18e-3, 2.5: 400.18e-3,
}

#: DRDY periods after an input step *without* SYNC until data are settled (Table 15).
STEP_SETTLE_PERIODS = {30000: 5, 15000: 3, 7500: 2}

#: SELFCAL duration (s) at PGA 1 (Table 21); auto-calibration (ACAL) takes the same.
SELFCAL_S = {
    30000: 0.596e-3, 15000: 0.696e-3, 7500: 0.896e-3, 3750: 1.3e-3, 2000: 2.0e-3, 1000: 3.6e-3,
    500: 6.6e-3, 100: 31.2e-3, 60: 50.9e-3, 50: 61.8e-3, 30: 101.3e-3, 25: 123.2e-3,
    15: 202.1e-3, 10: 307.2e-3, 5: 613.8e-3, 2.5: 1227.2e-3,
}

#: Ideal full-scale calibration word by data rate (register section, FSC0..2 note).
def ideal_fsc(sps: float) -> int:
    if sps >= 3750:
        return 0x44AC08
    if sps >= 500:
        return 0x494008
    if sps in (100, 50, 25):
        return 0x3A99A0
    if sps in (60, 30, 15):
        return 0x4651F3
    return 0x2EE14C


# --- serial interface timing (Table 9 / "Timing Characteristics"), in tCLKIN periods ------
T6_CLK = 50          # last command byte of RDATA/RDATAC/RREG -> first SCLK of DOUT
T10_CLK = 8          # last SCLK falling edge -> CS high
T11_SHORT_CLK = 4    # after RREG, WREG, RDATA -> next command
T11_LONG_CLK = 24    # after RDATAC, SYNC -> next command
T16_CLK = 4          # RESET / SYNC pulse width
#: SCLK period >= 4 tCLKIN (t1), so the fastest allowed SPI clock is fCLKIN / 4.
SCLK_DIVIDER = 4

FULL_SCALE_CODE = 0x7FFFFF
MIN_CODE = -0x800000


def sign_extend_24(raw: int) -> int:
    """24-bit two's complement → int: 0x7FFFFF → 8388607, 0x800000 → −8388608, 0xFFFFFF → −1.

    (The Waveshare sample code masks with ``0xF000000`` instead, which corrupts every negative
    value; the datasheet's "Data Format" section defines plain two's complement.)
    """
    raw &= 0xFFFFFF
    return raw - 0x1000000 if raw & 0x800000 else raw


def encode_24(code: int) -> bytes:
    """Inverse of `sign_extend_24` after clipping to the ADC's code range (MSB first)."""
    code = max(MIN_CODE, min(FULL_SCALE_CODE, int(code)))
    return (code & 0xFFFFFF).to_bytes(3, "big")


def lsb_volts(vref_v: float, pga: int) -> float:
    """Input voltage of one code step: 2·VREF / (PGA · (2²³ − 1)) ("Data Format")."""
    return 2.0 * vref_v / (pga * FULL_SCALE_CODE)


def mux_byte(positive: int, negative: int = AINCOM) -> int:
    for name, ch in (("positive", positive), ("negative", negative)):
        if not (0 <= ch <= 7 or ch == AINCOM):
            raise ValueError(f"ADS1256 {name} input {ch}: must be AIN0–AIN7 (0–7) or AINCOM (8)")
    return (positive << 4) | negative
