"""Lamp hours: counted by the heads on the board clock, accumulated by the runtime in the journal,
kept across restarts, reset by a technician, and never guessed over when the stored value is bad.

Every runtime here is the simulated unit (register-level chips, real drivers and heads, the
shipped model through onnxruntime, the SQLite journal); its clock is the simulator's, so a
measurement adds the lamp time the real board would spend, not the test's wall time.
"""
import sqlite3

import pytest

from device_support import LED8_PACKAGE, make_runtime, place, white_reference
from firmware.cli import main
from firmware.errors import LampCounterError
from firmware.hw.gpio import HIGH
from firmware.journal import Journal
from firmware.lamp_hours import LampMeter
from firmware.mqtt import payloads

#: ADS1256 single-cycle settling time t18 after a MUX change at 1000 SPS, fCLKIN 7.68 MHz
#: (datasheet Table 13, /work/shared/hardware/ads1256-dac8532.md): the first conversion of a
#: channel read; the following ones arrive at the data rate.
T18_1000_SPS = 1.18e-3
#: What the settings leave out: SPI byte times of the commands (RDATA, WREG of the DAC word),
#: a few µs per step. 3 % of the reading's lamp time covers them with room to spare.
TOLERANCE = 0.03


def channel_read_s(conversions: int, rate_sps: float = 1000.0) -> float:
    return T18_1000_SPS + (conversions - 1) / rate_sps


def fpi_lamp_s_per_reading(s) -> float:
    """Lamp on: warm-up, then per grid point the filter's settling and the detector conversions."""
    points = round((s.stop_nm - s.start_nm) / s.step_nm) + 1
    return s.lamp_warmup_s + points * (s.settle_s + channel_read_s(s.conversions, s.data_rate_sps))


def led8_light_s_per_reading(s) -> float:
    """Some LED on: per LED its settling and the detector conversions (the dark reading is unlit)."""
    return 8 * (s.settle_s + channel_read_s(s.conversions, s.data_rate_sps))


def watch_pins(rt, pins) -> list:
    """On-time of ``pins`` (any high) as the simulated GPIO sees it: an account independent of the head's."""
    spans, lit, since = [], set(), [None]

    def changed(pin, level, t):
        before = bool(lit)
        (lit.add if level == HIGH else lit.discard)(pin)
        if lit and not before:
            since[0] = t
        elif before and not lit:
            spans.append(t - since[0])
    for pin in pins:
        rt.board.sim.gpio.on_change(pin, lambda level, t, pin=pin: changed(pin, level, t))
    return spans


def events(state_dir, code):
    with Journal.open(state_dir) as j:
        return [e for e in j.events(1000, kind="maintenance") if e["code"] == code]


def test_fpi_measurement_adds_its_physical_lamp_time(tmp_path):
    with make_runtime(tmp_path) as rt:
        white_reference(rt)
        spans = watch_pins(rt, [rt.board.hardware.lamp_pin])
        place(rt, "PET")
        before = rt.lamp.seconds()
        record = rt.measure({})
        added = rt.lamp.seconds() - before
        scans = rt.config.measurement.n_scans
        expected = scans * fpi_lamp_s_per_reading(rt.config.head.fpi)  # 3 × 0.755 s with the defaults
        assert record["verdict"] == "identified" and len(spans) == scans
        assert added == pytest.approx(expected, rel=TOLERANCE)
        assert added == pytest.approx(sum(spans), abs=1e-9)  # the head's count is the lamp pin's high time
        assert added < record["timings_ms"]["physical"] / 1000  # dark, cool-down, thermistor are lamp-off time
        # durable with the result (the result hook wrote it): another connection sees all of it
        with Journal.open(tmp_path) as other:
            assert other.lamp_seconds("fpi") == pytest.approx(rt.lamp.seconds(), abs=1e-9)
        assert rt.lamp_hours() == pytest.approx(rt.lamp.seconds() / 3600, abs=1e-12)


def test_led8_counts_led_hours_while_any_led_is_on(tmp_path):
    sections = {"head": {"name": "led8"}, "model": {"package": str(LED8_PACKAGE)}}
    with make_runtime(tmp_path, sections) as rt:
        spans = watch_pins(rt, rt.board.hardware.led_pins)
        before = rt.lamp.seconds()
        rt.head.acquire()
        added = rt.lamp.seconds() - before
        assert added == pytest.approx(led8_light_s_per_reading(rt.config.head.led8), rel=TOLERANCE)  # ≈ 0.105 s
        assert added == pytest.approx(sum(spans), abs=1e-9) and len(spans) == 8  # one LED after the other
    with Journal.open(tmp_path) as j:
        assert j.lamp_seconds("led8") > 0 and j.lamp_seconds("fpi") is None  # per head: LED hours are led8's


