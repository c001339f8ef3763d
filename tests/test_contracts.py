import pytest

from firmware import contracts as c


def test_degradable_table_matches_design():
    assert c.DEGRADABLE == {"PLA", "PBAT", "PBS", "PHA", "PCL", "PPC", "STARCH"}
    assert c.DEGRADABLE <= set(c.LABELS)


@pytest.mark.parametrize("raw, canon", [("pla", "PLA"), (" Pet ", "PET"), ("", ""), (None, "")])
def test_labels_compare_case_insensitively(raw, canon):
    assert c.normalize_label(raw) == canon


def test_is_degradable_uses_the_class_table():
    assert c.is_degradable("pla") and c.is_degradable("Starch")
    assert not c.is_degradable("HDPE") and not c.is_degradable("")


def test_rejection_reason_starts_with_code():
    assert c.rejection_reason("dark") == "dark: cannot identify black/dark samples by NIR"
    assert c.rejection_reason("empty", "net signal 0.2%").endswith("(net signal 0.2%)")
    with pytest.raises(ValueError, match="unknown rejection code"):
        c.rejection_reason("sticky")


def test_topics():
    assert c.topic("plastinir", "nir-abc", "result") == "plastinir/nir-abc/result"
    assert c.topic("city/plastinir", "u1", "event/fault") == "city/plastinir/u1/event/fault"
    for bad in ("a+b", "a#", "a/b", ""):
        with pytest.raises(ValueError):
            c.topic("plastinir", bad, "result")
