"""The committed packages in models/: they verify, load, and score the real data as their manifests say."""
import json
from pathlib import Path

import numpy as np
import pytest

from firmware.inference import Model
from firmware.optics import fpi_optics
from host.calib import datasets
from host.calib.trusted import read_trusted

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
FPI = MODELS / "fpi-1550-1850-v1"
LED8 = MODELS / "led8-8band-v1"


@pytest.fixture(scope="module")
def trusted():
    return read_trusted(MODELS / "TRUSTED_ISSUERS")


@pytest.fixture(scope="module")
def fpi(trusted):
    return Model.load(FPI, trusted)


@pytest.fixture(scope="module")
def avantes(data_dir):
    t = datasets.read_avantes_fifth(data_dir)
    return t, fpi_optics().measure(t.wavelengths_nm, t.values)


def test_packages_verify_and_stay_small(trusted):
    assert len(trusted) == 1
    for pkg in (FPI, LED8):
        m = Model.load(pkg, trusted)
        assert m.package.manifest["schema"] == "plastinir.model/1"
        assert all(p.stat().st_size < 2_000_000 for p in pkg.iterdir())
        # degradable classes without real spectra are never shipped as classes
        assert not {"PBAT", "PBS", "PHA", "PCL", "PPC", "STARCH"} & set(m.classes)
        for c, ref in m.package.manifest["reference_spectra"].items():
            assert len(ref["mean"]) == len(ref["sd"]) == len(ref["wavelengths_nm"])


def test_fpi_manifest_layout(fpi):
    m = fpi.package.manifest
    assert m["input"]["name"] == "spectrum" and len(m["wavelengths_nm"]) == 61
    assert set(m["outputs"]) == {"scores", "t2", "q", "class_distance", "composition", "composition_t2",
                                 "composition_q"}
    assert m["degradable"]["PLA"] is True and m["degradable"]["PP"] is False
    lo, hi = fpi_optics().source_range_nm
    wl = m["reference_spectra"]["PLA"]["wavelengths_nm"]
    assert wl[0] <= lo and wl[-1] >= hi  # the simulator can measure a named sample from it
    (q,) = m["quantities"]
    assert q["name"] == "pp_wt_pct" and q["unit"] == "wt %" and q["valid_range"] == [0.0, 100.0]
    assert "library.npz" in m["files"]


@pytest.mark.data
def test_fpi_scores_real_data_at_least_as_well_as_its_cv(fpi, avantes):
    t, X = avantes
    preds = fpi.predict(X)
    known = np.isin(t.labels, fpi.classes) & (np.array(t.colours) != "black")
    acc = np.mean([p.verdict == "identified" and p.class_ == lab
                   for p, lab in zip(np.array(preds, dtype=object)[known], t.labels[known])])
    cv = fpi.package.manifest["metrics"]["identification"]["accuracy"]
    # the training items themselves (in-sample) must score no worse than held-out items did
    assert acc >= cv
    # nested grouped CV of the shipped chain gives 0.971 (the first shipped chain: 0.951)
    assert 0.96 <= cv <= 1.0


@pytest.mark.data
@pytest.mark.parametrize("a, b", [(0.3, -0.3), (0.3, 0.3), (3.0, -0.3), (3.0, 0.3), (1.0, 0.0), (0.7, 0.15)])
def test_verdict_invariant_to_gain_and_offset(fpi, avantes, a, b):
    _, X = avantes
    base = [(p.verdict, p.class_) for p in fpi.predict(X)]
    assert [(p.verdict, p.class_) for p in fpi.predict(a * X + b)] == base


@pytest.mark.data
@pytest.mark.parametrize("shift", [-3.0, 3.0])
def test_verdict_nearly_invariant_to_3nm_shift(fpi, avantes, shift):
    t, X = avantes
    base = [(p.verdict, p.class_) for p in fpi.predict(X)]
    moved = fpi_optics().measure(t.wavelengths_nm, t.values, wavelength_shift_nm=shift)
    changed = sum(x != y for x, y in zip(base, [(p.verdict, p.class_) for p in fpi.predict(moved)]))
    # measured on the shipped model: 4 (−3 nm) and 6 (+3 nm) of 513 spectra change, nearly all of
    # them black carbon-fibre prints and materials never trained on; allow 2 %
    assert changed <= 0.02 * len(base)


@pytest.mark.data
def test_pp_quantity_on_real_blends(fpi, data_dir):
    t = datasets.read_nist(data_dir)
    rows = np.asarray(t.meta["blend"]) == "HDPE/PP"
    out = fpi.run(fpi_optics().measure(t.wavelengths_nm, t.values[rows]))
    y = t.quantity("y_pp_wt_pct")[rows]
    rmse = np.sqrt(np.mean((out["composition"][:, 0] - y) ** 2))
    held_out = fpi.package.manifest["metrics"]["quantities"]["pp_wt_pct"]["rmsep"]
    assert rmse <= held_out + 0.5 and held_out <= 1.5


