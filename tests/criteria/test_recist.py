"""RECIST 1.1: every row of Tables 1-3 and every boundary, with hand-computed expectations."""

from __future__ import annotations

import pytest
from tests.criteria.builders import classify, days

from napari_recist.criteria.recist import RecistTimepoint, confirmed_best_overall_response

B = "2024-01-01"
D = [days(B, 56 * k) for k in range(6)]  # baseline, then every 8 weeks
TWO = {"T1": "target lung", "T2": "target liver"}


def two_targets(*sums: tuple[float, float]):
    return classify(TWO, [(D[k], {"T1": a, "T2": b}) for k, (a, b) in enumerate(sums)])


# --- target response boundaries (RECIST 1.1 section 4.3.1) ---------------------------------


@pytest.mark.parametrize(
    ("follow_up", "expected"),
    [
        ((35.0, 35.0), "PR"),  # 70 from 100: exactly -30 %
        ((35.0, 35.1), "SD"),  # 70.1: -29.9 %
        ((20.0, 20.0), "PR"),
        ((50.0, 50.0), "SD"),
    ],
)
def test_partial_response_boundary(follow_up, expected):
    result = two_targets((50.0, 50.0), follow_up)
    assert result.recist.timepoints[1].target == expected


def test_exactly_minus_30_percent_with_float_noise():
    # 0.7 * 33.3 is not exactly representable: 23.31 from 33.3 must still be -30 %.
    result = classify({"T1": "target lung"}, [(D[0], {"T1": 33.3}), (D[1], {"T1": 23.31})])
    assert result.recist.timepoints[1].target == "PR"


@pytest.mark.parametrize(
    ("nadir", "now", "expected"),
    [
        (25.0, 30.0, "PD"),  # exactly +20 % and exactly +5 mm
        (25.1, 30.12, "PD"),  # +20 % with float noise, +5.02 mm
        (21.0, 25.2, "SD"),  # exactly +20 % but only +4.2 mm
        (24.5, 29.4, "SD"),  # exactly +20 % with +4.9 mm
        (30.0, 35.0, "SD"),  # +5 mm but +16.7 %
        (40.0, 48.0, "PD"),  # +20 %, +8 mm
    ],
)
def test_progression_needs_20_percent_and_5_mm_from_nadir(nadir, now, expected):
    # The baseline is the nadir: one target keeps the arithmetic plain.
    result = classify({"T1": "target lung"}, [(D[0], {"T1": nadir}), (D[1], {"T1": now})])
    assert result.recist.timepoints[1].target == expected
    assert result.recist.timepoints[1].nadir == nadir


def test_nadir_is_smallest_earlier_fully_evaluated_sum_and_excludes_current():
    result = two_targets((50, 50), (40, 40), (30, "not-evaluated"), (45, 45))
    tps = result.recist.timepoints
    assert tps[1].nadir == 100
    assert tps[2].nadir == 80 and tps[2].target == "NE"
    assert tps[3].nadir == 80  # the NE assessment does not count
    assert tps[3].target == "SD"  # 90 from nadir 80 is +12.5 %, from baseline -10 %


def test_too_small_counts_5_mm():
    result = two_targets((10, 10), ("too-small", 10))
    tp = result.recist.timepoints[1]
    assert tp.sod == 15
    assert tp.target == "SD"  # -25 %


def test_too_small_is_not_complete_response():
    result = two_targets((20, 20), ("absent", "too-small"))
    tp = result.recist.timepoints[1]
    assert tp.sod == 5
    assert tp.target == "PR"


@pytest.mark.parametrize(("node", "expected"), [(10.0, "PR"), (9.9, "CR"), (0.0, "CR")])
def test_node_at_10_mm_is_not_normal(node, expected):
    lesions = {"T1": "target lung", "LN": "target lymph node"}
    result = classify(lesions, [(D[0], {"T1": 30, "LN": 20}), (D[1], {"T1": "absent", "LN": node})])
    assert result.recist.timepoints[1].target == expected


