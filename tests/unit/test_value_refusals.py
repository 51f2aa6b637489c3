"""Credit codes, instants and roles: each refusal names the part, the field and the rule broken."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

import pytest

from ledger.domain.errors import Forbidden, InvalidInput, LedgerError
from ledger.domain.values import Actor, Role, china_date, normalize_uscc, require_aware
from tests.support import uscc

VALID = uscc(1)  # 914104814JURQ283F3
GB = "GB 32100-2015 unified social credit code"


def refusal(error: LedgerError) -> tuple[str, str | None, str | None]:
    return error.message, error.field, error.rule


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        (VALID[:17], "must be 18 characters, got 17"),
        (
            "X" + VALID[1:],
            "registration-authority code (character 1) 'X' is not one of "
            "1, 2, 3, 4, 5, 6, 7, 8, 9, A, N, Y",
        ),
        (
            "95" + VALID[2:],
            "category code (character 2) '5' is not one that authority 9 (工商) assigns: 1, 2, 3",
        ),
        (
            "91A1" + VALID[4:],
            "administrative division code (characters 3-8) 'A10481' must be 6 digits",
        ),
        (
            "91٤1" + VALID[4:],  # an Arabic-Indic digit is a digit, but not one of GB 32100's
            "administrative division code (characters 3-8) '٤10481' must be 6 digits",
        ),
        (
            VALID[:8] + "I" + VALID[9:],
            "organisation body (characters 9-17) has 'I' at character 9; only digits and "
            "capital letters other than I, O, Z, S, V are used",
        ),
        (
            VALID[:8] + "٤" + VALID[9:],
            "organisation body (characters 9-17) has '٤' at character 9; only digits and "
            "capital letters other than I, O, Z, S, V are used",
        ),
        (
            VALID[:16] + "V" + VALID[17:],
            "organisation body (characters 9-17) has 'V' at character 17; only digits and "
            "capital letters other than I, O, Z, S, V are used",
        ),
        (
            VALID[:17] + "O",
            "check character has 'O' at character 18; only digits and "
            "capital letters other than I, O, Z, S, V are used",
        ),
        (VALID[:17] + "0", "check character should be '3', not '0'"),
    ],
)
def test_a_credit_code_refusal_names_the_part_that_is_wrong(code: str, problem: str) -> None:
    for field_name in ("uscc", "target"):  # the cached path and the other fields alike
        with pytest.raises(InvalidInput) as refused:
            normalize_uscc(code, field_name=field_name)
        assert refusal(refused.value) == (
            f"'{code}' is not a valid unified social credit code: {problem}",
            field_name,
            GB,
        )


def test_a_credit_code_that_is_not_a_string_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        normalize_uscc(914104814, field_name="uscc")  # type: ignore[arg-type]
    assert refusal(refused.value) == ("must be a string", "uscc", "GB 32100-2015")


def test_a_credit_code_is_compacted_and_upper_cased() -> None:
    assert normalize_uscc(f" {VALID[:9]} {VALID[9:].lower()} ") == VALID
    assert normalize_uscc(VALID[:9] + "-" + VALID[9:], field_name="target") == VALID


def test_an_instant_falls_on_its_calendar_day_in_china_standard_time() -> None:
    assert china_date(datetime(2023, 12, 31, 15, 59, 59, tzinfo=UTC)) == date(2023, 12, 31)
    assert china_date(datetime(2023, 12, 31, 16, 0, tzinfo=UTC)) == date(2024, 1, 1)
    with pytest.raises(InvalidInput) as refused:
        china_date(datetime(2023, 12, 31, 16, 0))
    assert refusal(refused.value) == ("instant must carry a UTC offset", "instant", "RFC 3339")


class NoOffset(tzinfo):
    """A time zone that cannot say its offset."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


def test_a_record_time_without_an_offset_is_refused_naming_the_field() -> None:
    aware = datetime(2023, 11, 1, tzinfo=timezone(timedelta(hours=8)))
    assert require_aware(aware, field_name="known_at") is aware
    for instant in (datetime(2023, 11, 1), datetime(2023, 11, 1, tzinfo=NoOffset())):
        with pytest.raises(InvalidInput) as refused:
            require_aware(instant, field_name="known_at")
        assert refusal(refused.value) == (
            "instant must carry a UTC offset (e.g. 2023-11-01T00:00:00+08:00)",
            "known_at",
            "RFC 3339 instant with offset",
        )


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        ("register", "admin, federation, recorder"),
        ("record", "admin, federation, recorder"),
        ("file", "admin, federation, platform"),
    ],
)
def test_a_role_that_may_not_write_is_refused_naming_the_roles_that_may(
    action: str, allowed: str
) -> None:
    with pytest.raises(Forbidden) as refused:
        Actor("token:reader", Role.READER).require(action)  # type: ignore[arg-type]
    assert refusal(refused.value) == (
        f"role 'reader' may not {action}; allowed: {allowed}",
        "role",
        f"{action} needs one of: {allowed}",
    )
    Actor("token:admin", Role.ADMIN).require(action)  # type: ignore[arg-type]
