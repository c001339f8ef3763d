"""Readers for the shared real spectra (``../shared/data``, see its SOURCES.md).

Each reader returns a `firmware.spectra_csv.SpectraTable` in the interchange format:
relative reflectance as a fraction (1.0 = the white reference), ``sample_id`` naming the
**physical item** (so grouped splits never put one item on both sides), an upper-case
``label``, and whatever colour and composition columns the source has.

Why the grouping rules below matter: the Plastic Scanner files re-measure the same items on
different days and boards (PROVENANCE.md, "reference box C"), and a split by scan would
report the memory of an item rather than the recognition of a material.
"""
from __future__ import annotations

import csv
import gzip
import os
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from firmware.contracts import normalize_label
from firmware.errors import SpectraFormatError
from firmware.spectra_csv import SpectraTable

AVANTES_FIFTH = "plastic-scanner/avantes_2023-04-19_reflectance_tidy.csv"
LED8_COMBINED = "plastic-scanner/led8_scans_combined.csv"
NIST_WIDE = "nist-polyolefin-ftnir/nir_spectra_wide.csv.gz"

#: Upstream spellings that mean a contract label or a known non-contract material.
_LABEL_ALIASES = {"PACF": "PA-CF", "PCCF": "PC-CF", "REFERNECE": "REFERENCE"}
_LED_COLUMNS = ("nm940", "nm1050", "nm1200", "nm1300", "nm1450", "nm1550", "nm1650", "nm1720")
LED8_NOMINAL_NM = np.array([940.0, 1050.0, 1200.0, 1300.0, 1450.0, 1550.0, 1650.0, 1720.0])


def resolve_data_dir(arg: str | os.PathLike | None = None) -> Path:
    """``--data DIR``, else ``PLASTINIR_DATA``, else ``../shared/data`` next to the repo."""
    if arg:
        path = Path(arg)
    elif os.environ.get("PLASTINIR_DATA"):
        path = Path(os.environ["PLASTINIR_DATA"])
    else:
        path = Path(__file__).resolve().parents[3] / "shared" / "data"
    if not path.is_dir():
        raise SpectraFormatError(f"{path}: data folder not found (give --data DIR or set PLASTINIR_DATA)")
    return path


def _label(text: str) -> str:
    lab = normalize_label(text)
    return _LABEL_ALIASES.get(lab, lab)


def _require(path: Path) -> Path:
    if not path.exists():
        raise SpectraFormatError(f"{path}: file not found in the data folder")
    return path


def read_avantes_fifth(data_dir: Path) -> SpectraTable:
    """The 2023-04-19 Avantes set: 513 spectra of 185 items, 1014–1901 nm, percent → fraction.

    Colours come from the paired 8-LED readings of the same items
    (``20230419_DB2.1_fourth_dataset``), which name them; black items matter because NIR
    cannot identify carbon-black-filled plastics and the model must abstain on them.
    """
    path = _require(Path(data_dir) / AVANTES_FIFTH)
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        wl_cols = [i for i, h in enumerate(header) if h.startswith("R_")]
        wl = np.array([float(header[i][2:]) for i in wl_cols])
        idx = {h: i for i, h in enumerate(header)}
        ids, labels, values = [], [], []
        for row in reader:
            ids.append(row[idx["sample_id"]].strip())
            labels.append(_label(row[idx["polymer"]]))
            values.append([float(row[i]) / 100.0 for i in wl_cols])
    colours = _led8_colours_by_item(data_dir)
    items = [_item_key(s, lab) for s, lab in zip(ids, labels)]
    meta = {
        "sample_id": [f"ps5-{k}" for k in items],
        "label": labels,
        "colour": [colours.get(k, "") for k in items],
        "source": ["avantes-2023-04-19"] * len(ids),
    }
    return SpectraTable(wl, np.asarray(values), meta, source=str(path))


def _item_key(item: str, material: str) -> str:
    """Item key shared by the Avantes and the paired 8-LED files of 2023-04-19.

    Numbered items (``042``, ``kl200``) are unique; the carbon-fibre prints are named by a
    letter per material (``A`` is both a PA-CF and a PC-CF print), so those get the material.
    """
    item = item.strip().lower()
    return item if item[0].isdigit() or len(item) > 1 else f"{item}_{material.lower().replace('-', '')}"


def _led8_colours_by_item(data_dir: Path) -> dict[str, str]:
    path = Path(data_dir) / LED8_COMBINED
    if not path.exists():
        return {}
    out: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if not row["dataset"].startswith("20230419_DB2.1_fourth"):
                continue
            m = re.match(r"^([A-Za-z0-9]+?)_([A-Za-z-]+)_ps_\d+$", row["name"].strip())
            if m and row["color"].strip():
                out[_item_key(m.group(1), m.group(2))] = row["color"].strip().lower()
    return out


# --- 8-LED readings -----------------------------------------------------------------------

def _is_reference(row: dict) -> bool:
    kind = normalize_label(row["plastic_type"])
    return kind in ("REFERENCE", "REFERNECE", "CALIBRATION") or row["measurement_type"].strip() == "calibration"


