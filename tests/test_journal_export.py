import io
import json

import numpy as np
import pytest

from conftest import unsigned_record
from firmware.cli import main
from firmware.errors import JournalError
from firmware.identity import load_identity
from firmware.journal import Journal
from firmware.journal.export import export_csv, export_jsonl
from firmware.record import sign_record, verify_record
from firmware.spectra_csv import read_spectra_csv


@pytest.fixture
def filled(tmp_path):
    identity = load_identity(tmp_path)
    journal = Journal.open(tmp_path)
    wl = [1550.0 + 5 * i for i in range(61)]

    def add(**changes):
        return journal.append_result(
            lambda seq: sign_record(unsigned_record(identity.unit, seq, wavelengths_nm=wl, **changes), identity.key))

    add(spectrum=list(np.linspace(0.4, 0.6, 61)), sample={"sample_id": "S-1", "merchant": "Shop A"})
    add(spectrum=[0.5] * 61, **{"class": "PLA"}, degradable=True, sample={"merchant": "Shop B"})
    add(verdict="rejected", reason="dark: cannot identify black/dark samples by NIR", **{"class": None},
        degradable=None, spectrum=[0.03] * 61, sample={"sample_id": "S-3"})
    add(verdict="rejected", reason="saturated: x", **{"class": None}, degradable=None, spectrum=[None] * 61)
    yield identity, journal
    journal.close()


def test_csv_export_reads_back_as_spectra_csv(filled, tmp_path):
    identity, journal = filled
    buf = io.StringIO()
    summary = export_csv(journal, buf)
    assert summary.written == 3 and summary.skipped == {"saturated": 1}
    path = tmp_path / "export.csv"
    path.write_text(buf.getvalue())
    table = read_spectra_csv(path)
    assert len(table) == 3 and table.wavelengths_nm[0] == 1550.0 and table.wavelengths_nm.size == 61
    assert list(table.sample_ids) == ["S-1", f"{identity.unit}-2", "S-3"]  # no tag → its own item
    assert list(table.labels) == ["HDPE", "PLA", ""]  # label only where identified
    assert list(table.degradable) == [False, True, False]
    assert table.meta["verdict"] == ["identified", "identified", "rejected"]
    assert table.meta["merchant"][:2] == ["Shop A", "Shop B"]
    np.testing.assert_allclose(table.values[0], np.linspace(0.4, 0.6, 61), atol=1e-12)


def test_csv_export_refuses_mixed_grids(filled):
    identity, journal = filled
    journal.append_result(lambda seq: sign_record(unsigned_record(
        identity.unit, seq, wavelengths_nm=[940.0, 1050.0], spectrum=[0.1, 0.2],
        model={"name": "led8-v1", "version": "1", "sha256": "b" * 64}), identity.key))
    with pytest.raises(JournalError, match=r"2 wavelength grids .*--model NAME"):
        export_csv(journal, io.StringIO())
    buf = io.StringIO()
    assert export_csv(journal, buf, model="led8-v1").written == 1
    assert buf.getvalue().splitlines()[0].endswith(",940,1050")


def test_jsonl_export_keeps_signatures(filled):
    identity, journal = filled
    buf = io.StringIO()
    assert export_jsonl(journal, buf, verdict="rejected").written == 2
    for line in buf.getvalue().splitlines():
        verify_record(json.loads(line), identity.public_key)


def test_export_cli(filled, tmp_path, capsys):
    out = tmp_path / "sub" / "out.csv"
    assert main(["export", "--state-dir", str(tmp_path), "--out", str(out), "--since", "2026-01-01"]) == 0
    assert len(read_spectra_csv(out)) == 3
    assert "exported 3 result(s); skipped without a complete spectrum: 1 saturated" in capsys.readouterr().err
    assert main(["export", "--state-dir", str(tmp_path), "--format", "json", "--verdict", "identified"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["export", "--state-dir", str(tmp_path), "--since", "2027-01-01"]) == 1
    assert "no results match" in capsys.readouterr().err


def test_export_cli_without_journal(tmp_path, capsys):
    assert main(["export", "--state-dir", str(tmp_path / "nothing")]) == 1
    err = capsys.readouterr().err
    assert "no journal here" in err or "does not exist" in err
    with pytest.raises(SystemExit):
        main(["export", "--state-dir", str(tmp_path), "--since", "last week"])


def test_export_into_a_closed_pipe_ends_quietly(filled, tmp_path):
    """``nir-device export | head -1``: the reader goes away; no traceback, exit status 141 (SIGPIPE)."""
    import subprocess

    from device_support import NIR_DEVICE, child_env
    identity, journal = filled
    for _ in range(40):  # more than a pipe buffer (64 kB) holds: ~4 kB per record
        journal.append_result(lambda seq: sign_record(unsigned_record(identity.unit, seq), identity.key))
    proc = subprocess.Popen([NIR_DEVICE, "export", "--state-dir", str(tmp_path), "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env())
    try:
        assert proc.stdout.read(100)
    finally:
        proc.stdout.close()  # like head after its first line
        err = proc.stderr.read().decode()
        proc.stderr.close()
    assert proc.wait(timeout=60) == 141 and "Traceback" not in err, err
