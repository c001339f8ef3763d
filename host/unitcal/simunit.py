"""An in-process simulated unit for ``nir-host calibrate-unit --sim``: a real `DeviceRuntime` on the
register-level simulator in a temporary state directory, serving its real status page and
technician API on 127.0.0.1 (a free port), logged into with a throwaway password.

The workflow talks to it over HTTP exactly as to a unit on the bench; only "placing" a standard
is a call into the simulator (`SimBench`). A second, error-free simulated unit is the *master*:
it measures the same physical items first, so the unit's answers can be compared with the
master's.
"""
from __future__ import annotations

import io
import secrets
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
from werkzeug.security import generate_password_hash

from firmware.config import load_config
from firmware.config.model import read_trusted_issuers
from firmware.runtime import DeviceRuntime
from firmware.services import start_page
from firmware.sim.samples import SampleSource, SpectrumSource, parse_sample
from firmware.web.security import PASSWORD_HASH_FILE

from .transfer import ReferenceItem


class SimUnit:
    def __init__(self, state_dir: Path, *, head: str = "fpi", wavelength_error_nm: float = 0.0,
                 gain_error: float = 0.0, noise_scale: float = 1.0, stray_reflectance: float = 0.01,
                 faults: list[str] | None = None, seed: int | None = None, trusted_keys: list[str] = (),
                 serve: bool = True, required: bool = False, model: Path | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.password = secrets.token_urlsafe(16)
        hash_file = self.state_dir / PASSWORD_HASH_FILE
        hash_file.write_text(generate_password_hash(self.password, method="pbkdf2:sha256:20000") + "\n")
        hash_file.chmod(0o600)
        sections: dict[str, Any] = {
            "hardware": {"backend": "sim"}, "head": {"name": head}, "clock": {"synced": "never"},
            "sim": {"seed": seed, "wavelength_error_nm": wavelength_error_nm, "gain_error": gain_error,
                    "noise_scale": noise_scale, "stray_reflectance": stray_reflectance, "faults": list(faults or [])},
            "http": {"enabled": serve, "bind": "127.0.0.1", "port": 0},
            "model": {"trusted_issuers": sorted(set(read_trusted_issuers()) | set(trusted_keys))},
            "calibration": {"required": required}}
        if model is not None:
            sections["model"]["package"] = str(model)
        self.config = load_config(None, sections)
        self.runtime = DeviceRuntime(self.config, state_dir=self.state_dir, backend="sim",
                                     owner="nir-host calibrate-unit --sim")
        self.page = None
        try:
            self.runtime.start()
            self.page = start_page(self.runtime) if serve else None
        except BaseException:
            self.runtime.close()
            raise

    @property
    def url(self) -> str | None:
        return self.page.where if self.page is not None else None

    @property
    def board(self):
        return self.runtime.board

    def package(self):
        active = self.runtime.models.current()
        return active.model.package if active is not None else None

    def place(self, source: SampleSource | str) -> None:
        if self.runtime.board is None:  # a unit whose board failed to open: nothing to place on
            return
        self.runtime.board.sim.place(source, package=self.package())

    def close(self) -> None:
        try:
            if self.page is not None:
                self.page.stop()
        finally:
            self.runtime.close()

    def __enter__(self) -> "SimUnit":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SimBench:
    """Places standards and reference items on a simulated unit; says what a technician would do."""

    def __init__(self, unit: SimUnit, *, say: Callable[[str], None] = lambda m: print(m, file=sys.stderr,
                                                                                        flush=True)) -> None:
        self.unit = unit
        self.say = say

    def place(self, spec: str, instruction: str, item: Any = None) -> None:
        self.say(f"→ [sim] {instruction}")
        self.unit.place(item if item is not None else spec)


def reference_set(package, rng: np.random.Generator, *, per_class: int = 2,
                  blend_levels: tuple[float, ...] = (20.0, 50.0, 80.0)) -> list[ReferenceItem]:
    """Physical items for the reference set: ``per_class`` real items of every class of the package
    (drawn from its training library) and, where the package quantifies PP in HDPE/PP blends, one
    NIST blend item per level. Each is fixed (`SpectrumSource`), so master and unit see the same item."""
    items = []
    for cls in package.classes:
        src = parse_sample(cls, package)
        for k in range(per_class):
            drawn = src.draw(rng)
            items.append(ReferenceItem(f"{cls}-{k + 1}", cls, {}, SpectrumSource(
                f"{cls}-{k + 1}", drawn.wavelengths_nm, drawn.reflectance, drawn.kind)))
    blob = (package.files or {}).get("library.npz")
    if blob and package.manifest.get("head") == "fpi":
        with np.load(io.BytesIO(blob), allow_pickle=False) as lib:
            if "pp_wt_pct_values" in lib:
                wl, values, y = lib["pp_wt_pct_wavelengths_nm"], lib["pp_wt_pct_values"], lib["pp_wt_pct_y"]
                for level in blend_levels:
                    rows = np.flatnonzero(np.isclose(y, level))
                    if rows.size:
                        r = values[rows[0]]
                        r = r / 100.0 if np.nanmedian(r) > 1.5 else r
                        items.append(ReferenceItem(f"blend-pp{level:g}", None, {"y_pp_wt_pct": float(level)},
                                                   SpectrumSource(f"blend-pp{level:g}", wl, r)))
    return items


def master_answers(master: SimUnit, items: list[ReferenceItem]) -> None:
    """Measure every item on the master (after its own dark and white references); fills ``expected``."""
    rt = master.runtime
    master.place("trap")
    rt.take_reference("dark", trigger="master")
    master.place("white")
    rt.take_reference("white", trigger="master")
    for it in items:
        master.place(it.item)
        it.expected = rt.technician_scan(predict=True, trigger="master")["repeats"][0]["prediction"]


__all__ = ["SimUnit", "SimBench", "reference_set", "master_answers"]
