"""The deciders on their own: pure functions of a state, a command and a context (no store)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from uuid import UUID

import pytest

from ledger.domain import events
from ledger.domain.catalog import catalogue
from ledger.domain.commands import (
    DecideRepair,
    EndFact,
    FileObjection,
    JoinField,
    ListSubject,
    RecordFact,
    RegisterSubject,
    RequestRepair,
    ResolveObjection,
    RevokeFact,
)
from ledger.domain.deciders import Context, Decision, decide
from ledger.domain.deciders.base import (
    choice,
    fact_of,
    known_indicator,
    listing_of,
    not_before_established,
    recorded_once,
    repair_of,
    target_of,
    text,
)
from ledger.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    LedgerError,
    NotEligible,
    NotFound,
)
from ledger.domain.model import default_models
from ledger.domain.rules.queues import HANDLING_WORKING_DAYS, handling_due
from ledger.domain.rules.repair import require_repairable
from ledger.domain.rules.supervision import default_policies
from ledger.domain.state import FactState, SubjectState
from ledger.domain.subject import Subject
from ledger.domain.values import DelistReason
from tests.support import ADMIN, PLATFORM, SYSTEM, recorder, uscc

CODE = uscc(1)
NOW = datetime(2024, 6, 20, 2, tzinfo=UTC)
MODELS = default_models()
FACT = UUID(int=1)


def context(new_id: int = 100, now: datetime = NOW) -> Context:
    return Context(
        now=now,
        models=MODELS,
        catalogue=catalogue(),
        policies=default_policies(),
        new_id=UUID(int=new_id),
    )


def registered(**details: object) -> Subject:
    """A subject in `food`, applied from its registration decision."""
    command = RegisterSubject(
        uscc=CODE, name="舞钢市某公司", kind="enterprise", fields=["food"], actor=SYSTEM
    )
    return Subject.start(decide(SubjectState(), command, context(**details)))  # type: ignore[arg-type]


def penalty(document_no: str = "罚〔2024〕1号", **changes: object) -> RecordFact:
    values: dict[str, object] = {
        "uscc": CODE,
        "indicator": "penalty.general",
        "decided_on": date(2024, 3, 1),
        "domain": "food",
        "document_no": document_no,
        "actor": ADMIN,
        "fact_id": FACT,
    }
    values.update(changes)
    return RecordFact(**values)  # type: ignore[arg-type]


def with_penalty() -> Subject:
    subject = registered()
    subject.apply(decide(subject.state, penalty(), context()))
    return subject


def test_a_decision_names_its_events_and_their_record_time() -> None:
    subject = registered()
    decision = decide(subject.state, penalty(), context())
    assert (decision.id, decision.created) == (FACT, True)
    [recorded] = decision.changes
    assert recorded.event is events.FactRecorded
    assert recorded.payload["timestamp"] == NOW
    assert recorded.payload["actor_id"] == ADMIN.actor_id
    assert recorded.payload["source_document"] == "罚〔2024〕1号"
    assert subject.state.facts == {}  # deciding changes nothing


def test_a_fact_without_an_id_takes_the_contexts_fresh_id() -> None:
    subject = registered()
    decision = decide(subject.state, penalty(fact_id=None), context(new_id=7))
    assert decision.id == UUID(int=7)


def test_a_repeated_document_is_a_no_op_answering_the_first_fact() -> None:
    subject = with_penalty()
    # Full-width and half-width digits are one natural key; a new id does not make it new.
    again = decide(subject.state, penalty("罚〔２０２４〕１号", fact_id=UUID(int=9)), context())
    assert again == Decision(FACT)
    assert not again.created


def test_another_payload_under_the_same_document_is_a_conflict_naming_document_no() -> None:
    subject = with_penalty()
    with pytest.raises(Conflict) as refused:
        decide(subject.state, penalty(decided_on=date(2024, 3, 2)), context())
    assert refused.value.field == "document_no"
    assert "already recorded as fact" in refused.value.message
    assert refused.value.rule == "(domain, document_no) is unique per subject"


def test_the_same_id_under_another_document_is_a_conflict_naming_fact_id() -> None:
    subject = with_penalty()
    with pytest.raises(Conflict) as refused:
        decide(subject.state, penalty("罚〔2024〕2号"), context())
    assert refused.value.field == "fact_id"


def test_a_subject_without_a_stream_is_not_found_after_the_input_checks() -> None:
    with pytest.raises(NotFound) as refused:
        decide(SubjectState(), penalty(), context())
    assert refused.value.field == "uscc"
    # An input refusal comes first, as it did before the stream was read.
    with pytest.raises(InvalidInput) as first:
        decide(SubjectState(), penalty(domain="nowhere"), context())
    assert first.value.field == "domain"


def test_a_decision_date_after_record_time_is_refused() -> None:
    subject = registered()
    with pytest.raises(InvalidInput) as refused:
        decide(subject.state, penalty(decided_on=date(2024, 6, 21)), context())
    assert refused.value.field == "decided_on"
    assert decide(subject.state, penalty(decided_on=date(2024, 6, 20)), context()).created


def test_a_recorder_outside_the_field_is_forbidden_and_a_reader_role_may_not_record() -> None:
    subject = registered()
    with pytest.raises(Forbidden) as refused:
        decide(subject.state, penalty(actor=recorder("taxation")), context())
    assert refused.value.field == "domain"
    assert decide(subject.state, penalty(actor=recorder("food")), context()).created
    with pytest.raises(Forbidden) as role:
        decide(subject.state, penalty(actor=PLATFORM), context())
    assert role.value.field == "role"


def test_a_fact_cannot_end_before_its_decision_and_ending_again_the_same_way_is_a_no_op() -> None:
    subject = with_penalty()
    early = EndFact(uscc=CODE, fact_id=FACT, ended_on=date(2024, 2, 29), reason="r", actor=ADMIN)
    with pytest.raises(InvalidInput) as refused:
        decide(subject.state, early, context())
    assert (refused.value.field, refused.value.rule) == (
        "ended_on",
        "ended_on must not be before decided_on",
    )
    on_the_day = EndFact(
        uscc=CODE, fact_id=FACT, ended_on=date(2024, 3, 1), reason="r", actor=ADMIN
    )
    subject.apply(decide(subject.state, on_the_day, context()))
    assert not decide(subject.state, on_the_day, context()).created
    with pytest.raises(Conflict):
        decide(subject.state, EndFact(**{**on_the_day.__dict__, "reason": "s"}), context())


def test_an_unknown_fact_is_not_found_naming_fact_id() -> None:
    subject = registered()
    with pytest.raises(NotFound) as refused:
        decide(
            subject.state, RevokeFact(uscc=CODE, fact_id=FACT, reason="r", actor=ADMIN), context()
        )
    assert refused.value.field == "fact_id"


def test_an_objection_is_due_in_ten_working_days_and_located_by_its_id() -> None:
    subject = with_penalty()
    filed = FileObjection(
        uscc=CODE, target_id=FACT, filed_on=date(2024, 6, 7), grounds="g", actor=PLATFORM
    )
    decision = decide(subject.state, filed, context(new_id=5))
    # Friday 7 June 2024: the Dragon Boat Festival (Monday 10 June) is not a working day.
    assert decision.due_on == date(2024, 6, 24)
    assert (decision.id, decision.locate, decision.status) == (UUID(int=5), "objection", "pending")
    subject.apply(decision)
    again = decide(subject.state, filed, context(new_id=6))
    assert (again.id, again.created, again.due_on) == (UUID(int=5), False, date(2024, 6, 24))


def test_handling_takes_ten_working_days() -> None:
    assert HANDLING_WORKING_DAYS == 10
    assert handling_due(date(2024, 6, 3)).due_on == date(2024, 6, 18)


def test_a_correction_goes_only_with_a_corrected_outcome() -> None:
    subject = with_penalty()
    filed = FileObjection(
        uscc=CODE, target_id=FACT, filed_on=date(2024, 6, 7), grounds="g", actor=PLATFORM
    )
    subject.apply(decide(subject.state, filed, context(new_id=5)))
    rejected_with_void = ResolveObjection(
        objection_id=UUID(int=5),
        outcome="rejected",
        resolved_on=date(2024, 6, 10),
        void=True,
        actor=ADMIN,
    )
    with pytest.raises(InvalidInput) as refused:
        decide(subject.state, rejected_with_void, context())
    assert refused.value.field == "correction"
    corrected = ResolveObjection(
        objection_id=UUID(int=5),
        outcome="corrected",
        resolved_on=date(2024, 6, 10),
        void=True,
        actor=ADMIN,
    )
    decision = decide(subject.state, corrected, context())
    assert [c.event for c in decision.changes] == [events.ObjectionResolved, events.FactCorrected]


def test_an_objection_no_subject_holds_is_not_found() -> None:
    resolve = ResolveObjection(
        objection_id=UUID(int=5), outcome="rejected", resolved_on=date(2024, 6, 10), actor=ADMIN
    )
    with pytest.raises(NotFound) as refused:
        decide(SubjectState(), resolve, context())
    assert (refused.value.field, refused.value.message) == (
        "objection_id",
        f"no objection {UUID(int=5)}",
    )


def test_a_repair_before_the_minimum_publication_period_is_not_eligible() -> None:
    subject = with_penalty()
    # penalty.general: three months from 1 March 2024.
    early = RequestRepair(
        uscc=CODE, target_id=FACT, requested_on=date(2024, 5, 31), commitment="c", actor=PLATFORM
    )
    with pytest.raises(NotEligible) as refused:
        decide(subject.state, early, context())
    assert refused.value.eligible_on == date(2024, 6, 1)
    on_time = RequestRepair(
        uscc=CODE, target_id=FACT, requested_on=date(2024, 6, 3), commitment="c", actor=PLATFORM
    )
    decision = decide(subject.state, on_time, context(new_id=8))
    assert (decision.locate, decision.due_on, decision.status) == (
        "repair",
        date(2024, 6, 18),
        "pending",
    )


def test_a_repair_decision_cannot_precede_its_request() -> None:
    subject = with_penalty()
    asked = RequestRepair(
        uscc=CODE, target_id=FACT, requested_on=date(2024, 6, 3), commitment="c", actor=PLATFORM
    )
    subject.apply(decide(subject.state, asked, context(new_id=8)))
    early = DecideRepair(
        repair_id=UUID(int=8), approved=True, decided_on=date(2024, 6, 2), reason="r", actor=ADMIN
    )
    with pytest.raises(InvalidInput) as refused:
        decide(subject.state, early, context())
    assert refused.value.field == "decided_on"


def fact_state(indicator: str, decided_on: date, **extra: object) -> FactState:
    return FactState(
        fact_id=FACT,
        indicator=indicator,
        decided_on=decided_on,
        domain="food",
        document_no="d",
        description=None,
        effective_until=None,
        recorded_at=NOW,
        **extra,  # type: ignore[arg-type]
    )


def test_only_a_deduction_that_still_counts_is_repairable() -> None:
    model = MODELS.models[-1]
    general = fact_state("penalty.general", date(2024, 3, 1))
    require_repairable(general, FACT, date(2024, 6, 1), model)
    with pytest.raises(NotEligible) as early:
        require_repairable(general, FACT, date(2024, 5, 31), model)
    assert (early.value.field, early.value.eligible_on) == ("requested_on", date(2024, 6, 1))
    assert early.value.message == (
        f"fact {FACT} may be repaired from 2024-06-01 (minimum publication period of its severity)"
    )
    with pytest.raises(InvalidInput) as bonus:
        require_repairable(
            fact_state("honor.national", date(2024, 3, 1)), FACT, date(2024, 6, 1), model
        )
    assert (bonus.value.field, bonus.value.rule, bonus.value.message) == (
        "target_id",
        "credit repair applies to deduction facts",
        f"fact {FACT} (honor.national) is a bonus; only deductions are repaired",
    )
    ended = fact_state("penalty.general", date(2024, 3, 1), ended_on=date(2024, 4, 1))
    with pytest.raises(InvalidInput) as gone:
        require_repairable(ended, FACT, date(2024, 6, 1), model)
    assert (gone.value.field, gone.value.rule) == (
        "target_id",
        "only a fact that still counts can be repaired",
    )
    assert gone.value.message.startswith(f"fact {FACT} does not count on 2024-06-01: ")


def test_registering_again_with_the_same_details_is_a_no_op_and_with_others_a_conflict() -> None:
    subject = registered()
    same = RegisterSubject(
        uscc=CODE, name="舞钢市某公司", kind="enterprise", fields=["food"], actor=SYSTEM
    )
    assert decide(subject.state, same, context()) == Decision(subject.id)
    other = RegisterSubject(uscc=CODE, name="别的公司", kind="enterprise", actor=SYSTEM)
    with pytest.raises(Conflict) as refused:
        decide(subject.state, other, context())
    assert refused.value.field == "uscc"


def test_joining_a_field_again_is_a_no_op() -> None:
    subject = registered()
    join = JoinField(uscc=CODE, field="food", joined_on=date(2024, 1, 1), actor=ADMIN)
    assert not decide(subject.state, join, context()).created
    other = JoinField(uscc=CODE, field="taxation", joined_on=date(2024, 1, 1), actor=ADMIN)
    assert [c.event for c in decide(subject.state, other, context()).changes] == [
        events.JoinedField
    ]


# -- the checks every decider shares -------------------------------------------------------------


def refusal(check: Callable[[], object]) -> tuple[type[Exception], str, str | None, str | None]:
    """What a check refuses with: the error's kind, message, field and rule."""
    with pytest.raises(LedgerError) as refused:
        check()
    error = refused.value
    return type(error), error.message, error.field, error.rule


