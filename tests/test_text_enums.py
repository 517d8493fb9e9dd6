"""The str enums that read as their value (`napari_recist.vocabulary.TextEnum`).

Reasons, the terminal summary and the CSV write these members with f-strings and str();
each must give the member's text exactly as the value would, with any format spec.
"""

from __future__ import annotations

import pickle

import pytest

from napari_recist import model, vocabulary
from napari_recist.vocabulary import TextEnum

ENUMS = [
    getattr(module, name)
    for module in (vocabulary, model)
    for name in dir(module)
    if isinstance(getattr(module, name), type)
    and issubclass(getattr(module, name), TextEnum)
    and getattr(module, name) is not TextEnum
    and len(getattr(module, name).__members__)
]
MEMBERS = [member for enum in ENUMS for member in enum]


def test_every_word_and_state_is_a_text_enum():
    names = {enum.__name__ for enum in ENUMS}
    assert {"Response", "IResponse", "ImResponse", "IrResponse", "Category", "VuagnatType",
            "Role", "LesionState", "MeasurementMethod"} <= names


@pytest.mark.parametrize("member", MEMBERS, ids=repr)
@pytest.mark.parametrize("spec", ["", "s", ">16", "<9", "^12", ".3", "*^20"])
def test_a_member_formats_as_its_value(member, spec):
    assert format(member, spec) == format(member.value, spec)
    assert f"{member}" == member.value
    assert str(member) == member.value
    assert type(str(member)) is str and type(f"{member}") is str
    assert member == member.value and hash(member) == hash(member.value)
    assert f"{member!r}" == f"<{type(member).__name__}.{member.name}: {member.value!r}>"
    assert pickle.loads(pickle.dumps(member)) is member
    assert type(member)(member.value) is member


def test_a_bad_format_spec_is_refused_as_for_the_text():
    with pytest.raises(ValueError):
        format(vocabulary.Response.PR, "d")
