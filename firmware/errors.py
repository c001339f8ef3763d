"""Every exception the firmware raises on purpose.

One root (`PlastiNIRError`) so the CLI, the acquisition loop and the status page can catch
"our" failures and show their message, while real bugs still surface as tracebacks. Each leaf
also subclasses the builtin it resembles (`TimeoutError`, `OSError`, `ValueError`), so callers
that only know the standard library still catch them sensibly. Messages say what failed and
where (device path, file and key, pin number) and, where one exists, the likely fix.

Host code (`host/`) raises these too where the failure is the same (a bad spectra CSV, a bad
package); it adds its own leaves in `host/errors.py`.
"""


class PlastiNIRError(Exception):
    """Root of every deliberate PlastiNIR failure."""


# --- configuration -------------------------------------------------------------------------

class ConfigError(PlastiNIRError, ValueError):
    """A config file, key or value is wrong; the message names file, key, value and reason."""


# --- hardware and the simulator ------------------------------------------------------------

class HardwareError(PlastiNIRError, OSError):
    """The board, a chip or a bus misbehaved."""


class BackendUnavailable(HardwareError):
    """A real hardware backend cannot be used here (library missing, not a Raspberry Pi)."""


class SpiError(HardwareError):
    """The SPI device could not be opened or a transfer failed."""


class GpioError(HardwareError):
    """A GPIO line could not be claimed, set or read."""


class DrdyTimeout(HardwareError, TimeoutError):
    """The ADS1256 never signalled data ready (DRDY stuck high)."""


class ChipIdError(HardwareError):
    """The ADS1256 STATUS register reported an ID other than 3."""


class DataLineStuck(HardwareError):
    """Every byte read back is 0x00 or 0xFF: MISO is stuck low or high."""


class AdcSaturation(HardwareError):
    """Conversions sit at the ADC's full-scale code; the input is over range."""


class LightSourceFailure(HardwareError):
    """The lamp or an LED gives no light when switched on."""


class DacNotAnswering(HardwareError):
    """The DAC8532 output does not follow the codes written to it."""


class ProtocolViolation(HardwareError):
    """A simulated chip saw a command sequence the datasheet forbids (a driver bug)."""


class SensorFault(HardwareError):
    """A head sensor (the FPI thermistor) reads outside its physical range: open or short circuit."""


class SampleSourceError(PlastiNIRError, ValueError):
    """A simulator sample spec is unknown or its data (CSV row, reference spectrum) unusable."""


# --- data formats, signatures and model packages ------------------------------------------

class SpectraFormatError(PlastiNIRError, ValueError):
    """A spectra CSV file breaks the interchange format (DESIGN.md); names file, line, column."""


class SignatureError(PlastiNIRError, ValueError):
    """A signature is missing, malformed, or does not verify against the expected key."""


class KeyFileError(PlastiNIRError, OSError):
    """A key file is missing, unreadable, malformed or has unsafe permissions."""


class ModelPackageError(PlastiNIRError, ValueError):
    """A model package is incomplete, corrupt, tampered with, untrusted or for another head."""


class RecordError(PlastiNIRError, ValueError):
    """A result record breaks the `plastinir.result/1` schema."""


# --- device runtime ------------------------------------------------------------------------

class DeviceBusy(PlastiNIRError, RuntimeError):
    """Another process (or a measurement in progress) holds the hardware."""


class NotReady(PlastiNIRError, RuntimeError):
    """The device may not measure now; the message is the reason shown to the user."""


class JournalError(PlastiNIRError, OSError):
    """The local result journal cannot be opened or written."""


class InvalidTransition(PlastiNIRError, RuntimeError):
    """The device state machine was asked for a transition its table does not allow (a bug)."""


class QualityRejection(PlastiNIRError, ValueError):
    """A reference reading failed a quality check (saturated, no light, scans disagree)."""


class MessageError(PlastiNIRError, ValueError):
    """An MQTT payload (ack, birth, stats, event) breaks its schema in docs/MQTT.md."""


class CertificateError(PlastiNIRError, ValueError):
    """A calibration certificate breaks `plastinir.calibration/1`, does not verify, or is not for this unit."""


class LampCounterError(JournalError, ValueError):
    """The journal's lamp-hour counter holds something that is not a number of seconds >= 0."""