def test_a_required_text_is_refused_when_absent_and_an_optional_one_passes() -> None:
    assert refusal(lambda: text(None, "reason")) == (
        InvalidInput,
        "reason is required",
        "reason",
        "non-empty text",
    )
    assert text(None, "note", required=False) is None
    assert text(" 现场 ", "note") == "现场"


def test_a_choice_outside_its_enumeration_lists_the_allowed_values() -> None:
    assert choice("expired", DelistReason, "reason") == "expired"
    assert refusal(lambda: choice("lost", DelistReason, "reason")) == (
        InvalidInput,
        "'lost' is not one of: expired, repaired, revoked",
        "reason",
        "enumeration",
    )


def test_an_unknown_indicator_is_refused_under_the_field_it_came_in() -> None:
    known_indicator(context(), "penalty.general", date(2024, 1, 1))
    kind, message, field, _ = refusal(
        lambda: known_indicator(context(), "penalty.invented", date(2024, 1, 1))
    )
    assert (kind, field) == (InvalidInput, "indicator")
    assert "penalty.invented" in message
    assert refusal(
        lambda: known_indicator(
            context(), "penalty.invented", date(2024, 1, 1), "correction.indicator"
        )
    )[2] == ("correction.indicator")


def test_nothing_is_recorded_before_the_subject_was_established() -> None:
    state = SubjectState(established_on=date(2020, 1, 1))
    not_before_established(state, date(2020, 1, 1), "decided_on")
    not_before_established(SubjectState(), date(1950, 1, 1), "decided_on")
    assert refusal(lambda: not_before_established(state, date(2019, 12, 31), "listed_on")) == (
        InvalidInput,
        "listed_on 2019-12-31 is before the subject was established (2020-01-01)",
        "listed_on",
        "no record before established_on",
    )


