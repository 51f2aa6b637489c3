"""Who may record what, on both stores: each reproduced failure is refused and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from ledger.domain.commands import (
    DelistSubject,
    FileObjection,
    JoinField,
    ListSubject,
    RecordFact,
    RecordInspectionResult,
    RegisterSubject,
    ResolveObjection,
)
from ledger.domain.errors import Forbidden, NotFound
from ledger.service.application import CreditLedger
from tests.support import ADMIN, PLATFORM, SYSTEM, StepClock, recorder, uscc

FOOD = recorder("food")
TAX = recorder("taxation")
CODE = uscc(4100)


def refused_writing_nothing(app: CreditLedger, write: Callable[[], Any]) -> Forbidden:
    """Run a write that must be refused; the ledger's position and the subject's stream stay."""
    position = app.max_position()
    events = len(app.history(CODE)) if _registered(app) else 0
    with pytest.raises(Forbidden) as refused:
        write()
    assert app.max_position() == position
    assert (len(app.history(CODE)) if _registered(app) else 0) == events
    return refused.value


def _registered(app: CreditLedger) -> bool:
    try:
        app.subject(CODE)
    except NotFound:
        return False
    return True


def food_subject(app: CreditLedger, clock: StepClock) -> None:
    clock.on(date(2024, 3, 1))
    app.handle(
        RegisterSubject(
            uscc=CODE, name="舞钢市食品厂", kind="enterprise", fields=["food"], actor=SYSTEM
        )
    )


def test_a_food_recorder_cannot_award_a_tax_a_level(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    app = stored_ledger
    food_subject(app, clock)
    award: dict[str, Any] = {
        "indicator": "tax.a_level",
        "decided_on": date(2024, 2, 1),
        "document_no": "A1",
    }
    in_own = refused_writing_nothing(
        app, lambda: app.handle(RecordFact(uscc=CODE, domain="food", actor=FOOD, **award))
    )
    assert (in_own.field, in_own.rule) == (
        "indicator",
        "indicator 'tax.a_level' may be recorded by recorders of taxation, in that domain; "
        "admins always may (model PCCE-2021)",
    )
    in_tax = refused_writing_nothing(
        app, lambda: app.handle(RecordFact(uscc=CODE, domain="taxation", actor=FOOD, **award))
    )
    assert in_tax.field == "domain"
    assert app.evaluate(CODE, as_of=date(2024, 3, 1)).score == 80
    # The taxation field awards it, in its own domain.
    assert app.handle(RecordFact(uscc=CODE, domain="taxation", actor=TAX, **award)).created
    assert app.evaluate(CODE, as_of=date(2024, 3, 1)).score == 85


def test_a_food_recorder_cannot_list_a_major_tax_violation(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    app = stored_ledger
    food_subject(app, clock)
    listing: dict[str, Any] = {
        "list_type": "major_tax_violation",
        "listed_on": date(2024, 2, 1),
        "document_no": "税失信1",
        "authority": "税务局",
    }
    refused = refused_writing_nothing(
        app, lambda: app.handle(ListSubject(uscc=CODE, domain="food", actor=FOOD, **listing))
    )
    assert refused.field == "list_type"
    assert "recorders of taxation" in str(refused.rule)
    assert app.evaluate(CODE, as_of=date(2024, 3, 1)).listed is False
    assert app.handle(ListSubject(uscc=CODE, domain="taxation", actor=TAX, **listing)).created
    assert app.evaluate(CODE, as_of=date(2024, 3, 1)).listed is True


def test_the_courts_list_is_imported_by_an_admin_and_delisted_by_none_but_an_admin(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    app = stored_ledger
    food_subject(app, clock)
    listing: dict[str, Any] = {
        "list_type": "judgment_defaulter",
        "listed_on": date(2024, 2, 1),
        "domain": "food",
        "document_no": "(2024)豫0481执1号",
        "authority": "舞钢市人民法院",
    }
    refused = refused_writing_nothing(
        app, lambda: app.handle(ListSubject(uscc=CODE, actor=FOOD, **listing))
    )
    assert (refused.field, refused.rule) == (
        "list_type",
        "list 'judgment_defaulter' may be recorded by admins only; admins always may "
        "(model PCCE-2021)",
    )
    listed = app.handle(ListSubject(uscc=CODE, actor=ADMIN, **listing))
    delist = refused_writing_nothing(
        app,
        lambda: app.handle(
            DelistSubject(
                uscc=CODE,
                listing_id=listed.id,
                delisted_on=date(2024, 3, 1),
                reason="repaired",
                actor=FOOD,
            )
        ),
    )
    assert delist.field == "listing_id"
    assert app.handle(
        DelistSubject(
            uscc=CODE,
            listing_id=listed.id,
            delisted_on=date(2024, 3, 1),
            reason="repaired",
            actor=ADMIN,
        )
    ).created


def test_a_food_recorder_cannot_enrol_a_subject_into_taxation(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    app = stored_ledger
    clock.on(date(2024, 3, 1))
    subject: dict[str, Any] = {"uscc": CODE, "name": "舞钢市食品厂", "kind": "enterprise"}
    refused = refused_writing_nothing(
        app, lambda: app.handle(RegisterSubject(fields=["food", "taxation"], actor=FOOD, **subject))
    )
    assert (refused.field, refused.rule) == ("fields", "a recorder writes only in its own fields")
    assert "'taxation'" in refused.message
    assert not _registered(app)
    # Registering into its own fields, or into none, is fine; joining taxation later is not.
    assert app.handle(RegisterSubject(fields=[], actor=FOOD, **subject)).created
    joined = refused_writing_nothing(
        app,
        lambda: app.handle(
            JoinField(uscc=CODE, field="taxation", joined_on=date(2024, 3, 1), actor=FOOD)
        ),
    )
    assert joined.field == "field"
    assert app.handle(
        JoinField(uscc=CODE, field="food", joined_on=date(2024, 3, 1), actor=FOOD)
    ).created
    assert app.subject(CODE).fields == ["food"]


def test_a_food_recorder_cannot_correct_its_own_penalty_into_a_national_honour(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    app = stored_ledger
    food_subject(app, clock)
    fact = app.handle(
        RecordFact(
            uscc=CODE,
            indicator="penalty.general",
            decided_on=date(2024, 2, 1),
            domain="food",
            document_no="舞市监罚〔2024〕1号",
            actor=FOOD,
        )
    )
    objection = app.handle(
        FileObjection(
            uscc=CODE,
            target_id=fact.id,
            filed_on=date(2024, 3, 1),
            grounds="认定错误",
            actor=PLATFORM,
        )
    )
    clock.on(date(2024, 3, 5))

    def correct(indicator: str) -> Callable[[], Any]:
        return lambda: app.handle(
            ResolveObjection(
                objection_id=objection.id,
                outcome="corrected",
                resolved_on=date(2024, 3, 5),
                indicator=indicator,
                actor=FOOD,
            )
        )

    for honour in ("honor.national", "commitment.kept"):
        refused = refused_writing_nothing(app, correct(honour))
        assert refused.field == "correction.indicator"
        assert str(refused.rule).startswith("a correction keeps the indicator's kind")
    # Nor into a deduction only taxation may record.
    into_tax = refused_writing_nothing(app, correct("tax.arrears"))
    assert (into_tax.field, "recorders of taxation" in str(into_tax.rule)) == (
        "correction.indicator",
        True,
    )
    # Not even an admin changes a deduction into a bonus.
    refused_writing_nothing(
        app,
        lambda: app.handle(
            ResolveObjection(
                objection_id=objection.id,
                outcome="corrected",
                resolved_on=date(2024, 3, 5),
                indicator="honor.national",
                actor=ADMIN,
            )
        ),
    )
    state = app.subject(CODE)
    assert state.objections[objection.id].pending
    assert state.facts[fact.id].indicator == "penalty.general"
    assert app.evaluate(CODE, as_of=date(2024, 3, 5)).score == 75
    # A correction within the kind and the resolver's authority goes through.
    app.handle(
        ResolveObjection(
            objection_id=objection.id,
            outcome="corrected",
            resolved_on=date(2024, 3, 5),
            indicator="penalty.minor",
            actor=FOOD,
        )
    )
    assert app.evaluate(CODE, as_of=date(2024, 3, 5)).score == 79


def test_voiding_a_fact_the_resolver_could_not_have_recorded_is_refused(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    app = stored_ledger
    food_subject(app, clock)
    # An admin recorded a tax arrears in the food domain; the food recorder may not void it.
    fact = app.handle(
        RecordFact(
            uscc=CODE,
            indicator="tax.arrears",
            decided_on=date(2024, 2, 1),
            domain="food",
            document_no="T1",
            actor=ADMIN,
        )
    )
    objection = app.handle(
        FileObjection(
            uscc=CODE,
            target_id=fact.id,
            filed_on=date(2024, 3, 1),
            grounds="已缴清",
            actor=PLATFORM,
        )
    )
    refused = refused_writing_nothing(
        app,
        lambda: app.handle(
            ResolveObjection(
                objection_id=objection.id,
                outcome="corrected",
                resolved_on=date(2024, 3, 1),
                void=True,
                actor=FOOD,
            )
        ),
    )
    assert refused.field == "correction.void"
    redate = refused_writing_nothing(
        app,
        lambda: app.handle(
            ResolveObjection(
                objection_id=objection.id,
                outcome="corrected",
                resolved_on=date(2024, 3, 1),
                decided_on=date(2024, 2, 15),
                actor=FOOD,
            )
        ),
    )
    assert redate.field == "correction.decided_on"
    # Rejecting it stays the recording field's business.
    assert app.handle(
        ResolveObjection(
            objection_id=objection.id, outcome="rejected", resolved_on=date(2024, 3, 1), actor=FOOD
        )
    ).created


def test_an_inspection_finding_records_only_what_the_field_may_record(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    app = stored_ledger
    food_subject(app, clock)
    app.register_inspectors("food", inspectors=["甲", "乙"], actor=FOOD)
    clock.on(date(2024, 6, 2))
    made, _ = app.make_draw(field="food", as_of=date(2024, 6, 1), seed="s", actor=FOOD)
    assert [s["uscc"] for s in made.selected] == [CODE]
    finding: dict[str, Any] = {"uscc": CODE, "outcome": "finding", "inspected_on": date(2024, 6, 2)}
    refused = refused_writing_nothing(
        app,
        lambda: app.handle(
            RecordInspectionResult(
                draw_id=made.id,
                indicator="business.anomaly",
                document_no="F1",
                actor=FOOD,
                **finding,
            )
        ),
    )
    assert (refused.field, "recorders of market_entities" in str(refused.rule)) == (
        "indicator",
        True,
    )
    assert app.handle(
        RecordInspectionResult(
            draw_id=made.id, indicator="penalty.minor", document_no="F1", actor=FOOD, **finding
        )
    ).created
