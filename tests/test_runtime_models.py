"""Model packages in the running unit (issue 4): verified completely before use, a bad one refused
with its cause while the previous one stays in service, an accepted one kept across restarts;
config reload."""
import json

import pytest

from firmware.errors import ConfigError, ModelPackageError, NotReady
from firmware.model_store import POINTER, ModelStore
from firmware.signing import generate_key, public_key_b64

from device_support import (FPI_PACKAGE, LED8_PACKAGE, copy_package, make_runtime, place, resign,
                            white_reference)


@pytest.fixture
def issuer():
    key = generate_key()
    return key, public_key_b64(key)


@pytest.fixture
def unit(tmp_path, issuer):
    """A unit that trusts the shipped issuer and a throwaway test issuer."""
    from firmware.config.model import read_trusted_issuers
    trusted = read_trusted_issuers() + [issuer[1]]
    rt = make_runtime(tmp_path / "state", {"model": {"trusted_issuers": trusted}})
    white_reference(rt)
    rt.events_heard = []
    rt.on_event(rt.events_heard.append)
    yield rt
    rt.close()


def in_service(rt):
    return rt.models.current().summary()


def refused(rt, path, match):
    before = in_service(rt)
    with pytest.raises(ModelPackageError, match=match):
        rt.install_model(path)
    assert in_service(rt) == before                      # the previous model stays in service
    assert rt.events_heard[-1]["code"] == "model-refused" and rt.events_heard[-1]["kind"] == "model"
    place(rt, "pla")
    assert rt.measure({})["model"] == before             # and still measures
    assert not list(rt.store.directory.glob(".staged-*"))  # no half-kept copy left


