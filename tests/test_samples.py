"""Sample sources for the simulator: specs, classes from a package, CSV rows, the registry."""
import numpy as np
import pytest

from firmware import optics
from firmware.errors import SampleSourceError
from firmware.sim.samples import (SOURCES, ClassSource, FlatSource, available_sources, parse_sample,
                                  register_source)

from hw_support import reflectance, sim_head, synthetic_spectrum, write_csv

WL = np.arange(1450.0, 1951.0, 1.0)


def manifest(head="fpi", **spectra):
    return {"name": f"{head}-test-v1", "head": head, "reference_spectra": spectra}


def test_builtin_sources():
    rng = np.random.default_rng(0)
    white = parse_sample(" White ").draw(rng)
    assert white.unit_white_tile and white.at([1000, 1700]) == pytest.approx([0.99, 0.99])
    assert parse_sample("black").draw(rng).at([1700])[0] == pytest.approx(0.03)
    assert parse_sample("empty").draw(rng).at([1700])[0] == 0.0
    assert {"white", "black", "empty", "csv"} <= set(SOURCES)


def test_class_from_a_manifest_is_case_insensitive_and_varies_by_sd():
    mean = synthetic_spectrum(WL)
    sd = np.full(WL.size, 0.02)
    m = manifest(PP={"wavelengths_nm": WL.tolist(), "mean": mean.tolist(), "sd": sd.tolist()})
    source = parse_sample("pp", m)
    assert isinstance(source, ClassSource) and source.name == "PP"
    rng = np.random.default_rng(1)
    draws = np.array([source.draw(rng).reflectance for _ in range(400)])
    assert np.abs(draws[0] - draws[1]).max() > 0.005          # every item differs
    assert draws.mean(axis=0) == pytest.approx(mean, abs=0.006)
    assert draws.std(axis=0) == pytest.approx(sd, rel=0.15)
    # variation is smooth over wavelength, not pixel noise
    assert np.corrcoef(draws[:, 100], draws[:, 110])[0, 1] > 0.9


def test_class_in_percent_is_scaled_and_measured_by_the_fpi():
    mean = 100 * synthetic_spectrum(WL)
    m = manifest(HDPE={"wavelengths_nm": WL.tolist(), "mean": mean.tolist(), "sd": [0.0] * WL.size})
    with sim_head("fpi") as (board, head):
        board.sim.place("white")
        white = head.acquire()
        board.sim.place("empty")
        empty = head.acquire()
        board.sim.place("hdpe", package=m)
        sample = head.acquire()
    assert reflectance(sample, white, empty) == pytest.approx(optics.fpi_optics().measure(WL, mean / 100), abs=5e-4)


def test_led8_package_gives_per_band_values():
    bands = [0.5, 0.55, 0.6, 0.52, 0.4, 0.45, 0.3, 0.35]
    m = manifest("led8", PET={"wavelengths_nm": [b.nominal_nm for b in optics.LED8_BANDS], "mean": bands,
                              "sd": [0.0] * 8})
    with sim_head("led8") as (board, head):
        readings = []
        for spec in ("white", "empty", "PET"):
            board.sim.place(spec, package=m)
            readings.append(head.acquire())
    white, empty, pet = readings
    assert reflectance(pet, white, empty) == pytest.approx(bands, abs=1e-3)
    with sim_head("fpi") as (board, head):
        with pytest.raises(SampleSourceError, match="only led8 band values"):
            board.sim.place("pet", package=m)


def test_csv_rows(tmp_path):
    rows = np.stack([synthetic_spectrum(WL, 1), 100 * synthetic_spectrum(WL, 2)])
    path = write_csv(tmp_path / "lib.csv", WL, rows, labels=("PP", "PLA"))
    rng = np.random.default_rng(0)
    first = parse_sample(f"csv:{path}:0").draw(rng)
    second = parse_sample(f"csv:{path}:1").draw(rng)
    assert first.reflectance == pytest.approx(rows[0]) and second.reflectance == pytest.approx(rows[1] / 100)
    assert "S1" in second.name and "PLA" in second.name
    with pytest.raises(SampleSourceError, match="row 2 does not exist .*2 data rows, numbered from 0"):
        parse_sample(f"csv:{path}:2")
    with pytest.raises(SampleSourceError, match="ROW 'x' is not a whole number"):
        parse_sample(f"csv:{path}:x")
    with pytest.raises(SampleSourceError, match="file not found"):
        parse_sample(f"csv:{tmp_path}/missing.csv:0")
    with pytest.raises(SampleSourceError, match="expected csv:PATH:ROW"):
        parse_sample("csv:justapath")


def test_csv_that_does_not_cover_the_head(tmp_path):
    wl = np.arange(1014.0, 1902.0, 4.0)        # the Avantes range: enough for fpi, not for led8
    path = write_csv(tmp_path / "avantes.csv", wl, synthetic_spectrum(wl))
    with sim_head("led8") as (board, head):
        with pytest.raises(SampleSourceError, match="covers 1014–1898 nm; the led8 head needs 868–1954 nm"):
            board.sim.place(f"csv:{path}:0")
    with sim_head("fpi") as (board, head):
        board.sim.place(f"csv:{path}:0")


def test_unknown_specs_list_what_exists():
    with pytest.raises(SampleSourceError, match=r"unknown sample 'pp'.*white, black, empty, csv:PATH:ROW.*"
                                                r"class names need a model package"):
        parse_sample("pp")
    m = manifest(PP={"wavelengths_nm": [1500, 1900], "mean": [0.5, 0.5], "sd": [0, 0]})
    with pytest.raises(SampleSourceError, match="classes of package fpi-test-v1: PP"):
        parse_sample("PS", m)
    with pytest.raises(SampleSourceError, match="takes no argument"):
        parse_sample("white:2")
    with pytest.raises(SampleSourceError, match="empty sample spec"):
        parse_sample("  ")
    assert available_sources(m)[-1] == "PP"


def test_registering_a_new_source(monkeypatch):
    monkeypatch.setattr("firmware.sim.samples.SOURCES", dict(SOURCES))

    @register_source("ceramic", help="ceramic:PCT  ceramic tile", takes_argument=True)
    def _grey(arg, package):
        return FlatSource(f"ceramic:{arg}", float(arg) / 100)

    assert parse_sample("CERAMIC:40").draw(np.random.default_rng(0)).at([1600])[0] == pytest.approx(0.4)
    with pytest.raises(SampleSourceError, match="needs an argument: ceramic:PCT"):
        parse_sample("ceramic")
    with pytest.raises(ValueError, match="registered twice"):
        register_source("ceramic", help="again")(_grey)


def test_motion_must_be_a_fraction():
    with sim_head("led8") as (board, head):
        with pytest.raises(ValueError, match="motion 1.5"):
            board.sim.place("white", motion=1.5)
