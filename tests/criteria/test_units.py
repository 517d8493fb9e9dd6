"""Lesions that split or coalesce (criteria.md section 1, amended 2026-12) and the iRECIST
"any increase" read from sizes (section 2), with the spec's worked examples."""

from __future__ import annotations

from tests.criteria.builders import classify, days, irecist, overall, targets

B = "2024-01-01"
D = [days(B, 56 * k) for k in range(8)]


def test_coalesced_worked_example_units_and_nadirs():
    # A 20, B 15; then B coalesced into A, mass 18; then A 24, B 8 apart again: units {A}
    # and {B} there, nadirs 20 and 15 (the merged assessment is skipped).
    result = classify(
        {"A": "target lung", "B": "target lung"},
        [(D[0], {"A": 20, "B": 15}), (D[1], {"A": 18, "B": ("into", "A")}),
         (D[2], {"A": 24, "B": 8})],
    )
    tp1, tp2 = result.recist.timepoints[1:]
    assert tp1.sod == 18  # the coalesced row counts 0
    assert targets(result)[0] == "PR"  # 18 from 35: -48.6 %
    lesions1 = result.lesions[1]
    assert lesions1["A"].response == lesions1["B"].response == "PR"  # one unit, 18 vs 35
    lesions2 = result.lesions[2]
    # {A}: 24 vs nadir 20 is +20 % but only +4 mm: SD (against 18 it would be PD).
    assert lesions2["A"].response == "SD" and lesions2["A"].nadir_mm == 20
    assert lesions2["B"].response == "PR" and lesions2["B"].nadir_mm == 15  # 8 from 15
    # The SOD nadir still is 18 (sum over rows): 32 is PD.
    assert tp2.target == "PD"


def test_split_lesion_sums_its_fragments_and_reports_the_unit():
    result = classify(
        {"T1": "target liver", "T4": "target lung", "T4.1": "target lung",
         "T4.2": "target lung", "T4.1.1": "target lung"},
        [
            (D[0], {"T1": 30, "T4": 20}),
            (D[1], {"T1": 30, "T4.1": 12, "T4.2": 10}),
            (D[2], {"T1": 30, "T4.1": 5}),  # T4.2 missing: not evaluated, so is T4
            (D[3], {"T1": 30, "T4.1.1": 4, "T4.2": 4}),  # T4.1 split again
        ],
        part_of={"T4.1": "T4", "T4.2": "T4", "T4.1.1": "T4.1"},
    )
    assert result.recist.timepoints[1].sod == 52
    lesions = result.lesions[1]
    assert {lid: lesions[lid].response for lid in ("T4", "T4.1", "T4.2")} == {
        "T4": "SD", "T4.1": "SD", "T4.2": "SD"
    }
    assert lesions["T4"].diameter_mm == 22  # 12 + 10 against 20
    assert "T4.1.1" not in lesions  # not seen yet
    assert targets(result)[1] == "NE"
    assert result.lesions[2]["T4"].response == "NE"
    assert result.timeline.root("T4.1.1") == "T4"
    assert result.recist.timepoints[3].sod == 38
    assert result.lesions[3]["T4"].response == "PR"  # 8 from 20: -60 %
    json = result.to_json()["timepoints"][2]
    assert set(json["lesions"]) >= {"T4", "T4.1", "T4.2"}


def test_nodal_fragments_cr_needs_each_below_10():
    result = classify(
        {"LN": "target lymph node", "LN.1": "target lymph node", "LN.2": "target lymph node"},
        [(D[0], {"LN": 20}), (D[1], {"LN.1": 8, "LN.2": 8}), (D[2], {"LN.1": 8, "LN.2": 10})],
        part_of={"LN.1": "LN", "LN.2": "LN"},
    )
    assert targets(result) == ["CR", "PD"]  # 16 mm in all but each < 10: CR; then 10 is back
    assert result.lesions[1]["LN"].response == "CR"


