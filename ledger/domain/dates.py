"""Dates at the boundary: written `YYYY-MM-DD` only, and the span in which things that happened lie.

DOMAIN §8: dates are strings, never numbers; a date of something that happened (a decision, a
filing, an end, a delisting, a resolution, an evaluation, an inspection) lies between the founding
of the People's Republic and today (CST). Only `effective_until` and query dates (`as_of`) may be
later. An instant `known_at` after now is refused: the ledger cannot know the future.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from ledger.domain.errors import InvalidInput

#: The earliest date of anything the ledger records as having happened (1949-10-01).
EARLIEST_HAPPENED_ON = date(1949, 10, 1)

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
DATE_RULE = "a date is a string YYYY-MM-DD"
INSTANT_RULE = "RFC 3339 instant with offset"
HAPPENED_RULE = f"a date of something that happened lies between {EARLIEST_HAPPENED_ON} and today"


def parse_date(value: object, field_name: str) -> date:
    """A calendar date from its `YYYY-MM-DD` text (a date object passes), never from a number."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        shown = repr(value) if isinstance(value, str) else f"a {type(value).__name__} ({value!r})"
        raise InvalidInput(
            f"{field_name} must be a date written YYYY-MM-DD, not {shown}",
            field=field_name,
            rule=DATE_RULE,
        )
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{field_name} '{value}' is not a calendar date", field=field_name, rule=DATE_RULE
        ) from None


def parse_instant(value: object, field_name: str, *, require_offset: bool = True) -> datetime:
    """A record-time instant from its RFC 3339 text with offset (an aware datetime passes).

    `require_offset=False` reads the text only, leaving a missing offset to `known_by_now`.
    """
    if isinstance(value, datetime):
        instant = value
    elif isinstance(value, str) and _ISO_INSTANT.fullmatch(value):
        try:
            instant = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise InvalidInput(
                f"{field_name} '{value}' is not a valid instant",
                field=field_name,
                rule=INSTANT_RULE,
            ) from None
    else:
        shown = repr(value) if isinstance(value, str) else f"a {type(value).__name__} ({value!r})"
        raise InvalidInput(
            f"{field_name} must be an RFC 3339 instant with offset "
            f"(e.g. 2023-11-01T00:00:00+08:00), not {shown}",
            field=field_name,
            rule=INSTANT_RULE,
        )
    if require_offset and (instant.tzinfo is None or instant.utcoffset() is None):
        raise InvalidInput(
            f"{field_name} must carry a UTC offset (e.g. 2023-11-01T00:00:00+08:00)",
            field=field_name,
            rule=INSTANT_RULE,
        )
    return instant


def require_date(value: object, field_name: str) -> date:
    """Refuse anything but a calendar date (an instant is not a date)."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidInput(f"{field_name} must be a date", field=field_name, rule=DATE_RULE)
    return value


def happened_on(day: object, field_name: str, *, today: date) -> date:
    """A date of something that happened: from 1949-10-01 up to and including today (CST)."""
    checked = require_date(day, field_name)
    if checked < EARLIEST_HAPPENED_ON:
        raise InvalidInput(
            f"{field_name} {checked.isoformat()} is before {EARLIEST_HAPPENED_ON.isoformat()}",
            field=field_name,
            rule=HAPPENED_RULE,
        )
    if checked > today:
        raise InvalidInput(
            f"{field_name} {checked.isoformat()} is after today ({today.isoformat()}, CST)",
            field=field_name,
            rule=HAPPENED_RULE,
        )
    return checked


def known_by_now(instant: datetime, field_name: str, *, now: datetime) -> datetime:
    """A record-time instant to read as of: it carries an offset and is not after now."""
    parse_instant(instant, field_name)
    if instant > now:
        raise InvalidInput(
            f"{field_name} {instant.isoformat()} is after now ({now.isoformat()}); "
            "the ledger cannot answer what it will know",
            field=field_name,
            rule=f"{field_name} is not after now",
        )
    return instant
