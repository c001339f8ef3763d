"""``nir-host lab import``: all rows or none, every problem named by file, line and column."""
from __future__ import annotations

import pytest

from host.bureau.errors import LabImportError
from host.bureau.lab_import import import_lab_results, read_lab_csv
from host.bureau.migrations import open_database


def test_header_aliases_bom_and_label_case(tmp_path):
    path = tmp_path / "lab.csv"
    path.write_text("\ufeffSample_ID,Label,Method,Date,notes\nS-1, pla ,FTIR,2026-11-29,ok\n", encoding="utf-8")
    rows = read_lab_csv(path)
    assert [(r.sample_id, r.lab_label, r.lab_method, r.date) for r in rows] == [("S-1", "PLA", "FTIR", "2026-11-29")]


def test_every_problem_is_named_and_nothing_is_imported(db_url, tmp_path):
    path = tmp_path / "lab.csv"
    path.write_text("sample_id,lab_label,lab_method,date\n"
                    "S-1,PLA,FTIR,2026-11-29\n"
                    ",PLA,FTIR,2026-11-29\n"
                    "S-3,PLA,FTIR,29/11/2026\n"
                    "S-4,PLA,FTIR\n"
                    "S-1,HDPE,FTIR,2026-11-29\n")
    with pytest.raises(LabImportError) as err:
        read_lab_csv(path)
    text = str(err.value)
    assert f"{path}: 4 problem(s), nothing imported" in text
    assert f"{path}:3: column sample_id: empty" in text
    assert f"{path}:4: column date: value '29/11/2026': not a date (YYYY-MM-DD)" in text
    assert f"{path}:5: 3 cells for 4 columns" in text
    assert f"{path}:6: sample S-1 (FTIR, 2026-11-29) is labelled HDPE here and PLA on line 2" in text
    with open_database(db_url) as db:
        with pytest.raises(LabImportError):
            import_lab_results(db, path)
        assert db.query("SELECT COUNT(*) FROM lab_results") == [(0,)]


def test_missing_columns_and_missing_file(tmp_path):
    path = tmp_path / "lab.csv"
    path.write_text("sample_id,label\nS-1,PLA\n")
    with pytest.raises(LabImportError, match=r"lab.csv:1: missing column\(s\) lab_method, date"):
        read_lab_csv(path)
    with pytest.raises(LabImportError, match="file not found"):
        read_lab_csv(tmp_path / "nope.csv")


def test_reimport_updates_a_corrected_label(db_url, tmp_path):
    path = tmp_path / "lab.csv"
    path.write_text("sample_id,lab_label,lab_method,date\nS-1,PLA,FTIR,2026-11-29\nS-2,PP,FTIR,2026-11-29\n")
    with open_database(db_url) as db:
        assert import_lab_results(db, path) == {"added": 2, "updated": 0, "unchanged": 0}
        path.write_text("sample_id,lab_label,lab_method,date\nS-1,PBAT,FTIR,2026-11-29\nS-2,PP,FTIR,2026-11-29\n")
        assert import_lab_results(db, path) == {"added": 0, "updated": 1, "unchanged": 1}
        assert db.query("SELECT lab_label FROM lab_results WHERE sample_id = 'S-1'") == [("PBAT",)]
