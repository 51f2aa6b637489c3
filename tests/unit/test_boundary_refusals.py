"""Each refusal at the boundary says exactly which field broke which rule, in words a clerk reads.

The messages, fields and rules below are what the API shows in a 422 or 403 answer, so they are
asserted whole: a changed word is a changed answer.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

import pytest

from ledger.domain.dates import (
    DATE_RULE,
    HAPPENED_RULE,
    INSTANT_RULE,
    happened_on,
    known_by_now,
    parse_date,
    parse_instant,
    require_date,
)
from ledger.domain.errors import Forbidden, InvalidInput, LedgerError
from ledger.domain.model import default_models
from ledger.domain.rules.authority import (
    Correct,
    Enrol,
    InField,
    PutOnList,
    RecordIndicator,
    decide,
    require,
)
from ledger.domain.text import RULE, clean_text, optional_text
from ledger.domain.values import SYSTEM_ACTOR, Actor, Role
from tests.support import recorder

MODEL = default_models().in_force(date(2023, 1, 1)).model
CST = timezone(timedelta(hours=8))


def refusal(error: LedgerError) -> tuple[str, str | None, str | None]:
    return error.message, error.field, error.rule


# --- dates ---------------------------------------------------------------------------------------


def test_a_date_object_passes_and_a_datetime_is_refused_as_not_a_date() -> None:
    assert parse_date(date(2023, 5, 1), "decided_on") == date(2023, 5, 1)
    with pytest.raises(InvalidInput) as refused:
        parse_date(datetime(2023, 5, 1, tzinfo=UTC), "decided_on")
    assert refusal(refused.value) == (
        "decided_on must be a date written YYYY-MM-DD, not a datetime "
        "(datetime.datetime(2023, 5, 1, 0, 0, tzinfo=datetime.timezone.utc))",
        "decided_on",
        DATE_RULE,
    )


def test_a_date_written_otherwise_is_refused_showing_what_was_sent() -> None:
    with pytest.raises(InvalidInput) as as_text:
        parse_date("2023/05/01", "as_of")
    assert refusal(as_text.value) == (
        "as_of must be a date written YYYY-MM-DD, not '2023/05/01'",
        "as_of",
        "a date is a string YYYY-MM-DD",
    )
    with pytest.raises(InvalidInput) as as_number:
        parse_date(20230501, "as_of")
    assert (
        as_number.value.message == "as_of must be a date written YYYY-MM-DD, not a int (20230501)"
    )


def test_a_well_written_date_that_is_not_in_the_calendar_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_date("2023-02-29", "decided_on")
    assert refusal(refused.value) == (
        "decided_on '2023-02-29' is not a calendar date",
        "decided_on",
        DATE_RULE,
    )
    assert parse_date("2024-02-29", "decided_on") == date(2024, 2, 29)


def test_an_instant_in_utc_may_be_written_with_a_capital_or_small_z() -> None:
    expected = datetime(2023, 11, 1, tzinfo=UTC)
    assert parse_instant("2023-11-01T00:00:00Z", "known_at") == expected
    assert parse_instant("2023-11-01T00:00:00z", "known_at") == expected
    assert parse_instant("2023-11-01t08:00:00+08:00", "known_at") == expected


def test_an_instant_out_of_range_is_refused_as_not_valid() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_instant("2023-13-01T00:00:00+08:00", "known_at")
    assert refusal(refused.value) == (
        "known_at '2023-13-01T00:00:00+08:00' is not a valid instant",
        "known_at",
        INSTANT_RULE,
    )


def test_an_instant_not_written_in_rfc_3339_is_refused_showing_what_was_sent() -> None:
    with pytest.raises(InvalidInput) as as_text:
        parse_instant("yesterday", "known_at")
    assert refusal(as_text.value) == (
        "known_at must be an RFC 3339 instant with offset (e.g. 2023-11-01T00:00:00+08:00), "
        "not 'yesterday'",
        "known_at",
        "RFC 3339 instant with offset",
    )
    with pytest.raises(InvalidInput) as as_number:
        parse_instant(1698796800, "known_at")
    assert as_number.value.message.endswith("not a int (1698796800)")


class NoOffset(tzinfo):
    """A time zone that cannot say its offset."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


