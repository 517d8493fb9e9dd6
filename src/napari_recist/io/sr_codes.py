"""Coded concepts of the TID 1500 SRs the project writes and reads.

One vocabulary shared by the SR writer (`sr_write`) and reader (`sr_read`): finding sites,
lesion roles, lesion states, responses, time point types and the tracking-identifier tag that
makes a measurement group readable by OHIF's SR reader (dcmjs ``MeasurementReport``).
Standard codes are used where DICOM PS3.16 has one; the rest use the private coding scheme
`PRIVATE_SCHEME` (PS3.16 section 8: a designator beginning with "99" is private).
"""

from __future__ import annotations

import hashlib

from highdicom.sr import CodedConcept

from napari_recist.model import LesionState, MeasurementMethod, Role

PRIVATE_SCHEME = "99NAPARIRECIST"


def _code(value: str, scheme: str, meaning: str) -> CodedConcept:
    return CodedConcept(value=value, scheme_designator=scheme, meaning=meaning)


def _private(value: str, meaning: str) -> CodedConcept:
    return _code(value, PRIVATE_SCHEME, meaning)


def code_key(code: object) -> tuple[str, str]:
    """Return ``(scheme, value)`` of a coded concept, the pair that identifies it."""
    return (str(code.scheme_designator), str(code.value))  # type: ignore[attr-defined]


# --- Measurement names ------------------------------------------------------------------
# dcmjs's Bidirectional adapter matches the code meanings "Long Axis" / "Short Axis" exactly
# (notes.md), so the meanings are spelled that way; readers match on the code value.
LONG_AXIS = _code("103339001", "SCT", "Long Axis")
SHORT_AXIS = _code("103340004", "SCT", "Short Axis")
LENGTH = _code("410668003", "SCT", "Length")  # dcmjs Length tool
DIAMETER = _code("81827009", "SCT", "Diameter")
LONG_AXIS_NAMES = {code_key(LONG_AXIS), code_key(LENGTH), code_key(DIAMETER)}
SHORT_AXIS_NAMES = {code_key(SHORT_AXIS)}

# --- Measurement method (TID 300: HAS CONCEPT MOD of each axis length) --------------------
# The concept name is SNOMED CT "Measurement Method" (SRT G-C036 before DICOM moved to SCT).
# Its values: "Manual" of CID 7230 (Segmentation Algorithm Type); PS3.16 as shipped in
# pydicom's concept dictionary has no semi-automatic value (only Manual and Automated), so
# the two semi-automatic methods use private codes. Keys: `MeasurementMethod` values.
MEASUREMENT_METHOD = _code("370129005", "SCT", "Measurement Method")
MEASUREMENT_METHOD_NAMES = {code_key(MEASUREMENT_METHOD), ("SRT", "G-C036")}
METHOD_CODES: dict[MeasurementMethod, CodedConcept] = {
    MeasurementMethod.MANUAL: _code("87982008", "SCT", "Manual"),
    MeasurementMethod.SEMI_AUTOMATIC: _private("semi-automatic", "Semi-automatic"),
    MeasurementMethod.SEMI_AUTOMATIC_ADJUSTED: _private(
        "semi-auto-adjust", "Semi-automatic, adjusted by reader"),
}
METHOD_BY_VALUE = {code_key(value): method for method, value in METHOD_CODES.items()}

MILLIMETRE = _code("mm", "UCUM", "millimeter")
# UCUM length units accepted on read, as factors to millimetres.
UNIT_TO_MM: dict[str, float] = {"mm": 1.0, "cm": 10.0, "um": 1e-3, "m": 1e3}

FINDING_LESION = _code("52988006", "SCT", "Lesion")

