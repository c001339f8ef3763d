"""TEST-ONLY child process: append signed results to a journal as fast as it can, printing each
committed seq, until killed or ``count`` are written. Used by test_journal_crash.py.

    python journal_writer.py STATE_DIR COUNT TAG [HOLD_S [go]]

``HOLD_S`` keeps each write transaction open that long (inside ``make_record``), so a SIGKILL
is likely to land in the middle of one. With ``go`` the writer waits, after printing ``ready``,
for a line on stdin before it writes: a test starts several writers and releases them together,
so they really contend for the journal.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import unsigned_record  # noqa: E402
from firmware.identity import load_identity  # noqa: E402
from firmware.journal import Journal  # noqa: E402
from firmware.record import sign_record  # noqa: E402


def main() -> None:
    state_dir, count, tag = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    hold = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    barrier = len(sys.argv) > 5 and sys.argv[5] == "go"
    identity = load_identity(state_dir)
    journal = Journal.open(state_dir, busy_timeout_s=30.0)

    def make(seq: int) -> dict:
        if hold:
            time.sleep(hold)
        return sign_record(unsigned_record(identity.unit, seq, sample={"sample_id": tag}), identity.key)

    print("ready", flush=True)
    if barrier:
        sys.stdin.readline()
    for _ in range(count):
        record = journal.append_result(make)
        print(record["seq"], flush=True)
    journal.close()


if __name__ == "__main__":
    main()
