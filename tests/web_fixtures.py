"""Fixtures for the status page tests: a real runtime (journal, state machine, measurement pipeline,
model slot, unit key) in a temporary state directory, with the test-only scripted head and
nearest-mean model of runtime_fakes.py standing in for the hardware and the ONNX session.

Model packages for the upload tests are real signed packages (manifest signed with a throwaway
issuer key, hashes right or deliberately wrong), installed by the runtime's own install path
(`firmware.runtime_models.RuntimeModels`: verification, head and grid checks, the kept copy in
`firmware.model_store`, the swap, the event); only the predictor built from an accepted package
is the nearest-mean stand-in, since these packages carry no real ONNX graph.

Import the fixtures into a test module with ``from web_fixtures import *``.
"""
from __future__ import annotations

import copy
import hashlib
import io
import json
import re
import threading
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from werkzeug.security import generate_password_hash

from conftest import unsigned_record
from firmware.config import load_config
from firmware.identity import load_identity, start_boot
from firmware.journal import Journal
from firmware.measurement import Measurement
from firmware.model_package import load_package
from firmware.model_slot import ActiveModel, ModelSlot
from firmware.model_store import ModelStore
from firmware.optics import fpi_grid
from firmware.record import sign_record
from firmware.references import WHITE
from firmware.runtime_models import RuntimeModels
from firmware.signing import generate_key, public_key_b64, sign_document
from firmware.state import DeviceState, State
from firmware.unit_head import UnitHead
from firmware.web import create_app
from firmware.web.runtime_adapter import RuntimeAdapter
from runtime_fakes import NearestMeanModel, ScriptedHead

__all__ = ["WL", "PET", "PLA", "PASSWORD", "rig", "app", "client", "make_app", "login", "csrf_of",
           "add_record", "white", "make_package", "issuer", "PackagedModel", "RigModels", "pw_hash"]

WL = fpi_grid()
# Two made-up, distinct reflectance shapes standing in for PET and PLA (test fixtures, not data).
PET = 0.55 + 0.12 * np.sin((WL - 1550) / 40.0)
PLA = 0.45 + 0.10 * np.cos((WL - 1550) / 25.0)
PASSWORD = "correct horse battery"
# Reference bands as a package carries them: source resolution, with a margin beyond the head's range.
BAND_WL = np.arange(1500.0, 1901.0, 2.5)


def _band(shape_fn) -> dict:
    return {"wavelengths_nm": BAND_WL.tolist(), "mean": shape_fn(BAND_WL).tolist(),
            "sd": np.full(BAND_WL.size, 0.02).tolist()}


REFERENCE_SPECTRA = {"PET": _band(lambda w: 0.55 + 0.12 * np.sin((w - 1550) / 40.0)),
                     "PLA": _band(lambda w: 0.45 + 0.10 * np.cos((w - 1550) / 25.0))}


class PackagedModel(NearestMeanModel):
    """The nearest-mean stand-in with the ``package`` attribute `firmware.inference.Model` has."""

    def __init__(self, manifest: dict) -> None:
        super().__init__({"PET": PET, "PLA": PLA})
        self.package = SimpleNamespace(manifest=manifest)


def _manifest(name: str = "fpi-test", version: str = "1", head: str = "fpi") -> dict:
    return {"schema": "plastinir.model/1", "name": name, "version": version, "head": head,
            "wavelengths_nm": WL.tolist(), "input": {"name": "spectrum", "units": "reflectance"},
            "classes": ["PET", "PLA"], "degradable": {"PET": False, "PLA": True},
            "limits": {"t2": 10.0, "q": 0.01}, "reference_spectra": copy.deepcopy(REFERENCE_SPECTRA), "quantities": [],
            "metrics": {}, "provenance": {"note": "test fixture"}}


@pytest.fixture(scope="session")
def issuer():
    key = generate_key()
    return key, public_key_b64(key)


def make_package(issuer_key, path: Path, *, name: str = "fpi-test", version: str = "2", head: str = "fpi",
                 tamper_onnx: bool = False) -> Path:
    """A signed package zip; ``tamper_onnx`` changes model.onnx after signing (hash mismatch)."""
    onnx = b"onnx-bytes-of-" + name.encode() + version.encode()
    manifest = _manifest(name, version, head) | {"onnx_sha256": hashlib.sha256(onnx).hexdigest(),
                                                 "issuer_public_key": public_key_b64(issuer_key)}
    manifest = sign_document(manifest, issuer_key)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        zf.writestr("model.onnx", onnx + (b"!" if tamper_onnx else b""))
    path.write_bytes(buf.getvalue())
    return path