def test_complete_response_with_nodes_keeps_a_positive_sum():
    lesions = {"T1": "target lung", "LN": "target lymph node"}
    result = classify(lesions, [(D[0], {"T1": 30, "LN": 20}), (D[1], {"T1": "absent", "LN": 8})])
    tp = result.recist.timepoints[1]
    assert (tp.target, tp.sod, tp.overall) == ("CR", 8, "CR")


def test_missing_target_is_not_evaluated():
    result = two_targets((50, 50), (30, "not-evaluated"))
    assert result.recist.timepoints[1].target == "NE"
    assert result.recist.timepoints[1].sod is None


def test_missing_row_of_a_covered_target_is_not_evaluated():
    result = classify(TWO, [(D[0], {"T1": 50, "T2": 50}), (D[1], {"T1": 50})])
    assert result.recist.timepoints[1].target == "NE"


def test_missing_target_still_pd_when_the_others_alone_meet_it():
    # nadir 100; T1 alone 125 = +25 %, +25 mm
    result = two_targets((50, 50), (125, "not-evaluated"))
    assert result.recist.timepoints[1].target == "PD"


def test_continued_partial_response():
    # RWG FAQ: SOD 100, 70, 80 is PR, PR.
    result = two_targets((50, 50), (35, 35), (40, 40))
    assert [tp.target for tp in result.recist.timepoints[1:]] == ["PR", "PR"]


def test_continued_partial_response_across_not_evaluated():
    result = two_targets((50, 50), (35, 35), (35, "not-evaluated"), (40, 40))
    assert [tp.target for tp in result.recist.timepoints[1:]] == ["PR", "NE", "PR"]


def test_continued_partial_response_ends_at_progression():
    # 100, 70 (PR), 84 (+20 %, +14 mm: PD), 80: -20 % from baseline, +14.3 % from nadir 70
    result = two_targets((50, 50), (35, 35), (42, 42), (40, 40))
    assert [tp.target for tp in result.recist.timepoints[1:]] == ["PR", "PD", "SD"]


def test_reappearance_after_complete_response_is_progression():
    lesions = {"T1": "target lung", "T2": "target liver"}
    result = classify(
        lesions,
        [
            (D[0], {"T1": 30, "T2": 20}),
            (D[1], {"T1": "absent", "T2": "absent"}),
            (D[2], {"T1": 3, "T2": "absent"}),  # 3 mm: below +5 mm, but it reappeared
        ],
    )
    assert [tp.overall for tp in result.recist.timepoints[1:]] == ["CR", "PD"]


@pytest.mark.parametrize(("node", "expected"), [(9.0, "CR"), (10.0, "PD")])
def test_node_reappears_at_10_mm_after_complete_response(node, expected):
    lesions = {"T1": "target lung", "LN": "target lymph node"}
    result = classify(
        lesions,
        [
            (D[0], {"T1": 30, "LN": 20}),
            (D[1], {"T1": "absent", "LN": 6}),
            (D[2], {"T1": "absent", "LN": node}),
        ],
    )
    assert result.recist.timepoints[2].overall == expected


def test_non_target_reappearing_after_complete_response_is_progression():
    lesions = {"T1": "target lung", "N1": "non-target bone"}
    result = classify(
        lesions,
        [
            (D[0], {"T1": 30, "N1": "present"}),
            (D[1], {"T1": "absent", "N1": "absent"}),
            (D[2], {"T1": "absent", "N1": "present"}),
        ],
    )
    assert [tp.overall for tp in result.recist.timepoints[1:]] == ["CR", "PD"]
    assert result.recist.timepoints[2].non_target == "PD"


