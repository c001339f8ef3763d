"""The MQTT link draining its outbox after an outage, beside the bureau's own ingestion rate.

Method: a real Mosquitto with persistence on (as ``config/mosquitto/`` ships it: the bureau's
persistent session survives a broker restart), the bureau ingester → SQLite in its own process
(as ``bench_bureau``), and a simulated unit with its real link in this process. The broker is
SIGKILLed; N signed results are journaled while it is down (the unit in a shop without
network); the broker is started again on the same port. The clock runs from the link's
reconnect until the bureau has acknowledged the last result and the outbox is empty — every
result sent through the window, validated, verified, committed and acknowledged.

Without persistence the restarted broker has forgotten the bureau's subscription; whatever the
unit sends before the bureau has re-subscribed is lost, and the link's resend timer
(``mqtt.resend_after_s``) brings it: one more figure shows that case with a 5 s timer.

Reference, measured in the same run on the same broker: the same ingester draining N results of
another unit that a plain publisher queued in its persistent session while it was stopped (no
link, no window, no acks travelling back) — the bureau's own rate. The ratio says how much of the
bureau's speed a single unit's link uses when it catches up.
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
from bench.bench_bureau import PREFIX, _ingester_proc, _record, forget_sessions
from firmware.record import sign_record
from firmware.signing import canonical_json, generate_key, public_key_b64, unit_id_for

log = logging.getLogger("bench.link")


class _Rig:
    def __init__(self, quick: bool) -> None:
        from tests.support.mosquitto import MosquittoBroker
        self.n = 200 if quick else 5000
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-link-"))
        self.broker = MosquittoBroker(self.tmp / "broker", max_queued_messages=10 * self.n, persistence=True,
                                      autosave_interval_s=1).start()
        self.volatile = MosquittoBroker(self.tmp / "volatile", max_queued_messages=10 * self.n).start()
        self.ctx = mp.get_context("fork")

    def close(self) -> None:
        self.broker.stop()
        self.volatile.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def database(self, units: list[tuple[str, str]]) -> str:
        from host.bureau.migrations import open_database
        from host.bureau.units import add_unit
        url = f"sqlite:///{self.tmp / (uuid.uuid4().hex + '.db')}"
        with open_database(url) as db:
            for unit, pub in units:
                add_unit(db, unit, pub)
        return url

    def bureau(self, db_url: str, broker=None):
        """An ingester process; returns (go, stop, process) once its persistent session exists."""
        broker = broker or self.broker
        subscribed, go, stop = self.ctx.Semaphore(0), self.ctx.Event(), self.ctx.Event()
        client_id = f"bench-link-{uuid.uuid4().hex[:6]}"
        proc = self.ctx.Process(target=_ingester_proc,
                                args=(db_url, broker.url, client_id, None, subscribed, go, stop), daemon=True)
        proc.start()
        if not subscribed.acquire(timeout=30):
            raise RuntimeError("the bureau did not subscribe within 30 s")
        proc.client_id, proc.broker = client_id, broker
        return go, stop, proc

    @staticmethod
    def end(stop, proc) -> None:
        stop.set()
        proc.join(20)
        if proc.is_alive():
            proc.kill()
        # its persistent session would get a copy of every later result (and be saved with them
        # every second): the later figures would pay for the earlier ones
        try:
            forget_sessions(proc.broker.url, [proc.client_id])
        except (OSError, RuntimeError) as exc:  # the broker is down: an error elsewhere already ended the run
            log.warning("could not end the session %s: %s", proc.client_id, exc)

    # --- the link -----------------------------------------------------------------------------

    def link_drain(self, window: int, *, persistent: bool = True, resend_after_s: float = 120.0
                   ) -> tuple[float, float]:
        """(results/s from reconnect to empty outbox, seconds from broker restart to reconnect)."""
        broker = self.broker if persistent else self.volatile
        from firmware.config import load_config
        from firmware.mqtt import MqttLink
        from firmware.runtime import DeviceRuntime
        config = load_config(None, {"hardware": {"backend": "sim"}, "clock": {"synced": "never"},
                                    "http": {"enabled": False},
                                    "mqtt": {"broker": broker.url, "prefix": PREFIX, "inflight_window": window,
                                             "resend_after_s": resend_after_s, "reconnect_min_s": 0.05,
                                             "reconnect_max_s": 0.2, "stats_interval_s": 3600.0}})
        rt = DeviceRuntime(config, state_dir=self.tmp / f"unit-{uuid.uuid4().hex[:6]}")
        link = None
        go, stop, proc = self.bureau(self.database([(rt.identity.unit, rt.identity.public_key)]), broker)
        try:
            go.set()
            link = MqttLink(rt).start()
            _wait(lambda: link.status.state == "connected", 10, "link never connected")
            time.sleep(0.5)                  # the bureau is connected and subscribed …
            if persistent and not broker.wait_saved(5):   # … and that is on the broker's disk
                raise RuntimeError("the broker did not save its persistence file")
            broker.kill()
            _wait(lambda: link.status.state != "connected", 10, "link did not notice the broker's death")
            for _ in range(self.n):          # measured while the broker is down
                rt.journal.append_result(lambda seq: rt.identity.sign(_record(rt.identity.unit, seq)))
            t_restart = time.perf_counter()
            broker.start()
            _wait(lambda: link.status.state == "connected", 30, "link did not reconnect")
            t0 = time.perf_counter()
            _wait(lambda: rt.journal.depth() == 0, 300, "outbox not drained", poll=0.02)
            return self.n / (time.perf_counter() - t0), t0 - t_restart
        finally:
            if link is not None:
                link.stop()
            self.end(stop, proc)
            rt.close()

    # --- the reference: the bureau alone ------------------------------------------------------

    def bureau_rate(self) -> float:
        from host.bureau.database import Database
        from tests.support.mqtt import close, connect
        key = generate_key()
        unit = unit_id_for(public_key_b64(key))
        db_url = self.database([(unit, public_key_b64(key))])
        payloads = [canonical_json(sign_record(_record(unit, seq), key)) for seq in range(1, self.n + 1)]
        go, stop, proc = self.bureau(db_url)
        try:
            client = connect(self.broker.url, max_inflight=1000)
            infos = [client.publish(f"{PREFIX}/{unit}/result", p, qos=1) for p in payloads]
            for info in infos:
                info.wait_for_publish(60)
            close(client)
            with Database(db_url) as db:
                t0 = time.perf_counter()
                go.set()
                _wait(lambda: db.one("SELECT COUNT(*) FROM results")[0] >= self.n, 300, "bureau did not drain",
                      poll=0.05)
                return self.n / (time.perf_counter() - t0)
        finally:
            self.end(stop, proc)


def _wait(predicate, timeout: float, what: str, poll: float = 0.01) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise RuntimeError(what)
        time.sleep(poll)


def run(quick: bool) -> list[Figure]:
    rig = _Rig(quick)
    resend = 1.0 if quick else 5.0
    try:
        bureau = rig.bureau_rate()
        drain, reconnect = rig.link_drain(window=100)
        wide = None if quick else rig.link_drain(window=1000)[0]
        narrow, _ = rig.link_drain(window=10)
        volatile, _ = rig.link_drain(window=100, persistent=False, resend_after_s=resend)
    finally:
        rig.close()
    n = rig.n
    log.info("bureau %.0f/s, link %.0f/s (window 100), %s (1000), %.0f/s (10)", bureau, drain, wide, narrow)
    figures = [
        Figure(f"bureau alone: ingests {n} queued results → SQLite", bureau, "results/s"),
        Figure(f"link: outbox of {n} drained after an outage (window 100, acked by the bureau)", drain, "results/s",
               drain / bureau, "bureau alone"),
        Figure(f"link: time until the bureau acknowledged all {n}", n / drain, "s"),
        Figure("link: window 10", narrow, "results/s", narrow / drain, "window 100"),
        Figure("link: broker restart → link reconnected (backoff 0.05–0.2 s)", reconnect, "s"),
        Figure(f"link: broker without persistence (resend_after_s {resend:g} s)", volatile, "results/s",
               volatile / drain, "window 100, persistence on"),
    ]
    if wide is not None:
        figures.insert(3, Figure("link: window 1000", wide, "results/s", wide / drain, "window 100"))
    return figures
