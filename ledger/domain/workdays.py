"""Mainland China working days (holidays, adjusted weekends) for objection and repair deadlines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar


@dataclass(frozen=True)
class DueDate:
    """A deadline and, when the official calendar did not cover every day counted, a warning."""

    due_on: date
    warning: str | None = None


@lru_cache(maxsize=4096)
def is_working_day(day: date) -> tuple[bool, bool]:
    """Whether `day` is a working day, and whether the official calendar knew that year.

    Outside the years `chinese-calendar` covers, Monday to Friday count as working days.
    """
    try:
        return bool(chinese_calendar.is_workday(day)), True
    except NotImplementedError:
        return day.weekday() < 5, False


@lru_cache(maxsize=8192)
def add_working_days(start: date, days: int) -> DueDate:
    """The date `days` working days after `start` (the start day itself is not counted)."""
    if days < 0:
        raise ValueError("days must not be negative")
    current = start
    counted = 0
    unknown_years: set[int] = set()
    while counted < days:
        current += timedelta(days=1)
        working, known = is_working_day(current)
        if not known:
            unknown_years.add(current.year)
        if working:
            counted += 1
    warning = None
    if unknown_years:
        years = ", ".join(str(y) for y in sorted(unknown_years))
        warning = (
            f"the official holiday calendar does not cover {years}; "
            "Monday to Friday were counted as working days"
        )
    return DueDate(current, warning)
