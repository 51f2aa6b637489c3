"""The dry run of a publication: which subjects' grades a rule version would change.

Before a version is published, every subject is graded twice with the versions known now,
without and with the candidate: today (the current grade) and at 31 October of each
materialised year (its restatement; the published result never changes). The answer counts
the subjects per grade transition in each scope and lists them. Nothing is written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice

from ledger.domain.fold import fold
from ledger.domain.model import ModelRegistry
from ledger.domain.rulebook import Version
from ledger.domain.rules.grade import evaluate
from ledger.domain.rules.population import in_population
from ledger.domain.state import SubjectState
from ledger.service.application import CreditLedger
from ledger.store.stores import STREAMS_PER_QUERY, read_streams
from projections.annual import AnnualResults, evaluation_date

#: The scope of today's grades in a dry run (the others are years, as text: "2023").
CURRENT = "current"


@dataclass(frozen=True)
class Shift:
    """One subject whose grade in one scope the version would change (None: no grade)."""

    scope: str
    uscc: str
    as_of: date
    before: str | None
    after: str | None
    score_before: str | None
    score_after: str | None


@dataclass(frozen=True)
class DryRun:
    """What publishing a version now would change, per scope: counts per transition, and who."""

    kind: str
    version: str
    effective_from: date
    known_at: datetime
    scopes: tuple[str, ...]
    counts: dict[str, dict[tuple[str | None, str | None], int]]
    shifts: tuple[Shift, ...]
    subjects: int


def _grade(
    state: SubjectState, as_of: date, known_at: datetime, models: ModelRegistry
) -> tuple[str | None, str | None]:
    if not in_population(state, as_of):
        return None, None
    evaluation = evaluate(state, as_of, known_at, models)
    return evaluation.grade, str(evaluation.score)


def _states(ledger: CreditLedger, now: datetime) -> Iterator[SubjectState]:
    registrations = (r.originator_id for r in ledger.subject_registrations())
    while chunk := list(islice(registrations, STREAMS_PER_QUERY)):
        for events in read_streams(ledger, chunk).values():
            yield fold(events, now)


def dry_run(ledger: CreditLedger, candidate: Version, years: list[int] | None = None) -> DryRun:
    """Grade every subject with and without `candidate` (see `CreditLedger.candidate`).

    `years` are the restatements to compare (by default every materialised year).
    """
    now = candidate.known_from or ledger.clock()
    book = ledger.rulebook(fresh=True)
    before = book.models_at(now)
    after = book.with_published([candidate]).models_at(now) if candidate.kind == "model" else before
    chosen = sorted(AnnualResults(ledger).built_years() if years is None else years)
    today = ledger.today()
    scopes: list[tuple[str, date]] = [(CURRENT, today)]
    scopes += [(str(y), evaluation_date(y)) for y in chosen]
    counts: dict[str, Counter[tuple[str | None, str | None]]] = {s: Counter() for s, _ in scopes}
    shifts: list[Shift] = []
    subjects = 0
    for state in _states(ledger, now):
        subjects += 1
        for scope, as_of in scopes:
            old, old_score = _grade(state, as_of, now, before)
            new, new_score = _grade(state, as_of, now, after)
            if old != new:
                counts[scope][old, new] += 1
                shifts.append(Shift(scope, state.uscc, as_of, old, new, old_score, new_score))
    return DryRun(
        kind=candidate.kind,
        version=candidate.version,
        effective_from=candidate.effective_from,
        known_at=now,
        scopes=tuple(s for s, _ in scopes),
        counts={s: dict(c) for s, c in counts.items()},
        shifts=tuple(sorted(shifts, key=lambda s: (s.scope != CURRENT, s.scope, s.uscc))),
        subjects=subjects,
    )
