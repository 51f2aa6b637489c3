"""Annual evaluations: each year's 31-October result as published, beside its restatement.

Published = state(D = Y-10-31, K = end of that day, China time): what the platform had
collected by 31 October. Events recorded later can never change it, so it is reproducible
from the ledger at any time. Restated = the same D as known now. `build` materialises a year
for fast listing; `check` proves the table equals a fresh computation.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from ledger.domain.errors import InvalidInput
from ledger.domain.fold import step
from ledger.domain.rulebook import PUBLISHED, Version
from ledger.domain.rules.grade import Evaluation, evaluate, result_changed
from ledger.domain.rules.population import in_population
from ledger.domain.state import SubjectState
from ledger.domain.subject import SUBJECT_EVENT_TOPICS
from ledger.domain.values import end_of_china_day
from ledger.service.application import CreditLedger
from ledger.store.log import by_stream, read_log, read_pages
from ledger.store.stores import read_streams, stream_positions
from projections.store import ReadStore, escape_text, holdable
from projections.store.annual import RESULT_COLUMNS, AnnualTables

SUBJECT_TOPICS = frozenset(SUBJECT_EVENT_TOPICS)


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
    folds = YearFolds(year, known_now)
    folds.take(events)
    return folds.result(events[0].originator_id, ledger)


class YearFolds:
    """A subject's two states for a year, folded event by event in stream order: as published
    (recorded by the cut-off) and as known now (recorded by `known_now`).

    Record times never decrease along a stream, so each fold stops at its first later event
    (`fold`'s own rule), and a pass over the log can continue a subject batch after batch.
    """

    __slots__ = (
        "_now_done",
        "_then_done",
        "as_of",
        "cutoff",
        "known_now",
        "now",
        "then",
        "version",
    )

    def __init__(self, year: int, known_now: datetime) -> None:
        self.as_of = evaluation_date(year)
        self.cutoff = published_at(year)
        self.known_now = known_now
        self.then = SubjectState()
        self.now = SubjectState()
        self.version = 0
        self._then_done = False
        self._now_done = False

    def take(self, events: Sequence[Any]) -> None:
        """Fold the stream's next events (versions right after `version`)."""
        for event in events:
            if not self._then_done:
                if event.timestamp > self.cutoff:
                    self._then_done = True
                else:
                    step(self.then, event)
            if not self._now_done:
                if event.timestamp > self.known_now:
                    self._now_done = True
                else:
                    step(self.now, event)
            self.version = event.originator_version

    def result(self, subject_id: UUID, ledger: CreditLedger) -> AnnualResult:
        """The year's result from the states folded so far."""
        then, now, as_of = self.then, self.now, self.as_of
        # Each side grades with the model versions known at its record time: a version
        # published after the cut-off restates the year and never touches the published result.
        published = (
            evaluate(then, as_of, self.cutoff, ledger.models_at(self.cutoff))
            if in_population(then, as_of)
            else None
        )
        restated = (
            evaluate(now, as_of, self.known_now, ledger.models_at(self.known_now))
            if in_population(now, as_of)
            else None
        )
        return AnnualResult(now.uscc, subject_id, published, restated)


#: Subjects whose folds a pass keeps between batches (bounded, so memory stays flat).
OPEN_SUBJECTS = 20_000
#: Notifications a pass reads per query (per partition).
PASS_PAGE = 5000


class YearPass:
    """A year's results from a pass over the log in log order: each subject's `YearFolds`
    continued batch after batch, in a bounded set of open subjects (memory stays flat).

    `all_results` drives one over its own read; the rebuild's pass feeds one the events it
    has read and decoded for the read models (`take`), so a full rebuild reads the log once
    for the years too. A subject's result is handed to `emit` once its folds leave the open
    set, or at `close`; a subject whose events lie further apart in the log than that set
    reaches is emitted again later, its stream re-read, and the later result holds.
    """

    def __init__(
        self,
        ledger: CreditLedger,
        year: int,
        known_now: datetime,
        position: int,
        emit: Callable[[AnnualResult], None],
    ) -> None:
        self.ledger = ledger
        self.year = year
        self.known_now = known_now
        #: The log position the year is computed up to; later events are not taken.
        self.position = position
        self.emit = emit
        self._open: OrderedDict[UUID, YearFolds] = OrderedDict()

    def take(self, subject_id: UUID, events: Sequence[Any]) -> None:
        """Continue a subject with its next events (consecutive versions, decoded)."""
        first = events[0].originator_version
        folds = self._open.pop(subject_id, None)
        if folds is None or folds.version != first - 1:
            folds = YearFolds(self.year, self.known_now)
            if first != 1:  # its earlier events left the open set: read the stream again
                last = events[-1].originator_version
                events = list(self.ledger.events.get(subject_id, lte=last))
        folds.take(events)
        self._open[subject_id] = folds
        while len(self._open) > OPEN_SUBJECTS:
            done, folds = self._open.popitem(last=False)
            self.emit(folds.result(done, self.ledger))

    def close(self) -> None:
        """Emit the results of the subjects still open."""
        while self._open:
            done, folds = self._open.popitem(last=False)
            self.emit(folds.result(done, self.ledger))


def all_results(
    ledger: CreditLedger,
    year: int,
    known_now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    part: int = 0,
    parts: int = 1,
    position: int | None = None,
) -> Iterator[AnnualResult]:
    """Every subject's result for a year, from one read of the log up to `position` (the
    head by default), through the log reader every pass uses (`read_pages`).

    With `parts` > 1, only the subjects of partition `part` (`partition_of`, the rebuild's
    rule), so that `parts` processes can compute a year together. A subject may come more
    than once (see `YearPass`): the last result holds (`latest_results`). `progress` counts
    subjects as they first appear.
    """
    now = known_now or ledger.clock()
    upto = ledger.max_position() if position is None else position
    to_event = ledger.mapper.to_domain_event
    ready: list[AnnualResult] = []
    year_pass = YearPass(ledger, year, now, upto, ready.append)
    for page in read_pages(ledger.recorder, stop=upto, page_size=PASS_PAGE, part=part, parts=parts):
        streams = by_stream(page, SUBJECT_TOPICS)
        for subject_id, rows in streams.items():
            year_pass.take(subject_id, [to_event(r) for r in rows])
        yield from ready
        ready.clear()
        # A subject first appears with its stream's first event (the pass reads from the start).
        new = sum(1 for rows in streams.values() if rows[0].originator_version == 1)
        if progress is not None and new:
            progress(new)
    year_pass.close()
    yield from ready


def latest_results(results: Iterable[AnnualResult]) -> list[AnnualResult]:
    """Each subject's last result of `all_results`, once each."""
    latest: dict[UUID, AnnualResult] = {}
    for result in results:
        latest[result.subject_id] = result
    return list(latest.values())


@dataclass(frozen=True)
class Change:
    """A later event that changed a year's result, with the result before and after it: a
    subject's event, or a published rule version (`version` names it)."""

    position: int | None
    topic: str
    recorded_at: datetime
    before: Evaluation | None
    after: Evaluation | None
    version: str | None = None


def changes_since_publication(
    ledger: CreditLedger, events: list[Any], year: int, known_now: datetime | None = None
) -> list[Change]:
    """The events recorded after the cut-off that changed the result for 31 October: the
    subject's own, and each rule version published since, in record order."""
    as_of = evaluation_date(year)
    cutoff = published_at(year)
    now = known_now or ledger.clock()
    positions = stream_positions(ledger, events[0].originator_id)
    book = ledger.rulebook()
    publications = book.published_between(cutoff, now)
    steps: list[tuple[datetime, Any]] = [(e.timestamp, e) for e in events]
    steps += [(v.known_from, v) for v in publications]  # type: ignore[misc]
    # A publication and a subject event are never at one instant in practice; if so, the
    # subject's event first, as the log would have it.
    steps.sort(key=lambda pair: (pair[0], isinstance(pair[1], Version)))
    state = SubjectState()
    current: Evaluation | None = None
    found: list[Change] = []
    for at, item in steps:
        cause: tuple[int | None, str, str | None]
        if isinstance(item, Version):
            cause = (item.position, PUBLISHED[item.kind].TOPIC, item.version)
        else:
            step(state, item)
            topic = type(item).TOPIC
            cause = (positions.get(item.originator_version), topic, None)
        after = (
            evaluate(state, as_of, at, book.models_at(at)) if in_population(state, as_of) else None
        )
        if at > cutoff and result_changed(current, after):
            found.append(Change(cause[0], cause[1], at, current, after, version=cause[2]))
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


Pairs = Counter[tuple[str | None, str | None]]


def _count(
    pairs: Pairs, labels: Sequence[str]
) -> tuple[dict[str, int], dict[str, int], int, int, int]:
    """Counts per grade, published and restated, and the changed, entered and left, of the
    subjects counted by their (published, restated) grades."""
    published: Counter[str] = Counter()
    restated: Counter[str] = Counter()
    changed = entered = left = 0
    for (p, r), n in pairs.items():
        if p is not None:
            published[p] += n
        if r is not None:
            restated[r] += n
        if p is not None and r is not None and p != r:
            changed += n
        elif p is None and r is not None:
            entered += n
        elif p is not None and r is None:
            left += n
    # Every grade of the year's model is counted, the ones no subject got as zero.
    return (
        {g: published.get(g, 0) for g in labels},
        {g: restated.get(g, 0) for g in labels},
        changed,
        entered,
        left,
    )


def _grades(result: AnnualResult) -> tuple[str | None, str | None]:
    return (
        result.published.grade if result.published else None,
        result.restated.grade if result.restated else None,
    )


#: Rows a build holds before writing them to its staging table.
STAGE_ROWS = 5000


class YearStage:
    """A year's results on their way into a staging table (`AnnualTables.begin_year`), held a
    chunk at a time so a build's memory stays flat in the number of subjects."""

    def __init__(self, tables: AnnualTables, year: int, staging: str) -> None:
        self.tables = tables
        self.year = year
        self.staging = staging
        self._held: dict[UUID, tuple[Any, ...]] = {}

    def add(self, result: AnnualResult) -> None:
        """Hold a subject's result (a later one replaces it), writing a full chunk."""
        self._held[result.subject_id] = AnnualResults.row(self.year, result)
        if len(self._held) >= STAGE_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write what is held."""
        self.tables.stage(self.staging, list(self._held.values()))
        self._held.clear()


class YearRows:
    """A year's rows staged from a `YearPass` another pass feeds (the rebuild's)."""

    def __init__(
        self, ledger: CreditLedger, year: int, known_now: datetime, position: int, stage: YearStage
    ):
        self.known_now = known_now
        self.position = position
        self.stage = stage
        self.year_pass = YearPass(ledger, year, known_now, position, stage.add)

    def close(self) -> None:
        """Stage the subjects still open, once the pass is over."""
        self.year_pass.close()
        self.stage.flush()


class AnnualResults:
    """The materialised annual results of a ledger, and the fresh computation they must equal."""

    def __init__(self, ledger: CreditLedger) -> None:
        self.ledger = ledger
        self.store = ReadStore(ledger)
        self.tables = AnnualTables(self.store)

    @staticmethod
    def row(year: int, r: AnnualResult) -> tuple[Any, ...]:
        """The table row of a subject's result for a year."""
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
        staging = self.tables.begin_year(year)
        try:
            self.stage_rows(year, known_now, staging, progress, position=position)
            return self.finish(year, staging, known_now, position)
        except BaseException:
            self.tables.drop_staging(staging)
            raise

    def stage_rows(
        self,
        year: int,
        known_now: datetime,
        staging: str,
        progress: Callable[[int], None] | None = None,
        *,
        part: int = 0,
        parts: int = 1,
        position: int | None = None,
    ) -> None:
        """Write the rows of a year known at `known_now`, from the log up to `position` (of
        one partition of the subjects), into a staging table, a chunk at a time."""
        stage = YearStage(self.tables, year, staging)
        for result in all_results(
            self.ledger, year, known_now, progress, part=part, parts=parts, position=position
        ):
            stage.add(result)
        stage.flush()

    def compute_rows(
        self, year: int, known_now: datetime, *, position: int | None = None
    ) -> list[tuple[Any, ...]]:
        """The table rows of a year known at `known_now`, held in memory (a check's fresh
        computation; builds stage theirs)."""
        results = all_results(self.ledger, year, known_now, position=position)
        return [self.row(year, r) for r in latest_results(results)]

    def finish(self, year: int, staging: str, known_now: datetime, position: int) -> int:
        """Swap a staged year in, recording what it was computed from; returns its subjects."""
        return self.tables.finish_year(year, staging, known_now.isoformat(), position)

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
            escape_text(r.uscc): tuple(holdable(v) for v in self.row(year, r))
            for r in latest_results(all_results(self.ledger, year, known_at, progress))
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
        """Counts per grade published vs restated (from the materialised year when there is one).

        A materialised year is counted in the store (never loaded whole), and the subjects
        written to since its build are restated afresh and counted instead of their rows.
        """
        require_published(self.ledger, year)
        labels = self.ledger.models.in_force(evaluation_date(year)).model.labels
        info = self.build_info(year)
        now = self.ledger.clock()
        if info is None or self.ledger.rulebook().published_between(info[0], now):
            # Not materialised, or a rule version published since the build may restate
            # every subject: computed afresh.
            fresh = {
                r.subject_id: _grades(r) for r in all_results(self.ledger, year, known_now=now)
            }
            return YearSummary(
                year,
                *_count(Counter(fresh.values()), labels),
                source="computed" if info is None else "materialised",
                built_position=None if info is None else info[1],
            )
        _, position = info
        # Published never changes; subjects written to since the build are restated afresh.
        since = read_log(
            self.ledger.recorder, topics=SUBJECT_EVENT_TOPICS, start=position, page_size=1000
        )
        touched = sorted({UUID(str(n.originator_id)) for n in since})
        pairs = self.tables.grade_counts(year)
        pairs.subtract(self.tables.grades_of(year, [str(t) for t in touched]))
        for events in read_streams(self.ledger, touched).values():
            pairs[_grades(subject_result(self.ledger, events, year, now))] += 1
        return YearSummary(
            year,
            *_count(+pairs, labels),
            source="materialised",
            built_position=position,
        )
