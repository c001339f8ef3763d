"""The unit's calibration on the device: the ``plastinir.calibration/1`` certificate (validated
model, signature, refusal rules), its corrections (photometric factor, wavelength correction of
the fpi coefficient table or the led8 axis), where certificates are kept, and the technician's
calibration scans. The host side that produces certificates is ``host/unitcal``."""
from .certificate import Certificate, Corrections, refusal, validate_certificate, verify_certificate
from .unit import UnitCalibration

__all__ = ["Certificate", "Corrections", "UnitCalibration", "refusal", "validate_certificate", "verify_certificate"]