@pytest.mark.data
def test_led8_scores_real_readings(trusted, data_dir):
    m = Model.load(LED8, trusted)
    t = datasets.read_led8(data_dir)
    known = np.isin(t.labels, m.classes)
    preds = np.array(m.predict(t.values[known]), dtype=object)
    acc = np.mean([p.verdict == "identified" and p.class_ == lab for p, lab in zip(preds, t.labels[known])])
    assert acc >= m.package.manifest["metrics"]["identification"]["accuracy"]


def test_fpi_manifest_reports_the_nested_cv_and_its_robustness():
    m = json.loads((FPI / "manifest.json").read_text())
    ident = m["metrics"]["identification"]
    assert "nominal wavelength axis" in ident["validation"] and "inner grouped CV" in ident["validation"]
    sel = ident["selection"]
    assert sel["final"]["chosen"] in sel["candidates"] and len(sel["chosen_per_fold"]) == ident["n_folds"]
    assert ("then SNV" in m["preprocessing"]) == sel["final"]["chosen"].startswith("sg")
    assert f"{sel['final']['temperature']:.4g}"[:4] in m["classifier"]
    # SNV after the derivative makes R -> a·R + b exactly invisible to the model: no verdict may change
    assert ident["robustness"]["gain_offset"]["verdict_changed_rate"] == 0.0
    assert ident["robustness"]["shift"]["verdict_changed_rate"] <= 0.03
    # black items: the chain figure is the quality checks plus the model, and says so
    dark = ident["dark_abstention"]
    assert ident["dark_abstention_rate"] == dark["chain_abstention_rate"]
    assert dark["n_rows"] == ident["n_black_rows"] and "quality checks" in dark["definition"]
    # the shipped policy is one row of the trade-off table and reproduces the headline
    row = [r for r in ident["limit_tradeoff"] if r["class_quantile"] == 0.99 and r["margin"] == 1.5
           and r["global_margin"] == 1.5]
    assert len(row) == 1 and row[0]["accuracy"] == ident["accuracy"]
    assert row[0]["false_rejection_rate"] == ident["false_rejection_rate"]
    # the suspect-label figure is separate and never replaces the headline
    assert ident["without_suspect_labels"]["excluded_items"] and ident["accuracy"] != \
        ident["without_suspect_labels"]["accuracy"]


def test_fpi_manifest_states_the_library_qc_and_the_degradable_floor():
    m = json.loads((FPI / "manifest.json").read_text())
    ident = m["metrics"]["identification"]
    qc = ident["library_qc"]
    assert len(qc["excluded_per_fold"]) == ident["n_folds"] and "never to test items" in qc["rule"]
    # the grey PLA item dw902 carries a tenth of PLA's band depth: it does not shape PLA's limits
    assert qc["excluded_final"]["ps5-dw902"]["band_depth"] < 0.25
    assert all(v["band_depth"] < 0.25 for fold in qc["excluded_per_fold"] for v in fold.values())
    # ...but it is still scored: the headline keeps every item (19 PLA spectra of 9 items)
    assert ident["n_items"]["PLA"] == 9 and ident["pla_sensitivity"] == pytest.approx(16 / 19)
    # degradable classes need a calibrated score of 0.9 (a false degradable call priced at 9 unknowns)
    assert m["limits"]["class_min_score"] == {"PLA": 0.9}
    assert "class_min_score" in m["verdict_rules"]


@pytest.mark.data
@pytest.mark.parametrize("shift", [0.0, -3.0, 3.0])
def test_fpi_false_degradable_calls_within_the_manifest_bounds(fpi, avantes, shift):
    """The costliest error, on every real Avantes row (black items and materials never trained on
    are out-of-sample for the shipped model), against the release bounds its manifest states."""
    t, X = avantes
    if shift:
        X = fpi_optics().measure(t.wavelengths_nm, t.values, wavelength_shift_nm=shift)
    ident = fpi.package.manifest["metrics"]["identification"]
    bounds = ident["degradable_safety"]["release_bounds"]
    assert bounds == {"false_degradable_rate": 0.01, "black_degradable_rate": 0.05}  # host.calib.safety
    assert ident["degradable_safety"]["meets_release_bounds"] is True
    assert ident["false_degradable_rate"] <= bounds["false_degradable_rate"]
    assert ident["black_degradable_rate"] <= bounds["black_degradable_rate"]
    called = np.array([p.verdict == "identified" and p.degradable for p in fpi.predict(X)])
    not_degradable = t.labels != "PLA"
    black = (np.array(t.colours) == "black") & not_degradable
    assert called[not_degradable].mean() <= bounds["false_degradable_rate"]
    assert called[black].mean() <= bounds["black_degradable_rate"]
    # measured on the shipped model: 0 of 494 and 0 of 15 at -3, 0 and +3 nm (the model shipped
    # before the library QC: 4-7 of 494 and 4-6 of 15); and every PLA item but dw902 is still PLA
    assert called[t.labels == "PLA"].sum() == 16