def test_an_instant_without_an_offset_is_refused_unless_the_offset_is_checked_later() -> None:
    naive = "2023-11-01T00:00:00"
    with pytest.raises(InvalidInput) as refused:
        parse_instant(naive, "known_at")
    assert refusal(refused.value) == (
        "known_at must carry a UTC offset (e.g. 2023-11-01T00:00:00+08:00)",
        "known_at",
        INSTANT_RULE,
    )
    assert parse_instant(naive, "known_at", require_offset=False) == datetime(2023, 11, 1)
    with pytest.raises(InvalidInput, match="must carry a UTC offset"):
        parse_instant(datetime(2023, 11, 1, tzinfo=NoOffset()), "known_at")


def test_an_instant_is_not_a_date() -> None:
    assert require_date(date(2023, 5, 1), "filed_on") == date(2023, 5, 1)
    with pytest.raises(InvalidInput) as refused:
        require_date(datetime(2023, 5, 1, tzinfo=CST), "filed_on")
    assert refusal(refused.value) == ("filed_on must be a date", "filed_on", DATE_RULE)
    with pytest.raises(InvalidInput) as text:
        happened_on("2023-05-01", "filed_on", today=date(2023, 6, 1))
    assert refusal(text.value) == ("filed_on must be a date", "filed_on", DATE_RULE)


def test_something_happened_between_the_founding_of_the_republic_and_today_inclusive() -> None:
    today = date(2023, 6, 1)
    assert happened_on(date(1949, 10, 1), "decided_on", today=today) == date(1949, 10, 1)
    assert happened_on(today, "decided_on", today=today) == today
    with pytest.raises(InvalidInput) as too_early:
        happened_on(date(1949, 9, 30), "decided_on", today=today)
    assert refusal(too_early.value) == (
        "decided_on 1949-09-30 is before 1949-10-01",
        "decided_on",
        "a date of something that happened lies between 1949-10-01 and today",
    )
    with pytest.raises(InvalidInput) as tomorrow:
        happened_on(date(2023, 6, 2), "decided_on", today=today)
    assert refusal(tomorrow.value) == (
        "decided_on 2023-06-02 is after today (2023-06-01, CST)",
        "decided_on",
        HAPPENED_RULE,
    )


def test_the_ledger_answers_as_known_until_now_and_not_after() -> None:
    now = datetime(2023, 6, 1, 12, tzinfo=CST)
    assert known_by_now(now, "known_at", now=now) == now
    with pytest.raises(InvalidInput) as future:
        known_by_now(now + timedelta(seconds=1), "known_at", now=now)
    assert refusal(future.value) == (
        "known_at 2023-06-01T12:00:01+08:00 is after now (2023-06-01T12:00:00+08:00); "
        "the ledger cannot answer what it will know",
        "known_at",
        "known_at is not after now",
    )
    with pytest.raises(InvalidInput) as naive:
        known_by_now(datetime(2023, 6, 1), "known_at", now=now)
    assert naive.value.field == "known_at"


# --- text ----------------------------------------------------------------------------------------


def test_text_that_is_not_a_string_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        clean_text(42, "name")
    assert refusal(refused.value) == ("name must be text", "name", "text")


def test_a_lone_surrogate_is_named_at_its_position_in_the_text_as_sent() -> None:
    # Surrogates are found before trimming, so the position counts the leading blank.
    for char, shown in (("\ud800", "U+D800"), ("\udfff", "U+DFFF")):
        with pytest.raises(InvalidInput) as refused:
            clean_text(f" a{char}", "grounds")
        assert refusal(refused.value) == (
            f"grounds contains {shown} (surrogate) at position 2; control, format, surrogate, "
            "private-use and unassigned code points are refused",
            "grounds",
            RULE,
        )


def test_the_code_points_next_to_the_surrogates_are_not_surrogates() -> None:
    with pytest.raises(InvalidInput, match=r"U\+E000 \(private-use character\) at position 1"):
        clean_text(" a\ue000", "grounds")
    assert clean_text("\ud7fb", "grounds") == "\ud7fb"  # the last Hangul jamo before them