# --- Finding sites (SNOMED CT body structures) -------------------------------------------
SITE_CODES: dict[str, CodedConcept] = {
    "lung": _code("39607008", "SCT", "Lung"),
    "liver": _code("10200004", "SCT", "Liver"),
    "lymph node": _code("59441001", "SCT", "Lymph node"),
    "adrenal": _code("23451007", "SCT", "Adrenal gland"),
    "bone": _code("272673000", "SCT", "Bone"),
    "brain": _code("12738006", "SCT", "Brain"),
    "pleura": _code("3120008", "SCT", "Pleura"),
    "peritoneum": _code("15425007", "SCT", "Peritoneum"),
    "kidney": _code("64033007", "SCT", "Kidney"),
    "spleen": _code("78961009", "SCT", "Spleen"),
    "skin": _code("39937001", "SCT", "Skin"),
    "soft tissue": _code("87784001", "SCT", "Soft tissue"),
    "mediastinum": _code("72410000", "SCT", "Mediastinum"),
    "chest wall": _code("78904004", "SCT", "Chest wall"),
}
_SITE_BY_KEY = {code_key(code): site for site, code in SITE_CODES.items()}
# Older SRs (dcmjs among them) use SNOMED-RT "SRT" designators for the same concepts.
_SITE_BY_KEY.update({("SRT", "T-28000"): "lung", ("SRT", "T-62000"): "liver",
                     ("SRT", "T-C4000"): "lymph node"})


def site_code(site: str) -> CodedConcept:
    """Return the finding-site code of a lesion-table site.

    Parameters
    ----------
    site
        A site of `napari_recist.model.KNOWN_SITES` or free text.

    Returns
    -------
    CodedConcept
        SNOMED CT for known organs; a private code whose meaning is the text otherwise, so
        free text survives the round trip.
    """
    known = SITE_CODES.get(site.strip().lower())
    if known is not None:
        return known
    text = site.strip()[:64]  # Code Meaning is LO: 64 characters
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]  # Code Value is SH: 16
    return _private(digest, text)


def site_from_code(code: object) -> str:
    """Return the lesion-table site of a finding-site code (free text for unknown codes)."""
    known = _SITE_BY_KEY.get(code_key(code)) or _SITE_BY_KEY.get(normalised_key(*code_key(code)))
    if known is not None:
        return known
    meaning = str(code.meaning).strip()  # type: ignore[attr-defined]
    if "lymph node" in meaning.lower():  # CID 7600 lists many specific lymph node stations
        return "lymph node"
    return meaning if code_key(code)[0] == PRIVATE_SCHEME else meaning.lower()


# --- Lesion role ---------------------------------------------------------------------------
# CID 6145 "Baseline Category" (used by TID 6000-family reports) for target / non-target;
# RECIST new lesions have no standard code.
BASELINE_CATEGORY = _code("112016", "DCM", "Baseline Category")
LESION_ROLE = _private("role", "RECIST lesion role")
ROLE_CODES: dict[Role, tuple[CodedConcept, CodedConcept]] = {
    Role.TARGET: (BASELINE_CATEGORY, _code("112074", "DCM", "Target Lesion at Baseline")),
    Role.NON_TARGET: (BASELINE_CATEGORY, _code("112075", "DCM", "Non-Target Lesion at Baseline")),
    Role.NEW: (LESION_ROLE, _private("new", "New lesion")),
}
ROLE_BY_VALUE = {code_key(value): role for role, (_, value) in ROLE_CODES.items()}
ROLE_NAMES = {code_key(BASELINE_CATEGORY), code_key(LESION_ROLE)}

# --- Lesion state ---------------------------------------------------------------------------
LESION_STATE = _private("state", "RECIST lesion state")
STATE_CODES: dict[LesionState, CodedConcept] = {
    LesionState.MEASURED: _private("measured", "Measured"),
    LesionState.TOO_SMALL: _private("too-small", "Too small to measure"),
    LesionState.ABSENT: _code("121054", "DCM", "Absent"),
    LesionState.PRESENT: _code("121053", "DCM", "Present"),
    LesionState.PROGRESSION: _private("progression", "Unequivocal progression"),
    LesionState.INCREASE: _private("increase", "Increase"),
    LesionState.EQUIVOCAL: _code("42425007", "SCT", "Equivocal"),
    LesionState.NOT_EVALUATED: _private("not-evaluated", "Not evaluated"),
}
STATE_BY_VALUE = {code_key(value): state for state, value in STATE_CODES.items()}

