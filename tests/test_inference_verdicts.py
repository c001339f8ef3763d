"""The verdict rules of firmware/inference.py on hand-made graph outputs."""
import numpy as np

from firmware.inference import decide

CLASSES = ["HDPE", "PET", "PLA"]
DEGR = {"HDPE": False, "PET": False, "PLA": True}
LIMITS = {"t2": 10.0, "q": 1.0, "class_distance": {"HDPE": 2.0, "PET": 2.0, "PLA": 3.0}, "min_score": 0.2}


def out(scores, dist, t2=1.0, q=0.1):
    return {"scores": np.array([scores]), "class_distance": np.array([dist]), "t2": np.array([t2]),
            "q": np.array([q])}


def test_identified_when_one_class_accepts():
    p = decide(out([0.05, 0.05, 0.9], [5.0, 4.0, 1.0]), CLASSES, DEGR, LIMITS)[0]
    assert (p.verdict, p.class_, p.degradable, p.reason) == ("identified", "PLA", True, None)
    assert p.confidence == 0.9 and p.limits == {"t2": 10.0, "q": 1.0} and p.scores["PLA"] == 0.9


def test_unknown_outside_every_class_names_the_nearest():
    p = decide(out([0.1, 0.2, 0.7], [5.0, 4.0, 3.5]), CLASSES, DEGR, LIMITS)[0]
    assert p.verdict == "unknown" and p.class_ is None
    assert "nearest PLA" in p.reason and "3.5 > limit 3" in p.reason


def test_unknown_names_the_likeliest_class_or_the_missing_score():
    # HDPE is near enough (1.0 <= 2) but unlikely; PLA, the likeliest, is too far: name PLA
    p = decide(out([0.1, 0.2, 0.7], [1.0, 4.0, 3.5]), CLASSES, DEGR, LIMITS)[0]
    assert p.verdict == "unknown" and "nearest PLA: distance 3.5 > limit 3" in p.reason
    # every class near enough, none likely enough (a three-way split under min_score 0.4)
    limits = {**LIMITS, "min_score": 0.4}
    p = decide(out([0.33, 0.32, 0.35], [1.0, 1.0, 1.0]), CLASSES, DEGR, limits)[0]
    assert p.verdict == "unknown" and p.reason == "no class is likely enough (best PLA: score 0.35 < 0.4)"


def test_unknown_when_q_or_t2_over_limit():
    p = decide(out([0.0, 0.0, 1.0], [1.0, 1.0, 1.0], q=5.0), CLASSES, DEGR, LIMITS)[0]
    assert p.verdict == "unknown" and "Q 5 > limit 1" in p.reason
    p = decide(out([0.0, 0.0, 1.0], [1.0, 1.0, 1.0], t2=11.0), CLASSES, DEGR, LIMITS)[0]
    assert p.verdict == "unknown" and "T² 11 > limit 10" in p.reason


def test_ambiguous_when_several_classes_accept():
    p = decide(out([0.45, 0.5, 0.05], [1.0, 1.5, 9.0]), CLASSES, DEGR, LIMITS)[0]
    assert p.verdict == "ambiguous" and p.class_ is None
    assert p.reason == "several classes accept: PET (0.50), HDPE (0.45)"
    assert p.degradable is False  # both candidates are conventional


def test_low_score_class_does_not_accept():
    # HDPE is within its distance limit but below min_score: PET alone accepts
    p = decide(out([0.1, 0.85, 0.05], [1.0, 1.5, 9.0]), CLASSES, DEGR, LIMITS)[0]
    assert (p.verdict, p.class_) == ("identified", "PET")


def test_composition_only_inside_its_calibration():
    quantities = [{"name": "pp_wt_pct", "unit": "wt %", "valid_range": [0, 100], "applies_to": ["HDPE"],
                   "limits": {"t2": 5.0, "q": 1.0, "range_margin": 5.0},
                   "uncertainty": {"rmsecv": 1.0, "n_train": 66}}]
    o = out([0.9, 0.05, 0.05], [1.0, 5.0, 9.0])
    o.update(composition=np.array([[30.0]]), composition_t2=np.array([[2.0]]), composition_q=np.array([[0.1]]))
    p = decide(o, CLASSES, DEGR, LIMITS, quantities)[0]
    assert p.composition["pp_wt_pct"]["value"] == 30.0
    assert np.isclose(p.composition["pp_wt_pct"]["uncertainty"], np.sqrt(1 + 2 / 66))
    o["composition_t2"] = np.array([[6.0]])  # leverage over the limit: no figure
    assert decide(o, CLASSES, DEGR, LIMITS, quantities)[0].composition == {}


def test_degradable_class_floor_turns_a_doubtful_call_into_unknown():
    limits = {**LIMITS, "min_score": 0.4, "class_min_score": {"PLA": 0.9}}
    # PLA alone accepts, but 0.85 < its own floor 0.9: unknown, naming the floor
    p = decide(out([0.1, 0.05, 0.85], [5.0, 4.0, 1.0]), CLASSES, DEGR, limits)[0]
    assert (p.verdict, p.class_, p.degradable) == ("unknown", None, None)
    assert p.reason == "not sure enough for PLA (score 0.85 < 0.9 required for this class)"
    # sure enough: identified as before
    p = decide(out([0.02, 0.03, 0.95], [5.0, 4.0, 1.0]), CLASSES, DEGR, limits)[0]
    assert (p.verdict, p.class_, p.degradable) == ("identified", "PLA", True)
    # the floor never hands the call to another class: PLA within its distance stays a competitor
    p = decide(out([0.45, 0.0, 0.55], [1.0, 4.0, 1.0]), CLASSES, DEGR, limits)[0]
    assert p.verdict == "ambiguous"
    # classes without a floor of their own keep min_score
    p = decide(out([0.5, 0.0, 0.5], [1.0, 4.0, 9.0]), CLASSES, DEGR, limits)[0]
    assert (p.verdict, p.class_) == ("identified", "HDPE")