def test_corrupt_model_refused_previous_kept(unit, tmp_path):
    bad = copy_package(FPI_PACKAGE, tmp_path / "corrupt")
    onnx = bytearray((bad / "model.onnx").read_bytes())
    onnx[len(onnx) // 2] ^= 0x01                          # one flipped bit
    (bad / "model.onnx").write_bytes(bytes(onnx))
    refused(unit, bad, r"model.onnx SHA-256 .* does not match the manifest's .* \(corrupt or altered\)")


def test_untrusted_issuer_refused_previous_kept(unit, tmp_path):
    pkg, _ = resign(FPI_PACKAGE, tmp_path / "untrusted", version="9")  # a fresh key nobody trusts
    refused(unit, pkg, r"signed by issuer .*, which is not in trusted_issuers")


def test_tampered_manifest_refused(unit, tmp_path, issuer):
    pkg, _ = resign(FPI_PACKAGE, tmp_path / "tampered", issuer[0], version="2")
    manifest = json.loads((pkg / "manifest.json").read_text())
    manifest["degradable"]["PET"] = True                  # after signing
    (pkg / "manifest.json").write_text(json.dumps(manifest))
    refused(unit, pkg, "manifest signature invalid")


def test_package_for_the_other_head_refused(unit):
    refused(unit, LED8_PACKAGE, "package led8-8band-v1 is for the led8 head, this unit has the fpi head")


def test_grid_the_head_does_not_cover_refused(unit, tmp_path, issuer):
    # an "fpi" package whose model grid is 940–1720 nm: the fpi head reads 1550–1850 nm
    pkg, _ = resign(LED8_PACKAGE, tmp_path / "wrong-grid", issuer[0], head="fpi", name="fpi-wrong-grid-v1")
    refused(unit, pkg, "wavelength grid \\(940–1720 nm\\) does not fit this unit's head \\(1550–1850 nm\\)")


def test_good_package_installed_kept_and_loaded_at_restart(unit, tmp_path, issuer):
    pkg, _ = resign(FPI_PACKAGE, tmp_path / "v2", issuer[0], version="2")
    old = in_service(unit)
    result = unit.install_model(pkg)
    assert result["replaced"] == old
    assert result["installed"]["version"] == "2" and in_service(unit)["version"] == "2"
    stored = ModelStore(unit.state_dir).current()
    assert str(stored) == result["stored_as"] and stored.name == "fpi-1550-1850-v1-v2.zip"
    assert (unit.state_dir / "models" / POINTER).read_text().strip() == stored.name
    event = unit.events_heard[-1]
    assert event["code"] == "model-installed" and event["detail"]["installed"]["version"] == "2"
    place(unit, "pla")
    assert unit.measure({})["model"]["version"] == "2"
    state_dir, config = unit.state_dir, unit.config
    unit.close()
    from firmware.runtime import DeviceRuntime
    with DeviceRuntime(config, state_dir=state_dir) as again:   # the kept copy survives a restart
        again.start()
        assert in_service(again)["version"] == "2" and again.model_source.startswith("installed")


def test_zip_package_installed(unit, tmp_path, issuer):
    import shutil
    pkg, _ = resign(FPI_PACKAGE, tmp_path / "v3", issuer[0], version="3")
    archive = shutil.make_archive(str(tmp_path / "upload"), "zip", root_dir=pkg)
    assert unit.install_model(archive)["installed"]["version"] == "3"


def test_a_corrupt_kept_package_falls_back_at_start(unit, tmp_path, issuer):
    pkg, _ = resign(FPI_PACKAGE, tmp_path / "v2", issuer[0], version="2")
    stored = unit.install_model(pkg)["stored_as"]
    state_dir, config = unit.state_dir, unit.config
    unit.close()
    with open(stored, "r+b") as fh:                      # the card corrupted the kept copy
        fh.seek(200)
        fh.write(b"\0" * 64)
    from firmware.runtime import DeviceRuntime
    with DeviceRuntime(config, state_dir=state_dir) as again:
        again.start()
        assert in_service(again)["version"] == "1" and again.model_source.startswith("shipped")
        assert "installed package refused" in again.model_errors[0]
        assert again.journal.events(kind="model")[0]["code"] == "model-refused"


def test_no_usable_model_refuses_measuring(tmp_path):
    other = public_key_b64(generate_key())
    rt = make_runtime(tmp_path / "state", {"model": {"trusted_issuers": [other]}})
    try:
        snap = rt.snapshot()
        assert snap["model"] is None and "not in trusted_issuers" in snap["model_errors"][0]
        white_reference(rt)
        with pytest.raises(NotReady, match="no model loaded: install a signed model package"):
            rt.measure({})
        assert rt.journal.last_seq() == 0
    finally:
        rt.close()


def test_reload_config_applies_live_sections_and_reports_the_rest(tmp_path):
    cfg = tmp_path / "device.toml"
    cfg.write_text('[hardware]\nbackend = "sim"\n[sim]\nseed = 11\n[clock]\nsynced = "never"\n[http]\nenabled = false\n')
    from firmware.config import load_config
    from firmware.runtime import DeviceRuntime
    with DeviceRuntime(load_config(cfg), state_dir=tmp_path / "state", config_path=cfg) as rt:
        rt.start()
        white_reference(rt)
        cfg.write_text(cfg.read_text().replace('seed = 11', 'seed = 12')
                       + '[measurement]\nn_scans = 1\n')
        place(rt, "pla")
        assert rt.measure({})["timings_ms"]["physical"] > 2500  # 3 fpi sweeps of ~0.98 s (HARDWARE.md)
        summary = rt.reload_config()
        assert summary["applied"] == ["measurement"] and summary["restart_needed"] == ["sim"]
        place(rt, "pla")
        assert rt.measure({})["timings_ms"]["physical"] < 1500  # now one sweep
        assert rt.config.sim.seed == 11  # not applied: the board was built with the old one
        cfg.write_text(cfg.read_text() + '[model]\npackage = "/nonexistent/pkg"\n')
        with pytest.raises(ModelPackageError, match="/nonexistent/pkg"):
            rt.reload_config()
        assert rt.config.model.package is None  # refused as a whole
        cfg.write_text("[hardware]\nbackend = 'sim'\nbogus = 1\n")
        with pytest.raises(ConfigError, match="unknown key 'hardware.bogus'"):
            rt.reload_config()
