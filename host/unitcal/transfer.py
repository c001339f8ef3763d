"""Step 4: transfer of the master model to the unit, and the reference set the unit is judged on.

The reference set is a list of physical items (transfer standards of known class, and blend
standards of known composition) whose answers on the *master* unit are known. The unit
measures each item with the model in service (nothing is journaled: technician scans); an item
*agrees* when verdict and class equal the master's and every composition figure lies within
twice the combined uncertainty (at least 2 units) of the master's — or both give none.

It is measured three times: as found (before any correction), corrected (wavelength and
photometric corrections in force, master model), and after transfer: `host.calib.adapt` fits
the master model to the unit from the transfer standards' spectra as the corrected unit sees
them, the adapted package is signed, installed on the unit, and the set measured again.
"""
from __future__ import annotations

import io
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from firmware.spectra_csv import SpectraTable

from .device import DeviceRequestError
from .run import Check, Run, judged, not_made
from .standards import LIMITS

STEP = "transfer"


@dataclass
class ReferenceItem:
    """One physical item; ``item`` is what the simulator places (None on a real bench)."""

    id: str
    label: str | None = None
    y: dict[str, float] = field(default_factory=dict)
    item: Any = None
    expected: dict[str, Any] | None = None

    def describe(self) -> str:
        what = self.label or ", ".join(f"{k} = {v:g}" for k, v in self.y.items()) or "reference item"
        return f"{self.id} ({what})"


def agrees(unit: dict[str, Any] | None, master: dict[str, Any] | None) -> tuple[bool, str]:
    if unit is None or master is None:
        return False, "no answer"
    if unit.get("verdict") != master.get("verdict"):
        return False, f"verdict {unit.get('verdict')} vs master {master.get('verdict')}"
    if unit.get("class") != master.get("class"):
        return False, f"class {unit.get('class')} vs master {master.get('class')}"
    cu, cm = unit.get("composition") or {}, master.get("composition") or {}
    for name in sorted(set(cu) | set(cm)):
        if name not in cu or name not in cm:
            return False, f"{name}: {'unit' if name in cu else 'master'} only"
        a, b = cu[name], cm[name]
        tol = max(2.0 * math.hypot(a.get("uncertainty") or 0.0, b.get("uncertainty") or 0.0), 2.0)
        if abs(a["value"] - b["value"]) > tol:
            return False, f"{name} {a['value']:.2f} vs master {b['value']:.2f} (tolerance {tol:.2f})"
    return True, ""


def measure_items(run: Run, items: list[ReferenceItem], *, phase: str, scans: int | None = None) -> list[dict]:
    """Each item on the port, scanned with the model in service; ``[{id, label, mean, prediction}]``."""
    out = []
    run.log(f"reference set ({phase}): {len(items)} items")
    for it in items:
        run.place(f"item:{it.id}", f"Place reference item {it.describe()} on the port", it.item)
        scan = run.device.scan(scans=scans, predict=True)
        rep = scan["repeats"][0]
        out.append({"id": it.id, "label": it.label, "mean": rep["mean"], "prediction": rep["prediction"]})
    return out


def agreement(items: list[ReferenceItem], results: list[dict]) -> dict[str, Any]:
    rows = []
    for it, res in zip(items, results):
        ok, why = agrees(res["prediction"], it.expected)
        p = res["prediction"] or {}
        rows.append({"id": it.id, "label": it.label, "y": it.y, "agrees": ok, "why": why,
                     "unit": {k: p.get(k) for k in ("verdict", "class", "composition")},
                     "master": {k: (it.expected or {}).get(k) for k in ("verdict", "class", "composition")}})
    n = len(rows)
    ok = sum(r["agrees"] for r in rows)
    labelled = [r for r in rows if r["label"]]
    correct = sum(1 for r in labelled if r["unit"]["verdict"] == "identified" and r["unit"]["class"] == r["label"])
    return {"n": n, "agree": ok, "fraction": ok / n if n else None,
            "class_accuracy": correct / len(labelled) if labelled else None, "items": rows}


def standards_table(items: list[ReferenceItem], results: list[dict], wavelengths_nm) -> SpectraTable:
    """The transfer standards (items with a class) as a spectra CSV table for `host.calib.adapt`."""
    rows = [(it, r) for it, r in zip(items, results) if it.label and r["mean"] is not None]
    return SpectraTable(np.asarray(wavelengths_nm, float), np.asarray([r["mean"] for _, r in rows], float),
                        {"sample_id": [it.id for it, _ in rows], "label": [it.label for it, _ in rows]},
                        source="transfer standards measured on the unit")


