"""History: listing, filters, pagination, detail, exports (test client, real journal)."""
import csv
import io
import json

from firmware.journal.export import CSV_META
from firmware.record import verify_record
from web_fixtures import *  # noqa: F401,F403
from web_fixtures import add_record, make_app

REJECTED = dict(verdict="rejected", reason="dark: cannot identify black/dark samples by NIR", degradable=None,
                confidence=None, scores={}, t2=None, q=None, limits=None, **{"class": None})


def fill(rig):
    """Six results over three days, two merchants, three verdicts."""
    add_record(rig, time="2026-11-25T09:00:00.000Z", sample={"sample_id": "A1", "merchant": "Shop A"})
    add_record(rig, time="2026-11-25T10:00:00.000Z", sample={"sample_id": "A2", "merchant": "Shop A"}, **REJECTED)
    add_record(rig, time="2026-11-26T09:00:00.000Z", sample={"sample_id": "B1", "merchant": "Shop B"})
    add_record(rig, time="2026-11-26T23:59:59.000Z", sample={"sample_id": "B2", "merchant": "shop b"},
               verdict="unknown", reason="outside every class", degradable=None, confidence=None, **{"class": None})
    add_record(rig, time="2026-11-27T08:00:00.000Z", sample={"sample_id": "A3", "merchant": "Shop A"})
    add_record(rig, time="2026-11-27T09:00:00.000Z", sample={"sample_id": "B3", "merchant": "Shop B"}, **REJECTED)


def seqs(body):
    return [r["seq"] for r in body["results"]]


def test_history_newest_first_with_filters(rig, client):
    fill(rig)
    assert seqs(client.get("/api/history").get_json()) == [6, 5, 4, 3, 2, 1]
    assert seqs(client.get("/api/history?verdict=rejected").get_json()) == [6, 2]
    body = client.get("/api/history?merchant=SHOP+B").get_json()  # case-insensitive
    assert seqs(body) == [6, 4, 3] and body["total"] == 3
    # A "to" date includes its whole day (23:59:59 on the 26th is in).
    assert seqs(client.get("/api/history?since=2026-11-26&until=2026-11-26").get_json()) == [4, 3]
    assert seqs(client.get("/api/history?since=2026-11-27T08:30:00Z").get_json()) == [6]
    html = client.get("/history?verdict=rejected").get_data(as_text=True)
    assert 'id="count">2 results match the filter' in html and "/history/6" in html and "/history/5" not in html
    assert "<strong>Too dark to identify</strong>" in html and "· rejected" in html and "not yet at bureau" in html


def test_history_pagination_by_cursor(rig, client):
    fill(rig)
    body = client.get("/api/history?limit=4").get_json()
    assert seqs(body) == [6, 5, 4, 3] and body["next_before"] == 3
    add_record(rig)  # a new result while paging does not shift the older page
    body = client.get(f"/api/history?limit=4&before={body['next_before']}").get_json()
    assert seqs(body) == [2, 1] and body["next_before"] is None
    app_small = make_app(rig, history_page_size=5)
    html = app_small.test_client().get("/history?merchant=Shop+A").get_data(as_text=True)
    assert "Older results" not in html  # 3 of Shop A fit one page of 5
    html = app_small.test_client().get("/history").get_data(as_text=True)
    assert 'href="/history?before=3"' in html


def test_history_bad_filters_are_400_with_the_reason(rig, client):
    cases = {"verdict=maybe": "verdict = &#39;maybe&#39; is not one of identified, unknown, ambiguous, rejected",
             "since=2026-13-01": "since = &#39;2026-13-01&#39; is not a date",
             "until=yesterday": "until = &#39;yesterday&#39; is not a date",
             "since=2026-11-27&until=2026-11-20": "the end date is before the start date",
             "before=-3": "before = &#39;-3&#39; is not a positive whole number",
             "before=99999999999999999999": "is not a positive whole number",
             "limit=0": "limit = &#39;0&#39; is not a positive whole number",
             "limit=500": "limit = 500 is more than 200 results per page",
             "merchant=" + "m" * 201: "merchant is 201 characters long"}
    for query, reason in cases.items():
        r = client.get("/history?" + query)
        assert r.status_code == 400, query
        assert reason in r.get_data(as_text=True), query
        api = client.get("/api/history?" + query)
        assert api.status_code == 400 and reason.replace("&#39;", "'") in api.get_json()["message"], query


def test_detail_page_and_json(rig, client):
    fill(rig)
    html = client.get("/history/1").get_data(as_text=True)
    assert "Result #1" in html and "HDPE" in html and '<polyline class="trace"' in html
    assert "Shop A" in html and "inspector-7" in html and "yes (Ed25519, unit key)" in html
    record = client.get("/api/history/2").get_json()
    verify_record(record, rig.identity.public_key)  # exactly the signed record
    html = client.get("/history/2").get_data(as_text=True)
    assert "Too dark to identify" in html


def test_unknown_and_purged_seq_are_404(rig, client):
    fill(rig)
    r = client.get("/history/99")
    assert r.status_code == 404 and "there is no result #99 on this device (the newest is #6)" in r.get_data(as_text=True)
    r = client.get("/api/history/99")
    assert r.status_code == 404 and r.get_json()["status"] == 404
    assert client.get("/history/99999999999999999999999").status_code == 404  # beyond SQLite's integers
    rig.journal.acknowledge([1, 2])
    rig.journal.apply_retention(max_results=4, max_age_s=1e9)
    r = client.get("/history/1")
    assert r.status_code == 404 and "removed from this device by retention" in r.get_data(as_text=True)


def test_export_csv_is_the_spectra_format(rig, client):
    fill(rig)
    r = client.get("/history/export.csv?merchant=Shop+A")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert 'filename="plastinir-' in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    header = rows[0]
    assert header[:3] == ["sample_id", "label", "degradable"] and tuple(header[3:3 + len(CSV_META)]) == CSV_META
    assert header[3 + len(CSV_META)] == "1550"  # wavelength columns follow the metadata
    assert [row[0] for row in rows[1:]] == ["A1", "A2", "A3"]
    assert rows[1][1] == "HDPE" and rows[2][1] == ""  # label only for identified results


def test_export_jsonl_carries_signed_records(rig, client):
    fill(rig)
    r = client.get("/history/export.jsonl?verdict=rejected")
    assert r.status_code == 200 and r.mimetype == "application/x-ndjson"
    lines = r.get_data(as_text=True).splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [2, 6]
    for line in lines:
        verify_record(json.loads(line), rig.identity.public_key)


def test_export_refusals_name_the_cause(rig, client):
    r = client.get("/history/export.csv")
    assert r.status_code == 404 and "no results match the export filters" in r.get_data(as_text=True)
    fill(rig)
    add_record(rig, wavelengths_nm=[1000.0 + 10 * i for i in range(8)], spectrum=[0.4] * 8,
               raw={"dark": [1.0] * 8, "lit": [2.0] * 8})
    r = client.get("/history/export.csv")
    assert r.status_code == 400 and "use 2 wavelength grids" in r.get_data(as_text=True)
    assert client.get("/history/export.csv?verdict=nonsense").status_code == 400
