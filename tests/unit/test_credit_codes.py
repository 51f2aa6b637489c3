"""Credit codes of every registration authority of GB 32100-2015, checked structurally by us."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from ledger.domain.errors import InvalidInput
from ledger.domain.values import USCC_ALPHABET, USCC_AUTHORITIES, normalize_uscc


def code(start: str, body: str = "MA3X5Y6T0") -> str:
    """A code beginning with authority, category and division code, with its check character."""
    stem = start + body
    if any(c not in USCC_ALPHABET for c in stem):
        return stem + "0"  # no check character exists for characters outside the alphabet
    return stem + stdnum_uscc.calc_check_digit(stem)


@pytest.mark.parametrize(
    "start",
    [
        "N2410481",  # village-level rural collective economic organisation
        "N1410481",
        "N3410481",
        "Y1410481",  # other registration authorities
        "A1110000",  # military institutions
        "31410481",  # law firm
        "81410481",  # trade union
        "91410481",
        "92410481",
        "93410481",
        "51410481",
        "12410481",
    ],
)
def test_a_code_of_every_registration_authority_is_accepted(start: str) -> None:
    valid = code(start)
    assert normalize_uscc(valid) == valid
    assert normalize_uscc(valid.lower()) == valid


def test_python_stdnum_alone_refuses_the_letter_authorities() -> None:
    # Why the structure is ours: stdnum 2.2 demands 8 leading digits.
    assert not stdnum_uscc.is_valid(code("N2410481"))


@pytest.mark.parametrize(
    ("value", "part"),
    [
        (code("B1410481"), "registration-authority code"),
        (code("01410481"), "registration-authority code"),
        (code("I1410481"), "registration-authority code"),
        (code("94410481"), "category code"),
        (code("Y2410481"), "category code"),
        (code("N4410481"), "category code"),
        ("9141048AMA3X5Y6T00", "administrative division code"),
        (code("91410481", "MA3X5Y6TO"), "organisation body"),
        (code("91410481", "MA3X5Y6TS"), "organisation body"),
        (code("91410481", "MA3Z5Y6T0"), "organisation body"),
        ("91410481MA3X5Y6T0I", "check character"),
        ("91410481MA3X5Y6T", "18 characters"),
    ],
)
def test_a_wrong_part_is_named(value: str, part: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalize_uscc(value)
    assert refused.value.field == "uscc"
    assert part in refused.value.message


def test_a_wrong_check_character_names_the_right_one() -> None:
    valid = code("N2410481")
    wrong = valid[:-1] + ("0" if valid[-1] != "0" else "1")
    with pytest.raises(InvalidInput) as refused:
        normalize_uscc(wrong)
    assert f"should be '{valid[-1]}'" in refused.value.message


def test_a_full_width_code_is_the_same_code() -> None:
    valid = code("91410481")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in valid)
    assert normalize_uscc(full_width) == valid


def test_a_code_with_an_invisible_character_is_refused() -> None:
    valid = code("91410481")
    with pytest.raises(InvalidInput):
        normalize_uscc(valid[:5] + "\u200b" + valid[5:])
    with pytest.raises(InvalidInput):
        normalize_uscc(valid + "\x00")


def test_the_cached_path_and_another_field_name_give_the_same_answers() -> None:
    valid = code("Y1410481")
    assert normalize_uscc(valid) == normalize_uscc(valid, field_name="target_uscc") == valid
    with pytest.raises(InvalidInput) as refused:
        normalize_uscc(code("B1410481"), field_name="target_uscc")
    assert refused.value.field == "target_uscc"


@settings(max_examples=300, deadline=None)
@given(
    authority=st.sampled_from(sorted(USCC_AUTHORITIES)),
    data=st.data(),
)
def test_every_well_formed_code_is_accepted_and_its_check_character_is_stdnums(
    authority: str, data: st.DataObject
) -> None:
    category = data.draw(st.sampled_from(sorted(USCC_AUTHORITIES[authority][1])))
    division = data.draw(st.text(alphabet="0123456789", min_size=6, max_size=6))
    body = data.draw(st.text(alphabet=USCC_ALPHABET, min_size=9, max_size=9))
    stem = authority + category + division + body
    check = stdnum_uscc.calc_check_digit(stem)
    assert normalize_uscc(stem + check) == stem + check
    for other in USCC_ALPHABET:
        if other != check:
            with pytest.raises(InvalidInput):
                normalize_uscc(stem + other)
            break
