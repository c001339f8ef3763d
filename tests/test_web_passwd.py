"""``nir-device passwd``: only a hash is written, privately, where the config says; the page accepts it."""
import io
import os
import stat

import pytest

from werkzeug.security import check_password_hash

from firmware.cli import main
from web_fixtures import *  # noqa: F401,F403
from web_fixtures import login, make_app

SECRET = "shop floor 2026!"


def run(monkeypatch, capsys, *args, stdin=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(["passwd", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_stdin_writes_a_private_scrypt_hash_to_the_state_dir(tmp_path, monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys, "--state-dir", str(tmp_path), "--stdin", stdin=SECRET + "\n")
    assert code == 0 and out == ""
    path = tmp_path / "web_password_hash"
    text = path.read_text()
    assert text.startswith("scrypt:") and check_password_hash(text.strip(), SECRET)
    assert SECRET not in text and SECRET not in err and str(path) in err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_out_and_config_file_locations(tmp_path, monkeypatch, capsys):
    out_file = tmp_path / "credstore" / "web_password_hash"
    assert run(monkeypatch, capsys, "--state-dir", str(tmp_path), "--stdin", "--out", str(out_file),
               "--method", "pbkdf2", stdin=SECRET)[0] == 0
    assert out_file.read_text().startswith("pbkdf2:sha256:600000$")
    configured = tmp_path / "etc" / "page.hash"
    cfg = tmp_path / "device.toml"
    cfg.write_text(f'[http]\npassword_hash_file = "{configured}"\n')
    assert run(monkeypatch, capsys, "--state-dir", str(tmp_path), "--config", str(cfg), "--stdin",
               stdin=SECRET)[0] == 0
    assert check_password_hash(configured.read_text().strip(), SECRET)


def test_prompt_twice_and_refusals_change_nothing(tmp_path, monkeypatch, capsys):
    answers = iter([SECRET, "something else"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    code, _, err = run(monkeypatch, capsys, "--state-dir", str(tmp_path))
    assert code == 1 and "the two passwords differ; nothing was changed" in err
    assert not (tmp_path / "web_password_hash").exists()
    code, _, err = run(monkeypatch, capsys, "--state-dir", str(tmp_path), "--stdin", stdin="short\n")
    assert code == 1 and "at least 8 characters" in err and "short" not in err.split("characters")[1]
    code, _, err = run(monkeypatch, capsys, "--state-dir", str(tmp_path), "--stdin", stdin=" padded secret \n")
    assert code == 1 and "whitespace" in err
    answers = iter([SECRET, SECRET])
    assert run(monkeypatch, capsys, "--state-dir", str(tmp_path))[0] == 0


def test_warns_when_a_secret_overrides_the_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PLASTINIR_WEB_PASSWORD_HASH", "scrypt:32768:8:1$abc$def")
    code, _, err = run(monkeypatch, capsys, "--state-dir", str(tmp_path), "--stdin", stdin=SECRET)
    assert code == 0 and "takes precedence" in err


def test_page_accepts_the_written_password(rig, monkeypatch, capsys):
    run(monkeypatch, capsys, "--state-dir", str(rig.state_dir), "--stdin", stdin=SECRET)
    client = make_app(rig).test_client()
    assert login(client, "not it at all").status_code == 401
    assert login(client, SECRET).status_code == 303


def test_as_root_the_hash_belongs_to_the_state_dirs_owner(tmp_path, monkeypatch, capsys):
    if os.geteuid() != 0:
        pytest.skip("needs root to hand the file to another user")
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, 4242, 4243)  # the service user owns its StateDirectory=
    assert run(monkeypatch, capsys, "--state-dir", str(state), "--stdin", stdin=SECRET)[0] == 0
    st = (state / "web_password_hash").stat()
    assert (st.st_uid, st.st_gid) == (4242, 4243) and stat.S_IMODE(st.st_mode) == 0o600
