"""The demo: a simulated unit measuring a rotating set of samples, so a newcomer sees results arrive.

After the boot sequence it puts the simulated white tile on the port and takes the white
reference, then every ``interval_s`` puts the next item on the port and measures it through the
whole pipeline (drivers, simulated chips, model package, signed record, journal, hooks): common
packaging polymers, PLA (biodegradable), a black tray (abstained: NIR cannot see it), an empty
port, a cup that slides during the measurement (rejected as unstable) and a bag claimed
compostable that is not (a nonconformity for the bureau). Samples whose class the model in
service does not know are left out.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from .errors import DeviceBusy, NotReady, PlastiNIRError
from .references import NEEDED
from .sim.samples import class_names

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoSample:
    label: str
    spec: str
    product: str
    claimed: str | None = None
    motion: float = 0.0


SAMPLES = (
    DemoSample("PET water bottle", "pet", "water bottle", "PET"),
    DemoSample("PLA cup", "pla", "compostable cup", "PLA"),
    DemoSample("HDPE canister", "hdpe", "detergent canister", "HDPE"),
    DemoSample("black tray", "black", "meat tray", "PP"),
    DemoSample("PP lid", "pp", "yoghurt lid", "PP"),
    DemoSample("nothing on the port", "empty", "(empty port)"),
    DemoSample("PS cup, moved while measuring", "ps", "coffee cup", "PS", motion=0.6),
    DemoSample("bag sold as compostable", "hdpe", "carrier bag", "PLA"),
    DemoSample("ABS toy brick", "abs", "toy brick", "ABS"),
)
BUILTIN = {"white", "black", "empty"}


def line_for(record: dict[str, Any], sample: DemoSample) -> str:
    """One line per result, for a terminal."""
    verdict = record["verdict"]
    if verdict == "identified":
        what = f"{record['class']}, {'biodegradable' if record['degradable'] else 'conventional'}"
        if sample.claimed and sample.claimed.upper() != record["class"]:
            what += f" — claimed {sample.claimed}!"
    else:
        what = record.get("reason") or ""
        what = what if len(what) < 70 else what[:67] + "…"
    return f"seq {record['seq']:>4}  {sample.label:<32} {verdict:<10} {what}"


class Demo:
    def __init__(self, runtime: Any, *, stop: threading.Event, interval_s: float = 4.0, count: int | None = None,
                 out: Callable[[str], None] = print, done: Callable[[], None] | None = None) -> None:
        self.runtime = runtime
        #: Called when ``count`` results are done (default: set ``stop``).
        self.done = done or stop.set
        self.stop = stop
        self.interval_s = interval_s
        self.count = count
        self.out = out
        self.results: list[dict[str, Any]] = []
        active = runtime.models.current()
        self.package = getattr(active.model, "package", None) if active is not None else None
        known = {c.lower() for c in class_names(self.package)}
        self.samples = [s for s in SAMPLES if s.spec in BUILTIN or s.spec in known]

    @property
    def sim(self):
        return self.runtime.board.sim

    def _white(self) -> None:
        self.sim.place("white")
        ref = self.runtime.take_reference("white", trigger="demo")
        self.out(f"white reference taken on the simulated tile ({ref['temperature_c']} °C)")

    def _recover(self) -> None:
        """After a fault (none is injected, but the demo must not stop on one): self-test."""
        try:
            self.runtime.self_test(trigger="demo")
        except PlastiNIRError as exc:
            self.out(f"self-test failed: {exc}")

    def run(self) -> None:
        """Measure until ``stop`` is set (or ``count`` results, then ``done()``: by default sets ``stop``)."""
        try:
            if self.package is None:
                self.out("no model in service: " + "; ".join(self.runtime.model_errors))
                return
            self._white()
            i = 0
            while not self.stop.is_set() and (self.count is None or len(self.results) < self.count):
                sample = self.samples[i % len(self.samples)]
                i += 1
                self.sim.place(sample.spec, motion=sample.motion, package=self.package)
                tags = {"sample_id": f"DEMO-{i:04d}", "merchant": "Demo market", "location": "Simulated shop",
                        "product": sample.product, "claimed_material": sample.claimed}
                try:
                    record = self.runtime.measure(tags, trigger="demo", operator="demo")
                except NotReady as exc:
                    self.out(f"refused: {exc}")
                    if NEEDED in str(exc):
                        self._white()
                    elif self.runtime.state.state.value == "fault":
                        self._recover()
                    continue
                except DeviceBusy as exc:
                    self.out(f"skipped: {exc}")
                else:
                    self.results.append(record)
                    self.out(line_for(record, sample))
                self.stop.wait(self.interval_s)
        except PlastiNIRError as exc:
            self.out(f"demo stopped: {exc}")
            log.exception("demo")
        finally:
            if self.count is not None:
                self.done()
