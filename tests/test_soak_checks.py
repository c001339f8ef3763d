"""`soak.checks` finds what it is there to find: a journal and a bureau database (SQLite here, no
processes) made to disagree in each way the soak must catch, each named in a failure."""
from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace

from conftest import register_unit, unsigned_record
from firmware.journal import Journal
from firmware.record import sign_record
from firmware.signing import canonical_json
from host.bureau.database import Database
from host.bureau.migrations import open_database
from host.bureau.payloads import Inbound, ResultMsg
from host.bureau.store import Store
from soak import chaos, checks
from soak.payloads import BadPayload
from soak.rig import Device


def _fleet(tmp_path, unit_key, n: int = 6):
    key, pub, unit = unit_key
    device = Device(0, tmp_path, "mqtt://127.0.0.1:1", seed=1, press_every_s=0.0)
    device.unit = unit
    journal = Journal.open(device.state_dir)
    records = [journal.append_result(lambda seq: sign_record(unsigned_record(unit, seq), key)) for _ in range(n)]
    url = f"sqlite:///{tmp_path / 'bureau.db'}"
    open_database(url).close()
    register_unit(url, unit, pub)
    soak = SimpleNamespace(devices=[device], failures=[], record=chaos.Record(), database=lambda: Database(url))
    return soak, journal, records, url


def _store(url: str, records: list[dict], text=canonical_json) -> None:
    with Database(url) as db:
        store = Store(db)
        for r in records:
            payload = text(r)
            store.write([ResultMsg(Inbound(f"plastinir/{r['unit']}/result", payload, "2026-11-27T08:00:00.000Z"),
                                   r["unit"], r["seq"], r, payload.decode())])


def test_agreeing_journal_and_bureau_pass(tmp_path, unit_key):
    soak, journal, records, url = _fleet(tmp_path, unit_key)
    _store(url, records)
    journal.acknowledge([r["seq"] for r in records])
    counts = checks.check(soak)
    assert soak.failures == []
    assert counts["results journaled"] == counts["results acknowledged"] == counts["results in the bureau"] == 6
    assert counts["results byte-identical to the journal"] == 6


def test_each_disagreement_is_named(tmp_path, unit_key):
    soak, journal, records, url = _fleet(tmp_path, unit_key)
    unit = records[0]["unit"]
    _store(url, records[:3])                                           # seq 4–6 never reached the bureau …
    _store(url, [records[3]], text=lambda r: json.dumps(r).encode())   # … seq 4 arrived re-formatted
    journal.acknowledge([1, 2, 3, 4, 5])                               # … seq 5 acked all the same; 6 waits
    with Database(url) as db:
        db.execute("INSERT INTO gaps (unit, first_seq, last_seq, state, opened_at) VALUES (?, 7, 9, 'open', 't')",
                   (unit,))
    soak.record.faults.append(chaos.InjectedFault(unit, "drdy-stuck", "DrdyTimeout", 0.0, journal_event=1))
    sent = BadPayload("bad JSON", f"plastinir/{unit}/result", b"{", "json")
    wrong = BadPayload("tampered signature", f"plastinir/{unit}/result", b"{}", "signature")
    soak.record.bad += [sent, wrong]
    with Database(url) as db:
        for payload, category in ((b"{}", "schema"), (b"stray", "json")):
            db.execute("INSERT INTO quarantine (received_at, last_received_at, times, topic, unit, seq, category, "
                       "reason, payload_sha256, payload_size, payload) VALUES ('t', 't', 1, ?, ?, NULL, ?, 'r', ?, ?, ?)",
                       (f"plastinir/{unit}/result", unit, category, hashlib.sha256(payload).hexdigest(), len(payload),
                        payload))
    counts = checks.check(soak)
    text = "\n".join(soak.failures)
    assert f"{unit} seq 5: acknowledged to the unit but not in the bureau's database" in text
    assert f"{unit} seq 4: the bureau's record differs from the journal's" in text
    assert f"{unit}: 1 results still unacknowledged after the final drain" in text
    assert "open gaps remain after the final drain" in text
    assert f"{unit}: 1 × DrdyTimeout injected, the bureau stored 0 such fault events" in text
    assert "bad payload 'bad JSON' on" in text and "was never quarantined" in text
    assert "bad payload 'tampered signature' quarantined as 'schema', expected 'signature'" in text
    assert "unexpected quarantine of a payload on" in text and "(json)" in text
    assert counts["results byte-identical to the journal"] == 3


def test_a_seq_reused_in_the_journal_is_caught(tmp_path, unit_key):
    soak, journal, records, url = _fleet(tmp_path, unit_key, n=3)
    _store(url, records)
    journal.acknowledge([1, 2, 3])
    con = journal._conn()   # what a journal restored from an old backup would look like: seq 2 stored last
    con.execute("UPDATE results SET stored_at = stored_at + 1000 WHERE seq = 2")
    with Database(url) as db:   # and a bureau row the unit never journaled
        db.execute("INSERT INTO results SELECT unit, 99, uuid, boot_id, time, clock_synced, received_at, model_name, "
                   "model_version, model_sha256, calibration_id, operator, sample_id, merchant, location, batch, "
                   "product, claimed_material, verdict, reason, class, degradable, confidence, t2, q, limit_t2, "
                   "limit_q, scores, composition, timings_ms, signature FROM results WHERE seq = 1")
    checks.check(soak)
    text = "\n".join(soak.failures)
    assert "journal seqs do not increase with the time they were stored" in text
    assert "the bureau holds seqs the unit never journaled: [99]" in text