def test_fragment_of_a_new_lesion_is_the_same_new_lesion():
    result = classify(
        {"T1": "target lung", "X": "new liver", "X.1": "new liver", "X.2": "new liver"},
        [(D[0], {"T1": 30}), (D[1], {"T1": 30, "X": 12}), (D[2], {"T1": 30, "X.1": 6, "X.2": 7})],
        part_of={"X.1": "X", "X.2": "X"},
    )
    assert result.recist.timepoints[2].new_lesion_ids == ["X"]
    # Its fragments are not "more new lesions", and the NLT sum 12 -> 13 is not +5 mm.
    assert irecist(result) == ["iUPD", "iUPD"]
    assert result.irecist.timepoints[2].new_lesion_target_sum == 13


def test_irecist_any_increase_of_a_split_new_lesion():
    # Z 8 mm at the iUPD, then its fragments Z.1 5 + Z.2 5 = 10 mm: Z has increased.
    result = classify(
        {"T1": "target lung", "Z": "new liver", "Z.1": "new liver", "Z.2": "new liver"},
        [(D[0], {"T1": 30}), (D[1], {"T1": 30, "Z": 8}), (D[2], {"T1": 30, "Z.1": 5, "Z.2": 5})],
        part_of={"Z.1": "Z", "Z.2": "Z"},
    )
    assert irecist(result) == ["iUPD", "iCPD"]
    assert "increased" in result.irecist.timepoints[2].reason


def test_irecist_any_increase_from_the_smallest_size_since_the_iupd():
    # 8 mm at the iUPD, then 6, 6.8, 7.3: increased at 7.3, +1.3 over 6.
    visits = [(D[0], {"T1": 30})]
    for k, size in enumerate([8, 6, 6.8, 7.3], start=1):
        visits.append((D[k], {"T1": 30, "X": size}))
    result = classify({"T1": "target lung", "X": "new liver"}, visits)
    assert irecist(result) == ["iUPD", "iUPD", "iUPD", "iCPD"]


def test_irecist_any_increase_boundary_is_1_mm():
    for size, expected in ((7.0, "iCPD"), (6.9, "iUPD")):
        result = classify(
            {"T1": "target lung", "X": "new liver"},
            [(D[0], {"T1": 30}), (D[1], {"T1": 30, "X": 6}), (D[2], {"T1": 30, "X": size})],
        )
        assert irecist(result)[1] == expected, size


def test_non_target_in_iupd_increases_by_size():
    result = classify(
        {"T1": "target lung", "N1": "non-target liver", "N2": "non-target bone"},
        [(D[0], {"T1": 30, "N1": "present", "N2": 20}),
         (D[1], {"T1": 30, "N1": "progression", "N2": 20}),
         (D[2], {"T1": 30, "N1": "progression", "N2": 20}),  # still progression: no further
         (D[3], {"T1": 30, "N1": "progression", "N2": 21})],  # +1.0 mm over 20
    )
    assert irecist(result) == ["iUPD", "iUPD", "iCPD"]


def test_after_reset_nlnt_increase_gives_no_iupd_but_progression_does():
    result = classify(
        {"T1": "target lung", "X": "new liver"},
        [(D[0], {"T1": 30}), (D[1], {"T1": 30, "X": 8}), (D[2], {"T1": 20, "X": 8}),
         (D[3], {"T1": 20, "X": "increase"}), (D[4], {"T1": 20, "X": "progression"})],
    )
    assert irecist(result) == ["iUPD", "iPR", "iPR", "iUPD"]


def test_dissociated_response_counts_a_unit_once():
    # A split target cannot shrink against its own fragment (Vuagnat over units).
    result = classify(
        {"T1": "target lung", "T1.1": "target lung", "T1.2": "target lung", "T2": "target liver"},
        [(D[0], {"T1": 40, "T2": 30}), (D[1], {"T1.1": 30, "T1.2": 2, "T2": 30})],
        part_of={"T1.1": "T1", "T1.2": "T1"},
    )
    assert result.vuagnat[1].value == "none"  # units T1 (32 of 40: SD) and T2 (SD)
    assert overall(result) == ["SD"]
