"""PlastiNIR host side: calibration toolchain, unit calibration and transfer, the bureau.

Runs on a workstation or at the bureau. May import ``firmware`` (shared contracts, CSV format,
optics, package reader); the reverse is forbidden.
"""