def _white_reference(rows: list[dict], where: str) -> np.ndarray:
    """Per-band white level of one measurement file: the median of its reference readings.

    Spectralon is preferred where the file has it; aluminium and paper readings are not white
    references and are never used.
    """
    refs = [r for r in rows if _is_reference(r)]
    names = {r["name"].strip().lower() for r in refs}
    for preferred in ("spectralon", "spec"):
        if preferred in names:
            refs = [r for r in refs if r["name"].strip().lower() == preferred]
            break
    else:
        refs = [r for r in refs if r["name"].strip().lower() not in ("alu", "paper")]
    if not refs:
        raise SpectraFormatError(f"{where}: no white reference readings to normalise with")
    return np.median(np.array([[float(r[c]) for c in _LED_COLUMNS] for r in refs]), axis=0)


def _led8_item(row: dict) -> str | None:
    """Physical item of an 8-LED reading, or None when the reading names no item.

    Reference-box items (``A01C``, ``b04c``, ``C03A``) keep their code across datasets and boards;
    the 2023-04-19 items share their number with the Avantes set; 3D prints (``SC07``) were
    read on the DB2.2 board and the handheld; laser-cut sheets keep their name across days.
    """
    name = row["name"].strip()
    ds = row["dataset"]
    lab = _label(row["plastic_type"])
    if re.fullmatch(r"[A-Fa-f]\d\d[A-Za-z]", name):
        return f"box-{name.upper()}"
    if ds.startswith("20230419_DB2.1_fourth"):
        m = re.match(r"^([A-Za-z0-9]+?)_([A-Za-z-]+)_ps_\d+$", name)
        if not m:
            return None
        return f"ps5-{_item_key(m.group(1), m.group(2))}"
    if ds.startswith("20240915_3Dprint"):
        return f"print-{name.upper()}" if name else None
    if "lasercut" in ds.lower() or ds.startswith("20240126"):
        # 20240126 names no sheet: all its readings of one material count as one item
        return f"lasercut-{name.lower() or lab.lower()}"
    return f"{ds}-{name.lower()}" if name else None


def read_led8(data_dir: Path) -> SpectraTable:
    """All 8-LED readings of plastics, each band divided by its file's white reference.

    The combined file mixes units (PROVENANCE.md): some files are pre-normalised to a
    reference, others are raw ADC counts. Dividing every file by its own white readings
    puts all of them on one scale, relative reflectance with 1.0 = white, which is what the
    device computes and what the model takes.
    """
    path = _require(Path(data_dir) / LED8_COMBINED)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["dataset"], r["file"])].append(r)
    ids, labels, colours, sources, values = [], [], [], [], []
    for (ds, fname), grp in groups.items():
        white = _white_reference(grp, f"{path}: {ds}/{fname}")
        board = "handheld" if "Handheld" in fname else ds
        for r in grp:
            if _is_reference(r):
                continue
            lab = _label(r["plastic_type"])
            if lab in ("", "UNKNOWN", "OTHER"):
                continue
            item = _led8_item(r)
            if item is None:
                continue
            ids.append(item)
            labels.append(lab)
            colours.append(r["color"].strip().lower())
            sources.append(board)
            values.append(np.array([float(r[c]) for c in _LED_COLUMNS]) / white)
    meta = {"sample_id": ids, "label": labels, "colour": colours, "source": sources}
    return SpectraTable(LED8_NOMINAL_NM.copy(), np.asarray(values), meta, source=str(path))


# --- NIST FT-NIR ----------------------------------------------------------------------------

def read_nist(data_dir: Path) -> SpectraTable:
    """NIST polyolefin FT-NIR spectra on an increasing wavelength axis, percent → fraction.

    Adds ``y_pp_wt_pct`` (and ``y_hdpe_wt_pct``, ``y_ldpe_wt_pct``) for the blend series;
    ``sample_id`` is the NIST sample code, so the six replicates of a pellet or filament stay
    together, and ``level`` names the composition level for hold-out-a-level validation.
    """
    path = _require(Path(data_dir) / NIST_WIDE)
    with gzip.open(path, "rt", newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        wn_cols = [i for i, h in enumerate(header) if h.startswith("wn_")]
        wn = np.array([float(header[i][3:]) for i in wn_cols])
        idx = {h: i for i, h in enumerate(header)}
        rows = list(reader)
    order = np.argsort(1e7 / wn)
    wl = (1e7 / wn)[order]
    values = np.array([[float(r[i]) for i in wn_cols] for r in rows])[:, order] / 100.0
    meta: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        sample = r[idx["sample"]]
        cls2 = r[idx["class2"]].strip()
        pct = {k: r[idx[f"wt_pct_{k}"]].strip() for k in ("HDPE", "LDPE", "PP")}
        if r[idx["class1"]].strip() == "blends":
            present = [k for k, v in pct.items() if v and float(v) > 0]
            label = present[0] if len(present) == 1 else ""
            blend = "HDPE/PP" if "PP" in cls2 else "HDPE/LDPE"
        else:
            label = {"PP-co-PE": "PP"}.get(cls2, cls2)
            blend = ""
        meta["sample_id"].append(f"nist-{sample}")
        meta["label"].append(label)
        meta["blend"].append(blend)
        meta["physical_state"].append(r[idx["physical_state"]].strip().lower())
        for k, v in pct.items():
            meta[f"y_{k.lower()}_wt_pct"].append(v)
    return SpectraTable(wl, values, dict(meta), source=str(path))