# --- non-target response (RECIST 1.1 section 4.3.2) ------------------------------------------


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (("absent", "absent"), "CR"),
        (("absent", 8.0), "CR"),  # node < 10 mm
        (("absent", 10.0), "NON-CR/NON-PD"),
        (("present", "absent"), "NON-CR/NON-PD"),
        (("increase", "absent"), "NON-CR/NON-PD"),  # not unequivocal
        (("equivocal", "absent"), "NON-CR/NON-PD"),
        (("not-evaluated", "absent"), "NE"),
        (("progression", "not-evaluated"), "PD"),
        (("progression", "absent"), "PD"),
    ],
)
def test_non_target_response(states, expected):
    lesions = {"N1": "non-target bone", "N2": "non-target lymph node"}
    result = classify(
        lesions,
        [(D[0], {"N1": "present", "N2": 12.0}), (D[1], {"N1": states[0], "N2": states[1]})],
    )
    assert result.recist.timepoints[1].non_target == expected


# --- new lesions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    [(8.0, "PD"), ("present", "PD"), ("too-small", "PD"), ("equivocal", "PR"), ("absent", "PR")],
)
def test_new_lesion(state, expected):
    lesions = {"T1": "target lung", "X1": "new liver"}
    result = classify(lesions, [(D[0], {"T1": 40}), (D[1], {"T1": 20, "X1": state})])
    assert result.recist.timepoints[1].overall == expected


def test_equivocal_new_lesion_confirmed_later_dates_progression_back():
    lesions = {"T1": "target lung", "X1": "new liver"}
    result = classify(
        lesions,
        [
            (D[0], {"T1": 40}),
            (D[1], {"T1": 20, "X1": "equivocal"}),
            (D[2], {"T1": 20, "X1": 12}),
        ],
    )
    assert [tp.overall for tp in result.recist.timepoints[1:]] == ["PR", "PD"]  # not rewritten
    assert result.recist.first_pd_index == 2
    assert result.recist.progression_date.isoformat() == D[1]
    assert result.recist.best_overall_response == "PR"


# --- RECIST 1.1 Table 1: target disease -------------------------------------------------------

T1_LESIONS = {"T1": "target lung", "N1": "non-target bone", "X1": "new liver"}


@pytest.mark.parametrize(
    ("target", "non_target", "new", "expected"),
    [
        ("absent", "absent", None, "CR"),  # CR, CR, no -> CR
        ("absent", "present", None, "PR"),  # CR, NON-CR/NON-PD, no -> PR
        ("absent", "not-evaluated", None, "PR"),  # CR, NE, no -> PR
        (20.0, "present", None, "PR"),  # PR, non-PD -> PR
        (20.0, "not-evaluated", None, "PR"),  # PR, NE -> PR
        (35.0, "present", None, "SD"),  # SD, non-PD -> SD
        (35.0, "not-evaluated", None, "SD"),  # SD, NE -> SD
        ("not-evaluated", "present", None, "NE"),  # NE, non-PD -> NE
        (60.0, "present", None, "PD"),  # PD, any -> PD
        (20.0, "progression", None, "PD"),  # any, PD -> PD
        (20.0, "present", 12.0, "PD"),  # any, any, new -> PD
        ("absent", "absent", 12.0, "PD"),
    ],
)
def test_table_1(target, non_target, new, expected):
    follow_up = {"T1": target, "N1": non_target}
    if new is not None:
        follow_up["X1"] = new
    result = classify(T1_LESIONS, [(D[0], {"T1": 40, "N1": "present"}), (D[1], follow_up)])
    assert result.recist.timepoints[1].overall == expected


# --- RECIST 1.1 Table 2: non-target disease only ---------------------------------------------


@pytest.mark.parametrize(
    ("non_target", "new", "expected"),
    [
        ("absent", None, "CR"),
        ("present", None, "NON-CR/NON-PD"),
        ("not-evaluated", None, "NE"),
        ("progression", None, "PD"),
        ("present", "present", "PD"),
    ],
)
def test_table_2(non_target, new, expected):
    follow_up = {"N1": non_target}
    if new is not None:
        follow_up["X1"] = new
    result = classify(
        {"N1": "non-target bone", "X1": "new liver"}, [(D[0], {"N1": "present"}), (D[1], follow_up)]
    )
    tp = result.recist.timepoints[1]
    assert (tp.target, tp.overall) == ("NA", expected)


# --- best overall response --------------------------------------------------------------------


