"""Deciders of field supervision: joining and leaving a field, industry evaluations and the
results of drawn inspections (DOMAIN §6–§7)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from ledger.domain import events
from ledger.domain.catalog import industry_grading
from ledger.domain.commands import (
    JoinField,
    LeaveField,
    RecordIndustryEvaluation,
    RecordInspectionResult,
)
from ledger.domain.dates import require_date
from ledger.domain.deciders.base import (
    Context,
    Decision,
    authorize,
    change,
    field,
    happened,
    known_indicator,
    not_before_established,
    registered,
    text,
)
from ledger.domain.deciders.facts import new_fact
from ledger.domain.errors import Conflict, InvalidInput, NotFound
from ledger.domain.rules.authority import Enrol, InField, RecordIndicator
from ledger.domain.state import SubjectState
from ledger.domain.values import normalize_uscc, subject_id_for


def join_field(state: SubjectState, command: JoinField, ctx: Context) -> Decision:
    """Bring the subject under a field's supervision; joining again is a no-op."""
    actor, joined_on = command.actor, command.joined_on
    actor.require("record")
    code = normalize_uscc(command.uscc)
    field(ctx, command.field, "field")
    require_date(joined_on, "joined_on")
    authorize(ctx, actor, Enrol((command.field,), name="field"), joined_on)
    registered(state, code)
    happened(ctx, joined_on, "joined_on")
    if command.field in state.fields:
        return Decision(subject_id_for(code))
    not_before_established(state, joined_on, "joined_on")
    joined = change(events.JoinedField, ctx, actor, None, field=command.field, joined_on=joined_on)
    return Decision(subject_id_for(code), (joined,))


def leave_field(state: SubjectState, command: LeaveField, ctx: Context) -> Decision:
    """Take the subject out of a field from `left_on`; leaving again is a no-op."""
    actor, left_on = command.actor, command.left_on
    actor.require("record")
    code = normalize_uscc(command.uscc)
    field(ctx, command.field, "field")
    require_date(left_on, "left_on")
    authorize(ctx, actor, InField(command.field, "field"), left_on)
    registered(state, code)
    happened(ctx, left_on, "left_on")
    if command.field not in state.fields:
        return Decision(subject_id_for(code))
    since = max(
        (
            m.since
            for m in state.memberships
            if m.field == command.field and m.until is None and m.since is not None
        ),
        default=None,
    )
    if since is not None and left_on < since:
        raise InvalidInput(
            f"left_on {left_on.isoformat()} is before the subject joined ({since.isoformat()})",
            field="left_on",
            rule="left_on must not be before joined_on",
        )
    left = change(events.LeftField, ctx, actor, None, field=command.field, left_on=left_on)
    return Decision(subject_id_for(code), (left,))


def record_industry_evaluation(
    state: SubjectState, command: RecordIndustryEvaluation, ctx: Context
) -> Decision:
    """Record a field's industry evaluation; the same field and date again is a no-op."""
    actor, domain, evaluated_on = command.actor, command.domain, command.evaluated_on
    actor.require("record")
    code = normalize_uscc(command.uscc)
    field(ctx, domain, "domain")
    require_date(evaluated_on, "evaluated_on")
    authorize(ctx, actor, InField(domain), evaluated_on)
    model = str(text(command.model, "model"))
    score: Decimal | None = None
    if command.score is not None:
        try:
            score = Decimal(str(command.score))
        except InvalidOperation:
            raise InvalidInput(
                f"score '{command.score}' is not a number", field="score", rule="decimal"
            ) from None
        if not score.is_finite():
            raise InvalidInput("score must be finite", field="score", rule="decimal")
    grade = industry_grading().grade(domain, score, command.native_grade)
    registered(state, code)
    happened(ctx, evaluated_on, "evaluated_on")
    document_no = text(command.document_no, "document_no", required=False)
    for existing in state.industry_evaluations:
        if (existing.domain, existing.evaluated_on) == (domain, evaluated_on):
            if (existing.score, existing.native_grade, existing.model) == (
                score,
                command.native_grade,
                model,
            ):
                return Decision(existing.evaluation_id, status=grade)
            raise Conflict(
                f"{domain} already evaluated this subject on {evaluated_on.isoformat()}",
                field="evaluated_on",
                rule="one industry evaluation per field and date",
            )
    if domain not in state.fields:
        raise InvalidInput(
            f"subject {state.uscc} is not in field '{domain}'",
            field="domain",
            rule="an industry evaluation is made for the field's own subjects",
        )
    not_before_established(state, evaluated_on, "evaluated_on")
    evaluation_id = command.evaluation_id or ctx.new_id
    evaluated = change(
        events.IndustryEvaluationRecorded,
        ctx,
        actor,
        document_no,
        evaluation_id=evaluation_id,
        domain=domain,
        evaluated_on=evaluated_on,
        score=score,
        native_grade=command.native_grade,
        grade=grade,
        model=model,
        document_no=document_no,
    )
    return Decision(evaluation_id, (evaluated,), status=grade)


