"""Benchmarks. Each module ``bench_<topic>.py`` defines ``run(quick: bool) -> list[Figure]``.

Timings are reported as ratios measured in one run (software vs physical time, ONNX vs
scikit-learn, ingester vs plain subscriber), because the machines are shared and noisy: an
absolute millisecond figure from one run says little, a ratio of two things measured side by
side says much more.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Figure:
    """One row of the benchmark table."""

    name: str
    value: float
    unit: str
    #: value / reference, measured in the same run; None when the figure has no reference.
    ratio: float | None = None
    #: what the ratio is against, e.g. "physical acquisition time".
    reference: str = ""
    #: a target from an issue, e.g. "≤ 0.1" (shown, not enforced here).
    target: str = ""