def test_text_empty_after_trimming_is_refused_as_required() -> None:
    with pytest.raises(InvalidInput) as refused:
        clean_text(" \t\n ", "commitment")
    assert refusal(refused.value) == (
        "commitment is required (empty after trimming white space)",
        "commitment",
        "non-empty text",
    )


def test_text_longer_than_the_limit_is_refused_naming_the_limit() -> None:
    assert clean_text("x" * 10, "note", max_length=10) == "x" * 10
    with pytest.raises(InvalidInput) as refused:
        clean_text("x" * 11, "note", max_length=10)
    assert refusal(refused.value) == (
        "note is longer than 10 characters",
        "note",
        "at most 10 characters",
    )


def test_optional_text_keeps_none_and_applies_the_same_limit() -> None:
    assert optional_text(None, "note") is None
    assert optional_text(" ok ", "note", max_length=2) == "ok"
    with pytest.raises(InvalidInput, match="note is longer than 2 characters"):
        optional_text("too long", "note", max_length=2)


# --- authority -----------------------------------------------------------------------------------


def test_a_recorder_outside_its_fields_is_refused_listing_its_fields() -> None:
    with pytest.raises(Forbidden) as refused:
        require(recorder("taxation", "courts"), InField("market_entities"), MODEL)
    assert refusal(refused.value) == (
        "domain 'market_entities' is not among this recorder's fields (courts, taxation)",
        "domain",
        "a recorder writes only in its own fields",
    )
    nobody = Actor("token:recorder:none", Role.RECORDER, "dept", frozenset())
    refused_enrol = decide(nobody, Enrol(("taxation",)), MODEL)
    assert refused_enrol is not None
    assert refused_enrol.message == "fields 'taxation' is not among this recorder's fields (none)"


def test_an_indicator_outside_the_authority_table_is_for_admins_only() -> None:
    refused = decide(recorder("taxation"), RecordIndicator("tax.invented", "taxation"), MODEL)
    assert refused is not None
    assert (refused.field, refused.rule, refused.message) == (
        "indicator",
        "only an admin records what model PCCE-2021 has no authority entry for",
        "indicator 'tax.invented' has no entry in the authority table of model PCCE-2021",
    )


def test_an_indicator_of_another_field_is_refused_naming_who_may_record_it() -> None:
    refused = decide(recorder("taxation"), RecordIndicator("wage.arrears", "taxation"), MODEL)
    assert refused is not None
    rule = (
        "indicator 'wage.arrears' may be recorded by recorders of labour_employment, "
        "in that domain; admins always may (model PCCE-2021)"
    )
    assert (refused.field, refused.rule) == ("indicator", rule)
    assert (
        refused.message
        == f"a recorder may not record indicator 'wage.arrears' in 'taxation': {rule}"
    )


def test_a_list_for_admins_only_is_refused_to_a_recorder_naming_the_list() -> None:
    refused = decide(recorder("courts"), PutOnList("judgment_defaulter", "courts"), MODEL)
    assert refused is not None
    assert (refused.field, refused.message) == (
        "list_type",
        "a recorder may not record list 'judgment_defaulter' in 'courts': list "
        "'judgment_defaulter' may be recorded by admins only; admins always may (model PCCE-2021)",
    )


def test_a_correction_into_another_kind_or_an_unknown_indicator_is_refused_even_to_admins() -> None:
    target = RecordIndicator("tax.arrears", "taxation")
    into_bonus = decide(
        SYSTEM_ACTOR, Correct(target, "deduction", indicator="honor.national"), MODEL
    )
    unknown = decide(SYSTEM_ACTOR, Correct(target, "deduction", indicator="tax.invented"), MODEL)
    assert into_bonus is not None
    assert unknown is not None
    same_kind = (
        "a correction keeps the indicator's kind (deduction into deduction, bonus into bonus)"
    )
    assert (into_bonus.field, into_bonus.rule, into_bonus.message) == (
        "correction.indicator",
        same_kind,
        "a deduction may not be corrected into 'honor.national' (a bonus)",
    )
    assert (unknown.field, unknown.rule, unknown.message) == (
        "correction.indicator",
        same_kind,
        "a deduction may not be corrected into 'tax.invented' (not in model PCCE-2021)",
    )
    assert (
        decide(SYSTEM_ACTOR, Correct(target, "deduction", indicator="penalty.minor"), MODEL) is None
    )
