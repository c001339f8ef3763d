"""`OutboxSender` on a real journal with a recording publisher and a hand-driven clock: seq order,
the window, re-sends only after the timeout, the backlog after a reconnect, acks, missing and
purged seqs (docs/MQTT.md, plastinir.ack/1)."""
from __future__ import annotations

import json

import pytest

from conftest import unsigned_record
from firmware.ack import parse_ack
from firmware.journal import Journal
from firmware.mqtt.outbox import OutboxSender


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def setup(tmp_path):
    journal = Journal.open(tmp_path)
    for _ in range(10):
        journal.append_result(lambda seq: unsigned_record("nir-0123456789ab", seq))
    sent: list[int] = []
    clock = Clock()
    counts: dict[str, int] = {}

    def publish(body: bytes) -> int:
        sent.append(json.loads(body)["seq"])
        return len(sent)                     # the mid

    def count(name, n=1):
        counts[name] = counts.get(name, 0) + n
    sender = OutboxSender(journal, window=4, resend_after_s=30.0, publish=publish, count=count, clock=clock)
    yield journal, sender, sent, clock, counts
    journal.close()


def ack(stored=(), missing=()):
    return parse_ack(json.dumps({"schema": "plastinir.ack/1", "stored": list(stored),
                                 "missing": [list(r) for r in missing]}))


def test_seq_order_through_the_window_paced_by_acks(setup):
    journal, sender, sent, clock, _ = setup
    assert sender.send() == [1, 2, 3, 4]                    # the window
    assert sender.send() == [] and journal.depth() == 10   # full: nothing more, nothing removed
    for mid in (1, 2, 3, 4):
        sender.puback(mid, True)
    assert sender.send() == [] and journal.depth() == 10   # PUBACK is not delivery
    sender.acknowledged(ack([1, 2]))
    assert journal.depth() == 8 and sender.send() == [5, 6]
    assert [e.attempts for e in journal.pending(3)] == [0, 0, 0]     # recorded at most once a second …
    clock.t += 1.0
    sender.flush_marks()
    assert [e.attempts for e in journal.pending(3)] == [1, 1, 1]     # … then all of them


def test_resend_only_after_the_timeout_lowest_first(setup):
    journal, sender, sent, clock, counts = setup
    sender.send()
    for mid in range(1, 5):
        sender.puback(mid, True)
    clock.t += 29.0
    assert sender.expire() == 0 and sender.send() == []
    clock.t += 1.0
    assert sender.expire() == 4 and counts["resend_timeouts"] == 4
    assert sender.send() == [1, 2, 3, 4]                    # due again, in seq order, before 5…
    sender.flush_marks(force=True)
    assert [e.attempts for e in journal.pending(4)] == [2, 2, 2, 2]


def test_a_result_waiting_for_puback_is_not_sent_twice(setup):
    journal, sender, sent, clock, _ = setup
    sender.send()                                          # mids 1–4, no PUBACK yet
    sender.puback(1, True)
    sender.puback(2, True)
    clock.t += 60
    assert sender.expire() == 2                            # 3 and 4: paho still holds them
    sender.connected()                                     # reconnect of the same client
    assert sender.send() == [1, 2]                         # paho re-sends 3, 4 itself
    sender.new_client()                                    # a new client: its queue is gone
    assert sender.send() == [1, 2, 3, 4]


def test_reconnect_sends_the_backlog_again_in_seq_order(setup):
    journal, sender, sent, clock, _ = setup
    sender.send()
    for mid in range(1, 5):
        sender.puback(mid, True)                           # the broker had them … and died
    sender.connected()
    assert sender.send() == [1, 2, 3, 4]
    assert sent == [1, 2, 3, 4, 1, 2, 3, 4]


def test_missing_seqs_first_and_purged_ranges_reported_once(setup):
    journal, sender, sent, clock, counts = setup
    journal.acknowledge([1, 2, 3, 4, 5, 6])
    assert journal.apply_retention(max_results=6, max_age_s=1e9) == [(1, 4)]
    sender.acknowledged(ack([], [(2, 5)]))                 # 2–4 purged, 5 still here (acknowledged)
    assert sender.send() == [5, 7, 8, 9]                   # the requested one first, then the outbox
    events = journal.events(10, kind="link")
    assert [e["detail"] for e in events] == [{"purged": [[2, 4]]}]
    sender.acknowledged(ack([], [(2, 4)]))                 # asked again soon: not reported twice
    assert len(journal.events(10, kind="link")) == 1
    clock.t += 31
    sender.acknowledged(ack([], [(2, 4)]))
    assert len(journal.events(10, kind="link")) == 2
    assert counts["purged_reported"] == 6


def test_unknown_and_repeated_acks_change_nothing(setup):
    journal, sender, sent, clock, _ = setup
    sender.send()
    assert sender.acknowledged(ack([3, 99])) == 1
    assert sender.acknowledged(ack([3])) == 0
    assert journal.depth() == 9 and 3 not in sender.outstanding


def test_a_publish_not_taken_stops_the_batch(setup):
    journal, sender, sent, clock, _ = setup
    sender.publish = lambda body: None                     # connection gone
    assert sender.send() == [] and sender.dirty
    assert [e.attempts for e in journal.pending(2)] == [0, 0]
