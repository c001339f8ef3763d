"""Step 3: photometric checks — linearity over grey standards (and its correction), noise at high
and low flux, repeatability, stray light.

Figures (arrays: scans ``(S, C)``, repeats ``(N, C)``):

- **linearity**: the mean reflectance over the channels of each grey standard against its
  certified value; least-squares slope and intercept. A unit with a gain error g reads (1 + g)×
  on every grey: slope 1 + g. The correction is R' = a·R + b with a = a₀/slope and
  b = (b₀ − intercept)/slope on top of the correction (a₀, b₀) already in force, so the greys
  then read their certified values; they are measured again and judged as left.
- **noise**: RMS over scans and channels of the absorbance (−log10 R) about its per-channel mean,
  in mAU; on the white tile (high flux) and on the 10 % grey (low flux).
- **repeatability**: ten readings of the 50 % grey (each the usual scans averaged); the largest
  per-channel standard deviation, in reflectance.
- **stray light**: the head's net signal with the port on a light trap as a percentage of the
  white tile's (median over channels); and the trap's reflectance after the dark reference has
  removed it (it must read 0).
"""
from __future__ import annotations

import copy

import numpy as np

from .device import DeviceRequestError
from .run import Run, as_found, judged, not_made
from .standards import GREY_SOURCE, LINEARITY_GREYS, LOW_FLUX_GREY, REPEATABILITY_GREY, TRAP_SOURCE

STEP = "photometric"


def grey_spec(fraction: float) -> str:
    return f"grey:{fraction * 100:g}"


def rms_noise_mau(reflectance: np.ndarray) -> float:
    """RMS absorbance noise (mAU) of scans ``(S, C)`` of one standard."""
    a = -np.log10(np.clip(np.asarray(reflectance, dtype=float), 1e-6, None))
    return float(np.sqrt(np.mean((a - a.mean(axis=0)) ** 2)) * 1000.0)


def linear_fit(certified, measured) -> tuple[float, float]:
    slope, intercept = np.polyfit(np.asarray(certified, float), np.asarray(measured, float), 1)
    return float(slope), float(intercept)


def corrected(photometric: dict, slope: float, intercept: float) -> dict:
    """The photometric correction that makes R_out = certified, on top of ``photometric`` in force."""
    a0, b0 = float(photometric["scale"]), float(photometric["offset"])
    return {"scale": round(a0 / slope, 6), "offset": round((b0 - intercept) / slope, 6)}


def _greys(run: Run, scans: int) -> list[float]:
    values = []
    for g in LINEARITY_GREYS:
        run.place(grey_spec(g), f"Place the {g * 100:g} % grey standard on the port")
        mean = run.device.scan(scans=scans)["repeats"][0]["mean"]
        if mean is None:
            raise DeviceRequestError("the grey standard's reading has no reflectance (no white reference)")
        values.append(float(np.nanmean(mean)))
    return values


def _judge_linearity(run: Run, measured: list[float], phase: str) -> bool:
    slope, intercept = linear_fit(LINEARITY_GREYS, measured)
    detail = "greys read " + ", ".join(f"{m:.4f}" for m in measured)
    if phase == "as found":
        run.add(as_found("photometric.linearity_slope", STEP, "Linearity slope", slope, "photometric.linearity_slope",
                         detail=detail))
        run.add(as_found("photometric.linearity_intercept", STEP, "Linearity intercept", intercept,
                         "photometric.linearity_intercept"))
        return False
    a = run.add(judged("photometric.linearity_slope", STEP, "Linearity slope", slope, "photometric.linearity_slope",
                       detail=detail))
    b = run.add(judged("photometric.linearity_intercept", STEP, "Linearity intercept", intercept,
                       "photometric.linearity_intercept"))
    return bool(a.passed and b.passed)


def linearity(run: Run, *, scans: int = 5, max_corrections: int = 2) -> bool:
    run.use_standard("greys", "Grey reflectance standards", "grey", GREY_SOURCE,
                     certified=[round(g, 4) for g in LINEARITY_GREYS])
    history = []
    for attempt in range(max_corrections + 1):
        try:
            measured = _greys(run, scans)
        except DeviceRequestError as exc:
            run.add(not_made("photometric.linearity_slope", STEP, "Linearity slope", str(exc),
                             "photometric.linearity_slope"))
            run.add(not_made("photometric.linearity_intercept", STEP, "Linearity intercept", str(exc),
                             "photometric.linearity_intercept"))
            return False
        slope, intercept = linear_fit(LINEARITY_GREYS, measured)
        history.append({"corrections": copy.deepcopy(run.corrections["photometric"]), "measured": measured,
                        "slope": slope, "intercept": intercept})
        run.figures["linearity"] = history
        if attempt == 0:
            _judge_linearity(run, measured, "as found")
        fine = 0.95 <= slope <= 1.05 and abs(intercept) <= 0.05
        # correct a clear gain error even inside the limits: the models see the photometric scale
        needs = abs(slope - 1.0) > 0.01 or abs(intercept) > 0.005
        if (fine and not needs) or attempt == max_corrections:
            return _judge_linearity(run, measured, "as left")
        new = copy.deepcopy(run.corrections)
        new["photometric"] = corrected(run.corrections["photometric"], slope, intercept)
        run.log(f"photometric: slope {slope:.4f}, intercept {intercept:+.4f}; trying correction "
                f"scale {new['photometric']['scale']:.5f}, offset {new['photometric']['offset']:+.5f}")
        run.trial(new)
    return False


