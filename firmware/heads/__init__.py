"""Optical heads, registered by name (``fpi``, ``led8``) and chosen in config.

A head turns "take a reading" into the right sequence of lamp/LED switching, filter tuning and
ADC conversions on the board, and returns one `RawReading`. See `base.OpticalHead`.
"""
from .base import HEADS, OpticalHead, register_head

__all__ = ["HEADS", "OpticalHead", "register_head"]

# importing the head modules registers them
from . import fpi, led8  # noqa: E402,F401
