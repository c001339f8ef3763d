"""The server-side SVG plot and the plain-words explanations."""
import re
import xml.etree.ElementTree as ET

import pytest

from firmware.web.explain import claim_check, explain, limit_rows
from firmware.web.plot import LEFT, RIGHT, W, nice_ticks, spectrum_svg

SVG = "{http://www.w3.org/2000/svg}"


def points(svg_text, cls):
    root = ET.fromstring(str(svg_text))
    return [[tuple(map(float, p.split(","))) for p in el.get("points").split()]
            for el in root.iter(f"{SVG}polyline") if el.get("class") == cls]


def test_trace_band_and_geometry():
    wl = [1550.0, 1600.0, 1650.0, 1700.0]
    y = [0.2, 0.4, 0.3, 0.5]
    band = {"wavelengths_nm": [1500.0, 1550.0, 1625.0, 1700.0, 1800.0], "mean": [0.3] * 5, "sd": [0.05] * 5}
    svg = spectrum_svg(wl, y, band, band_label="PET reference (mean ± 1 sd)")
    ET.fromstring(str(svg))  # well-formed XML
    (trace,) = points(svg, "trace")
    assert len(trace) == 4
    xs, ys = [p[0] for p in trace], [p[1] for p in trace]
    assert xs == sorted(xs) and xs[0] == pytest.approx(LEFT) and xs[-1] == pytest.approx(W - RIGHT)
    assert ys[1] < ys[0] and ys[3] < ys[1]  # higher reflectance is drawn higher (smaller y)
    (mean,) = points(svg, "band-mean")
    assert len(mean) == 3  # only the band's part inside 1550–1700 nm
    assert "PET reference (mean ± 1 sd)" in svg and "<title" in svg and 'role="img"' in svg


def test_gaps_break_the_line_and_no_band_without_overlap():
    svg = spectrum_svg([1, 2, 3, 4, 5], [0.1, None, 0.3, float("nan"), 0.5],
                       {"wavelengths_nm": [9, 10], "mean": [0.1, 0.2], "sd": [0.0, 0.0]}, band_label="X")
    assert [len(s) for s in points(svg, "trace")] == [1, 1, 1]
    assert 'class="band"' not in svg and "X" not in svg.split("</desc>")[1]


def test_no_spectrum_says_so():
    assert "No spectrum to plot" in spectrum_svg([], [])
    assert "No spectrum to plot" in spectrum_svg([1550.0], [0.5])


def test_labels_are_escaped():
    svg = spectrum_svg([1, 2], [0.1, 0.2], title="<script>", band_label=None)
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_nice_ticks():
    assert nice_ticks(1550, 1850, 4) == [1600.0, 1700.0, 1800.0]
    assert nice_ticks(0.13, 0.61) == [0.2, 0.3, 0.4, 0.5, 0.6]


def test_explanations_in_plain_words():
    base = {"sample": {}, "scores": {}}
    ex = explain(base | {"verdict": "identified", "class": "PLA", "degradable": True, "confidence": 0.934})
    assert ex["headline"] == "PLA" and ex["name"] == "polylactic acid (PLA)" and ex["confidence_pct"] == 93
    ex = explain(base | {"verdict": "rejected", "reason": "saturated: signal too strong (counts 8388607)"})
    assert ex["headline"] == "Too much light came back" and "Tilt" in ex["advice"]
    ex = explain(base | {"verdict": "rejected", "reason": "something-new: detail"})
    assert ex["headline"] == "Could not measure"
    claim = claim_check({"verdict": "identified", "class": "PE", "degradable": False,
                         "sample": {"claimed_material": "100% biodegradable"}})
    assert claim["ok"] is False and "“100% biodegradable”" in claim["text"]
    claim = claim_check({"verdict": "identified", "class": "PET", "degradable": False,
                         "sample": {"claimed_material": "pet"}})
    assert claim == {"ok": True, "text": "Matches the claim: PET."}
    assert claim_check({"verdict": "unknown", "sample": {"claimed_material": "PLA"}}) is None
    rows = limit_rows({"t2": 15.0, "q": 0.01, "limits": {"t2": 10.0, "q": 0.05}})
    assert [(r["name"], r["within"]) for r in rows] == [("T²", False), ("Q", True)]
    assert rows[0]["fraction"] == pytest.approx(0.75) and re.search("unusual", rows[0]["meaning"])