def _scan_or_fail(run: Run, cid: str, name: str, key: str, **kw):
    try:
        return run.device.scan(**kw)
    except DeviceRequestError as exc:
        run.add(not_made(cid, STEP, name, str(exc), key))
        return None


def noise(run: Run, *, scans: int = 10) -> bool:
    ok = True
    for cid, name, spec, instruction in (
            ("photometric.noise_high_flux", "Noise, high flux (white tile)", "white",
             "Place the white reference tile on the port"),
            ("photometric.noise_low_flux", f"Noise, low flux ({LOW_FLUX_GREY * 100:g} % grey)",
             grey_spec(LOW_FLUX_GREY),
             f"Place the {LOW_FLUX_GREY * 100:g} % grey standard on the port")):
        run.place(spec, instruction)
        scan = _scan_or_fail(run, cid, name, cid, scans=scans)
        if scan is None:
            ok = False
            continue
        refl = scan["repeats"][0]["reflectance"]
        if refl is None:
            run.add(not_made(cid, STEP, name, "no reflectance (no white reference)", cid))
            ok = False
            continue
        ok &= bool(run.add(judged(cid, STEP, name, rms_noise_mau(refl), cid, detail=f"{scans} scans")).passed)
        if spec == "white":
            run.figures["white_net"] = scan["repeats"][0]["net"]
    return ok


def repeatability(run: Run, *, repeats: int = 10) -> bool:
    cid = "photometric.repeatability"
    name = f"Repeatability ({repeats} readings of the {REPEATABILITY_GREY * 100:g} % grey)"
    run.place(grey_spec(REPEATABILITY_GREY), f"Place the {REPEATABILITY_GREY * 100:g} % grey standard on the port")
    scan = _scan_or_fail(run, cid, name, cid, repeats=repeats)
    if scan is None:
        return False
    means = [r["mean"] for r in scan["repeats"]]
    if any(m is None for m in means):
        run.add(not_made(cid, STEP, name, "no reflectance (no white reference)", cid))
        return False
    sd = float(np.max(np.std(np.asarray(means, dtype=float), axis=0, ddof=1)))
    return bool(run.add(judged(cid, STEP, name, sd, cid, detail="largest channel standard deviation")).passed)


def stray_light(run: Run, *, scans: int = 5) -> bool:
    run.place("trap", "Cover the port with the black light trap")
    cid, name = "photometric.stray_light", "Stray light (light trap / white tile)"
    scan = _scan_or_fail(run, cid, name, cid, scans=scans)
    if scan is None:
        run.add(not_made("photometric.stray_residual", STEP, "Light trap after stray-light correction",
                         "no reading", "photometric.stray_residual"))
        return False
    trap = scan["repeats"][0]
    white = run.figures.get("white_net")
    ok = True
    if white is None or trap.get("net") is None:
        run.add(not_made(cid, STEP, name, "no white-tile reading to compare with", cid))
        ok = False
    else:
        frac = float(np.median(np.asarray(trap["net"], float) / np.maximum(np.asarray(white, float), 1e-9)) * 100)
        ok &= bool(run.add(judged(cid, STEP, name, frac, cid, detail="median over channels, before correction"))
                   .passed)
    rid, rname = "photometric.stray_residual", "Light trap after stray-light correction"
    if trap.get("mean") is None:
        run.add(not_made(rid, STEP, rname, "no reflectance (no white reference)", rid))
        return False
    return ok & bool(run.add(judged(rid, STEP, rname, float(np.nanmean(trap["mean"])), rid,
                                    detail="mean reflectance over channels")).passed)


def run_all(run: Run) -> bool:
    run.use_standard("trap", "Black light trap", "trap", TRAP_SOURCE, reflectance=0.0)
    results = [linearity(run), noise(run), repeatability(run), stray_light(run)]
    return all(results)
