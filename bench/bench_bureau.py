"""Bureau ingestion rate: into SQLite and PostgreSQL, beside a plain subscriber, and scale-out.

Method (same for every figure, so the ratios compare like with like): a real Mosquitto broker
holds N signed result records queued for a persistent session (the bureau coming back after an
outage, the situation where throughput matters); the consumer runs in its own process, and the
clock runs from "go" until the last result is committed (a poll of ``COUNT(*)``) or, for the
plain subscriber, received. Every result is JSON-decoded, schema-validated and its Ed25519
signature verified against the unit's registered key, committed in batches, and acknowledged
on ``<prefix>/<unit>/ack`` after the commit, as in production.

- plain subscriber: paho-mqtt receiving and PUBACKing, nothing else (the ceiling);
- ingester → SQLite / → PostgreSQL: one ``Ingester`` (ratio against the plain subscriber);
- two ingesters on ``$share/bench/…`` → PostgreSQL (ratio against one: the scale-out factor).

PostgreSQL is a throwaway cluster with default durability (fsync on), or ``PLASTINIR_TEST_PG``.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from bench import Figure
from firmware.record import sign_record
from firmware.signing import canonical_json, generate_key, public_key_b64, unit_id_for

PREFIX = "bench"
UNITS = 8


def _record(unit: str, seq: int) -> dict:
    """A plausible FPI result (61 points, as ``tests/conftest.unsigned_record``)."""
    wl = [1550.0 + 5 * i for i in range(61)]
    return {
        "schema": "plastinir.result/1", "unit": unit, "seq": seq, "uuid": str(uuid.uuid4()), "boot_id": "b00t",
        "time": "2026-11-27T08:31:08.123Z", "clock_synced": True,
        "model": {"name": "fpi-1550-1850-v1", "version": "1", "sha256": "a" * 64}, "calibration_id": None,
        "operator": "inspector-7",
        "sample": {"sample_id": f"S-{seq}", "merchant": "Shop A", "location": "Utrecht", "batch": "B1",
                   "product": "carrier bag", "claimed_material": "PLA"},
        "verdict": "identified", "reason": None, "class": "HDPE", "degradable": False, "confidence": 0.97,
        "scores": {"HDPE": 0.97, "PLA": 0.03}, "t2": 3.2, "q": 0.01, "limits": {"t2": 12.0, "q": 0.05},
        "composition": {}, "wavelengths_nm": wl, "spectrum": [0.5 + 1e-4 * i for i in range(61)],
        "raw": {"dark": [100.0] * 61, "lit": [50000.0 + i for i in range(61)]},
        "timings_ms": {"acquire": 900.0, "inference": 0.2},
    }


def _fleet(n: int):
    """N signed results of ``UNITS`` units, as units publish them: ``canonical_json`` of the record
    (what the journal stores and the link sends unchanged)."""
    keys = [generate_key() for _ in range(UNITS)]
    units = [(unit_id_for(public_key_b64(k)), k) for k in keys]
    payloads = []
    for i in range(n):
        unit, key = units[i % UNITS]
        payloads.append((f"{PREFIX}/{unit}/result", canonical_json(sign_record(_record(unit, i // UNITS + 1), key))))
    return [(u, public_key_b64(k)) for u, k in units], payloads


# --- consumers, each in its own process --------------------------------------------------------

def _config(db_url: str, broker_url: str, client_id: str, shared: str | None):
    from host.bureau.config import load_bureau_config
    return load_bureau_config(None, {"db": db_url, "prefix": PREFIX,
                                     "mqtt": {"broker": broker_url, "client_id": client_id, "shared_group": shared,
                                              "reconnect_min_s": 0.1, "reconnect_max_s": 1.0}})


def _ingester_proc(db_url, broker_url, client_id, shared, subscribed, go, stop):
    from host.bureau.ingester import Ingester
    logging.disable(logging.INFO)
    config = _config(db_url, broker_url, client_id, shared)
    first = Ingester(config).start()     # creates the persistent session and its subscriptions
    first.wait_ready(10)
    first.stop()
    subscribed.release()
    go.wait()
    ing = Ingester(config).start()
    stop.wait()
    ing.stop()


def _subscriber_proc(broker_url, received, subscribed, go, stop):
    from host.bureau.config import load_bureau_config
    from host.bureau.mqtt_client import connect_async, make_client, subscriptions
    settings = load_bureau_config(None, {"prefix": PREFIX, "mqtt": {"broker": broker_url,
                                                                     "client_id": "plain-subscriber"}}).mqtt
    granted = mp.Event()
    first = make_client(settings, manual_ack=False)  # same session, window and topics as the ingester
    first.on_connect = lambda client, *a: client.subscribe(subscriptions(PREFIX, None))
    first.on_subscribe = lambda *a: granted.set()
    connect_async(first, settings)
    first.loop_start()
    granted.wait(10)
    first.disconnect()
    first.loop_stop()
    subscribed.release()
    go.wait()

    def on_message(client, userdata, message):
        with received.get_lock():
            received.value += 1

    client = make_client(settings, manual_ack=False)
    client.on_message = on_message
    connect_async(client, settings)
    client.loop_start()
    stop.wait()
    client.disconnect()
    client.loop_stop()


class _Rig:
    """Broker, databases and the pre-signed stream shared by every measurement."""

    def __init__(self, quick: bool, pg_server=None):
        from tests.support.mosquitto import MosquittoBroker
        from tests.support.postgres import start_server
        self.n = 1000 if quick else 20_000
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-bureau-"))
        self.broker = MosquittoBroker(self.tmp / "broker", max_queued_messages=10 * self.n).start()
        self.own_pg = pg_server is None
        self.pg = pg_server or start_server(durable=True)
        self.units, self.payloads = _fleet(self.n)

    def close(self) -> None:
        self.broker.stop()
        if self.own_pg:
            self.pg.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def database(self, kind: str) -> str:
        from host.bureau.migrations import open_database
        from host.bureau.units import add_unit
        url = f"sqlite:///{self.tmp / (uuid.uuid4().hex + '.db')}" if kind == "sqlite" else self.pg.create_database()
        with open_database(url) as db:
            for unit, pub in self.units:
                add_unit(db, unit, pub)
        return url

    def _preload(self) -> None:
        from tests.support.mqtt import close, connect
        client = connect(self.broker.url, max_inflight=1000)
        infos = [client.publish(topic, payload, qos=1) for topic, payload in self.payloads]
        for info in infos:
            info.wait_for_publish(60)
        close(client)

    def measure(self, targets: list, count) -> float:
        """Start ``targets`` (process args builders), preload, go; rate = N / time to ``count() == N``."""
        ctx = mp.get_context("fork")
        subscribed, go, stop = ctx.Semaphore(0), ctx.Event(), ctx.Event()
        procs = [ctx.Process(target=fn, args=(*args, subscribed, go, stop), daemon=True) for fn, args in targets]
        for p in procs:
            p.start()
        try:
            for _ in procs:
                if not subscribed.acquire(timeout=30):
                    raise RuntimeError("a consumer did not subscribe within 30 s")
            self._preload()
            t0 = time.perf_counter()
            go.set()
            deadline = t0 + 300
            while count() < self.n:
                if time.perf_counter() > deadline or not all(p.is_alive() for p in procs):
                    raise RuntimeError(f"consumers stopped at {count()} of {self.n}")
                time.sleep(0.1)  # a COUNT(*) costs the database CPU the consumers need: poll gently
            return self.n / (time.perf_counter() - t0)
        finally:
            stop.set()
            for p in procs:
                p.join(20)
                if p.is_alive():
                    p.kill()

    def ingest_rate(self, kind: str, ingesters: int = 1) -> float:
        from host.bureau.database import Database
        url = self.database(kind)
        shared = "bench" if ingesters > 1 else None
        run = uuid.uuid4().hex[:6]
        ids = [f"bench-{run}-{i}" for i in range(ingesters)]
        targets = [(_ingester_proc, (url, self.broker.url, cid, shared)) for cid in ids]
        try:
            with Database(url) as db:
                rate = self.measure(targets, lambda: db.one("SELECT COUNT(*) FROM results")[0])
                assert db.one("SELECT COUNT(DISTINCT unit || ':' || seq) FROM results")[0] == self.n
        finally:
            forget_sessions(self.broker.url, ids)
        return rate

    def subscriber_rate(self) -> float:
        received = mp.get_context("fork").Value("l", 0)
        try:
            return self.measure([(_subscriber_proc, (self.broker.url, received))], lambda: received.value)
        finally:
            forget_sessions(self.broker.url, ["plain-subscriber"])


def forget_sessions(broker_url: str, client_ids: list[str]) -> None:
    """End the persistent sessions a measurement left on the broker (connect with a clean start and no
    session expiry, disconnect). Left alone, a finished consumer's session stays subscribed, and the
    broker queues a copy of every later message for it: each measurement would pay for all before it."""
    from tests.support.mqtt import close, connect
    for client_id in client_ids:
        close(connect(broker_url, client_id=client_id, clean_start=True))


def parse_rate(payloads: list, units: list, *, fast_path: bool = True) -> float:
    """Parse + schema + signature alone, one thread, no MQTT, no database: one ingester's CPU ceiling.

    ``fast_path=False``: the full path only (stdlib decode with the duplicate-key hook, re-encode
    with ``canonical_json``, verify) — what every result cost before `host.bureau.signed_text`."""
    from host.bureau.payloads import Inbound, Parser, ResultMsg
    from host.bureau.units import KeyCache

    class _Keys(KeyCache):
        def __init__(self):
            super().__init__()
            for unit, pub in units:
                self.put(unit, pub)

    parser = Parser(PREFIX, _Keys(), fast_path=fast_path)
    inbound = [Inbound(t, p, "2026-11-27T08:00:00.000Z") for t, p in payloads]
    t0 = time.perf_counter()
    ok = sum(isinstance(parser.parse(None, m), ResultMsg) for m in inbound)
    rate = len(inbound) / (time.perf_counter() - t0)
    assert ok == len(inbound)
    assert parser.paths["fast" if fast_path else "full"] == len(inbound), parser.paths
    return rate


def run(quick: bool, pg_server=None) -> list[Figure]:
    t = time.perf_counter()
    rig = _Rig(quick, pg_server)
    log = logging.getLogger("bench.bureau")
    log.info("rig ready in %.1f s", time.perf_counter() - t)
    try:
        full = parse_rate(rig.payloads[:2000], rig.units, fast_path=False)
        parse = parse_rate(rig.payloads[:2000], rig.units)
        plain = rig.subscriber_rate()
        sqlite = rig.ingest_rate("sqlite")
        pg = rig.ingest_rate("postgresql")
        pg2 = rig.ingest_rate("postgresql", ingesters=2)
        log.info("measured in %.1f s", time.perf_counter() - t)
    finally:
        rig.close()
    return [
        Figure("plain subscriber drain (receive + PUBACK only)", plain, "msg/s"),
        Figure("parse + validate + verify only (one thread, no MQTT, no database)", parse, "results/s",
               parse / plain, "plain subscriber"),
        Figure("the same on the full path only (stdlib decode, canonical re-encode)", full, "results/s",
               full / parse, "parse + validate + verify (fast path)"),
        Figure("ingester → SQLite (validated, verified, committed, acked)", sqlite, "results/s", sqlite / plain,
               "plain subscriber"),
        Figure("ingester → PostgreSQL (validated, verified, committed, acked)", pg, "results/s", pg / plain,
               "plain subscriber", "≥ 2000 results/s"),
        Figure("2 ingesters, shared subscription → PostgreSQL", pg2, "results/s", pg2 / pg,
               "one ingester → PostgreSQL"),
    ]
