"""What the workflow's steps share: the device, the bench, the checks made so far, the standards
used and the corrections in force on the unit.

A `Check` is one line of the certificate: a figure, its limit, and pass/fail. Figures taken
before any correction are recorded *as found* (informative: ``passed`` None, the verdict in
words); the figures that decide the certificate are *as left* (judged against the limit). A
check that could not be made (the device refused, the lamp is dead) fails, and says why.
"""
from __future__ import annotations

import copy
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np

from .standards import LIMITS, Limit


@dataclass
class Check:
    id: str
    step: str
    name: str
    phase: str = "result"
    value: float | None = None
    unit: str = ""
    limit: Limit | None = None
    passed: bool | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        lim = self.limit
        value = None if self.value is None or not np.isfinite(self.value) else round(float(self.value), 6)
        return {"id": self.id, "step": self.step, "name": self.name, "phase": self.phase, "value": value,
                "unit": self.unit or (lim.unit if lim else ""), "low": lim.low if lim else None,
                "high": lim.high if lim else None, "limit": lim.text if lim else "", "passed": self.passed,
                "detail": self.detail[:2000]}


def judged(cid: str, step: str, name: str, value: float | None, limit_key: str, *, phase: str = "as left",
           detail: str = "") -> Check:
    limit = LIMITS[limit_key]
    return Check(cid, step, name, phase, value, limit.unit, limit, limit.judge(value), detail)


def as_found(cid: str, step: str, name: str, value: float | None, limit_key: str, *, detail: str = "") -> Check:
    """Informative: the figure before correction, with the verdict it would have had in words."""
    limit = LIMITS[limit_key]
    words = "within the limit" if limit.judge(value) else "outside the limit"
    return Check(f"{cid}.as_found", step, name, "as found", value, limit.unit, limit, None,
                 f"as found: {words}" + (f"; {detail}" if detail else ""))


def not_made(cid: str, step: str, name: str, why: str, limit_key: str | None = None) -> Check:
    limit = LIMITS.get(limit_key) if limit_key else None
    return Check(cid, step, name, "as left", None, limit.unit if limit else "", limit, False,
                 f"not measured: {why}")


class Bench(Protocol):
    """Whoever puts standards on the port: a technician following prompts, or the simulator."""

    def place(self, spec: str, instruction: str, item: Any = None) -> None: ...


@dataclass
class Run:
    device: Any
    bench: Bench
    head: str
    wavelengths_nm: np.ndarray
    corrections: dict[str, Any]
    package: Any = None
    log: Callable[[str], None] = field(default=lambda m: print(m, file=sys.stderr, flush=True))
    checks: list[Check] = field(default_factory=list)
    standards: dict[str, dict[str, Any]] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)

    def add(self, check: Check) -> Check:
        self.checks.append(check)
        verdict = {True: "PASS", False: "FAIL", None: "info"}[check.passed]
        value = "—" if check.value is None else f"{check.value:.4g} {check.unit}".strip()
        limit = check.limit.text if check.limit else "—"
        self.log(f"  [{verdict}] {check.name} ({check.phase}): {value}  limit {limit}"
                 + (f"  — {check.detail}" if check.detail and check.passed is not True else ""))
        return check

    def use_standard(self, sid: str, name: str, kind: str, source: str, **values: Any) -> None:
        self.standards.setdefault(sid, {"id": sid, "name": name, "kind": kind, "source": source, "values": values})

    def place(self, spec: str, instruction: str, item: Any = None) -> None:
        self.bench.place(spec, instruction, item)

    def trial(self, corrections: dict[str, Any]) -> None:
        """Put trial corrections in force on the unit (a calibration session)."""
        self.device.session("trial", corrections)
        self.corrections = copy.deepcopy(corrections)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.passed is False]
