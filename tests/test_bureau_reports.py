"""Reports are checked for content: counts per group, which results are nonconformities, fleet
health figures, and agreement with the lab (confusion matrix, flagged unit)."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from conftest import unsigned_record
from firmware.contracts import STATS_SCHEMA
from firmware.record import sign_record
from firmware.signing import generate_key, public_key_b64
from host.bureau.lab_import import import_lab_results
from host.bureau.migrations import open_database
from host.bureau.payloads import Inbound, Parser
from host.bureau.reports import lab_report, nonconformities_report, render, results_report, units_report
from host.bureau.store import Store
from host.bureau.units import KeyCache, add_unit
from host.cli import main

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)
MODEL = {"name": "fpi-1550-1850-v1", "version": "1", "sha256": "a" * 64}


def _at(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def sample(sample_id=None, merchant="Shop A", location="Utrecht", claimed="PLA", product="bag"):
    return {"sample_id": sample_id, "merchant": merchant, "location": location, "batch": None, "product": product,
            "claimed_material": claimed}


def result(verdict="identified", label="HDPE", reason=None, **kw):
    return {"verdict": verdict, "class": label if verdict == "identified" else None,
            "reason": reason if verdict != "identified" else None, "model": MODEL, **kw}


class Bureau:
    """Ingest documents through the real parser and store, at chosen arrival times."""

    def __init__(self, db):
        self.db = db
        self.parser = Parser("plastinir", KeyCache(ttl_s=0))
        self.store = Store(db)
        self.keys = {}
        self.seq = {}

    def unit(self, name):
        key = generate_key()
        add_unit(self.db, name, public_key_b64(key))
        self.keys[name], self.seq[name] = key, 0

    def send(self, unit, leaf, payload, at=NOW):
        inbound = Inbound(f"plastinir/{unit}/{leaf}", payload if isinstance(payload, bytes) else payload.encode(),
                          _at(at))
        return self.store.write([self.parser.parse(self.db, inbound)])

    def result(self, unit, *, time=NOW, at=NOW, seq=None, clock_synced=True, **changes):
        self.seq[unit] = seq or self.seq[unit] + 1
        record = sign_record(unsigned_record(unit, self.seq[unit], time=_at(time), clock_synced=clock_synced,
                                             **changes), self.keys[unit])
        return self.send(unit, "result", json.dumps(record), at)


@pytest.fixture
def bureau(db_url):
    with open_database(db_url) as db:
        b = Bureau(db)
        b.unit("unit-a")
        b.unit("unit-b")
        yield b


D27, D28 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc), datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)


def _market_day(b: Bureau):
    b.result("unit-a", time=D27, sample=sample("S-1"), **result(label="HDPE"))                  # nonconformity
    b.result("unit-a", time=D27, sample=sample("S-2"), **result(label="PLA"))                   # conform
    b.result("unit-a", time=D27, sample=sample("S-3", claimed="pbat"),
             **result("unknown", reason="outside every class"))                                   # nonconformity
    b.result("unit-a", time=D28, sample=sample("S-4", "Shop B", "Delft", claimed="PP"), **result(label="HDPE"))
    b.result("unit-a", time=D28, sample=sample("S-5", "Shop B", "Delft"), **result("rejected", reason="dark: black"))
    # the unit's clock is wrong (not synced): the bureau's arrival day counts
    b.result("unit-a", time=datetime(2020, 1, 1, tzinfo=timezone.utc), clock_synced=False, at=D28,
             sample=sample("S-6", "Shop B", "Delft", claimed=None), **result(label="PP"))
    b.result("unit-b", time=D27, sample=sample("S-7"), **result("ambiguous", reason="PLA or PBAT"))
    b.result("unit-b", time=D27, sample=sample("S-8", merchant="<script>alert(1)</script>", claimed="PHA"),
             **result(label="PET"))                                                               # nonconformity


def test_results_by_merchant_location_day(bureau):
    _market_day(bureau)
    report = results_report(bureau.db)
    rows = {(r["day"], r["merchant"], r["location"]): r for r in report.table("Results by").records()}
    assert set(rows) == {("2026-11-27", "Shop A", "Utrecht"), ("2026-11-27", "<script>alert(1)</script>", "Utrecht"),
                         ("2026-11-28", "Shop B", "Delft")}
    shop_a = rows[("2026-11-27", "Shop A", "Utrecht")]
    assert (shop_a["results"], shop_a["identified"], shop_a["unknown"], shop_a["ambiguous"], shop_a["rejected"],
            shop_a["degradable"], shop_a["conventional"], shop_a["nonconformities"], shop_a["units"]) \
        == (4, 2, 1, 1, 0, 1, 1, 2, 2)
    shop_b = rows[("2026-11-28", "Shop B", "Delft")]
    assert (shop_b["results"], shop_b["identified"], shop_b["rejected"], shop_b["conventional"],
            shop_b["nonconformities"]) == (3, 2, 1, 2, 0)
    assert report.table("Totals").records() == [{"results": 8, "identified": 5, "unknown": 1, "ambiguous": 1,
                                                 "rejected": 1, "degradable": 1, "conventional": 4,
                                                 "nonconformities": 3}]
    only_28 = results_report(bureau.db, since="2026-11-28").table("Results by").records()
    assert [(r["day"], r["results"]) for r in only_28] == [("2026-11-28", 3)]


def test_nonconformities_are_exactly_the_degradable_claims_found_otherwise(bureau):
    _market_day(bureau)
    rows = nonconformities_report(bureau.db).table("Nonconformities").records()
    assert [(r["unit"], r["sample_id"]) for r in rows] == [("unit-a", "S-1"), ("unit-a", "S-3"), ("unit-b", "S-8")]
    assert rows[0]["finding"] == "claims PLA (degradable), identified as HDPE (conventional)"
    assert rows[1]["finding"] == "claims PBAT (degradable), not identified as any known polymer (unknown)"
    assert rows[2]["model"] == "fpi-1550-1850-v1 1"


def test_formats_carry_the_same_content_and_html_escapes(bureau):
    _market_day(bureau)
    report = nonconformities_report(bureau.db)
    text = render(report, "csv").splitlines()
    assert text[0] == "# Nonconformities"
    parsed = list(csv.DictReader(io.StringIO("\n".join(text[1:]))))
    assert [r["sample_id"] for r in parsed] == ["S-1", "S-3", "S-8"]
    doc = json.loads(render(report, "json"))
    assert doc["report"] == "nonconformities" and [r["seq"] for r in doc["tables"][0]["rows"]] == [1, 3, 2]
    html = render(report, "html")
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<tr>") + html.count("<tr ") == 4  # header + 3 rows


def test_units_health(bureau):
    b = bureau
    for _ in range(3):
        b.result("unit-a", at=NOW - timedelta(seconds=30))
    for seq in (1, 2, 3, 5):                        # seq 4 never arrived: one gap
        b.result("unit-b", seq=seq, at=NOW - timedelta(hours=2))
    b.send("unit-a", "status", "online", at=NOW - timedelta(seconds=30))
    b.send("unit-b", "status", "offline", at=NOW - timedelta(hours=2))
    stats = {"schema": STATS_SCHEMA, "unit": "unit-a", "time": _at(NOW), "outbox_depth": 3, "reference_age_s": 800.0,
             "oldest_unacked_age_s": 4.0, "model": MODEL, "calibration_id": "CAL-1", "calibration_due": "2027-05-27"}
    b.send("unit-a", "stats", json.dumps(stats), at=NOW - timedelta(seconds=100))
    b.send("unit-b", "result", b"{broken", at=NOW - timedelta(hours=2))
    rows = {r["unit"]: r for r in units_report(b.db, now=NOW).table("Units").records()}
    a, bb = rows["unit-a"], rows["unit-b"]
    assert (a["state"], a["online"], a["outbox_depth"], a["model"], a["calibration_id"]) == \
        ("online", True, 3, "fpi-1550-1850-v1 1", "CAL-1")
    assert a["reference_age_s"] == pytest.approx(900.0)  # 800 s when reported, 100 s ago
    assert a["last_seen_age_s"] == pytest.approx(30.0)
    assert (a["results"], a["highest_seq"], a["open_gaps"], a["attention"]) == (3, 3, 0, "")
    assert (bb["state"], bb["online"], bb["results"], bb["highest_seq"], bb["open_gaps"], bb["missing_seqs"],
            bb["quarantined"]) == ("offline", False, 4, 5, 1, 1, 1)
    assert bb["attention"] == "offline; 1 results missing; 1 quarantined"
    # a unit that says online but has been silent too long
    silent = units_report(b.db, now=NOW + timedelta(hours=1)).table("Units").records()
    assert silent[0]["state"] == "silent" and silent[0]["online"] is False


LAB_CSV = """sample_id,lab label,lab method,date
S-1,PLA,FTIR,2026-11-29
S-2,hdpe,FTIR,2026-11-29
S-3,PLA,FTIR,2026-11-29
S-3,PLA,DSC,2026-11-30
S-4,PLA,FTIR,2026-11-29
S-4,PBAT,DSC,2026-11-30
"""


def test_lab_agreement_confusion_matrix_and_flag(bureau, tmp_path):
    b = bureau
    lab_file = tmp_path / "lab.csv"
    lab_file.write_text(LAB_CSV)
    assert import_lab_results(b.db, lab_file) == {"added": 6, "updated": 0, "unchanged": 0}
    b.result("unit-a", sample=sample("S-1"), **result(label="PLA"))
    b.result("unit-a", sample=sample("S-2"), **result(label="HDPE"))
    b.result("unit-a", sample=sample("S-3"), **result(label="PLA"))
    b.result("unit-b", sample=sample("S-1"), **result(label="HDPE"))
    b.result("unit-b", sample=sample("S-2"), **result("unknown", reason="outside every class"))
    b.result("unit-b", sample=sample("S-2"), **result("rejected", reason="dark: black"))
    b.result("unit-b", sample=sample("S-3"), **result(label="PLA"))
    b.result("unit-b", sample=sample("S-4"), **result(label="PLA"))  # the lab disagrees with itself
    b.result("unit-b", sample=sample("S-99"), **result(label="PLA"))  # no lab result
    report = lab_report(b.db, min_agreement=0.9)
    by_unit = {r["unit"]: r for r in report.table("Agreement by unit").records()}
    assert (by_unit["unit-a"]["compared"], by_unit["unit-a"]["agree"], by_unit["unit-a"]["flag"]) == (3, 3, "")
    assert (by_unit["unit-b"]["compared"], by_unit["unit-b"]["agree"], by_unit["unit-b"]["rejected"]) == (3, 1, 1)
    assert by_unit["unit-b"]["flag"] == "disagrees with the lab (1/3)"
    # Wilson 95 % score interval for 1/3, worked by hand from Wilson (1927), JASA 22:209, eq. for z = 1.96:
    # centre (p + z²/2n)/(1 + z²/n) = 0.4269, half-width 0.3654 → 0.0615–0.7923
    assert by_unit["unit-b"]["ci95_low"] == pytest.approx(0.0615, abs=1e-4)
    assert by_unit["unit-b"]["ci95_high"] == pytest.approx(0.7923, abs=1e-4)
    by_model = report.table("Agreement by model").records()
    assert [(r["model"], r["version"], r["compared"], r["agree"]) for r in by_model] == [("fpi-1550-1850-v1", "1", 6, 4)]
    matrix = report.table("Confusion matrix: all units")
    assert matrix.columns == ["lab \\ unit", "HDPE", "PLA", "(unknown)", "total"]
    assert matrix.rows == [["HDPE", 1, 0, 1, 2], ["PLA", 1, 3, 0, 4]]
    assert report.table("Confusion matrix: unit unit-b").rows == [["HDPE", 0, 0, 1, 1], ["PLA", 1, 1, 0, 2]]
    assert [(r["unit"], r["sample_id"], r["lab_label"], r["unit_label"])
            for r in report.table("Disagreements").records()] == [("unit-b", "S-1", "PLA", "HDPE"),
                                                                  ("unit-b", "S-2", "HDPE", "(unknown)")]
    assert [r["sample_id"] for r in report.table("Samples the lab labelled").records()] == ["S-4"]
    html = render(report, "html")
    assert html.count('class="flag"') == 2  # unit-b and the model (4/6 < 0.9)


def test_cli_reports_and_lab_import(db_url, tmp_path, capsys):
    lab_file = tmp_path / "lab.csv"
    lab_file.write_text(LAB_CSV)
    assert main(["lab", "import", str(lab_file), "--db", db_url]) == 0
    assert "6 added" in capsys.readouterr().out
    assert main(["lab", "import", str(lab_file), "--db", db_url]) == 0
    assert "0 added, 0 updated, 6 unchanged" in capsys.readouterr().out
    for name in ("results", "nonconformities", "units", "lab"):
        for fmt in ("csv", "json", "html"):
            out = tmp_path / f"{name}.{fmt}"
            assert main(["report", name, "--db", db_url, "--format", fmt, "--out", str(out)]) == 0
            assert out.stat().st_size > 0
    assert json.loads((tmp_path / "lab.json").read_text())["parameters"]["lab_samples"] == 4
    with pytest.raises(SystemExit):
        main(["report", "lab", "--db", db_url, "--min-agreement", "2"])
    assert "not a fraction" in capsys.readouterr().err
