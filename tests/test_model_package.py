import hashlib
import json
import zipfile

import pytest

from firmware.errors import ModelPackageError
from firmware.model_package import load_package
from firmware.signing import generate_key, public_key_b64, sign_document

ONNX = b"\x08\x07fake-onnx-bytes"
LIBRARY = b"preprocessed training library"


def manifest(key, **changes):
    m = {
        "schema": "plastinir.model/1", "name": "fpi-1550-1850-v1", "version": "1", "head": "fpi",
        "wavelengths_nm": [1550.0, 1555.0, 1560.0], "input": {"name": "spectrum", "units": "relative reflectance"},
        "classes": ["HDPE", "PLA"], "degradable": {"HDPE": False, "PLA": True}, "limits": {"t2": 10.0, "q": 0.1},
        "reference_spectra": {}, "quantities": [], "metrics": {}, "provenance": {},
        "onnx_sha256": hashlib.sha256(ONNX).hexdigest(),
        "files": {"library.npz": hashlib.sha256(LIBRARY).hexdigest()},
        "issuer_public_key": public_key_b64(key),
    }
    m.update(changes)
    return sign_document(m, key)


def write(tmp_path, m, onnx=ONNX, library=LIBRARY, name="pkg"):
    d = tmp_path / name
    d.mkdir()
    (d / "manifest.json").write_text(json.dumps(m))
    if onnx is not None:
        (d / "model.onnx").write_bytes(onnx)
    if library is not None:
        (d / "library.npz").write_bytes(library)
    return d


@pytest.fixture
def issuer():
    key = generate_key()
    return key, public_key_b64(key)


def test_valid_folder_and_zip(tmp_path, issuer):
    key, pub = issuer
    d = write(tmp_path, manifest(key))
    pkg = load_package(d, [pub])
    assert pkg.name == "fpi-1550-1850-v1" and pkg.head == "fpi" and pkg.classes == ["HDPE", "PLA"]
    assert pkg.summary() == {"name": pkg.name, "version": "1", "sha256": hashlib.sha256(ONNX).hexdigest()}
    assert pkg.files["library.npz"] == LIBRARY
    z = tmp_path / "pkg.zip"
    with zipfile.ZipFile(z, "w") as zf:  # zipped with its top-level folder, as `zip -r` does
        for p in d.iterdir():
            zf.write(p, f"pkg/{p.name}")
    assert load_package(z, [pub]).onnx_bytes == ONNX


def test_untrusted_issuer_refused(tmp_path, issuer):
    key, _ = issuer
    d = write(tmp_path, manifest(key))
    with pytest.raises(ModelPackageError, match="not in trusted_issuers"):
        load_package(d, [public_key_b64(generate_key())])
    assert load_package(d, None).name  # inspection without a trust list still checks hashes


def test_corrupt_onnx_refused(tmp_path, issuer):
    key, pub = issuer
    d = write(tmp_path, manifest(key), onnx=ONNX + b"x")
    with pytest.raises(ModelPackageError, match="model.onnx SHA-256 .* does not match"):
        load_package(d, [pub])


def test_tampered_manifest_refused(tmp_path, issuer):
    key, pub = issuer
    m = manifest(key)
    m["classes"] = ["HDPE", "PP"]
    m["degradable"] = {"HDPE": False, "PP": False}
    with pytest.raises(ModelPackageError, match="signature invalid"):
        load_package(write(tmp_path, m), [pub])


def test_resigned_by_stranger_refused(tmp_path, issuer):
    _, pub = issuer
    stranger = generate_key()
    with pytest.raises(ModelPackageError, match="not in trusted_issuers"):
        load_package(write(tmp_path, manifest(stranger)), [pub])


@pytest.mark.parametrize("changes, match", [
    ({"schema": "plastinir.model/0"}, "schema"),
    ({"classes": ["hdpe", "PLA"]}, "upper-case"),
    ({"degradable": {"HDPE": False}}, "no true/false for class"),
    ({"wavelengths_nm": [1560.0, 1550.0]}, "strictly increasing"),
    ({"limits": "none"}, "'limits' must be dict"),
])
def test_bad_manifest_fields(tmp_path, issuer, changes, match):
    key, pub = issuer
    with pytest.raises(ModelPackageError, match=match):
        load_package(write(tmp_path, manifest(key, **changes)), [pub])


def test_missing_parts(tmp_path, issuer):
    key, pub = issuer
    with pytest.raises(ModelPackageError, match="model.onnx missing"):
        load_package(write(tmp_path, manifest(key), onnx=None, name="a"), [pub])
    with pytest.raises(ModelPackageError, match="'library.npz' listed in the manifest is missing"):
        load_package(write(tmp_path, manifest(key), library=None, name="b"), [pub])
    m = manifest(key)
    del m["limits"]
    with pytest.raises(ModelPackageError, match="lacks required field"):
        load_package(write(tmp_path, m, name="c"), [pub])
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "manifest.json").write_text("{not json")
    (tmp_path / "d" / "model.onnx").write_bytes(ONNX)
    with pytest.raises(ModelPackageError, match="not valid JSON"):
        load_package(tmp_path / "d", [pub])
    with pytest.raises(ModelPackageError, match="no such model package"):
        load_package(tmp_path / "nothing", [pub])
    (tmp_path / "junk.zip").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(ModelPackageError, match="zip"):
        load_package(tmp_path / "junk.zip", [pub])
