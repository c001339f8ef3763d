import io

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from firmware.errors import SpectraFormatError
from firmware.spectra_csv import SpectraTable, format_wavelength, read_spectra_csv, write_spectra_csv

GOOD = """sample_id,label,degradable,colour,y_pp_wt_pct,note,1550,1555.5,1560
item-1,pla,,white,,first,0.51,0.52,0.53
item-1,PLA,,white,,second,0.50,0.52,0.54
item-2,HDPE,false,black,30,,0.05,0.06,0.07
item-3,,true,,,unlabelled,1,2,3
"""


def test_reads_the_interchange_format():
    t = read_spectra_csv(io.StringIO(GOOD))
    assert t.wavelengths_nm.tolist() == [1550.0, 1555.5, 1560.0]
    assert t.values.shape == (4, 3)
    assert list(t.labels) == ["PLA", "PLA", "HDPE", ""]
    assert list(t.sample_ids) == ["item-1", "item-1", "item-2", "item-3"]
    # degradable: explicit column wins, else the class table
    assert t.degradable.tolist() == [True, True, False, True]
    assert t.colours == ["white", "white", "black", ""]
    assert t.quantity_names == ["y_pp_wt_pct"]
    q = t.quantity("y_pp_wt_pct")
    assert np.isnan(q[0]) and q[2] == 30.0
    assert t.meta_columns[:2] == ["sample_id", "label"]


def test_roundtrip_file(tmp_path):
    t = read_spectra_csv(io.StringIO(GOOD))
    for name in ("out.csv", "out.csv.gz"):
        write_spectra_csv(tmp_path / name, t)
        back = read_spectra_csv(tmp_path / name)
        assert np.array_equal(back.values, t.values)
        assert back.meta == t.meta and back.meta_columns == t.meta_columns


@pytest.mark.parametrize("text, match", [
    ("", "empty file"),
    ("sample_id,1550\na,1\n", "required column 'label'"),
    ("sample_id,label\na,b\n", "no wavelength columns"),
    ("sample_id,label,1550,note\na,b,1,x\n", "metadata column after"),
    ("sample_id,label,1560,1550\na,b,1,2\n", "strictly increase"),
    ("sample_id,label,1550,1560\na,b,1\n", "line 2: 3 fields"),
    ("sample_id,label,1550\na,b,x\n", "line 2, column '1550': 'x' is not a number"),
    ("sample_id,label,1550\na,b,nan\n", "not a finite number"),
    ("sample_id,label,1550\n,b,1\n", "empty sample_id"),
    ("sample_id,label,degradable,1550\na,b,maybe,1\n", "'maybe' is not true or false"),
    ("sample_id,label,y_x,1550\na,b,lots,1\n", "column 'y_x'"),
    ("sample_id,label,1550\n", "header only"),
])
def test_format_errors_name_line_and_column(text, match):
    with pytest.raises(SpectraFormatError, match=match):
        read_spectra_csv(io.StringIO(text))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(SpectraFormatError, match="nope.csv: file not found"):
        read_spectra_csv(tmp_path / "nope.csv")


def test_format_wavelength():
    assert format_wavelength(1550.0) == "1550"
    assert format_wavelength(1555.5) == "1555.5"
    assert float(format_wavelength(1014.4812345)) == 1014.4812345


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=64), min_size=3, max_size=3), st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12).filter(lambda s: s.strip()))
def test_roundtrip_any_values_and_ids(vals, sid):
    t = SpectraTable(np.array([1000.0, 1100.5, 1200.25]), np.array([vals]),
                     {"sample_id": [sid.strip()], "label": ["pp"]})
    buf = io.StringIO()
    write_spectra_csv(buf, t)
    back = read_spectra_csv(io.StringIO(buf.getvalue()))
    assert back.values.tolist() == t.values.tolist()
    assert back.meta["sample_id"] == t.meta["sample_id"]