def test_hours_persist_across_a_reopen_and_count_on(tmp_path):
    with make_runtime(tmp_path) as rt:
        white_reference(rt)
        total = rt.lamp.seconds()
    assert total > 0
    with make_runtime(tmp_path, start=False) as rt:
        assert rt.lamp.seconds() == pytest.approx(total, abs=1e-9)  # closed: everything was written
        rt.start()  # the start-up self-test takes a reading: the lamp is on again
        assert rt.lamp.seconds() > total
    assert len(events(tmp_path, "lamp-counter-started")) == 1  # started once, at the first open only


def test_a_failed_reading_still_counts_and_the_lamp_is_off(tmp_path):
    with make_runtime(tmp_path) as rt:
        head = rt.head.inner
        rt.board.sim.inject("lamp-failure")
        before = head.light_on_s()
        with pytest.raises(Exception, match="lamp gives no light"):
            rt.head.acquire()
        # the lamp was switched on (and is off again): its on-time counts even if it gave no light
        assert head.light_on_s() - before >= rt.config.head.fpi.lamp_warmup_s
        assert head._light[1] is None  # off: nothing keeps running
        assert rt.board.sim.gpio.driven_level(rt.board.hardware.lamp_pin) == 0


def test_reset_by_a_technician_journals_an_event_and_counting_goes_on(tmp_path, capsys):
    with make_runtime(tmp_path) as rt:
        white_reference(rt)
        old, stored = rt.lamp.seconds(), rt.journal.lamp_seconds("fpi")
        unwritten = old - stored  # the reference's readings: held back until a result or 10 s pass
        assert unwritten > 0
        assert main(["lamp", "reset", "--state-dir", str(tmp_path), "--note", "lamp HL-2000 #17"]) == 0
        assert "fpi halogen lamp hour counter set to 0 h" in capsys.readouterr().out
        # the running unit reads the journal: the reset shows at once; what it had not written
        # yet is added on top (documented: it counts towards the new lamp)
        assert rt.lamp.seconds() == pytest.approx(unwritten, abs=1e-9)
        white_reference(rt)
        scans = rt.config.measurement.n_scans
        assert rt.lamp.seconds() - unwritten == pytest.approx(
            scans * fpi_lamp_s_per_reading(rt.config.head.fpi), rel=TOLERANCE)
    (event,) = events(tmp_path, "lamp-reset")
    assert event["detail"]["previous_hours"] == pytest.approx(stored / 3600, abs=1e-4)  # as the journal had it
    assert event["detail"]["note"] == "lamp HL-2000 #17" and event["published_at"] is None  # the link sends it
    assert main(["lamp", "reset", "--state-dir", str(tmp_path), "--hours", "1234.5", "--json"]) == 0
    assert '"hours": 1234.5' in capsys.readouterr().out
    assert main(["lamp", "show", "--state-dir", str(tmp_path)]) == 0
    assert "fpi: 1234.50 h (halogen lamp)" in capsys.readouterr().out


@pytest.mark.parametrize("hours", ["-1", "nan", "1e7"])
def test_reset_refuses_impossible_hours(tmp_path, capsys, hours):
    Journal.open(tmp_path).close()
    with pytest.raises(SystemExit):
        main(["lamp", "reset", "--state-dir", str(tmp_path), "--hours", hours])
    assert "hours must be between 0 and 1e6" in capsys.readouterr().err
    assert main(["lamp", "reset", "--state-dir", str(tmp_path), "--head", "fip"]) == 1
    assert "'fip' is not an optical head; known: fpi, led8" in capsys.readouterr().err
    with Journal.open(tmp_path) as j:
        assert j.lamp_counters() == [] and j.events(10) == []  # nothing written


def test_reset_needs_an_existing_journal(tmp_path, capsys):
    assert main(["lamp", "reset", "--state-dir", str(tmp_path / "typo")]) == 1
    assert "state directory does not exist" in capsys.readouterr().err


def corrupt(state_dir, value="garbage"):
    with sqlite3.connect(state_dir / "journal.db") as con:
        con.execute("PRAGMA ignore_check_constraints = ON")  # what a hand edit or damaged page can leave
        con.execute("UPDATE lamp_hours SET seconds = ? WHERE head = 'fpi'", (value,))


