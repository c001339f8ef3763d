"""Reusable test support: real parts started from temporary configs.

Importable helpers (pytest puts ``tests/`` on ``sys.path``, so tests write ``from support.mosquitto
import MosquittoBroker``; the benchmarks import ``tests.support...``):

- `support.mosquitto`: a real Mosquitto broker on a free loopback port (plain, password + ACL,
  TLS), SIGKILL and restart on the same port, with or without persistence.
- `support.pki`: a throwaway CA and server/client certificates made with ``cryptography``.
- `support.postgres`: a throwaway PostgreSQL cluster (initdb/pg_ctl, as the ``postgres`` user
  when running as root) or the server named by ``PLASTINIR_TEST_PG``; a fresh database per test.
- `support.fake_unit`: a publisher that behaves like a unit's store-and-forward link (re-sends
  what the bureau has not acknowledged), for bureau tests until the real device link exists.
- `support.mqtt`: small helpers to connect a paho client and wait for things.

The fixtures that wrap these live in ``tests/conftest.py``.
"""
