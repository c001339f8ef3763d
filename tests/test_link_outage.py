"""Issue 5's proof with the real link: the broker SIGKILLed (persistence off) in the middle of a
stream of results and restarted on the same port — every result in the bureau's database exactly
once, no gap left open, the unit's outbox empty."""
from __future__ import annotations

import threading
import time

import pytest

from link_support import append_results, connected, drained, gaps, measure, register, stop_all, stored, unit_with_link
from support.mqtt import wait_until

N = 200


@pytest.mark.slow
def test_broker_sigkill_mid_stream_loses_and_duplicates_nothing(tmp_path, broker, db_url, bureau_factory):
    rt, link = unit_with_link(tmp_path / "unit", broker.url, inflight_window=20, resend_after_s=1.5)
    try:
        register(db_url, rt)
        ing = bureau_factory(db_url, broker.url)
        assert connected(link)
        done = threading.Event()

        def stream() -> None:
            for i in range(N):
                append_results(rt, 1)
                time.sleep(0.003)
            done.set()

        producer = threading.Thread(target=stream, daemon=True)
        producer.start()
        assert wait_until(lambda: len(stored(db_url, rt.identity.unit)) >= N // 4, 20)
        in_flight = len(link.outbox.outstanding)
        broker.kill()                               # SIGKILL: what it held is gone
        t_kill = time.monotonic()
        assert wait_until(lambda: link.status.state != "connected", 5)
        append_results(rt, 5)                       # measured while the broker is down
        time.sleep(0.3)
        broker.start()                              # same port, empty: no retained, no sessions
        assert done.wait(30)
        last = measure(rt, "pla")                   # and one through the whole pipeline afterwards
        assert drained(rt, 30), f"outbox still holds {rt.journal.depth()}: {link.outbox.describe()}"
        total = N + 5 + 1
        assert last["seq"] == total
        assert stored(db_url, rt.identity.unit) == list(range(1, total + 1))   # exactly once each
        assert wait_until(lambda: gaps(db_url, rt.identity.unit) == [], 10), gaps(db_url, rt.identity.unit)
        assert in_flight > 0 and link.counters().get("disconnects", 0) >= 1
        assert link.counters().get("connects", 0) >= 2 and link.status.state == "connected"
        assert ing.counters().get("quarantined", 0) == 0
        assert time.monotonic() - t_kill < 60
    finally:
        stop_all(link, rt)
