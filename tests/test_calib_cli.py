"""``nir-host evaluate --json`` keys and values, ``adapt`` recovering a unit, a technician-added class."""
import json
from pathlib import Path

import numpy as np
import pytest

from firmware.inference import Model
from firmware.optics import fpi_optics
from firmware.signing import generate_key, public_key_b64, save_private_key
from firmware.spectra_csv import SpectraTable, write_spectra_csv
from host.calib import datasets
from host.calib.simulated import simulate
from host.cli import main

REPO = Path(__file__).resolve().parents[1]
FPI = REPO / "models" / "fpi-1550-1850-v1"
KEYS = {"n", "accuracy", "accepted_accuracy", "macro_f1", "per_class_recall", "degradable_sensitivity",
        "degradable_specificity", "false_rejection_rate", "unknown_rejection_rate", "dark_abstention_rate", "rmsep",
        "false_degradable_rate", "black_degradable_rate"}


@pytest.fixture
def issuer(tmp_path, monkeypatch):
    key = generate_key()
    path = save_private_key(key, tmp_path / "issuer.pem")
    monkeypatch.setenv("PLASTINIR_ISSUER_KEY", str(path))
    return key


@pytest.mark.data
def test_evaluate_json_keys_and_values(tmp_path, data_dir, capsys):
    t = datasets.read_avantes_fifth(data_dir)
    pick = []
    for lab in ("PLA", "PP", "PET", "PVC"):
        pick += list(np.flatnonzero(t.labels == lab)[:6])
    pick += list(np.flatnonzero(np.array(t.colours) == "black")[:3])
    small = t.subset(np.array(pick))
    small.values *= 100.0  # percent, as the Avantes export: evaluate must scale it
    small.meta["y_pp_wt_pct"] = [""] * len(small)
    small.meta_columns.append("y_pp_wt_pct")
    csv = tmp_path / "small.csv"
    write_spectra_csv(csv, small)
    assert main(["evaluate", "--model", str(FPI), "--data", str(csv), "--json",
                 "--trusted", str(REPO / "models" / "TRUSTED_ISSUERS")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == KEYS
    # recompute from the device API on the same spectra
    model = Model.load(FPI, None)
    preds = model.predict(fpi_optics().measure(small.wavelengths_nm, small.values / 100.0))
    labels = small.labels
    known = np.isin(labels, model.classes)
    correct = [p.verdict == "identified" and p.class_ == l for p, l in zip(preds, labels)]
    assert out["n"] == len(small) == 6 * 3 + 3 + 3  # PVC: 1 item, 3 scans (PROVENANCE.md)
    assert out["accuracy"] == pytest.approx(np.mean(np.array(correct)[known]))
    pvc = labels == "PVC"  # not a model class: unknown-rejection is over these rows
    assert out["unknown_rejection_rate"] == pytest.approx(np.mean([preds[i].verdict != "identified"
                                                                    for i in np.flatnonzero(pvc)]))
    assert out["per_class_recall"]["PLA"] == pytest.approx(np.mean(np.array(correct)[labels == "PLA"]))
    assert out["dark_abstention_rate"] is not None
    black = np.array(small.colours) == "black"
    assert out["black_degradable_rate"] == pytest.approx(np.mean([preds[i].verdict == "identified" and
                                                                  preds[i].degradable for i in np.flatnonzero(black)]))
    assert out["false_degradable_rate"] == pytest.approx(1.0 - out["degradable_specificity"])
    assert out["rmsep"] == {"y_pp_wt_pct": None}  # column present but empty: no rows, null


@pytest.mark.data
def test_adapt_recovers_unit_shift_and_gain(tmp_path, data_dir, issuer, capsys):
    t = datasets.read_avantes_fifth(data_dir)
    model = Model.load(FPI, None)
    rows = []
    for c in model.classes:  # two items per class, one scan each
        ids = sorted(set(t.sample_ids[(t.labels == c) & (np.array(t.colours) != "black")]))[-2:]
        rows += [int(np.flatnonzero(t.sample_ids == i)[0]) for i in ids]
    # a unit whose filter sits 6 nm high and whose photometry reads 20 % high
    X = 1.2 * fpi_optics().measure(t.wavelengths_nm, t.values[rows], wavelength_shift_nm=6.0)
    std = SpectraTable(fpi_optics().channels_nm, X, {"sample_id": list(t.sample_ids[rows]),
                                                     "label": list(t.labels[rows])})
    write_spectra_csv(tmp_path / "std.csv", std)
    out = tmp_path / "unit-pkg"
    assert main(["adapt", "--model", str(FPI), "--standards", str(tmp_path / "std.csv"), "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["wavelength_shift_nm"] == pytest.approx(6.0, abs=0.25)
    assert summary["gain"][0] == pytest.approx(1.2, rel=0.02)
    adapted = Model.load(out, [public_key_b64(issuer)])
    assert adapted.package.manifest["adaptation"]["base_model"]["sha256"] == model.package.sha256
    assert summary["standards_accuracy_after"] >= summary["standards_accuracy_before"] - 1e-9
    # standards missing a class are refused, naming it
    write_spectra_csv(tmp_path / "few.csv", std.subset(np.arange(4)))
    assert main(["adapt", "--model", str(FPI), "--standards", str(tmp_path / "few.csv"),
                 "--out", str(tmp_path / "x")]) == 1
    assert "no standard for class" in capsys.readouterr().err


@pytest.mark.data
def test_technician_adds_a_simulated_degradable_class(tmp_path, data_dir, issuer):
    from host.calib.train import train

    rng = np.random.default_rng(5)
    wl = np.arange(1400.0, 1950.0, 2.0)
    vals, items, ids, labels = [], [], [], []
    for poly in ("PBS", "PBAT"):
        v, it = simulate(poly, wl, 8, 3, rng)
        vals.append(v)
        ids += [f"{poly}-{i}" for i in it]
        labels += [poly] * len(v)
    lib = SpectraTable(wl, np.vstack(vals), {"sample_id": ids, "label": labels})
    pkg, _ = train("fpi", data_dir, tmp_path / "pkg", issuer, progress=lambda s: None, quick=True,
                   report=False, library=lib, quantities=False)
    m = pkg.manifest
    assert {"PBS", "PBAT"} <= set(m["classes"]) and m["degradable"]["PBS"] is True
    assert m["metrics"]["identification"]["per_class_recall"]["PBS"] >= 0.8  # 8 simulated items, one may be held out as unknown
    # new simulated items (never trained on) are identified as degradable
    model = Model.load(tmp_path / "pkg", [public_key_b64(issuer)])
    fresh, _ = simulate("PBS", wl, 3, 1, np.random.default_rng(99))
    preds = model.predict(fpi_optics().measure(wl, fresh))
    assert all(p.degradable for p in preds if p.verdict == "identified")
    assert sum(p.class_ == "PBS" for p in preds) >= 2