def record_inspection_result(
    state: SubjectState, command: RecordInspectionResult, ctx: Context
) -> Decision:
    """Record a drawn subject's inspection once per draw (the same result again is a no-op):
    `passed`, or a `finding` that also records the fact it found."""
    actor, outcome, inspected_on = command.actor, command.outcome, command.inspected_on
    indicator, document_no = command.indicator, command.document_no
    actor.require("record")
    draw = ctx.draw
    if draw is None:
        raise NotFound(f"no draw {command.draw_id}", field="draw_id")
    authorize(ctx, actor, InField(draw.field, "field"), draw.as_of)
    code = normalize_uscc(command.uscc)
    if code not in {s["uscc"] for s in draw.selected}:
        raise InvalidInput(
            f"{code} was not drawn in {command.draw_id}",
            field="uscc",
            rule="results for drawn subjects",
        )
    if outcome not in ("passed", "finding"):
        raise InvalidInput(
            f"'{outcome}' is not one of: passed, finding", field="outcome", rule="enumeration"
        )
    require_date(inspected_on, "inspected_on")
    if inspected_on < draw.as_of:
        raise InvalidInput(
            f"inspected_on {inspected_on.isoformat()} is before the draw's date "
            f"{draw.as_of.isoformat()}",
            field="inspected_on",
            rule="an inspection follows its draw",
        )
    if outcome == "finding":
        if indicator is None:
            raise InvalidInput(
                "a finding names the indicator it records", field="indicator", rule="finding"
            )
        known_indicator(ctx, indicator, inspected_on)
        # A finding becomes a fact in the draw's field: the same authority as recording it.
        authorize(ctx, actor, RecordIndicator(indicator, draw.field), inspected_on)
        document_no = text(document_no, "document_no")
    elif indicator is not None or document_no is not None:
        raise InvalidInput("a passed inspection records no fact", field="indicator", rule="passed")
    fact_id = ctx.new_id if outcome == "finding" else None
    note = text(command.note, "note", required=False)
    registered(state, code)
    happened(ctx, inspected_on, "inspected_on")
    answer = Decision(fact_id or subject_id_for(code), status=outcome)
    for known in state.inspections:
        if known.draw_id == command.draw_id:
            if (known.outcome, known.inspected_on) == (outcome, inspected_on):
                return answer
            raise Conflict(
                f"draw {command.draw_id} already has a result for {state.uscc}",
                field="uscc",
                rule="one result per drawn subject",
            )
    inspected = change(
        events.InspectionResultRecorded,
        ctx,
        actor,
        None,
        draw_id=command.draw_id,
        field=draw.field,
        inspected_on=inspected_on,
        outcome=outcome,
        fact_id=fact_id,
        note=note,
    )
    if fact_id is None:
        return Decision(answer.id, (inspected,), status=outcome)
    _, found = new_fact(
        state,
        ctx,
        actor,
        fact_id=fact_id,
        indicator=str(indicator),
        decided_on=inspected_on,
        domain=draw.field,
        document_no=str(document_no),
        description=note,
        effective_until=None,
    )
    changes = (inspected,) if found is None else (inspected, found)
    return Decision(answer.id, changes, status=outcome)
