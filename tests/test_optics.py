import numpy as np
import pytest

from firmware import optics


def test_fpi_default_grid():
    g = optics.fpi_grid()
    assert g[0] == 1550 and g[-1] == 1850 and g.size == 61 and np.allclose(np.diff(g), 5)


@pytest.mark.parametrize("head", ["fpi", "led8"])
def test_flat_spectrum_stays_flat(head):
    o = optics.head_optics(head)
    wl = np.arange(800.0, 2400.0, 2.0)
    out = o.measure(wl, np.full((3, wl.size), 0.42))
    assert out.shape == (3, o.channels_nm.size)
    assert np.allclose(out, 0.42)


def test_fpi_channel_reads_its_centre_on_a_linear_spectrum():
    o = optics.fpi_optics()
    wl = np.arange(1400.0, 2000.0, 4.0)  # coarse, like the Avantes grid
    slope = 1e-3
    out = o.measure(wl, 0.5 + slope * (wl - 1700))
    # the lamp × responsivity tilt moves the effective centre by well under 1 nm
    assert np.allclose(out, 0.5 + slope * (o.channels_nm - 1700), atol=slope * 1.0)


def test_wavelength_shift_moves_channels():
    o = optics.fpi_optics()
    wl = np.arange(1400.0, 2000.0, 1.0)
    spec = 0.5 + 1e-3 * (wl - 1700)
    delta = o.measure(wl, spec, wavelength_shift_nm=6.0) - o.measure(wl, spec)
    assert np.allclose(delta, 6e-3, atol=1e-4)


def test_narrow_band_is_blurred_by_18nm_fwhm():
    o = optics.fpi_optics()
    wl = np.arange(1400.0, 2000.0, 0.25)
    dip = 1 - 0.5 * optics.gaussian(wl, 1700.0, 2.0)  # a 2 nm wide absorption line
    out = o.measure(wl, dip)
    depth = 1 - out.min()
    # area is conserved: 0.5*2 nm line over an ~18 nm window gives ~0.5*2/18 depth
    assert 0.04 < depth < 0.07
    assert o.channels_nm[out.argmin()] == 1700


def test_source_must_cover_the_head():
    with pytest.raises(ValueError, match="covers 1014.0–1901.0 nm"):
        optics.led8_optics().measure(np.linspace(1014, 1901, 200), np.ones(200))
    with pytest.raises(ValueError, match="unknown optical head"):
        optics.head_optics("ftir")


def test_resample_refuses_extrapolation():
    with pytest.raises(ValueError, match="needed"):
        optics.resample([1, 2, 3], [1, 2, 3], [0.5, 2])
    assert optics.resample([1, 2, 3], [[1, 2, 3]], [1.5])[0, 0] == 1.5