def test_manifest_metrics_are_json_numbers():
    m = json.loads((FPI / "manifest.json").read_text())["metrics"]
    ident = m["identification"]
    for k in ("accuracy", "macro_f1", "false_rejection_rate", "unknown_rejection_rate", "dark_abstention_rate",
              "pla_sensitivity", "pla_specificity", "false_degradable_rate", "black_degradable_rate"):
        assert isinstance(ident[k], float), k


def test_led8_manifest_says_screening_and_states_its_calibration_and_floor():
    m = json.loads((LED8 / "manifest.json").read_text())
    ident = m["metrics"]["identification"]
    assert m["screening"] is True and "screening head" in m["verdict_rules"]
    assert json.loads((FPI / "manifest.json").read_text())["screening"] is False
    # scores temperature-calibrated on held-out items, as fpi's, and the temperature is in the graph
    sel = ident["selection"]
    assert len(sel["temperature_per_fold"]) == ident["n_folds"] and "held-out" in m["classifier"]
    assert f"{sel['final']['temperature']:.4g}"[:4] in m["classifier"]
    # the degradable floor comes from the rule on held-out items of the training rows (1 in 100,
    # the release bound), never a fixed figure: each fold met it on its inner folds
    floor = ident["degradable_floor"]
    assert m["limits"]["class_min_score"] == {"PLA": floor["final"]["floor"]}
    assert floor["final"]["max_false_rate"] == ident["degradable_safety"]["release_bounds"]["false_degradable_rate"]
    assert all(f["false_rate_with_floor"] <= f["max_false_rate"] for f in floor["per_fold"] + [floor["final"]])
    # the shipped rate is one row of the replayed trade-off and reproduces the headline
    (row,) = [r for r in floor["tradeoff"] if r["max_false_rate_inner"] == floor["final"]["max_false_rate"]]
    assert row["accuracy"] == ident["accuracy"] and row["false_degradable_rate"] == ident["false_degradable_rate"]
    assert row["pla_sensitivity"] == ident["pla_sensitivity"]
    # the library QC's premise does not hold for eight LED bands: measured, stated, not applied
    qc = ident["library_qc"]
    assert qc["applied"] is False and qc["premise"]["auc"] < 0.8 and "excluded_per_fold" not in qc
    # where the degradable calls come from, per reading set, adds up to the headline
    # (419 PLA readings: plastic-scanner/PROVENANCE.md)
    by_source = ident["degradable_safety"]["by_source"]
    assert sum(v["degradable_rows"] for v in by_source.values()) == 419
    assert sum(v["degradable_called"] for v in by_source.values()) == round(ident["pla_sensitivity"] * 419)
    assert sum(v["not_degradable_rows"] for v in by_source.values()) == ident["n_spectra"] - 419


@pytest.mark.data
def test_led8_false_degradable_calls_within_the_manifest_bounds(trusted, data_dir):
    """The costliest error on every real 8-LED reading (black items and never-trained materials
    are out-of-sample for the shipped model), against the release bounds its manifest states."""
    led8 = Model.load(LED8, trusted)
    t = datasets.read_led8(data_dir)
    ident = led8.package.manifest["metrics"]["identification"]
    bounds = ident["degradable_safety"]["release_bounds"]
    assert bounds == {"false_degradable_rate": 0.01, "black_degradable_rate": 0.05}  # host.calib.safety
    assert ident["degradable_safety"]["meets_release_bounds"] is True
    assert ident["degradable_safety"]["false_degradable_rate_upper95"] <= bounds["false_degradable_rate"]
    called = np.array([p.verdict == "identified" and p.degradable for p in led8.predict(t.values)])
    not_degradable = t.labels != "PLA"
    black = (np.array(t.colours) == "black") & not_degradable
    assert called[not_degradable].mean() <= bounds["false_degradable_rate"]
    assert called[black].mean() <= bounds["black_degradable_rate"]
    # measured on the shipped model: 11 of 1744 readings that are not PLA are called PLA (the model
    # shipped before calibration and floor: 156, 8.9 %, 132 of them handheld readings of PETG, TPU,
    # ASA and ABS prints), 0 of 15 black; and it calls 11 of 419 PLA readings PLA: a screening head
    assert not_degradable.sum() == 1744 and called[not_degradable].sum() <= 11
    assert called[~not_degradable].mean() <= 0.05
