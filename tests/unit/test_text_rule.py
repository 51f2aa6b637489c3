"""The one text rule (DOMAIN §8) and the date rules, as pure functions, over generated Unicode."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.dates import (
    EARLIEST_HAPPENED_ON,
    happened_on,
    known_by_now,
    parse_date,
    parse_instant,
)
from ledger.domain.errors import InvalidInput
from ledger.domain.text import MAX_TEXT, REFUSED_CATEGORIES, clean_text, natural_key, optional_text

REFUSED = set(REFUSED_CATEGORIES)


@pytest.mark.parametrize(
    ("value", "point"),
    [
        ("舞钢\x00公司", "U+0000"),
        ("\u200b", "U+200B"),
        ("\u200b\u200c\u200d", "U+200B"),
        ("舞钢\u202e司公", "U+202E"),
        ("\ufeff舞钢", "U+FEFF"),
        ("罚\u00ad1号", "U+00AD"),
        ("罚\u20601号", "U+2060"),
        ("a\x07b", "U+0007"),
        ("a\x1bb", "U+001B"),
        ("a\nb", "U+000A"),
        ("a\ud800b", "U+D800"),
        ("a\ue000b", "U+E000"),
        ("a\U000f0000b", "U+F0000"),
        ("a\u0378b", "U+0378"),
    ],
)
def test_a_refused_code_point_is_named_with_the_field(value: str, point: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        clean_text(value, "name")
    assert refused.value.field == "name"
    assert point in refused.value.message
    assert "name" in refused.value.message


@pytest.mark.parametrize("value", ["", "   ", "\t\n", "\u3000", " \u3000 \n"])
def test_text_empty_after_trimming_is_refused(value: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        clean_text(value, "grounds")
    assert refused.value.field == "grounds"
    assert "required" in refused.value.message


def test_an_optional_field_may_be_absent_but_not_blank() -> None:
    assert optional_text(None, "description") is None
    with pytest.raises(InvalidInput):
        optional_text("  ", "description")


def test_text_is_stored_nfc_and_trimmed() -> None:
    decomposed = "Cafe\u0301 舞钢 "
    assert clean_text(f"\n {decomposed}\t", "name") == "Café 舞钢"


def test_text_longer_than_the_limit_is_refused_naming_the_limit() -> None:
    assert clean_text("x" * MAX_TEXT, "name") == "x" * MAX_TEXT
    with pytest.raises(InvalidInput) as refused:
        clean_text("x" * (MAX_TEXT + 1), "name")
    assert str(MAX_TEXT) in refused.value.message


def test_a_value_that_is_not_text_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        clean_text(12, "name")
    assert refused.value.field == "name"


def test_full_width_and_half_width_document_numbers_are_one_key() -> None:
    assert natural_key("舞市监罚〔２０２５〕１号") == natural_key("舞市监罚〔2025〕1号")
    assert natural_key("ＡＢＣ") == "ABC"
    # The key is only for comparing: the stored text keeps its form.
    assert clean_text("舞市监罚〔２０２５〕１号", "document_no") == "舞市监罚〔２０２５〕１号"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40))
def test_generated_text_is_either_refused_or_clean(value: str) -> None:
    # What the rule should do, worked out independently: trim the NFC form, then look.
    trimmed = unicodedata.normalize("NFC", value).strip()
    bad = [c for c in trimmed if unicodedata.category(c) in REFUSED]
    if bad or not trimmed:
        with pytest.raises(InvalidInput) as refused:
            clean_text(value, "name")
        assert refused.value.field == "name"
        if bad:
            assert f"U+{ord(bad[0]):04X}" in refused.value.message
        return
    cleaned = clean_text(value, "name")
    assert cleaned == trimmed
    assert cleaned == cleaned.strip()
    assert unicodedata.is_normalized("NFC", cleaned)
    cleaned.encode("utf-8")  # nothing unencodable survives
    assert clean_text(cleaned, "name") == cleaned  # idempotent


@settings(max_examples=300, deadline=None)
@given(
    st.text(min_size=1, max_size=20),
    st.sampled_from(["\x00", "\u200b", "\u2060", "\u00ad", "\u202e", "\ufeff", "\x07", "\ue000"]),
    st.integers(min_value=0),
)
def test_an_invisible_or_control_character_anywhere_is_refused(
    text: str, bad: str, at: int
) -> None:
    where = at % (len(text) + 1)
    value = text[:where] + bad + text[where:]
    with pytest.raises(InvalidInput):
        clean_text(value, "document_no")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_the_natural_key_is_idempotent_and_never_fails(value: str) -> None:
    # Total over any text, so folding streams stored before the text rule never fails.
    assert natural_key(natural_key(value)) == natural_key(value)


# -- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [20230301, 1677628800, 1.5, True, None, [2023, 3, 1]])
def test_a_number_or_other_json_value_is_not_a_date(value: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_date(value, "decided_on")
    assert refused.value.field == "decided_on"
    assert "YYYY-MM-DD" in refused.value.message


@pytest.mark.parametrize(
    "value", ["20230301", "2023-W09-3", "2023-3-1", "2023-02-30", "10000-01-01", "２０２３-03-01"]
)
def test_only_calendar_dates_written_yyyy_mm_dd_are_dates(value: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_date(value, "filed_on")
    assert refused.value.field == "filed_on"


def test_a_date_written_yyyy_mm_dd_is_read() -> None:
    assert parse_date("2023-03-01", "decided_on") == date(2023, 3, 1)
    assert parse_date("9999-12-31", "as_of") == date(9999, 12, 31)


@pytest.mark.parametrize(
    "day", [date(1, 1, 1), date(1949, 9, 30), date(2024, 6, 2), date(9999, 12, 31)]
)
def test_a_date_of_something_that_happened_lies_between_1949_10_01_and_today(day: date) -> None:
    with pytest.raises(InvalidInput) as refused:
        happened_on(day, "decided_on", today=date(2024, 6, 1))
    assert refused.value.field == "decided_on"


def test_the_bounds_themselves_are_allowed() -> None:
    today = date(2024, 6, 1)
    assert happened_on(EARLIEST_HAPPENED_ON, "decided_on", today=today) == EARLIEST_HAPPENED_ON
    assert happened_on(today, "decided_on", today=today) == today


def test_an_instant_is_not_a_date() -> None:
    with pytest.raises(InvalidInput):
        happened_on(datetime(2024, 1, 1, tzinfo=UTC), "decided_on", today=date(2024, 6, 1))


def test_known_at_after_now_is_refused_naming_known_at() -> None:
    now = datetime(2024, 6, 1, tzinfo=UTC)
    assert known_by_now(now, "known_at", now=now) == now
    with pytest.raises(InvalidInput) as refused:
        known_by_now(now + timedelta(seconds=1), "known_at", now=now)
    assert refused.value.field == "known_at"
    with pytest.raises(InvalidInput):
        known_by_now(datetime(2024, 1, 1), "known_at", now=now)


@pytest.mark.parametrize("value", [1700000000, "1700000000", "2024-01-01", "yesterday"])
def test_an_instant_is_rfc_3339_text_never_a_number(value: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_instant(value, "known_at")
    assert refused.value.field == "known_at"


def test_an_rfc_3339_instant_is_read_with_its_offset() -> None:
    read = parse_instant("2023-11-01T00:00:00+08:00", "known_at")
    assert read == datetime(2023, 10, 31, 16, tzinfo=UTC)
    assert parse_instant("2023-11-01T00:00:00Z", "known_at").utcoffset() == timedelta(0)
    with pytest.raises(InvalidInput):
        parse_instant("2023-11-01T00:00:00", "known_at")
