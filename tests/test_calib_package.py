"""Writing, signing and loading packages; the device refuses tampered or broken ones."""
import json

import numpy as np
import pytest

from calib_helpers import manifest_for, onnx_bytes, synthetic_chain
from firmware.errors import KeyFileError, ModelPackageError
from firmware.inference import Model, to_model_grid
from firmware.signing import generate_key, public_key_b64
from host.package_writer import issuer_key, write_package


@pytest.fixture(scope="module")
def built():
    chain, X, y = synthetic_chain()
    return chain, X, y, onnx_bytes(chain)


def test_round_trip_and_predictions_match_sklearn(tmp_path, built):
    chain, X, y, b = built
    key = generate_key()
    pkg = write_package(tmp_path / "pkg", manifest_for(chain, X, y), b, key, {"library.npz": b"lib"})
    assert pkg.files == {"library.npz": b"lib"}
    model = Model.load(tmp_path / "pkg", [public_key_b64(key)])
    assert model.head == "fpi" and model.classes == [str(c) for c in chain.classes_]
    preds = model.predict(X)
    assert [p.class_ for p in preds] == list(chain.identifier.predict(X))
    assert all(p.verdict == "identified" for p in preds)
    assert preds[0].composition["thickness"]["unit"] == "mm"
    with pytest.raises(ValueError, match="needs 61"):
        model.predict(X[:, :10])


def test_tampered_package_refused(tmp_path, built):
    chain, X, y, b = built
    key = generate_key()
    d = tmp_path / "pkg"
    write_package(d, manifest_for(chain, X, y), b, key)
    m = json.loads((d / "manifest.json").read_text())
    m["degradable"]["PBAT"] = False
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ModelPackageError, match="signature invalid"):
        Model.load(d, [public_key_b64(key)])
    with pytest.raises(ModelPackageError, match="not in trusted_issuers"):
        Model.load(write_package(tmp_path / "p2", manifest_for(chain, X, y), b, key).source,
                   [public_key_b64(generate_key())])


def test_broken_or_mismatched_onnx_refused_with_cause(tmp_path, built):
    chain, X, y, b = built
    key = generate_key()
    pub = [public_key_b64(key)]
    write_package(tmp_path / "junk", manifest_for(chain, X, y), b"not an onnx graph", key)
    with pytest.raises(ModelPackageError, match="cannot be loaded by onnxruntime"):
        Model.load(tmp_path / "junk", pub)
    m = manifest_for(chain, X, y)
    m["wavelengths_nm"] = m["wavelengths_nm"][:-1]
    write_package(tmp_path / "short", m, b, key)
    with pytest.raises(ModelPackageError, match="does not match the manifest's 60 wavelengths"):
        Model.load(tmp_path / "short", pub)
    m = manifest_for(chain, X, y)
    m["classes"] = m["classes"][:-1]
    write_package(tmp_path / "fewer", m, b, key)
    with pytest.raises(ModelPackageError, match="scores have 4 columns for 3 manifest classes"):
        Model.load(tmp_path / "fewer", pub)


def test_issuer_key_comes_from_env_or_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.delenv("PLASTINIR_ISSUER_KEY", raising=False)
    with pytest.raises(KeyFileError, match="PLASTINIR_ISSUER_KEY"):
        issuer_key(None)


def test_to_model_grid_interpolates_and_refuses_short_grids(tmp_path, built):
    chain, X, y, b = built
    key = generate_key()
    write_package(tmp_path / "pkg", manifest_for(chain, X, y), b, key)
    model = Model.load(tmp_path / "pkg", None)
    wl = np.linspace(1540, 1860, 97)
    lin = 0.5 + 1e-3 * (wl - 1700)
    assert np.allclose(to_model_grid(wl, lin, model), 0.5 + 1e-3 * (model.wavelengths_nm - 1700))
    with pytest.raises(ValueError, match="covers"):
        to_model_grid(np.linspace(1600, 1860, 50), np.ones(50), model)