# --- Yes/no flags -----------------------------------------------------------------------------
NODAL = _private("nodal", "Lymph node measured by short axis")
THORACIC = _private("thoracic", "Thoracic site")
YES = _code("373066001", "SCT", "Yes")
NO = _code("373067005", "SCT", "No")

# --- Response (CID 6144 where RECIST has a code, private otherwise) -------------------------
CURRENT_RESPONSE = _code("112048", "DCM", "Current Response")
_TARGET_RESPONSES = {
    "CR": _code("112041", "DCM", "Target Lesion Complete Response"),
    "PR": _code("112042", "DCM", "Target Lesion Partial Response"),
    "PD": _code("112043", "DCM", "Target Lesion Progressive Disease"),
    "SD": _code("112044", "DCM", "Target Lesion Stable Disease"),
}
_NON_TARGET_RESPONSES = {
    "CR": _code("112045", "DCM", "Non-Target Lesion Complete Response"),
    "NON-CR/NON-PD": _code(
        "112046", "DCM", "Non-Target Lesion Incomplete Response or Stable Disease"
    ),
    "PD": _code("112047", "DCM", "Non-Target Lesion Progressive Disease"),
}
_RESPONSE_BY_KEY = {code_key(c): text for text, c in _TARGET_RESPONSES.items()}
_RESPONSE_BY_KEY.update({code_key(c): text for text, c in _NON_TARGET_RESPONSES.items()})


def response_code(response: str, role: Role) -> CodedConcept:
    """Return the coded value of a lesion response string (``PR``, ``NEW``, ``iUPD`` ...)."""
    table = _TARGET_RESPONSES if role is Role.TARGET else _NON_TARGET_RESPONSES
    standard = table.get(response)
    if standard is not None:
        return standard
    return _private(response[:16], response)


def response_from_code(code: object) -> str:
    """Return the response string of a coded response value."""
    known = _RESPONSE_BY_KEY.get(code_key(code))
    return known if known is not None else str(code.meaning)  # type: ignore[attr-defined]


# --- Time point (TID 1502) -------------------------------------------------------------------
TIME_POINT = _code("C2348792", "UMLS", "Time Point")
TIME_POINT_TYPE = _code("126072", "DCM", "Time Point Type")
TIME_POINT_BASELINE = _code("C1442488", "UMLS", "Baseline")
TIME_POINT_POSTTREATMENT = _code("126074", "DCM", "Posttreatment")
TIME_POINT_PRETREATMENT = _code("C3539075", "UMLS", "Pretreatment")

# --- OHIF / dcmjs ------------------------------------------------------------------------------
# dcmjs (adapters/Cornerstone/*.js, isValidCornerstoneTrackingIdentifier) splits the Tracking
# Identifier on ":" and checks only the first two parts against this tag and its tool name, so
# "cornerstoneTools@^4.0.0:Bidirectional:L1" is read by OHIF and still carries our lesion id.
CORNERSTONE_TAG = "cornerstoneTools@^4.0.0"
CORNERSTONE_TAGS = (CORNERSTONE_TAG, "Cornerstone3DTools@^0.1.0")
TOOL_BIDIRECTIONAL = "Bidirectional"
TOOL_LENGTH = "Length"


def tool_tracking_identifier(tool: str | None, lesion_id: str) -> str:
    """Return the Tracking Identifier text of a lesion drawn with a given OHIF tool."""
    return lesion_id if tool is None else f"{CORNERSTONE_TAG}:{tool}:{lesion_id}"


def split_tracking_identifier(text: str) -> tuple[str | None, str | None]:
    """Split a Tracking Identifier into ``(tool, lesion id)``.

    ``"cornerstoneTools@^4.0.0:Length:L3"`` gives ``("Length", "L3")``; OHIF's own
    ``"cornerstoneTools@^4.0.0:Length"`` gives ``("Length", None)``; any other text is a
    lesion id with no tool.
    """
    for tag in CORNERSTONE_TAGS:
        if text.startswith(tag + ":"):
            tool, _, rest = text[len(tag) + 1 :].partition(":")
            return tool, (rest or None)
    return None, text

