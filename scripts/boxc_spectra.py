"""Study script (not part of the toolchain; tests/test_boxc_script.py): the Avantes "reference box C" runs as a spectra CSV.

    python scripts/boxc_spectra.py --out /tmp/boxc.csv [--data DIR] [--dark pattern|none]

The box C runs (``raw/20230222_avantes_spectrometer_second_dataset``, ``raw/20230302_…third_dataset``)
hold raw counts without a dark reading, so sample/tile = R(1−d) + d with d = dark/tile. The dark is
estimated from the 2023-04-19 raw files of the same spectrometer (1204091U1), which record one:
its pixel-to-pixel fixed pattern shows up, scaled by the run's dark level k, in every raw spectrum
of a run; k is the median over the run's spectra of the least-squares fit of the high-pass part of
the spectrum on the high-pass part of that dark. On the 2023-04-19 files, against their own
recorded dark, the same fit gives k = 0.98. Findings and figures: docs/BOXC_PVC.md.

Writes one row per repeat (5 per item and run) in the interchange format, on the 2023-04-19 grid,
``sample_id`` ``boxc-<item>`` (the same physical item in both runs), ``label``, ``run``. Write it
outside the repo: it is derived from data without a stated licence.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
from scipy.signal import savgol_filter

from firmware.spectra_csv import SpectraTable, write_spectra_csv
from host.calib.datasets import resolve_data_dir

RAW = Path("plastic-scanner/raw")
FIFTH = "20230419_avantes_spectrometer_fifth_dataset"
#: run folder → (run tag, fibre code → the tile file the samples of that fibre were measured against)
RUNS = {"20230222_avantes_spectrometer_second_dataset": ("2023-02-22", {"FDP1": "RefSpectrum_PET_FDP1.csv",
                                                                          "FDP": "RefSpectrum_230224_FDP.csv"}),
        "20230302_avantes_spectrometer_third_dataset": ("2023-03-02", {"FDP": "RefSpectrum_PlSc_FDP.csv"})}
SAMPLE = re.compile(r"([A-F]\d\dC)_([A-Z]+)_(FDP1?)\.csv")


def fifth_dark(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Wavelengths (nm) and mean dark counts (shape ``(n_px,)``) of the 2023-04-19 raw files."""
    darks = []
    for f in sorted(folder.glob("*.txt")):
        rows = []
        for line in f.read_text(encoding="latin-1").splitlines():
            parts = line.split(";")
            if len(parts) == 5 and re.match(r"\s*\d", parts[0]):
                rows.append([float(p.replace(",", ".")) for p in parts])
        darks.append(np.asarray(rows)[:, [0, 2]])
    d = np.mean(darks, axis=0)
    return d[:, 0], d[:, 1]


def read_counts(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Wavelengths (nm) and counts ``(n_px, 5 repeats)`` of one box C file (6 header lines)."""
    a = np.loadtxt(path, delimiter=",", skiprows=6)
    return a[:, 0], a[:, 1:]


def high_pass(x: np.ndarray) -> np.ndarray:
    """What a 9-pixel quadratic smooth leaves: the detector's fixed pattern, not the optics."""
    return x - savgol_filter(x, 9, 2, axis=0)


def dark_level(counts: list[np.ndarray], dark: np.ndarray) -> float:
    """Median least-squares scale of the dark's fixed pattern in each raw spectrum (columns)."""
    hd = high_pass(dark)
    return float(np.median([hd @ high_pass(c) / (hd @ hd) for c in np.hstack(counts).T]))


def box_c_table(data_dir: Path, correct_dark: bool = True) -> SpectraTable:
    wl5, dark5 = fifth_dark(data_dir / RAW / FIFTH)
    rows, meta = [], {"sample_id": [], "label": [], "run": []}
    for folder, (run, tiles) in RUNS.items():
        files = {}
        for f in sorted((data_dir / RAW / folder).glob("*.csv")):
            wl, files[f.name] = read_counts(f)
            if wl.shape != wl5.shape or np.abs(wl - wl5).max() > 0.01:
                raise ValueError(f"{f}: not the pixel grid of the 2023-04-19 files (same spectrometer expected)")
        dark = dark_level(list(files.values()), dark5) * dark5 if correct_dark else np.zeros_like(dark5)
        for name, counts in files.items():
            m = SAMPLE.fullmatch(name)
            if not m:
                continue  # tile and reference files
            item, label, fibre = m.groups()
            tile = files[tiles[fibre]].mean(axis=1)
            for c in counts.T:
                rows.append((c - dark) / (tile - dark))
                meta["sample_id"].append(f"boxc-{item.lower()}")
                meta["label"].append(label)
                meta["run"].append(run)
    return SpectraTable(wl5, np.asarray(rows), meta, source="box C")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path, help="CSV to write (outside the repo)")
    p.add_argument("--data", default=None, help="data folder (default: $PLASTINIR_DATA or ../shared/data)")
    p.add_argument("--dark", choices=["pattern", "none"], default="pattern",
                   help="pattern: subtract the estimated dark; none: plain sample/tile")
    args = p.parse_args()
    write_spectra_csv(args.out, box_c_table(resolve_data_dir(args.data), args.dark == "pattern"))


if __name__ == "__main__":
    main()
