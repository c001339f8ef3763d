"""The whole soak: set up the fleet, run the chaos for the duration, drain, stop, check, report."""
from __future__ import annotations

import logging
import random
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from host.bureau.database import Database
from host.bureau.migrations import open_database

from . import chaos, checks
from .monitor import Monitor
from .payloads import BadPayload
from .rig import NIR_HOST, Device, Ingester, bureau_config_text, child_env, wait_for

log = logging.getLogger("soak")


@dataclass
class Options:
    duration_s: float = 300.0
    seed: int = 1
    devices: int = 3
    ingesters: int = 2
    press_every_s: float = 0.5
    #: Fixed order of chaos actions (then repeated at random from the same list); None: all, weighted.
    plan: list[str] | None = None
    #: Quiet time at the start (the fleet measures, nothing breaks) and between actions.
    warmup_s: float = 10.0
    pause_s: tuple[float, float] = (2.0, 6.0)
    drain_timeout_s: float = 120.0
    work_dir: Path | None = None
    keep: bool = False


@dataclass
class Report:
    counts: dict
    failures: list[str]
    restarts: dict
    actions: list
    work_dir: Path | None
    seconds: float
    fleet: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


class Soak:
    def __init__(self, options: Options, pg_server=None) -> None:
        self.options = options
        self.failures: list[str] = []
        self.record = chaos.Record()
        self.started = self.t0 = time.monotonic()
        self.own_dir = options.work_dir is None
        self.dir = Path(tempfile.mkdtemp(prefix="soak-")) if self.own_dir else Path(options.work_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pg_server = pg_server
        self.own_pg = pg_server is None
        self.broker = None
        self.devices: list[Device] = []
        self.ingesters: list[Ingester] = []
        self.monitor: Monitor | None = None
        self.db_url = ""

    # --- what the actions and checks use ----------------------------------------------------------

    def database(self) -> Database:
        return Database(self.db_url)

    def bureau_fault_count(self, unit: str, error: str) -> int:
        with self.database() as db:
            rows = db.query("SELECT detail FROM events WHERE unit = ? AND kind = 'fault'", (unit,))
        return sum(1 for (detail,) in rows if f'"error": "{error}"' in detail or f'"error":"{error}"' in detail)

    def quarantined(self, payload: BadPayload) -> bool:
        with self.database() as db:
            return db.one("SELECT 1 FROM quarantine WHERE topic = ? AND payload_sha256 = ?",
                          (payload.topic, payload.sha256)) is not None

    def publish(self, messages: list[tuple[str, bytes]]) -> None:
        """Publish as an outsider would (its own connection, QoS 1, PUBACK awaited)."""
        from tests.support.mqtt import close, connect
        client = connect(self.broker.url, client_id=f"soak-outsider-{random.randrange(1 << 30)}")
        try:
            infos = [client.publish(t, p, qos=1) for t, p in messages]
            for info in infos:
                info.wait_for_publish(30)
        finally:
            close(client)

    # --- life cycle ---------------------------------------------------------------------------------

    def setup(self) -> None:
        from tests.support.mosquitto import MosquittoBroker
        from tests.support.postgres import start_server
        opts = self.options
        self.broker = MosquittoBroker(self.dir / "broker", persistence=True, autosave_interval_s=1).start()
        if self.pg_server is None:
            self.pg_server = start_server()
        self.db_url = self.pg_server.create_database("plastinir_soak")
        open_database(self.db_url).close()  # the schema, before anything connects
        self.devices = [Device(i, self.dir, self.broker.url, seed=opts.seed * 100 + i, press_every_s=opts.press_every_s)
                        for i in range(opts.devices)]
        for device in self.devices:
            device.prepare()
            done = subprocess.run([NIR_HOST, "units", "add", device.unit, "--public-key", device.public_key,
                                   "--db", self.db_url], capture_output=True, text=True, timeout=120, env=child_env())
            if done.returncode != 0:
                raise RuntimeError(f"nir-host units add {device.unit}: {done.stderr.strip()[-500:]}")
        config = self.dir / "bureau.toml"
        config.write_text(bureau_config_text())
        self.ingesters = [Ingester(i, self.dir, self.db_url, self.broker.url, config) for i in range(opts.ingesters)]
        for ingester in self.ingesters:
            ingester.start()
        self.monitor = Monitor(self.broker.url).start()
        for device in self.devices:
            device.start()
        for device in self.devices:
            device.place_next()
        self.t0 = time.monotonic()  # the duration counts from here: the fleet measuring
        log.info("fleet up in %.1f s: %s; bureau %s ×%d; broker %s; work dir %s", self.t0 - self.started,
                 ", ".join(d.unit for d in self.devices), self.pg_server.admin_url.split("@")[-1],
                 len(self.ingesters), self.broker.url, self.dir)

    def drain(self) -> None:
        """Stop measuring, make sure every part runs, wait until every outbox is empty and no gap is open."""
        opts = self.options
        if not self.broker.running:
            self.broker.start()
        for proc in [*self.ingesters, *self.devices]:
            if not proc.running:
                self.failures.append(f"{proc.name} had died by itself (exit {proc.proc.returncode}):\n{proc.log_tail()}")
                proc.start()
        for device in self.devices:
            device.ask({"action": "press-every", "seconds": 0})
        time.sleep(1.0)  # a press already debounced finishes its measurement
        t = time.monotonic()

        def drained() -> bool:
            if any(d.depth() for d in self.devices):
                return False
            with self.database() as db:
                return db.one("SELECT COUNT(*) FROM gaps WHERE state = 'open'")[0] == 0

        def settled() -> bool:  # drained, and still so a second later (nothing measured meanwhile)
            if not drained():
                return False
            before = [d.last_seq() for d in self.devices]
            time.sleep(1.0)
            return drained() and [d.last_seq() for d in self.devices] == before
        try:
            wait_for(settled, opts.drain_timeout_s, "", poll=0.5)
        except TimeoutError:
            self.failures.append(f"not drained within {opts.drain_timeout_s:.0f} s: outbox depths "
                                 f"{[d.depth() for d in self.devices]}")
        log.info("drained in %.1f s", time.monotonic() - t)

    def stop(self) -> None:
        for device in self.devices:
            if device.stop() not in (0, None):
                self.failures.append(f"{device.name} exited {device.proc.returncode} on SIGTERM:\n{device.log_tail()}")
        for ingester in self.ingesters:
            if ingester.stop() not in (0, None):
                self.failures.append(f"{ingester.name} exited {ingester.proc.returncode} on SIGTERM")
        if self.monitor is not None:
            self.monitor.stop()
        if self.broker is not None:
            self.broker.stop()

    def close(self, keep: bool) -> None:
        for proc in [*self.devices, *self.ingesters]:
            proc.kill()
        if self.broker is not None:
            self.broker.stop()
        if self.own_pg and self.pg_server is not None:
            self.pg_server.stop()
        elif self.db_url:
            self.pg_server.drop_database(self.db_url)
        if self.own_dir and not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def run_soak(options: Options, pg_server=None) -> Report:
    """Set up, chaos for ``options.duration_s``, drain, stop, check. Never raises for a failed check."""
    soak = Soak(options, pg_server)
    counts: dict = {}
    try:
        soak.setup()
        rng = random.Random(options.seed)
        time.sleep(min(options.warmup_s, options.duration_s))
        chaos.run_chaos(soak, soak.t0 + options.duration_s, rng, options.plan, options.pause_s)
        soak.drain()
        soak.stop()
        counts = checks.check(soak)
        counts.update(_observed(soak))
    except Exception as exc:  # noqa: BLE001 - a soak that cannot finish is a failed soak, with the cause
        log.exception("soak aborted")
        soak.failures.append(f"soak aborted: {type(exc).__name__}: {exc}")
    finally:
        keep = options.keep or bool(soak.failures)
        soak.close(keep)
    return Report(counts, soak.failures, dict(soak.record.restarts), soak.record.actions,
                  soak.dir if (options.keep or soak.failures) else None, time.monotonic() - soak.started,
                  [d.unit for d in soak.devices])


def _observed(soak: Soak) -> dict:
    """What the wire and the ingesters' own counters saw (lower bounds: see `Monitor`, `Ingester.counters`)."""
    bureau: dict[str, int] = {}
    for ingester in soak.ingesters:
        for k, v in ingester.counters().items():
            bureau[k] = bureau.get(k, 0) + v
    mon = soak.monitor
    return {
        "result messages seen on the broker": sum(mon.deliveries.values()) if mon else 0,
        "re-sent results seen on the broker": mon.resent() if mon else 0,
        "duplicates dropped by the bureau (ingester counters)": bureau.get("duplicates", 0),
        "results stored (ingester counters)": bureau.get("stored", 0),
        "acks sent (ingester counters)": bureau.get("acks_sent", 0),
        "gaps asked (distinct missing ranges in acks)": len(mon.asked) if mon else 0,
        "device processes started": sum(d.lives for d in soak.devices),
        "ingester processes started": sum(i.lives for i in soak.ingesters),
    }
