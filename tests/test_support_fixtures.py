"""The shared fixtures do what they promise (other engineers build on them)."""
from __future__ import annotations

import psycopg
import pytest

from support.mqtt import Collector, close, connect, subscribe


def _queue_for_offline_session(broker, topic="t/queued"):
    """A persistent session subscribes, goes away; a message is queued for it."""
    sub = connect(broker.url, client_id="keeper", clean_start=False, session_expiry_s=3600)
    subscribe(sub, topic)
    close(sub)
    pub = connect(broker.url)
    pub.publish(topic, b"kept", qos=1).wait_for_publish(5)
    close(pub)


@pytest.mark.parametrize("persistence", [True, False])
def test_broker_sigkill_and_restart_on_the_same_port(broker_factory, persistence):
    broker = broker_factory(persistence=persistence, autosave_interval_s=1)
    port = broker.port
    _queue_for_offline_session(broker)
    if persistence:
        assert broker.wait_saved()  # Mosquitto saves every autosave_interval; SIGKILL loses what came after
    broker.kill()
    assert not broker.running
    broker.start()
    assert broker.port == port
    collector = Collector()  # installed before the CONNACK: a resumed session delivers at once
    sub = connect(broker.url, client_id="keeper", clean_start=False, session_expiry_s=3600,
                  on_message=collector.on_message)
    subscribe(sub, "t/queued", collector=collector)  # without persistence the session is gone
    try:
        got = collector.wait_for(lambda msgs: len(msgs) >= 1, timeout=2 if persistence else 0.5)
        assert got == persistence
    finally:
        close(sub)


def test_tls_broker_has_its_own_ca(broker_factory):
    broker = broker_factory(tls=True)
    client = connect(broker.tls_url, ca_file=broker.ca_file)
    try:
        assert subscribe(client, "x/#").messages == []
    finally:
        close(client)


@pytest.mark.postgres
def test_each_test_gets_a_fresh_postgres_database(pg_server, pg_url):
    other = pg_server.create_database()
    try:
        assert other != pg_url
        with psycopg.connect(pg_url) as conn:
            conn.execute("CREATE TABLE t (x int)")
        with psycopg.connect(other) as conn:
            assert conn.execute("SELECT COUNT(*) FROM pg_tables WHERE tablename = 't'").fetchone() == (0,)
    finally:
        pg_server.drop_database(other)