def zip_package(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(Path(folder).iterdir()):
            if p.is_file():
                zf.write(p, p.name)
    return buf.getvalue()


def agreement_check(cid: str, name: str, agr: dict[str, Any], *, judge: bool) -> Check:
    detail = (f"{agr['agree']}/{agr['n']} items agree with the master"
              + (f"; class accuracy {agr['class_accuracy']:.3f}" if agr.get("class_accuracy") is not None else ""))
    bad = [f"{r['id']}: {r['why']}" for r in agr["items"] if not r["agrees"]][:6]
    if bad:
        detail += "; disagree: " + "; ".join(bad)
    if judge:
        return judged(cid, STEP, name, agr["fraction"], "transfer.agreement", detail=detail)
    limit = LIMITS["transfer.agreement"]
    return Check(cid, STEP, name, "as found" if "as_found" in cid else "result", agr["fraction"], "", limit, None,
                 detail)


def _not_made(run: Run, why: str) -> bool:
    """The transfer's agreement check, failed because it could not be measured (``why``)."""
    run.add(not_made("transfer.agreement", STEP, "Agreement with the master after transfer", why, "transfer.agreement"))
    return False


def transfer(run: Run, items: list[ReferenceItem], *, model_path: Path, key, out_dir: Path, name: str) -> bool:
    """Adapt, sign, install, measure again; records the checks. True if the unit agrees."""
    from firmware.inference import Model
    from host.calib.adapt import adapt
    from host.package_writer import write_package

    try:
        corrected = measure_items(run, items, phase="corrected, master model")
    except DeviceRequestError as exc:
        return _not_made(run, str(exc))
    agr = agreement(items, corrected)
    run.figures["reference_set_corrected"] = agr
    run.add(agreement_check("transfer.agreement_corrected", "Agreement with the master, corrected unit, master model",
                             agr, judge=False))
    table = standards_table(items, corrected, run.wavelengths_nm)
    try:
        model = Model.load(model_path, None)
        manifest, onnx_bytes, files, summary = adapt(model, table, name=name, progress=run.log)
        pkg = write_package(out_dir / name, manifest, onnx_bytes, key, files)
        installed = run.device.install_model(zip_package(out_dir / name))
    except Exception as exc:  # noqa: BLE001 - any failure here is a failed transfer, recorded with its cause
        return _not_made(run, f"{type(exc).__name__}: {exc}")
    run.figures["transfer"] = {"adaptation": summary, "package": pkg.summary(), "installed": installed.get("installed"),
                               "package_dir": str(out_dir / name)}
    run.figures["model"] = pkg.summary()
    try:
        after = measure_items(run, items, phase="after transfer")
    except DeviceRequestError as exc:
        return _not_made(run, str(exc))
    agr_after = agreement(items, after)
    note = ""
    if agr_after["fraction"] < agr["fraction"]:
        # adaptation made the unit agree less with the master than the master model itself does on the
        # corrected unit (seen with the led8 screening head): keep the master model, say so
        run.log(f"transfer: the adapted model agrees less ({agr_after['fraction']:.3f}) than the master model "
                f"({agr['fraction']:.3f}); reinstalling the master model")
        try:
            reinstalled = run.device.install_model(zip_package(Path(model_path)))
        except (DeviceRequestError, OSError) as exc:
            note = f"; the master model could not be reinstalled: {exc}"
        else:
            run.figures["transfer"]["kept_master"] = reinstalled.get("installed")
            run.figures["model"] = model.package.summary()
            note = f"; the adapted model agreed less ({agr_after['fraction']:.3f}): the master model was kept"
            agr_after = agr
    run.figures["reference_set_after"] = agr_after
    check = agreement_check("transfer.agreement", "Agreement with the master after transfer", agr_after, judge=True)
    check.detail += note
    return bool(run.add(check).passed)


def reference_set_from_csv(path: Path, model_path: Path) -> list[ReferenceItem]:
    """A real bench's reference set: the items as measured on the *master* unit (a spectra CSV,
    e.g. ``nir-device export`` on the master), one row per item. The master's answer for each is
    computed here the way the device computes it: the sample-quality checks first (empty, dark,
    with the device's default limits), then the model through onnxruntime."""
    from firmware.config.measurement import MeasurementSection
    from firmware.inference import Model, to_model_grid
    from firmware.quality import check_dark, check_empty
    from firmware.result_builder import outcome_fields, rejected_outcome
    from firmware.sim.samples import to_fraction
    from firmware.spectra_csv import read_spectra_csv

    table = read_spectra_csv(Path(path))
    model = Model.load(model_path, None)
    limits = MeasurementSection()
    values = to_fraction(table.values)
    grid = to_model_grid(table.wavelengths_nm, values, model)
    predictions = model.predict(grid.astype(np.float32))
    items = []
    for i, sample_id in enumerate(table.sample_ids):
        issue = check_empty(values[i], limits.empty_max_reflectance) or check_dark(values[i],
                                                                                    limits.dark_max_reflectance)
        outcome = rejected_outcome(issue.code, issue.detail) if issue else outcome_fields(predictions[i])
        y = {q: float(v) for q in table.quantity_names if np.isfinite(v := table.quantity(q)[i])}
        items.append(ReferenceItem(str(sample_id), table.labels[i] or None, y, None,
                                   {"verdict": outcome["verdict"], "class": outcome.get("class", outcome.get("class_")),
                                    "composition": outcome.get("composition") or {}}))
    if len({it.id for it in items}) != len(items):
        raise ValueError(f"{path}: sample_id must name each reference item once (one row per item)")
    return items
