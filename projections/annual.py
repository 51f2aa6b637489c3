"""Annual evaluations: each year's 31-October result as published, beside its restatement.

Published = state(D = Y-10-31, K = end of that day, China time): what the platform had
collected by 31 October. Events recorded later can never change it, so it is reproducible
from the ledger at any time. Restated = the same D as known now. `build` materialises a year
for fast listing; `check` proves the table equals a fresh computation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from typing import Any
from uuid import UUID

from ledger.domain.errors import InvalidInput
from ledger.domain.fold import fold, step
from ledger.domain.rules.grade import Evaluation, evaluate, result_changed
from ledger.domain.rules.population import in_population
from ledger.domain.state import SubjectState
from ledger.domain.subject import SUBJECT_EVENT_TOPICS
from ledger.domain.values import end_of_china_day
from ledger.service.application import CreditLedger
from ledger.store.log import read_log
from ledger.store.stores import STREAMS_PER_QUERY, read_streams, stream_positions
from projections.runner import partition_of
from projections.store import ReadStore, escape_text, holdable
from projections.store.annual import RESULT_COLUMNS, AnnualTables


def evaluation_date(year: int) -> date:
    """The valid date of a year's evaluation: 31 October."""
    return date(year, 10, 31)


def published_at(year: int) -> datetime:
    """The record-time cut-off of a year's evaluation: the end of 31 October, China time."""
    return end_of_china_day(evaluation_date(year))


def require_published(ledger: CreditLedger, year: int) -> None:
    """Refuse a year whose 31 October has not ended yet (or predates the ledger's data)."""
    if year < 2000 or published_at(year) > ledger.clock():
        raise InvalidInput(
            f"the {year} evaluation is not published yet (cut-off {published_at(year).isoformat()})"
            if year >= 2000
            else f"no evaluation for {year}",
            field="year",
            rule="a year's evaluation exists once its 31 October has ended",
        )


@dataclass(frozen=True)
class AnnualResult:
    """One subject's result for a year: as published (None if not in that population) and now."""

    uscc: str
    subject_id: UUID
    published: Evaluation | None
    restated: Evaluation | None


def subject_result(
    ledger: CreditLedger, events: list[Any], year: int, known_now: datetime
) -> AnnualResult:
    """A subject's published and restated result, from its whole stream."""
    as_of = evaluation_date(year)
    cutoff = published_at(year)
    then = fold(events, cutoff)
    now = fold(events, known_now)
    published = evaluate(then, as_of, cutoff, ledger.models) if in_population(then, as_of) else None
    restated = evaluate(now, as_of, known_now, ledger.models) if in_population(now, as_of) else None
    return AnnualResult(now.uscc, events[0].originator_id, published, restated)


def all_results(
    ledger: CreditLedger,
    year: int,
    known_now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    part: int = 0,
    parts: int = 1,
) -> Iterator[AnnualResult]:
    """Every subject's result for a year, in registration order.

    With `parts` > 1, only the subjects of partition `part` (the rebuild's rule, `partition_of`),
    so that `parts` processes can compute a year together.
    """
    now = known_now or ledger.clock()
    registrations = (
        r.originator_id
        for r in ledger.subject_registrations()
        if parts == 1 or partition_of(r.originator_id, parts) == part
    )
    # Streams are read many subjects to a query (see read_streams), registration order kept.
    while chunk := list(islice(registrations, STREAMS_PER_QUERY)):
        streams = read_streams(ledger, chunk)
        for subject_id in chunk:
            yield subject_result(ledger, streams[subject_id], year, now)
            if progress is not None:
                progress(1)


@dataclass(frozen=True)
class Change:
    """A later event that changed a year's result, with the result before and after it."""

    position: int | None
    topic: str
    recorded_at: datetime
    before: Evaluation | None
    after: Evaluation | None


def changes_since_publication(ledger: CreditLedger, events: list[Any], year: int) -> list[Change]:
    """The events recorded after the cut-off that changed the result for 31 October."""
    as_of = evaluation_date(year)
    cutoff = published_at(year)
    positions = stream_positions(ledger, events[0].originator_id)
    state = SubjectState()
    current: Evaluation | None = None
    found: list[Change] = []
    for event in events:
        step(state, event)
        after = (
            evaluate(state, as_of, event.timestamp, ledger.models)
            if in_population(state, as_of)
            else None
        )
        if event.timestamp > cutoff and result_changed(current, after):
            found.append(
                Change(
                    positions.get(event.originator_version),
                    type(event).TOPIC,
                    event.timestamp,
                    current,
                    after,
                )
            )
        current = after
    return found


@dataclass(frozen=True)
class YearSummary:
    """Counts per grade, published and restated, for a year."""

    year: int
    published: dict[str, int]
    restated: dict[str, int]
    changed: int
    entered: int
    left: int
    source: str
    built_position: int | None


def _count(
    results: list[tuple[str | None, str | None]], labels: Sequence[str]
) -> tuple[dict[str, int], dict[str, int], int, int, int]:
    # Every grade of the year's model is counted, the ones no subject got as zero.
    published = Counter(p for p, _ in results if p is not None)
    restated = Counter(r for _, r in results if r is not None)
    changed = sum(1 for p, r in results if p is not None and r is not None and p != r)
    entered = sum(1 for p, r in results if p is None and r is not None)
    left = sum(1 for p, r in results if p is not None and r is None)
    return (
        {g: published.get(g, 0) for g in labels},
        {g: restated.get(g, 0) for g in labels},
        changed,
        entered,
        left,
    )