# --- Split and coalesced lesions (shared/spec/lesion-table.md, amended 2026-12) ----------
# DICOM has no concept for either link (PS3.16 "Coalescent" is a CAD descriptor, "Temporal
# Predecessor" an image reference purpose): TEXT items with private codes, value = the
# Tracking Identifier (lesion id) of the parent or of the carrier.
LESION_PART_OF = _private("LESION-PART-OF", "Part of lesion")
LESION_COALESCED = _private("LESION-COALESCED", "Coalesced into lesion")


# --- Equivalent codes of older SRs -----------------------------------------------------------
# DICOM replaced SNOMED RT ("SRT") codes by SNOMED CT ("SCT") in 2019 (PS3.16 2019c, CP 1850);
# pydicom ships the SRT -> SCT table DICOM published with that change, so an SRT code is read
# as the SNOMED CT concept it became (e.g. G-A185 -> 103339001 Long axis, G-D7FE -> 410668003
# Length, T-D000A -> 123037004 Body structure) without a hand-made list.
def normalised_key(scheme: str, value: str) -> tuple[str, str]:
    """Return ``(scheme, value)`` with a SNOMED RT code replaced by its SNOMED CT concept."""
    if scheme in ("SRT", "SNM3", "99SDM"):
        from pydicom.sr._snomed_dict import mapping

        sct = mapping.get("SRT", {}).get(value)
        if sct:
            return ("SCT", sct)
    return (scheme, value)


# --- What a NUM content item measures -------------------------------------------------------
# Kinds: "long" (long axis, length, diameter, distance: a RECIST longest diameter), "short"
# (short axis), and dimensions that are never a diameter: "radius", "area", "perimeter",
# "volume", "other length" (width, height, ellipse major/minor axis: not the longest diameter
# RECIST 1.1 section 4.2 asks for). Concept names are those of CID 7470 (Linear Measurements),
# CID 7471 (Area Measurements) and CID 7472 (Volume Measurements), as pydicom ships them.
MEASUREMENT_KINDS: dict[tuple[str, str], str] = {
    ("SCT", "103339001"): "long",  # Long axis (SRT G-A185; dcmjs before SNOMED CT)
    ("SCT", "410668003"): "long",  # Length (SRT G-D7FE; dcmjs, OHIF, dwv ruler)
    ("SCT", "81827009"): "long",  # Diameter (SRT M-02550; highdicom, TID 1410)
    ("DCM", "121206"): "long",  # Distance (CID 7470; a ruler between two points)
    ("SCT", "103340004"): "short",  # Short axis (SRT G-A186)
    ("SCT", "131190003"): "radius",  # Radius (dwv circle)
    ("SCT", "42798000"): "area",  # Area (SRT G-A166; dwv, cornerstone ellipse)
    ("SCT", "131184002"): "area",  # Area of defined region (SRT G-A16A; highdicom)
    ("DCM", "121202"): "area",  # Area of Defined Region
    ("SCT", "131191004"): "perimeter",  # Perimeter (SRT G-A197)
    ("SCT", "74551000"): "perimeter",  # Circumference
    ("SCT", "118565006"): "volume",  # Volume (SRT G-D705; dcmqi, TID 1411)
    ("SCT", "131187009"): "other length",  # Major Axis (SRT G-A193)
    ("SCT", "131188004"): "other length",  # Minor Axis (SRT G-A194)
    ("SCT", "103355008"): "other length",  # Width (SRT G-A220)
    ("DCM", "121207"): "other length",  # Height
}
# UCUM units by dimension, as factors to mm, mm2 and mm3 (UCUM: "ml" = cm3, "ul" = mm3).
LENGTH_UNITS = UNIT_TO_MM
AREA_UNITS: dict[str, float] = {"mm2": 1.0, "cm2": 100.0, "um2": 1e-6, "m2": 1e6}
VOLUME_UNITS: dict[str, float] = {"mm3": 1.0, "cm3": 1e3, "ml": 1e3, "ul": 1.0, "l": 1e6,
                                  "um3": 1e-9}


