"""``nir-device acquire``: JSON on stdout only, faults exit non-zero naming the failure."""
import hashlib
import json

import numpy as np
import pytest

from firmware.cli import main
from firmware.signing import generate_key, public_key_b64, sign_document

from hw_support import synthetic_spectrum, write_csv


def run(capsys, *argv):
    rc = main(["acquire", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("head,n", [("fpi", 61), ("led8", 8)])
def test_json_is_the_only_thing_on_stdout(capsys, head, n):
    rc, out, err = run(capsys, "--sim", "--head", head, "--sample", "white", "--json", "--seed", "1")
    assert rc == 0, err
    doc = json.loads(out)                         # exactly one JSON document
    assert out.count("\n") == 1
    for key in ("head", "wavelengths_nm", "dark", "lit", "temperature_c", "physical_time_s"):
        assert key in doc
    assert doc["head"] == head and len(doc["lit"]) == len(doc["dark"]) == len(doc["wavelengths_nm"]) == n
    assert doc["backend"] == "sim" and doc["sample"] == "white"
    assert min(np.subtract(doc["lit"], doc["dark"])) > 0


def test_table_output_and_csv_sample(capsys, tmp_path):
    wl = np.arange(800.0, 2100.0, 2.0)
    path = write_csv(tmp_path / "lib.csv", wl, np.stack([synthetic_spectrum(wl, 1), synthetic_spectrum(wl, 2)]))
    rc, out, err = run(capsys, "--sim", "--head", "led8", "--sample", f"csv:{path}:1")
    assert rc == 0, err
    assert "sample csv:" in out and ":1 (S1, PP)" in out and "1720.0" in out


@pytest.mark.parametrize("fault,message", [
    ("drdy-stuck", r"DRDY timeout after 0\.5 s"), ("miso-low", "MISO stuck low"), ("miso-high", "MISO stuck high"),
    ("wrong-id", "chip ID 1, expected 3"), ("saturation", "ADC saturated"), ("lamp-failure", "(lamp|LED) gives no light"),
    ("dac-dead", "DAC8532 not answering")])
@pytest.mark.parametrize("head", ["fpi", "led8"])
def test_fault_exits_nonzero_and_names_it(capsys, head, fault, message):
    rc, out, err = run(capsys, "--sim", "--head", head, "--sample", "white", "--fault", fault, "--json")
    assert rc == 1 and out == ""
    assert err.startswith("nir-device acquire: error: ")
    assert __import__("re").search(message, err)


def test_saturation_is_retried_at_lower_gain(capsys, tmp_path):
    cfg = tmp_path / "device.toml"
    cfg.write_text("[head.led8]\npga = 64\n")
    rc, out, err = run(capsys, "--sim", "--head", "led8", "--sample", "white", "--config", str(cfg), "--json")
    assert rc == 0, err
    assert json.loads(out)["gain"]["pga"] < 64


def test_no_backend_and_bad_sample(capsys, monkeypatch):
    monkeypatch.delenv("PLASTINIR_BACKEND", raising=False)
    rc, out, err = run(capsys, "--json")
    assert rc == 1 and out == "" and "PLASTINIR_BACKEND" in err and "--sim" in err
    rc, out, err = run(capsys, "--sim", "--sample", "PP")
    assert rc == 1 and "unknown sample 'PP'" in err and "white, black, empty, csv:PATH:ROW" in err


def test_simulator_options_need_the_simulator(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PLASTINIR_BACKEND", "sim")
    rc, out, err = run(capsys, "--sample", "white", "--json")
    assert rc == 0, err                            # the environment chose the simulator
    monkeypatch.delenv("PLASTINIR_BACKEND")
    cfg = tmp_path / "real.toml"
    cfg.write_text('[hardware]\nbackend = "real"\n')
    rc, out, err = run(capsys, "--config", str(cfg), "--sample", "white")
    assert rc == 1 and "--sample, --fault and --seed need the simulator" in err
    monkeypatch.setitem(__import__("sys").modules, "RPi", None)
    rc, out, err = run(capsys, "--config", str(cfg), "--json")
    assert rc == 1 and out == "" and "RPi.GPIO is not installed" in err


def test_class_sample_from_a_model_package(capsys, tmp_path):
    key = generate_key()
    onnx = b"not-parsed-by-the-simulator"
    wl = np.arange(1450.0, 1951.0, 2.0)
    manifest = {
        "schema": "plastinir.model/1", "name": "fpi-1550-1850-v1", "version": "1", "head": "fpi",
        "wavelengths_nm": [1550.0, 1555.0], "input": {"name": "spectrum", "units": "relative reflectance"},
        "classes": ["PP"], "degradable": {"PP": False}, "limits": {}, "quantities": [], "metrics": {},
        "provenance": {}, "onnx_sha256": hashlib.sha256(onnx).hexdigest(), "issuer_public_key": public_key_b64(key),
        "reference_spectra": {"PP": {"wavelengths_nm": wl.tolist(), "mean": synthetic_spectrum(wl).tolist(),
                                     "sd": [0.01] * wl.size}},
    }
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "manifest.json").write_text(json.dumps(sign_document(manifest, key)))
    (pkg / "model.onnx").write_bytes(onnx)
    rc, out, err = run(capsys, "--sim", "--model", str(pkg), "--sample", "pp", "--json")
    assert rc == 0, err
    assert json.loads(out)["sample"] == "PP"
