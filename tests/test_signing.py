import os
import stat

import pytest

from firmware import signing as s
from firmware.errors import KeyFileError, SignatureError


def test_canonical_json_is_sorted_compact_utf8():
    assert s.canonical_json({"b": 1, "a": "é", "c": [1.5, None]}) == '{"a":"é","b":1,"c":[1.5,null]}'.encode()


def test_canonical_json_refuses_nan():
    with pytest.raises(SignatureError, match="NaN"):
        s.canonical_json({"x": float("nan")})
    assert s.json_safe({"x": [float("inf"), 1.0]}) == {"x": [None, 1.0]}


def test_sign_and_verify_roundtrip(unit_key):
    key, pub, _ = unit_key
    doc = s.sign_document({"seq": 1, "text": "hello"}, key)
    s.verify_document(doc, pub)
    with pytest.raises(SignatureError, match="does not verify"):
        s.verify_document({**doc, "seq": 2}, pub)
    other = s.public_key_b64(s.generate_key())
    with pytest.raises(SignatureError):
        s.verify_document(doc, other)
    with pytest.raises(SignatureError, match="no signature"):
        s.verify_document({"seq": 1}, pub)
    with pytest.raises(SignatureError, match="base64"):
        s.verify_document({**doc, "signature": "not base64!"}, pub)


def test_unit_id_is_sha256_prefix_of_raw_key():
    import base64
    import hashlib
    pub = s.public_key_b64(s.generate_key())
    assert s.unit_id_for(pub) == "nir-" + hashlib.sha256(base64.b64decode(pub)).hexdigest()[:12]
    with pytest.raises(SignatureError, match="32 raw bytes"):
        s.public_key_from_b64(base64.b64encode(b"short").decode())


def test_key_file_is_private_and_never_overwritten(tmp_path):
    path = tmp_path / "keys" / "unit.pem"
    key, created = s.load_or_create_key(path)
    assert created and stat.S_IMODE(path.stat().st_mode) == 0o600
    again, created2 = s.load_or_create_key(path)
    assert not created2 and s.public_key_b64(again) == s.public_key_b64(key)
    with pytest.raises(KeyFileError, match="already exists"):
        s.save_private_key(s.generate_key(), path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        s.load_private_key(path)


def test_garbage_key_file_names_the_file(tmp_path):
    path = tmp_path / "bad.pem"
    path.write_text("not a key")
    os.chmod(path, 0o600)
    with pytest.raises(KeyFileError, match="bad.pem"):
        s.load_private_key(path)
