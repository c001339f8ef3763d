import json
import stat

from firmware.cli import main
from firmware.identity import KEY_FILE, load_identity, start_boot
from firmware.journal import Journal
from firmware.signing import unit_id_for, verify_document


def test_key_created_once_private_and_reused(tmp_path):
    first = load_identity(tmp_path)
    assert first.created
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    again = load_identity(tmp_path)
    assert not again.created and again.public_key == first.public_key
    assert first.unit == unit_id_for(first.public_key)  # DESIGN.md: nir- + 12 hex of SHA-256
    assert first.unit.startswith("nir-") and len(first.unit) == 16
    verify_document(first.sign({"x": 1}), first.public_key)


def test_configured_unit_id_wins(tmp_path):
    assert load_identity(tmp_path, "nir-utrecht-07").unit == "nir-utrecht-07"


def test_new_state_dir_is_a_new_unit(tmp_path):
    assert load_identity(tmp_path / "a").unit != load_identity(tmp_path / "b").unit


def test_boot_ids_differ_and_count_up(tmp_path):
    with Journal.open(tmp_path) as j:
        b1, b2 = start_boot(j), start_boot(j)
    assert (b1.count, b2.count) == (1, 2)
    assert b1.boot_id != b2.boot_id and b2.boot_id.startswith("2-")
    assert b2.uptime_s() >= 0


def test_id_command_json(tmp_path, capsys):
    assert main(["id", "--state-dir", str(tmp_path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    identity = load_identity(tmp_path)
    assert printed == {"unit": identity.unit, "public_key": identity.public_key}
    cfg = tmp_path / "device.toml"
    cfg.write_text('unit = "nir-lab-1"\n')
    assert main(["id", "--state-dir", str(tmp_path), "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "unit: nir-lab-1" in out and f"nir-host units add nir-lab-1 --public-key {identity.public_key}" in out


def test_id_command_refuses_unsafe_key(tmp_path, capsys):
    load_identity(tmp_path)
    (tmp_path / KEY_FILE).chmod(0o644)
    assert main(["id", "--state-dir", str(tmp_path)]) == 1
    assert "readable by group or others" in capsys.readouterr().err
