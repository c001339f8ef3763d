"""``nir-host units add|list``: registering a unit's key is deliberate and never silent re-keying."""
from __future__ import annotations

import json

import pytest

from firmware.signing import generate_key, public_key_b64
from host.bureau.errors import UnitError
from host.bureau.migrations import open_database
from host.bureau.units import add_unit
from host.cli import main


def test_cli_add_and_list(db_url, unit_key, capsys):
    _, pub, unit = unit_key
    assert main(["units", "add", unit, "--public-key", pub, "--db", db_url]) == 0
    assert main(["units", "add", unit, "--public-key", pub, "--db", db_url]) == 0  # same key: unchanged
    assert f"{unit}: added" in capsys.readouterr().out
    assert main(["units", "list", "--json", "--db", db_url]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(u["unit"], u["public_key"], u["registered_by"]) for u in listed] == [(unit, pub, "cli")]


def test_cli_refuses_bad_keys_and_ids(db_url, capsys):
    assert main(["units", "add", "nir-1", "--public-key", "not-base64!", "--db", db_url]) == 1
    assert "public key for nir-1 is not usable" in capsys.readouterr().err
    assert main(["units", "add", "nir-1", "--public-key", "AAAA", "--db", db_url]) == 1
    assert "32 raw bytes" in capsys.readouterr().err
    assert main(["units", "add", "bad/unit", "--public-key", public_key_b64(generate_key()), "--db", db_url]) == 1
    assert "unit id 'bad/unit'" in capsys.readouterr().err


def test_rekeying_needs_replace_and_is_logged(db_url):
    with open_database(db_url) as db:
        first, second = public_key_b64(generate_key()), public_key_b64(generate_key())
        assert add_unit(db, "u1", first) == "added"
        with pytest.raises(UnitError, match="--replace"):
            add_unit(db, "u1", second)
        assert add_unit(db, "u1", second, replace=True) == "replaced"
        assert db.one("SELECT public_key FROM units WHERE unit = 'u1'") == (second,)
        codes = [r[0] for r in db.query("SELECT code FROM events WHERE unit = 'u1' ORDER BY id")]
        assert codes == ["registered-cli", "key-replaced"]