class AnnualResults:
    """The materialised annual results of a ledger, and the fresh computation they must equal."""

    def __init__(self, ledger: CreditLedger) -> None:
        self.ledger = ledger
        self.store = ReadStore(ledger)
        self.tables = AnnualTables(self.store)

    @staticmethod
    def _row(year: int, r: AnnualResult) -> tuple[Any, ...]:
        p, s = r.published, r.restated
        return (
            year,
            r.uscc,
            str(r.subject_id),
            str(p.score) if p else None,
            p.grade if p else None,
            int(p.listed) if p else None,
            str(s.score) if s else None,
            s.grade if s else None,
            int(s.listed) if s else None,
        )

    def build(self, year: int, progress: Callable[[int], None] | None = None) -> int:
        """Materialise a year (replacing an earlier build); returns the number of subjects."""
        require_published(self.ledger, year)
        position = self.ledger.max_position()
        known_now = self.ledger.clock()
        rows = self.compute_rows(year, known_now, progress)
        self.store_rows(year, rows, known_now, position)
        return len(rows)

    def compute_rows(
        self,
        year: int,
        known_now: datetime,
        progress: Callable[[int], None] | None = None,
        *,
        part: int = 0,
        parts: int = 1,
    ) -> list[tuple[Any, ...]]:
        """The table rows of a year known at `known_now` (of one partition of the subjects)."""
        return [
            self._row(year, r)
            for r in all_results(self.ledger, year, known_now, progress, part=part, parts=parts)
        ]

    def store_rows(
        self, year: int, rows: Sequence[Sequence[Any]], known_now: datetime, position: int
    ) -> None:
        """Replace a year's materialised rows and record what they were computed from, at once."""
        self.tables.replace_year(year, rows, known_now.isoformat(), position)

    def build_info(self, year: int) -> tuple[datetime, int] | None:
        """When a year was materialised: the record time it used, and the log position."""
        row = self.tables.build_info(year)
        return (datetime.fromisoformat(row["known_at"]), int(row["position"])) if row else None

    def built_years(self) -> list[int]:
        """The years that have been materialised."""
        return self.tables.built_years()

    def rows(self, year: int) -> dict[str, dict[str, Any]]:
        """The materialised rows of a year, by credit code."""
        return {r["uscc"]: r for r in self.tables.rows(year)}

    def check(self, year: int, progress: Callable[[int], None] | None = None) -> list[str]:
        """Every difference between the materialised year and a fresh computation."""
        info = self.build_info(year)
        if info is None:
            return [
                f"{year}: not materialised (run: credit-ledger evaluations build --year {year})"
            ]
        known_at, _ = info
        stored = self.rows(year)
        problems = []
        # Compared as the table stores them (`holdable`): a code an older version stored with
        # text the table cannot hold is kept escaped.
        fresh = {
            escape_text(r.uscc): tuple(holdable(v) for v in self._row(year, r))
            for r in all_results(self.ledger, year, known_at, progress)
        }
        columns = RESULT_COLUMNS[3:]  # what a year says of a subject (not its key)
        for uscc in sorted(set(stored) | set(fresh)):
            if uscc not in stored:
                problems.append(f"{year} {uscc}: missing from the materialised results")
                continue
            if uscc not in fresh:
                problems.append(f"{year} {uscc}: materialised but not in the ledger")
                continue
            want = dict(zip(columns, fresh[uscc][3:], strict=True))
            got = {c: stored[uscc][c] for c in columns}
            if want != got:
                diff = ", ".join(
                    f"{c} {got[c]!r} != {want[c]!r}" for c in columns if got[c] != want[c]
                )
                problems.append(f"{year} {uscc}: {diff}")
        return problems

    def summary(self, year: int) -> YearSummary:
        """Counts per grade published vs restated (from the materialised year when there is one)."""
        require_published(self.ledger, year)
        labels = self.ledger.models.in_force(evaluation_date(year)).model.labels
        info = self.build_info(year)
        if info is None:
            pairs = [
                (
                    r.published.grade if r.published else None,
                    r.restated.grade if r.restated else None,
                )
                for r in all_results(self.ledger, year)
            ]
            return YearSummary(year, *_count(pairs, labels), source="computed", built_position=None)
        _, position = info
        stored = self.rows(year)
        grades = {u: (r["published_grade"], r["restated_grade"]) for u, r in stored.items()}
        # Subjects written to since the build are restated afresh; published never changes.
        since = read_log(
            self.ledger.recorder, topics=SUBJECT_EVENT_TOPICS, start=position, page_size=1000
        )
        touched = {UUID(str(n.originator_id)) for n in since}
        now = self.ledger.clock()
        for events in read_streams(self.ledger, list(touched)).values():
            result = subject_result(self.ledger, events, year, now)
            grades[escape_text(result.uscc)] = (
                result.published.grade if result.published else None,
                result.restated.grade if result.restated else None,
            )
        return YearSummary(
            year,
            *_count(list(grades.values()), labels),
            source="materialised",
            built_position=position,
        )
