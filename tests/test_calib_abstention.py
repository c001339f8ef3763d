"""Black items through the whole chain: the device's quality checks on simulated counts, then the model."""
import numpy as np

from firmware.config.measurement import MeasurementSection
from firmware.inference import Prediction
from firmware.optics import fpi_optics
from host.calib.abstention import chain_abstention, quality_codes

WL = fpi_optics().channels_nm


def flat(level):
    return np.full(WL.size, level)


def test_quality_codes_follow_the_device_thresholds():
    rng = np.random.default_rng(0)
    # MeasurementSection defaults: dark below a median of 0.08, empty when 90 % of channels < 0.015
    codes = quality_codes("fpi", WL, np.stack([flat(0.04), flat(0.005), flat(0.6), flat(2.5), flat(6.0),
                                               flat(12.0)]), rng)
    # 2.5 (glossy): within range; 6: saturates at full gain, passes at half gain; 12: saturated at both
    assert codes == ["dark", "empty", None, None, None, "saturated"]
    strict = MeasurementSection(dark_max_reflectance=0.7)
    assert quality_codes("fpi", WL, flat(0.6)[None, :], rng, config=strict) == ["dark"]


def _pred(verdict, cls=None):
    return Prediction(verdict, None if verdict == "identified" else "why", cls, None, 0.9, {}, 0.0, 0.0, {})


def test_chain_abstention_counts_quality_refusals_and_model_verdicts():
    labels, groups = ["PP", "PA-CF"], ["ps5-015", "ps5-a_pacf"]
    folds = [[_pred("identified", "PLA"), _pred("unknown")], [_pred("identified", "PP"), _pred("identified", "PS")]]
    d = chain_abstention([None, "dark"], folds, labels, groups, [0.6, 0.05])
    assert d["quality_rejection_rate"] == 0.5
    assert d["model_abstention_rate"] == 0.25                  # 1 of 4 (row, fold) pairs
    assert d["chain_abstention_rate"] == 0.5                   # the dark row is refused in both folds
    assert d["identified_as_degradable_rate"] == 0.25          # the black PP called PLA once
    assert d["identified_as_other_material_rate"] == 0.25
    assert d["items"]["ps5-a_pacf"]["outcomes"] == {"rejected: dark": 2}
    assert d["items"]["ps5-015"]["outcomes"] == {"identified PLA": 1, "identified PP": 1}
