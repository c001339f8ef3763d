"""Smoke run of the soak (``make soak`` runs it for 5 minutes with 3 units): 2 real ``nir-device run
--sim`` processes, real Mosquitto, 2 ``nir-host bureau`` processes on PostgreSQL; one broker
SIGKILL, one device SIGKILL, one SPI fault, one ingester SIGKILL and a batch of bad payloads, then
every check of `soak.checks`."""
from __future__ import annotations

import pytest

from soak.run import Options, run_soak

pytestmark = [pytest.mark.slow, pytest.mark.broker, pytest.mark.postgres]


def test_soak_smoke(mosquitto_bin, pg_server, tmp_path):
    options = Options(duration_s=24.0, seed=7, devices=2, press_every_s=0.4, warmup_s=3.0, pause_s=(0.5, 1.5),
                      plan=["bad-payloads", "broker-kill", "device-kill", "fault", "ingester-kill"],
                      drain_timeout_s=45.0, work_dir=tmp_path / "soak")
    report = run_soak(options, pg_server=pg_server)
    assert report.ok, "\n".join(report.failures)
    counts = report.counts
    assert counts["results journaled"] > 10
    assert counts["results acknowledged"] == counts["results journaled"] == counts["results in the bureau"]
    assert counts["results byte-identical to the journal"] == counts["results in the bureau"]
    assert counts["gaps open at the end"] == 0
    for action in ("broker-kill", "device-kill", "ingester-kill"):
        assert report.restarts[action] >= 1, action
    assert counts["device processes started"] >= 3 and counts["ingester processes started"] >= 3
    assert counts["faults injected"] >= 1 and counts["faults observed as the right event"] == counts["faults injected"]
    for category in ("json", "schema", "encoding", "size", "unknown-unit", "signature", "topic", "seq-conflict"):
        assert counts[f"quarantined: {category}"] >= 1, category
    assert counts["quarantine rows"] == sum(v for k, v in counts.items() if k.startswith("quarantined: "))