def test_a_corrupt_counter_is_reported_not_guessed_over_and_reset_repairs_it(tmp_path, capsys):
    make_runtime(tmp_path, start=False).close()
    corrupt(tmp_path)
    with make_runtime(tmp_path) as rt:
        (warning,) = events(tmp_path, "lamp-counter-corrupt")
        assert warning["severity"] == "warning" and "'garbage'" in warning["message"]
        with pytest.raises(LampCounterError, match=r"holds 'garbage' \(text\).*nir-device lamp reset --hours H"):
            rt.lamp_hours()
        white_reference(rt)  # measuring goes on; the bad value is left for the technician
        assert payloads.stats(rt)["lamp_hours"] is None
    assert len(events(tmp_path, "lamp-counter-corrupt")) == 1  # once per start, not per reading
    with Journal.open(tmp_path) as j:
        assert j.lamp_counter("fpi")["seconds"] == "garbage"
    assert main(["lamp", "show", "--state-dir", str(tmp_path)]) == 1
    assert "fpi: unusable:" in capsys.readouterr().out
    assert main(["lamp", "reset", "--state-dir", str(tmp_path), "--hours", "812"]) == 0
    (event,) = events(tmp_path, "lamp-reset")
    assert event["detail"]["previous_corrupt_value"] == "'garbage'" and event["detail"]["previous_hours"] is None
    with Journal.open(tmp_path) as j:
        assert j.lamp_seconds("fpi") == 812 * 3600.0


@pytest.mark.parametrize("value", [-5.0, float("inf")])
def test_negative_or_infinite_counts_are_corrupt_too(tmp_path, value):
    Journal.open(tmp_path).close()
    with Journal.open(tmp_path) as j:
        j.start_lamp_counter("fpi", ("maintenance", "info", "lamp-counter-started", "started", {}))
    corrupt(tmp_path, value)
    with Journal.open(tmp_path) as j:
        with pytest.raises(LampCounterError, match="not a number of seconds"):
            j.lamp_seconds("fpi")
        assert j.add_lamp_seconds("fpi", 1.0) is False  # never added to
        with pytest.raises(ValueError, match="finite and >= 0"):
            j.add_lamp_seconds("fpi", float("nan"))


def test_a_journal_from_before_lamp_hours_starts_at_zero_with_an_event(tmp_path):
    with make_runtime(tmp_path) as rt:
        white_reference(rt)
    with sqlite3.connect(tmp_path / "journal.db") as con:  # as an older firmware left it
        con.execute("DROP TABLE lamp_hours")
        con.execute("DELETE FROM events WHERE kind = 'maintenance'")
    with make_runtime(tmp_path, start=False) as rt:
        assert rt.lamp_hours() == 0.0
        (event,) = events(tmp_path, "lamp-counter-started")
        assert "hours before this state directory (or this firmware) are unknown" in event["message"]


def test_writes_after_non_result_readings_are_throttled(tmp_path):
    now = [0.0]
    with make_runtime(tmp_path, start=False) as rt:
        rt.start()
        meter = rt.lamp = LampMeter(rt.journal, rt.head, persist_every_s=10.0, wall=lambda: now[0])
        rt.head.after_reading = meter.on_reading
        stored = rt.journal.lamp_seconds("fpi")
        rt.head.acquire()
        assert rt.journal.lamp_seconds("fpi") == stored  # within 10 s of the last write: held back…
        assert meter.seconds() > stored                   # …but shown
        now[0] = 11.0
        rt.head.acquire()
        assert rt.journal.lamp_seconds("fpi") == pytest.approx(meter.seconds(), abs=1e-9)


def test_service_life_warns_once_per_crossing(tmp_path):
    """``light_service_hours``: the write that reaches it journals one warning; a reset re-arms it."""
    make_runtime(tmp_path, start=False).close()
    service = {"head": {"fpi": {"light_service_hours": 1.0}}}
    with Journal.open(tmp_path) as j:
        j.set_lamp_seconds("fpi", 3600.0 - 1.0, ("maintenance", "info", "lamp-reset", "test", {}))
    with make_runtime(tmp_path, service) as rt:  # the start-up self-test's reading crosses 1 h
        assert rt.lamp_hours() > 1.0
        white_reference(rt)
        rt.lamp.note()
    (due,) = events(tmp_path, "lamp-service-due")
    assert due["severity"] == "warning" and "past its service life of 1 h" in due["message"]
    with make_runtime(tmp_path, service, start=False):
        pass  # a start that finds it past the limit reminds once more
    assert len(events(tmp_path, "lamp-service-due")) == 2
    assert main(["lamp", "reset", "--state-dir", str(tmp_path)]) == 0
    with make_runtime(tmp_path, service, start=False):
        pass
    assert len(events(tmp_path, "lamp-service-due")) == 2  # a new lamp: no warning
