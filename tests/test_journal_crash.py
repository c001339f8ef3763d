"""The journal under SIGKILL and under two writing processes (issue 4: a crash at any point
loses no committed result and never reuses a seq)."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import unsigned_record
from firmware.identity import load_identity
from firmware.journal import Journal
from firmware.record import sign_record, verify_record

WRITER = Path(__file__).with_name("journal_writer.py")


@pytest.fixture
def start_writer():
    """``start(state_dir, count, tag, hold=0.0, barrier=False)``: a writer process that has opened
    the journal (with ``barrier`` it writes only after ``go``). Whatever a test leaves running is
    killed and its pipes closed at teardown, so a failing test leaks nothing into later ones."""
    procs: list[subprocess.Popen] = []

    def start(state_dir, count, tag, hold=0.0, barrier=False):
        proc = subprocess.Popen([sys.executable, str(WRITER), str(state_dir), str(count), tag, str(hold)]
                                + (["go"] if barrier else []),
                                stdin=subprocess.PIPE if barrier else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def finish(proc, timeout=120):
    """(stdout, stderr) once the writer exits. Read through the same buffered pipe objects as
    `start_writer`'s readline: `communicate` would read the raw pipe and lose what readline
    already buffered (seqs printed right after "ready")."""
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.wait(timeout=timeout)
    return out, err


def test_sigkill_mid_write_loses_nothing_committed(tmp_path, start_writer):
    identity = load_identity(tmp_path)
    committed: list[int] = []
    for round_ in range(4):
        # Hold each transaction 3 ms so the kill most likely lands inside one.
        proc = start_writer(tmp_path, 10_000, f"round-{round_}", hold=0.003)
        for _ in range(15 + 5 * round_):
            committed.append(int(proc.stdout.readline()))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        with Journal.open(tmp_path) as journal:
            assert journal.integrity_check() == "ok"
            for seq in committed:
                verify_record(journal.get(seq), identity.public_key)
            stored = [h["seq"] for h in journal.history(100_000)]
            # at most the one commit that happened between the last print and the kill is unprinted
            assert set(committed) <= set(stored) and len(stored) - len(committed) <= round_ + 1
            assert len(set(stored)) == len(stored) == journal.last_seq() == max(stored)
            assert journal.depth() == len(stored)  # every stored result is also queued
    assert len(set(committed)) == len(committed)
    with Journal.open(tmp_path) as journal:
        last = max(h["seq"] for h in journal.history(1))
        nxt = journal.append_result(lambda seq: sign_record(unsigned_record(identity.unit, seq), identity.key))
        assert nxt["seq"] == last + 1 > max(committed)


def test_two_processes_never_share_a_seq(tmp_path, start_writer):
    load_identity(tmp_path)
    Journal.open(tmp_path).close()
    procs = {tag: start_writer(tmp_path, 60, tag, barrier=True) for tag in ("a", "b")}
    for proc in procs.values():  # both have the journal open: release them together
        proc.stdin.write("go\n")
        proc.stdin.close()
    seqs = {}
    for tag, proc in procs.items():
        out, err = finish(proc)
        assert proc.returncode == 0, err
        seqs[tag] = [int(line) for line in out.split()]
    assert not set(seqs["a"]) & set(seqs["b"])
    assert sorted(seqs["a"] + seqs["b"]) == list(range(1, 121))
    with Journal.open(tmp_path) as journal:
        assert journal.integrity_check() == "ok"
        for tag, mine in seqs.items():
            assert mine == sorted(mine)  # each writer sees its seqs increase
            for seq in mine[:: 10]:
                assert journal.get(seq)["sample"]["sample_id"] == tag


def test_reader_process_while_writer_runs(tmp_path, start_writer):
    """An export/page in another process reads while the writer commits (WAL: no blocking)."""
    load_identity(tmp_path)
    proc = start_writer(tmp_path, 200, "w")
    seen = 0
    with Journal.open(tmp_path, busy_timeout_s=5.0) as journal:
        while proc.poll() is None:
            seen = max(seen, journal.count())
    _, err = finish(proc, timeout=60)
    assert proc.returncode == 0, err
    with Journal.open(tmp_path) as journal:
        assert journal.count() == 200 >= seen
