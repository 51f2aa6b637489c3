"""Admin and auditor tools over the ordered log: a subject's replay, and `verify`."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from ledger.domain.fold import step
from ledger.domain.rules.grade import Evaluation, evaluate
from ledger.domain.state import SubjectState
from ledger.domain.values import china_date, normalize_uscc, subject_id_for
from ledger.service.application import CreditLedger
from ledger.service.audit import QueryAudit
from ledger.store.chain import ChainReport, verify_chain
from ledger.store.stores import stream_positions
from projections.annual import AnnualResults
from projections.grades import outcome
from projections.health import ProjectionFailed
from projections.runner import Projector
from projections.store import SUBJECTS_PER_QUERY, escape_text


@dataclass(frozen=True)
class ReplayStep:
    """One event of a subject and the evaluation right after it."""

    position: int | None
    version: int
    topic: str
    recorded_at: datetime
    summary: str
    evaluation: Evaluation


def _summary(event: Any) -> str:
    keys = (
        "indicator",
        "decided_on",
        "list_type",
        "listed_on",
        "ended_on",
        "reason",
        "outcome",
        "resolved_on",
        "approved",
        "decided_on",
        "filed_on",
        "requested_on",
        "domain",
        "document_no",
        "name",
        "grade",
    )
    parts: list[str] = []
    for key in keys:
        value = event.__dict__.get(key)
        if value is not None and f"{key}=" not in " ".join(parts):
            parts.append(f"{key}={value}")
    return " ".join(parts)


def replay_subject(
    ledger: CreditLedger, uscc: str, *, until: datetime | None = None, as_of: date | None = None
) -> Iterator[ReplayStep]:
    """Every event of a subject in order with the score and grade right after it.

    Each step is evaluated as known at that event; the valid date is `as_of` when given (how
    a given date's result came to be), else the event's own record date in China time.
    """
    code = normalize_uscc(uscc)
    events = ledger.history(code)
    positions = stream_positions(ledger, subject_id_for(code))
    state = SubjectState()
    for event in events:
        recorded_at: datetime = event.timestamp  # type: ignore[attr-defined]
        if until is not None and recorded_at > until:
            return
        step(state, event)  # type: ignore[arg-type]
        day = as_of or china_date(recorded_at)
        yield ReplayStep(
            position=positions.get(event.originator_version),
            version=event.originator_version,
            topic=type(event).TOPIC,  # type: ignore[attr-defined]
            recorded_at=recorded_at,
            summary=_summary(event),
            evaluation=evaluate(state, day, recorded_at, ledger.models_at(recorded_at)),
        )


@dataclass
class VerifyReport:
    """What `verify` checked and every difference it found."""

    chains: list[ChainReport] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No difference anywhere."""
        return not self.problems


def verify(
    ledger: CreditLedger,
    audit: QueryAudit,
    *,
    sample: int | None = None,
    seed: int = 0,
    anchor: tuple[int, str] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> VerifyReport:
    """Prove the logs unchanged and the read models equal to a fresh replay.

    The hash chains of the credit log and the audit log are recomputed from the stored rows.
    Then, for every subject (or a random sample of `sample`), the current-grades row and the
    subject's feed entries are recomputed from its events and compared, and each materialised
    annual year is checked against a fresh computation.
    """
    report = VerifyReport()
    for recorder, pin in ((ledger.recorder, anchor), (audit.recorder, None)):
        chain = verify_chain(recorder, pin)
        report.chains.append(chain)
        report.problems.extend(chain.problems)
    projector = Projector(ledger)
    try:
        projector.run_once()
    except ProjectionFailed as failed:
        # Read models that cannot be brought up to date cannot be compared: say which, and why.
        report.problems.extend(f.describe() for f in failed.failures.values())
        return report
    subject_ids = [str(e.originator_id) for e in ledger.subject_registrations()]
    if sample is not None and sample < len(subject_ids):
        subject_ids = random.Random(seed).sample(subject_ids, sample)
    # The read models' rows are fetched a chunk of subjects at a time: memory stays flat
    # however large the ledger (all rows at once took 2.3 GB at a million events).
    for start in range(0, len(subject_ids), SUBJECTS_PER_QUERY):
        chunk = subject_ids[start : start + SUBJECTS_PER_QUERY]
        _verify_subjects(ledger, projector, chunk, report, progress)
    report.checked["subjects"] = len(subject_ids)
    annual = AnnualResults(ledger)
    years = annual.built_years()
    for year in years:
        report.problems.extend(annual.check(year))
    report.checked["annual_years"] = len(years)
    return report


def _verify_subjects(
    ledger: CreditLedger,
    projector: Projector,
    subject_ids: list[str],
    report: VerifyReport,
    progress: Callable[[str, int], None] | None,
) -> None:
    grades = {r["subject_id"]: r for r in projector.rows_of_subjects("current_grades", subject_ids)}
    feed: dict[str, list[dict[str, Any]]] = {}
    for entry in projector.rows_of_subjects("feed", subject_ids):
        feed.setdefault(entry["subject_id"], []).append(entry)
    tiers: dict[str, list[dict[str, Any]]] = {}
    for entry in projector.rows_of_subjects("supervision", subject_ids):
        tiers.setdefault(entry["subject_id"], []).append(entry)
    for subject_id in subject_ids:
        events = list(ledger.events.get(UUID(subject_id)))
        positions = stream_positions(ledger, UUID(subject_id))
        fresh = outcome(UUID(subject_id), events, positions, projector.today(), ledger.rulebook())
        row = grades.get(subject_id)
        uscc = fresh.state.uscc
        if row is None:
            report.problems.append(f"current_grades {uscc}: missing row")
        else:
            # Text as the read models store it (escaped: see `projections.store.escape_text`).
            want = {
                "name": escape_text(fresh.state.name),
                "kind": escape_text(fresh.state.kind),
                "score": str(fresh.today.score),
                "grade": fresh.today.grade,
                "listed": int(fresh.today.listed),
                "last_position": fresh.last_position,
            }
            got = {k: row[k] for k in want}
            if got != want:
                report.problems.append(f"current_grades {uscc}: stored {got} != replayed {want}")
        want_feed = [
            (
                c.position,
                c.kind,
                None if c.detail is None else escape_text(c.detail),
                str(c.evaluation.score),
                c.evaluation.grade,
            )
            for c in fresh.changes
        ]
        got_feed = [
            (r["position"], r["kind"], r["detail"], r["score"], r["grade"])
            for r in feed.get(subject_id, [])
        ]
        if got_feed != want_feed:
            report.problems.append(f"feed {uscc}: stored {got_feed} != replayed {want_feed}")
        name = escape_text(fresh.state.name)
        want_tiers = sorted((s.field, name, s.tier, s.grade, s.basis) for s in fresh.supervision)
        got_tiers = sorted(
            (r["field"], r["name"], r["tier"], r["grade"], r["basis"])
            for r in tiers.get(subject_id, [])
        )
        if got_tiers != want_tiers:
            report.problems.append(
                f"supervision {uscc}: stored {got_tiers} != replayed {want_tiers}"
            )
        if progress is not None:
            progress("subjects", 1)
