"""Grouped splits never put one physical item on both sides."""
import numpy as np
import pytest

from host.calib import datasets
from host.calib.validate import check_no_leak, grouped_folds


def test_check_no_leak_catches_a_shared_item():
    groups = np.array(["a", "a", "b", "b"])
    with pytest.raises(AssertionError, match="'a'"):
        check_no_leak([(np.array([0, 2]), np.array([1, 3]))], groups)


def test_grouped_folds_on_synthetic_items():
    rng = np.random.default_rng(0)
    groups = np.repeat([f"item{i}" for i in range(40)], 3)
    y = np.repeat(rng.choice(["PP", "PET"], 40), 3)
    folds = grouped_folds(y, groups, 5, seed=1)
    check_no_leak(folds, groups)
    assert sorted(np.concatenate([te for _, te in folds]).tolist()) == list(range(len(y)))


@pytest.mark.data
def test_real_data_splits_by_item(data_dir):
    for table in (datasets.read_avantes_fifth(data_dir), datasets.read_led8(data_dir)):
        y, g = table.labels, table.sample_ids
        rows = np.isin(y, ["PP", "PET", "HDPE", "PS"])
        folds = grouped_folds(y[rows], g[rows], 5, seed=0)
        check_no_leak(folds, g[rows])


@pytest.mark.data
def test_led8_reference_box_items_are_one_group_across_boards(data_dir):
    t = datasets.read_led8(data_dir)
    # A01C (a PET item of reference box C) is measured on DB2.1 and DB2.3 boards (PROVENANCE.md)
    sources = {s for s, g in zip(t.meta["source"], t.sample_ids) if g == "box-A01C"}
    assert len(sources) >= 2
    # 3D prints were read on the DB2.2 board and the handheld: same item, one group
    prints = {s for s, g in zip(t.meta["source"], t.sample_ids) if g == "print-SC07"}
    assert prints == {"20240915_3Dprintplastic", "handheld"}


@pytest.mark.data
def test_avantes_reader_units_and_colours(data_dir):
    t = datasets.read_avantes_fifth(data_dir)
    assert t.values.shape == (513, 223)  # PROVENANCE.md: 513 spectra, 223 pixels
    assert 0.1 < np.median(t.values) < 3  # percent converted to a fraction
    # PA-CF and PC-CF prints share letters A–C, so their items must stay apart
    assert len({g for g, l in zip(t.sample_ids, t.labels) if l in ("PA-CF", "PC-CF")}) == 6
    assert sum(c == "black" for c in t.colours) == 15