class RigModels(RuntimeModels):
    """`DeviceRuntime`'s model part over the rig's pieces; only opening the package's ONNX graph
    is the stand-in (real package verification, nearest-mean predictor)."""

    def __init__(self, *, config, head, slot: ModelSlot, state_dir: Path, journal: Journal) -> None:
        self.config = config
        self.head = UnitHead(head.name)
        self.head.attach(head)
        self.models = slot
        self.store = ModelStore(state_dir)
        self.model_source: str | None = None
        self.model_errors: list[str] = []
        self._install_lock = threading.Lock()
        self._journal = journal

    def _open_package(self, path, config) -> ActiveModel:
        package = load_package(path, config.model.trusted_issuers)
        return ActiveModel.from_package(package, PackagedModel(package.manifest))

    def _event(self, kind, severity, code, message, detail=None) -> None:
        self._journal.add_event(kind, severity, code, message, detail or {})


@pytest.fixture(scope="session")
def pw_hash() -> str:
    # pbkdf2 with few rounds keeps the suite fast; scrypt (the default) is exercised in test_web_passwd.
    return generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


@pytest.fixture
def rig(tmp_path, issuer):
    """A runtime in ``tmp_path``: state needs_reference, model fpi-test v1 in service."""
    head = ScriptedHead()
    journal = Journal.open(tmp_path)
    identity = load_identity(tmp_path)
    state = DeviceState()
    state.transition(State.SELF_TEST)
    state.transition(State.NEEDS_REFERENCE, "white reference needed: none taken yet for the fpi head")
    manifest = _manifest("fpi-test", "1")
    slot = ModelSlot(ActiveModel(PackagedModel(manifest), "fpi-test", "1", "d" * 64, "fpi", WL))
    config = load_config(None, {"clock": {"synced": "always"}, "model": {"trusted_issuers": [issuer[1]]}})
    m = Measurement(head=head, journal=journal, identity=identity, boot=start_boot(journal), config=config,
                    state=state, models=slot, clock_synced=lambda: True, calibration_id=lambda: "cal-2026-001")
    ns = SimpleNamespace(head=head, journal=journal, identity=identity, state=state, slot=slot, measurement=m,
                         config=config, state_dir=tmp_path, issuer=issuer)
    ns.models = RigModels(config=config, head=head, slot=slot, state_dir=tmp_path, journal=journal)
    ns.adapter = RuntimeAdapter(
        measurement=m, state_dir=tmp_path, install_model=ns.models.install_model,
        self_test=lambda: m.self_test((), trigger="page"),
        calibration=lambda: {"schema": "plastinir.calibration/1", "calibration_id": "cal-2026-001",
                             "unit": identity.unit, "issued": "2026-05-27", "due": "2099-05-27",
                             "wavelength": {"max_error_nm": 0.8}},
        link_status=lambda: {"state": "connected", "broker": "mqtt://127.0.0.1:1883",
                             "since": "2026-11-27T08:00:00.000Z", "last_puback": "2026-11-27T08:31:09.000Z"},
        temperature_c=lambda: 25.0, clock_synced=lambda: True)
    yield ns
    journal.close()


def make_app(rig, pw_hash: str | None = None, **http):
    """The app for ``rig`` with ``[http]`` overrides; writes the password hash file if given."""
    config = load_config(None, {"http": http} if http else None)
    if pw_hash is not None:
        (rig.state_dir / "web_password_hash").write_text(pw_hash + "\n")
    return create_app(config, runtime=rig.adapter, state_dir=rig.state_dir, flask_config={"TESTING": True})


@pytest.fixture
def app(rig, pw_hash):
    return make_app(rig, pw_hash)


@pytest.fixture
def client(app):
    return app.test_client()


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, f"no CSRF token in {path}"
    return match.group(1)


def login(client, password: str = PASSWORD):
    token = csrf_of(client)
    return client.post("/login", data={"csrf_token": token, "password": password, "next": "/"})


def white(rig):
    rig.head.put(0.99)  # the white tile on the port
    return rig.measurement.take_reference(WHITE)


def add_record(rig, **changes) -> dict:
    """Journal a signed record (``unsigned_record`` with changes) under the next seq."""
    def make(seq: int) -> dict:
        return sign_record(unsigned_record(rig.identity.unit, seq, **changes), rig.identity.key)
    return rig.journal.append_result(make)
