"""``nir-device demo`` with its embedded broker and bureau (issue 4's demo, issue 5's round trip):
results journaled, published, stored by a bureau in the state directory, acknowledged."""
from __future__ import annotations

import re

import pytest

from device_support import nir_device
from firmware.journal import Journal

CONFIG = """
[hardware]
backend = "sim"
[sim]
seed = 3
[clock]
synced = "never"
"""


@pytest.mark.slow
def test_demo_round_trip_through_its_broker_and_bureau(tmp_path, mosquitto_bin):
    cfg = tmp_path / "demo.toml"
    cfg.write_text(CONFIG)
    state = tmp_path / "demo"
    out = nir_device("demo", "--state-dir", str(state), "--config", str(cfg), "--http-port", "0", "--interval", "0",
                     "--count", "3", "--mqtt-port", "0", timeout=120)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    port = re.search(r"MQTT: +mqtt://127\.0\.0\.1:(\d+) +\(Mosquitto, MQTT 5; persistence in ", text)
    assert port, text
    assert f"mosquitto_sub -h 127.0.0.1 -p {port.group(1)} -v -t 'plastinir/nir-" in text
    assert "bureau:      nir-host bureau → sqlite:///" in text
    assert "✓ stored by the bureau and acknowledged" in text
    with Journal.open(state) as journal:
        assert journal.last_seq() == 3 and journal.depth() == 0            # all acknowledged
    from host.bureau.migrations import open_database
    with open_database(f"sqlite:///{state / 'bureau.db'}") as db:
        assert db.query("SELECT seq FROM results ORDER BY seq") == [(1,), (2,), (3,)]
    assert (state / "mosquitto" / "mosquitto.conf").exists()
