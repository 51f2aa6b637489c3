"""The public score and grade: evaluate a folded state at valid date D as known at K.

`evaluate_history(events, as_of=D, known_at=K, models)` is the one evaluation; the API, the
command line, projections, annual results and replay all call it, so they never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from ledger.domain.errors import NotFound
from ledger.domain.fold import FoldableEvent, fold
from ledger.domain.model import EvaluationModel, ModelRegistry, RepairPolicy
from ledger.domain.state import FactState, ListingState, SubjectState

NOTICE = "Shared for government supervision only; not an endorsement."
NOTICE_ZH = "仅供政府部门监管使用，不构成对信用主体的背书。"


@dataclass(frozen=True)
class Contribution:
    """One fact counting at D: its signed points and the window it counts in."""

    fact_id: UUID
    indicator: str
    kind: str
    points: Decimal
    decided_on: date
    counts_until: date | None
    under_objection: bool
    domain: str
    document_no: str
    corrected: bool


@dataclass(frozen=True)
class Excluded:
    """A recorded fact that does not count at D, and why (for the explanation)."""

    fact_id: UUID
    indicator: str
    reason: str


@dataclass(frozen=True)
class ActiveListing:
    """A listing in force at D."""

    listing_id: UUID
    list_type: str
    listed_on: date
    delisted_on: date | None
    authority: str
    domain: str
    document_no: str
    under_objection: bool
    overrides_grade: bool


@dataclass(frozen=True)
class Evaluation:
    """The explained public credit evaluation of one subject at D as known at K."""

    uscc: str
    name: str
    as_of: date
    known_at: datetime
    model: str
    model_note: str | None
    score: Decimal
    grade: str
    grade_en: str
    score_grade: str
    listed: bool
    listings: tuple[ActiveListing, ...]
    contributions: tuple[Contribution, ...]
    excluded: tuple[Excluded, ...]
    deductions: Decimal
    bonuses: Decimal
    bonuses_counted: Decimal
    established: bool
    notes: tuple[str, ...] = field(default=())
    notice: str = NOTICE


def publication_end(
    fact: FactState, model: EvaluationModel, policy: RepairPolicy | None
) -> date | None:
    """When a deduction's publication stops by itself under the repair policy (NDRC Order 36's
    maximum publication periods); None without such a period."""
    indicator = model.indicators[fact.indicator]
    if policy is None or not indicator.is_deduction:
        return None
    return policy.publication_ends(indicator.severity, fact.decided_on)


def fact_window_end(
    fact: FactState, model: EvaluationModel, policy: RepairPolicy | None = None
) -> date | None:
    """The first day the fact no longer counts, ignoring repairs; None while it never ends."""
    return _window_end(fact, model, publication_end(fact, model, policy))


def _window_end(
    fact: FactState, model: EvaluationModel, published_until: date | None
) -> date | None:
    # The earliest of the indicator's period, the decision's own end, the fact's ending, and
    # the end of its publication (`publication_end`, which the caller has already computed).
    ends = [
        d
        for d in (
            model.indicators[fact.indicator].period.end_after(fact.decided_on),
            fact.effective_until,
            fact.ended_on,
            published_until,
        )
        if d is not None
    ]
    return min(ends) if ends else None


def fact_counts_at(
    fact: FactState, day: date, model: EvaluationModel, policy: RepairPolicy | None = None
) -> tuple[bool, date | None, str]:
    """Whether a fact counts at `day`, until when (exclusive), and if not, why not.

    `policy` is the repair policy in force at `day`: its maximum publication periods, if any,
    end a deduction's count."""
    if fact.revoked:
        return False, None, "revoked: void from the start"
    if fact.voided_by is not None:
        return False, None, f"voided by objection {fact.voided_by}"
    if fact.indicator not in model.indicators:
        return False, None, f"indicator not in model {model.version}"
    if day < fact.decided_on:
        return False, None, f"decided on {fact.decided_on.isoformat()}, after the evaluation date"
    published_until = publication_end(fact, model, policy)
    end = _window_end(fact, model, published_until)
    if end is not None and day >= end:
        if end == published_until and policy is not None:
            return (
                False,
                None,
                (
                    f"publication ended on {end.isoformat()} "
                    f"(maximum publication period of repair policy {policy.version})"
                ),
            )
        return False, None, f"stopped counting on {end.isoformat()}"
    for suspension in fact.suspensions:
        if suspension.start <= day and (suspension.until is None or day < suspension.until):
            return False, None, f"repaired from {suspension.start.isoformat()}"
        if suspension.start > day and (end is None or suspension.start < end):
            end = suspension.start
    return True, end, ""


def listing_active_at(listing: ListingState, day: date) -> bool:
    """A listing holds at D iff not void and listed_on ≤ D < delisted_on."""
    if listing.void or day < listing.listed_on:
        return False
    return listing.delisted_on is None or day < listing.delisted_on


def _under_objection(state: SubjectState, target_id: UUID, day: date) -> bool:
    return any(o.target_id == target_id and o.pending_on(day) for o in state.objections.values())