def test_items_a_subject_does_not_hold_are_not_found_by_their_own_field() -> None:
    state = with_penalty().state
    missing = UUID(int=404)
    assert refusal(lambda: fact_of(state, missing))[1:3] == (
        f"no fact {missing} on subject {CODE}",
        "fact_id",
    )
    assert refusal(lambda: listing_of(state, missing)) == (
        NotFound,
        f"no listing {missing} on subject {CODE}",
        "listing_id",
        None,
    )
    assert refusal(lambda: repair_of(state, missing)) == (
        NotFound,
        f"no repair {missing}",
        "repair_id",
        None,
    )
    assert refusal(lambda: target_of(state, missing)) == (
        NotFound,
        f"no fact or listing {missing} on subject {CODE}",
        "target_id",
        None,
    )
    assert target_of(state, FACT) == ("fact", date(2024, 3, 1), "food")


def test_a_listing_is_a_target_starting_on_its_listing_date() -> None:
    subject = registered()
    listed = ListSubject(
        uscc=CODE,
        list_type="serious_illegal_dishonest",
        listed_on=date(2024, 2, 1),
        domain="food",
        document_no="L1",
        authority="市场监管局",
        actor=ADMIN,
    )
    decision = decide(subject.state, listed, context(new_id=3))
    subject.apply(decision)
    assert listing_of(subject.state, UUID(int=3)).authority == "市场监管局"
    assert target_of(subject.state, UUID(int=3)) == ("listing", date(2024, 2, 1), "food")


def test_a_document_is_recorded_once_per_subject_and_an_id_once_per_record() -> None:
    held, other = UUID(int=1), UUID(int=2)
    keys = {("food", "〔2025〕1号"): held}

    def once(document_no: str, new_id: UUID, *, same: bool) -> UUID | None:
        return recorded_once(
            "fact",
            keys,
            {held},
            domain="food",
            document_no=document_no,
            new_id=new_id,
            same=lambda known: same,
        )

    assert once("〔２０２５〕1号", other, same=True) == held  # NFKC: the same document
    assert once("〔2025〕2号", other, same=True) is None  # a new document, a new id
    with pytest.raises(Conflict) as payload:
        once("〔2025〕1号", other, same=False)
    assert payload.value.field == "document_no"
    assert payload.value.rule == "(domain, document_no) is unique per subject"
    assert payload.value.message == (
        f"document food/〔2025〕1号 is already recorded as fact {held} with a different payload"
    )
    with pytest.raises(Conflict) as reused:
        once("〔2025〕3号", held, same=True)
    assert reused.value.field == "fact_id"
    assert reused.value.rule == "ids are unique"
    assert reused.value.message == f"fact {held} already exists under another document"