def test_time_points_are_computed_after_progression():
    result = two_targets((50, 50), (60, 60), (35, 35))
    assert [tp.overall for tp in result.recist.timepoints[1:]] == ["PD", "PR"]
    assert result.recist.best_overall_response == "PD"  # BOR stops at the first PD


@pytest.mark.parametrize(
    ("schedule", "sums", "expected"),
    [
        ([30, 60], [(45, 45), (60, 60)], "PD"),  # early SD then PD -> PD
        ([30], [(45, 45)], "NE"),  # early SD, nothing after -> NE
        ([30, 60], [(45, 45), (45, "not-evaluated")], "NE"),  # early SD then NE -> NE
        ([42], [(45, 45)], "SD"),  # exactly 42 days -> SD
        ([41], [(45, 45)], "NE"),
        ([30, 60], [(30, 30), (60, 60)], "PR"),  # unconfirmed PR before PD
        ([56, 112], [(45, 45), (30, 30)], "PR"),
        ([56, 112], [("absent", "absent"), (30, 30)], "CR"),
    ],
)
def test_best_overall_response(schedule, sums, expected):
    visits = [(D[0], {"T1": 50, "T2": 50})] + [
        (days(B, d), {"T1": a, "T2": b}) for d, (a, b) in zip(schedule, sums, strict=True)
    ]
    assert classify(TWO, visits).recist.best_overall_response == expected


def test_best_overall_response_without_follow_up_is_ne():
    assert classify(TWO, [(D[0], {"T1": 50, "T2": 50})]).recist.best_overall_response == "NE"


# --- RECIST 1.1 Table 3: confirmed best overall response --------------------------------------
# Table 3 is a rule on the sequence of overall responses; it is tested on such sequences (a
# true CR followed by any disease is PD at the time point, footnote a, so "CR then PR" cannot
# come from measurements).


def confirmed(*sequence: tuple[int, str]) -> str:
    visits = [(D[0], {"T1": 50})] + [(days(B, day), {"T1": 40}) for day, _ in sequence]
    result = classify({"T1": "target lung"}, visits)
    timepoints = [RecistTimepoint(index=0)] + [
        RecistTimepoint(index=k + 1, overall=response) for k, (_, response) in enumerate(sequence)
    ]
    return confirmed_best_overall_response(result.timeline, timepoints)[0]


@pytest.mark.parametrize(
    ("sequence", "expected"),
    [
        (((56, "CR"), (84, "CR")), "CR"),  # CR, CR -> CR
        (((56, "CR"), (84, "PR")), "PR"),  # CR, PR -> PR
        (((56, "CR"), (84, "SD")), "SD"),  # CR, SD -> SD (duration met)
        (((28, "CR"), (35, "SD")), "NE"),  # CR, SD -> not SD before 42 days... then NE
        (((56, "CR"), (84, "PD")), "SD"),  # CR, PD -> SD if duration met
        (((28, "CR"), (56, "PD")), "PD"),  # else PD
        (((56, "CR"), (84, "NE")), "SD"),  # CR, NE -> SD if duration met
        (((28, "CR"), (35, "NE")), "NE"),  # else NE
        (((56, "PR"), (84, "CR")), "PR"),  # PR, CR -> PR
        (((56, "PR"), (84, "PR")), "PR"),  # PR, PR -> PR
        (((56, "PR"), (84, "SD")), "SD"),  # PR, SD -> SD
        (((56, "PR"), (84, "PD")), "SD"),  # PR, PD -> SD if duration met
        (((28, "PR"), (56, "PD")), "PD"),  # else PD
        (((56, "PR"), (84, "NE")), "SD"),  # PR, NE -> SD if duration met
        (((28, "PR"), (35, "NE")), "NE"),  # else NE
        (((56, "NE"), (84, "NE")), "NE"),  # NE, NE -> NE
        (((56, "PR"), (70, "PR")), "SD"),  # second PR only 14 days later: not confirmed
        (((56, "PR"), (70, "PR"), (90, "PR")), "PR"),  # confirmed 34 days later
        (((56, "PR"), (70, "NE"), (90, "PR")), "PR"),  # an NE in between does not break it
        (((56, "SD"), (84, "PD")), "SD"),
        (((30, "SD"), (56, "PD")), "PD"),
    ],
)
def test_table_3_confirmed_best_overall_response(sequence, expected):
    assert confirmed(*sequence) == expected