def evaluate(
    state: SubjectState, as_of: date, known_at: datetime, models: ModelRegistry
) -> Evaluation:
    """Evaluate a folded state at valid date D with the model version in force at D (DOMAIN §4)."""
    if not state.registered:
        raise NotFound(
            f"subject not known at {known_at.isoformat()}", field="known_at", rule="record time"
        )
    choice = models.in_force(as_of)
    model = choice.model
    policy = models.repairs.in_force(as_of)
    contributions: list[Contribution] = []
    excluded: list[Excluded] = []
    deductions = Decimal(0)
    bonuses = Decimal(0)
    for fact in state.facts.values():
        counts, until, why = fact_counts_at(fact, as_of, model, policy)
        if not counts:
            if as_of >= fact.decided_on or fact.void:
                excluded.append(Excluded(fact.fact_id, fact.indicator, why))
            continue
        indicator = model.indicators[fact.indicator]
        if indicator.is_deduction:
            deductions += indicator.points
            points = -indicator.points
        else:
            bonuses += indicator.points
            points = indicator.points
        contributions.append(
            Contribution(
                fact_id=fact.fact_id,
                indicator=fact.indicator,
                kind=indicator.kind,
                points=points,
                decided_on=fact.decided_on,
                counts_until=until,
                under_objection=_under_objection(state, fact.fact_id, as_of),
                domain=fact.domain,
                document_no=fact.document_no,
                corrected=bool(fact.corrected_by),
            )
        )
    bonuses_counted = min(bonuses, model.bonus_cap)
    raw = model.base - deductions + bonuses_counted
    score = max(model.floor, min(model.ceiling, raw))
    score_grade = model.grade_for(score)
    listings = tuple(
        ActiveListing(
            listing_id=listing.listing_id,
            list_type=listing.list_type,
            listed_on=listing.listed_on,
            delisted_on=listing.delisted_on,
            authority=listing.authority,
            domain=listing.domain,
            document_no=listing.document_no,
            under_objection=_under_objection(state, listing.listing_id, as_of),
            overrides_grade=listing.list_type in model.override_list_types,
        )
        for listing in state.listings.values()
        if listing_active_at(listing, as_of)
    )
    listed = any(a.overrides_grade for a in listings)
    grade = model.grade_by_code(model.override_grade) if listed else score_grade
    notes: list[str] = []
    if choice.note:
        notes.append(choice.note)
    if bonuses > bonuses_counted:
        notes.append(f"bonuses {bonuses} capped at {model.bonus_cap}")
    if raw != score:
        notes.append(f"score {raw} clamped to [{model.floor}, {model.ceiling}]")
    if listed:
        # The override grade is the model's (PCCE-2021: 差), not a label restated here.
        notes.append(f"on a joint dishonesty list: graded {grade.label} whatever the score")
    established = state.exists_on(as_of)
    if not established:
        notes.append(f"subject established on {state.established_on}, after the evaluation date")
    contributions.sort(key=lambda c: (c.decided_on, str(c.fact_id)))
    return Evaluation(
        uscc=state.uscc,
        name=state.name,
        as_of=as_of,
        known_at=known_at,
        model=model.version,
        model_note=choice.note,
        score=score,
        grade=grade.label,
        grade_en=grade.code,
        score_grade=score_grade.label,
        listed=listed,
        listings=listings,
        contributions=tuple(contributions),
        excluded=tuple(excluded),
        deductions=deductions,
        bonuses=bonuses,
        bonuses_counted=bonuses_counted,
        established=established,
        notes=tuple(notes),
    )


def next_change_on(evaluation: Evaluation, models: ModelRegistry) -> date | None:
    """The first later date the evaluation may change without any new event, if any.

    A contribution stops counting, a listing ends, or a new model version comes into force;
    until then a read model may serve this evaluation for any valid date.
    """
    candidates = [c.counts_until for c in evaluation.contributions if c.counts_until is not None]
    candidates += [li.delisted_on for li in evaluation.listings if li.delisted_on is not None]
    candidates += [m.effective_from for m in models.models if m.effective_from > evaluation.as_of]
    candidates += [
        p.effective_from for p in models.repairs.policies if p.effective_from > evaluation.as_of
    ]
    return min(candidates) if candidates else None


def evaluate_history(
    events: Iterable[FoldableEvent], as_of: date, known_at: datetime, models: ModelRegistry
) -> Evaluation:
    """state(D, K): fold the events recorded at or before K, then evaluate at D."""
    return evaluate(fold(events, known_at), as_of, known_at, models)


def result_changed(before: Evaluation | None, after: Evaluation | None) -> bool:
    """Whether two evaluations give a different result: score, grade or listing (None: no
    result, e.g. outside the population). The feed, restatements and the annual answer ask this."""
    return _result(before) != _result(after)


def _result(evaluation: Evaluation | None) -> tuple[object, ...] | None:
    if evaluation is None:
        return None
    return (evaluation.score, evaluation.grade, evaluation.listed)
