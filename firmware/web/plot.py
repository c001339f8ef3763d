"""The measured spectrum and its class's reference band as inline SVG, drawn on the server.

Server-side so the plot is there without JavaScript and without a charting library on a device
with 512 MB; SVG so it stays sharp on a phone and scales with the page (``viewBox``, width 100 %).
Meaning never rests on colour alone: the sample is a thick solid line, the reference mean a
dashed line, the ± 1 sd band a hatched area, and the legend says so in words. Points the device
could not compute (None) break the line rather than being drawn as zero.
"""
from __future__ import annotations

import math
from typing import Sequence

from markupsafe import Markup, escape

#: Drawing units: narrow enough that 22-unit text stays ≥ 13 px on a 390 px phone.
W, H = 560, 380
LEFT, RIGHT, TOP, BOTTOM = 80, 14, 92, 52


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 × 10^k) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, target)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks, t = [], first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 10))
        t += step
    return ticks


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def _label(v: float) -> str:
    return f"{v:g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.1e}"


def _segments(xs: Sequence[float], ys: Sequence[float | None]) -> list[list[tuple[float, float]]]:
    """Runs of consecutive finite points (a None or NaN ends a run)."""
    out: list[list[tuple[float, float]]] = [[]]
    for x, y in zip(xs, ys):
        if y is None or x is None or not (math.isfinite(x) and math.isfinite(y)):
            if out[-1]:
                out.append([])
            continue
        out[-1].append((float(x), float(y)))
    return [s for s in out if s]


def spectrum_svg(wavelengths_nm: Sequence[float], spectrum: Sequence[float | None],
                 band: dict[str, list[float]] | None = None, *, band_label: str | None = None,
                 title: str = "Measured spectrum", y_label: str = "reflectance") -> Markup:
    """An ``<svg>`` of the spectrum (shape (W,), on ``wavelengths_nm`` (W,)) with an optional band.

    ``band`` is ``{wavelengths_nm, mean, sd}`` (equal lengths, any grid); only its part inside the
    measured range is drawn, because the package keeps it at source resolution with a margin.
    """
    segments = _segments(list(wavelengths_nm), list(spectrum))
    if sum(len(s) for s in segments) < 2:
        return Markup('<p class="no-plot">No spectrum to plot: the device could not compute one for this '
                      'measurement.</p>')
    xs = [x for s in segments for x, _ in s]
    ys = [y for s in segments for _, y in s]
    x0, x1 = min(xs), max(xs)
    inside: list[tuple[float, float, float]] = []
    if band:
        inside = [(x, m, s) for x, m, s in zip(band["wavelengths_nm"], band["mean"], band["sd"]) if x0 <= x <= x1]
        if len(inside) < 2:
            inside = []
    lows = ys + [m - s for _, m, s in inside]
    highs = ys + [m + s for _, m, s in inside]
    y0, y1 = min(lows), max(highs)
    pad = (y1 - y0) * 0.08 or max(abs(y1) * 0.1, 0.01)
    y0, y1 = y0 - pad, y1 + pad
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return TOP + (y1 - y) / (y1 - y0) * ph

    parts = [f'<svg class="spectrum" id="spectrum-plot" viewBox="0 0 {W} {H}" role="img" '
             f'aria-labelledby="plot-title plot-desc" xmlns="http://www.w3.org/2000/svg">',
             f'<title id="plot-title">{escape(title)}</title>',
             f'<desc id="plot-desc">{escape(_describe(len(xs), x0, x1, band_label if inside else None))}</desc>',
             '<defs><pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse" '
             'patternTransform="rotate(45)"><rect width="8" height="8" class="hatch-bg"/>'
             '<line x1="0" y1="0" x2="0" y2="8" class="hatch-line"/></pattern></defs>',
             f'<rect class="plot-area" x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}"/>']
    for t in nice_ticks(y0, y1):
        if y0 <= t <= y1:
            parts.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + pw}" y1="{_fmt(py(t))}" y2="{_fmt(py(t))}"/>'
                         f'<text class="tick" x="{LEFT - 8}" y="{_fmt(py(t) + 7)}" text-anchor="end">{_label(t)}</text>')
    for t in nice_ticks(x0, x1, 4):
        if x0 <= t <= x1:
            parts.append(f'<line class="grid" y1="{TOP}" y2="{TOP + ph}" x1="{_fmt(px(t))}" x2="{_fmt(px(t))}"/>'
                         f'<text class="tick" x="{_fmt(px(t))}" y="{TOP + ph + 24}" text-anchor="middle">{t:g}</text>')
    parts.append(f'<text class="axis-label" x="{LEFT + pw / 2:.0f}" y="{H - 8}" text-anchor="middle">'
                 f'wavelength (nm)</text>'
                 # Horizontal, above the axis: a rotated label would cost the tick labels their room.
                 f'<text class="axis-label" x="4" y="{TOP - 12}">{escape(y_label)}</text>')
    if inside:
        upper = " ".join(f"{_fmt(px(x))},{_fmt(py(m + s))}" for x, m, s in inside)
        lower = " ".join(f"{_fmt(px(x))},{_fmt(py(m - s))}" for x, m, s in reversed(inside))
        parts.append(f'<path class="band" d="M{upper} L{lower} Z"/>')
        parts.append('<polyline class="band-mean" points="' +
                     " ".join(f"{_fmt(px(x))},{_fmt(py(m))}" for x, m, _ in inside) + '"/>')
    for seg in segments:
        parts.append('<polyline class="trace" points="' +
                     " ".join(f"{_fmt(px(x))},{_fmt(py(y))}" for x, y in seg) + '"/>')
    parts.append(_legend(band_label if inside else None))
    parts.append("</svg>")
    return Markup("".join(parts))


def _describe(n: int, x0: float, x1: float, band_label: str | None) -> str:
    text = f"Line plot of the measured spectrum, {n} points from {x0:g} to {x1:g} nm."
    if band_label:
        text += f" Shaded band: {band_label}."
    return text


def _legend(band_label: str | None) -> str:
    """Two rows above the plot: each symbol drawn as in the plot, then its meaning in words."""
    items = [f'<line class="trace" x1="{LEFT}" x2="{LEFT + 32}" y1="18" y2="18"/>'
             f'<text class="legend" x="{LEFT + 40}" y="25">measured (solid line)</text>']
    if band_label:
        items.append(f'<rect class="band" x="{LEFT}" y="38" width="32" height="20"/>'
                     f'<line class="band-mean" x1="{LEFT}" x2="{LEFT + 32}" y1="48" y2="48"/>'
                     f'<text class="legend" x="{LEFT + 40}" y="55">{escape(band_label)}</text>')
    return "".join(items)