def test_confirmed_complete_response_from_measurements():
    visits = [(D[0], {"T1": 50, "T2": 50}), (D[1], {"T1": "absent", "T2": "absent"})]
    visits.append((days(B, 84), {"T1": "absent", "T2": "absent"}))
    assert classify(TWO, visits).recist.confirmed_best_overall_response == "CR"


def test_reason_carries_the_numbers():
    result = classify(
        {"T1": "target lung"},
        [(D[0], {"T1": 70}), (D[1], {"T1": 35}), (D[2], {"T1": 43})],
    )
    assert result.recist.timepoints[2].overall_reason == (
        "PD: SOD 43 mm is +22.9 % and +8 mm from nadir 35 mm (TP1)"
    )
    assert (
        result.recist.timepoints[1].overall_reason == "PR: SOD 35 mm is -50.0 % from baseline 70 mm"
    )


# --- baseline selection rules: warnings, not refusals (RECIST 1.1 sections 3.1 and 3.3) --------


def test_baseline_rules_are_warnings():
    lesions = {f"T{k}": "target lung" for k in range(6)}
    lesions["LN"] = "target lymph node"
    baseline = {f"T{k}": 20 for k in range(6)} | {"T0": 9, "LN": 14}
    result = classify(lesions, [(D[0], baseline), (D[1], baseline)])
    text = "\n".join(result.warnings)
    assert "7 target lesions" in text
    assert "6 targets in lung" in text
    assert "T0 (lung) is 9 mm long axis" in text
    assert "LN (lymph node) is 14 mm short axis" in text
    assert result.recist.timepoints[1].overall == "SD"  # still classified


def test_a_valid_baseline_has_no_warning():
    assert two_targets((10, 10), (10, 10)).warnings == []


def test_target_without_a_baseline_size_is_classified_with_a_warning():
    # The table reader refuses this; records built elsewhere (SR, viewer) must not crash.
    result = two_targets((50, "not-evaluated"), (40, 40), (60, 60))
    assert [tp.target for tp in result.recist.timepoints[1:]] == ["SD", "PD"]
    assert any("T2 (liver) has no size at baseline" in w for w in result.warnings)
    result.to_json()


def test_confirmed_bor_of_non_target_disease_only_is_never_sd():
    result = classify(
        {"N1": "non-target lung"},
        [
            ("2024-01-01", {"N1": "present"}),
            ("2024-02-25", {"N1": "absent"}),  # CR, day 55
            ("2024-03-10", {"N1": "absent"}),  # only 14 days later: not confirmed
            ("2024-04-20", {"N1": "progression"}),
        ],
    )
    assert result.recist.confirmed_best_overall_response == "NON-CR/NON-PD"
    assert result.recist.best_overall_response == "CR"


@pytest.mark.parametrize(
    ("state", "expected"), [("present", "NON-CR/NON-PD"), ("progression", "PD")]
)
def test_node_recorded_without_a_size_after_cr(state, expected):
    lesions = {"T1": "target lung", "LN": "non-target lymph node"}
    result = classify(
        lesions,
        [
            (D[0], {"T1": 30, "LN": 12}),
            (D[1], {"T1": "absent", "LN": 8}),
            (D[2], {"T1": "absent", "LN": state}),
        ],
    )
    assert result.recist.timepoints[1].overall == "CR"
    assert result.recist.timepoints[2].non_target == expected


def test_confirmed_bor_non_target_disease_only_non_cr_non_pd():
    result = classify(
        {"N1": "non-target bone"}, [(D[0], {"N1": "present"}), (D[1], {"N1": "present"})]
    )
    assert result.recist.confirmed_best_overall_response == "NON-CR/NON-PD"