def measurement_kind(scheme: str, value: str, unit: str) -> str | None:
    """Return what a NUM measures, from its concept name and its unit; None when unknown.

    The unit has the last word: dcmjs writes its ellipse area with the Length code G-D7FE and
    unit mm2 (notes.md, "SR dialects"), and an area is never a diameter.
    """
    kind = MEASUREMENT_KINDS.get(normalised_key(scheme, value))
    if unit in AREA_UNITS:
        return "area" if kind is not None else None
    if unit in VOLUME_UNITS:
        return "volume" if kind is not None else None
    return kind


# --- Findings that are lesions, and findings that are not -------------------------------------
FINDING = ("DCM", "121071")  # TID 1501 row 3b, TID 1410/1411 "Finding"
FINDING_CATEGORY = ("SCT", "276214006")  # TID 1410/1411 "Finding category" (CID 7150)
# CID 7150 (Segmentation Property Categories): a morphologically abnormal structure is a
# lesion; anatomy, tissue, substances and physical objects are not.
LESION_CATEGORIES = {("SCT", "49755003"), ("SCT", "404684003")}  # + Clinical finding
NON_LESION_CATEGORIES = {
    ("SCT", "91723000"): "anatomical structure",
    ("SCT", "123037004"): "body structure",  # SRT T-D000A, the older "Anatomical Structure"
    ("SCT", "85756007"): "tissue",
    ("SCT", "91720002"): "body substance",
    ("SCT", "105590001"): "substance",
    ("SCT", "260787004"): "physical object",
}
# Findings (CID 6335-6337 / CID 7151 members) that are tumours, lesions or nodes.
LESION_FINDINGS = {("SCT", code) for code in (
    "52988006",  # Lesion
    "27925004",  # Nodule
    "4147007",  # Mass
    "108369006",  # Neoplasm / Tumor
    "372087000", "86049000",  # Neoplasm, primary (SRT M-80003)
    "14799000", "128462008",  # Neoplasm, metastatic; Metastasis
    "367643001",  # Cyst (RECIST 1.1 appendix: cystic metastases can be target lesions)
    "59441001",  # Lymph node (RECIST 1.1 section 3.1: pathological nodes are lesions)
)}
NORMAL_FINDINGS = {("SCT", "17621005"): "normal"}
# Body structures named as a Finding are anatomy, not lesions: the SNOMED RT topography axis
# ("T-" codes) and the organ codes this vocabulary knows, plus the structures real SRs use.
ANATOMY_FINDINGS = {code_key(c) for site, c in SITE_CODES.items() if site != "lymph node"} | {
    ("SCT", "2748008"),  # Spinal cord (highdicom sr_document.dcm)
    ("SCT", "15825003"),  # Aorta (highdicom multiple groups)
    ("SCT", "51282000"),  # Vertebra
}


def finding_is_lesion(scheme: str, value: str, meaning: str) -> tuple[bool | None, str]:
    """Whether a Finding (or Finding category) names a lesion, and what it is.

    Returns
    -------
    tuple
        ``(True, kind)`` for a tumour, lesion or node; ``(False, kind)`` for anatomy, tissue,
        substances, objects and normal findings; ``(None, meaning)`` when the code says
        neither (free text such as OHIF's CORNERSTONEFREETEXT).
    """
    key = normalised_key(scheme, value)
    if key in LESION_CATEGORIES or key in LESION_FINDINGS:
        return True, meaning
    if key in NON_LESION_CATEGORIES:
        return False, NON_LESION_CATEGORIES[key]
    if key in NORMAL_FINDINGS:
        return False, "normal finding"
    if key in ANATOMY_FINDINGS or (scheme == "SRT" and value.startswith("T-")):
        return False, "anatomical structure"
    return None, meaning
