"""Behaviour scenarios of DOMAIN §4–§5, each run on every store (memory, SQLite, PostgreSQL).

A scenario drives the ledger through its one write path on a controlled record clock, then
asserts what `state(D, K)` must be. The expected numbers come from the rules' text, worked by
hand in each scenario, never from the implementation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from ledger.domain.commands import (
    DecideRepair,
    DelistSubject,
    EndFact,
    FileObjection,
    ListSubject,
    RecordFact,
    RegisterSubject,
    RequestRepair,
    ResolveObjection,
    RevokeFact,
    RevokeRepair,
)
from ledger.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    LedgerError,
    NotEligible,
    NotFound,
)
from ledger.domain.values import CST, subject_id_for
from ledger.service.application import CreditLedger
from tests.support import PLATFORM, SYSTEM, StepClock, recorder, uscc

Scenario = Callable[[CreditLedger, StepClock], None]
SCENARIOS: list[Scenario] = []


def scenario(fn: Scenario) -> Scenario:
    """Register a scenario to run on every store."""
    SCENARIOS.append(fn)
    return fn


def register(app: CreditLedger, clock: StepClock, n: int = 1, **kw: object) -> str:
    code = uscc(n)
    clock.on(date(2019, 1, 2))
    app.handle(
        RegisterSubject(
            uscc=code,
            name=f"舞钢市测试{n}有限公司",
            kind=str(kw.get("kind", "enterprise")),
            fields=list(kw.get("fields", ["food"])),
            actor=SYSTEM,
        )
    )
    return code


def fact(
    app: CreditLedger, clock: StepClock, code: str, indicator: str, decided_on: date, **kw: object
) -> str:
    clock.on(max(decided_on, clock.now.astimezone(CST).date()))
    written = app.handle(
        RecordFact(
            uscc=code,
            indicator=indicator,
            decided_on=decided_on,
            domain=str(kw.pop("domain", "food")),
            document_no=str(kw.pop("document_no", f"doc-{indicator}-{decided_on}")),
            actor=SYSTEM,
            **kw,
        )
    )
    return str(written.id)


def score(app: CreditLedger, code: str, on: date, known_at: datetime | None = None) -> Decimal:
    return app.evaluate(code, as_of=on, known_at=known_at).score


def grade(app: CreditLedger, code: str, on: date, known_at: datetime | None = None) -> str:
    return app.evaluate(code, as_of=on, known_at=known_at).grade


@scenario
def grade_boundaries_85_70_50(app: CreditLedger, clock: StepClock) -> None:
    code = register(app, clock)
    d0 = date(2023, 1, 10)
    fact(app, clock, code, "tax.a_level", d0)  # 80 + 5 = 85: exactly 85 is 良
    assert (score(app, code, d0), grade(app, code, d0)) == (Decimal(85), "良")
    fact(app, clock, code, "commitment.kept", d0)  # 86 is 优
    assert (score(app, code, d0), grade(app, code, d0)) == (Decimal(86), "优")
    d1 = date(2023, 2, 1)
    fact(app, clock, code, "penalty.general", d1, document_no="p1")  # 81
    fact(app, clock, code, "wage.arrears", d1, domain="labour_employment")  # 71 is 良
    assert (score(app, code, d1), grade(app, code, d1)) == (Decimal(71), "良")
    fact(app, clock, code, "commitment.kept", d1, document_no="c2")
    # bonuses 5+1+1 = 7 → 80 - 15 + 7 = 72; one more general penalty: 67 … build exact 70:
    fact(app, clock, code, "social_insurance.arrears", d1, domain="labour_employment")  # 69
    fact(app, clock, code, "commitment.kept", d1, document_no="c3")  # 70: exactly 70 is 中
    assert (score(app, code, d1), grade(app, code, d1)) == (Decimal(70), "中")
    d2 = date(2023, 3, 1)
    fact(app, clock, code, "penalty.serious", d2)  # 55
    fact(app, clock, code, "penalty.general", d2, document_no="p2")  # 50: exactly 50 is 差
    ev = app.evaluate(code, as_of=d2)
    assert (ev.score, ev.grade, ev.grade_en) == (Decimal(50), "差", "poor")
    fact(app, clock, code, "commitment.kept", d2, document_no="c4")  # 51 is 中
    assert (score(app, code, d2), grade(app, code, d2)) == (Decimal(51), "中")


@scenario
def bonuses_capped_at_20_and_score_clamped_to_0(app: CreditLedger, clock: StepClock) -> None:
    rich = register(app, clock, 1)
    d = date(2023, 5, 5)
    for i, ind in enumerate(
        [
            "honor.national",
            "honor.national",
            "honor.provincial",
            "honor.provincial",
            "honor.municipal",
            "tax.a_level",
        ]
    ):
        fact(
            app,
            clock,
            rich,
            ind,
            d,
            document_no=f"h{i}",
            domain="taxation" if ind.startswith("tax") else "food",
        )
    ev = app.evaluate(rich, as_of=d)
    assert ev.bonuses == Decimal(23)
    assert ev.bonuses_counted == Decimal(20)
    assert ev.score == Decimal(100)
    poor = register(app, clock, 2)
    for i in range(6):
        fact(app, clock, poor, "penalty.serious", d, document_no=f"s{i}")
    ev = app.evaluate(poor, as_of=d)
    assert ev.deductions == Decimal(90)
    assert (ev.score, ev.grade) == (Decimal(0), "差")


@scenario
def windows_count_from_decision_to_the_day_before_the_end(
    app: CreditLedger, clock: StepClock
) -> None:
    code = register(app, clock)
    fact(app, clock, code, "penalty.general", date(2023, 3, 1))
    assert score(app, code, date(2023, 2, 28)) == 80
    assert score(app, code, date(2023, 3, 1)) == 75
    assert score(app, code, date(2024, 2, 29)) == 75
    assert score(app, code, date(2024, 3, 1)) == 80
    ev = app.evaluate(code, as_of=date(2023, 10, 31))
    (c,) = ev.contributions
    assert (c.points, c.decided_on, c.counts_until) == (
        Decimal(-5),
        date(2023, 3, 1),
        date(2024, 3, 1),
    )


@scenario
def a_fact_decided_on_29_february_counts_until_28_february(
    app: CreditLedger, clock: StepClock
) -> None:
    code = register(app, clock)
    fact(app, clock, code, "penalty.general", date(2020, 2, 29))
    assert score(app, code, date(2021, 2, 27)) == 75
    assert score(app, code, date(2021, 2, 28)) == 80
    # Three months from 30 November ends on 29 February in a leap year.
    fact(app, clock, code, "penalty.minor", date(2023, 11, 30))
    (c,) = app.evaluate(code, as_of=date(2024, 2, 28)).contributions
    assert c.counts_until == date(2024, 2, 29)
    assert score(app, code, date(2024, 2, 29)) == 80


@scenario
def until_ended_facts_count_until_ended(app: CreditLedger, clock: StepClock) -> None:
    code = register(app, clock)
    fid = fact(app, clock, code, "tax.arrears", date(2020, 6, 1), domain="taxation")
    assert score(app, code, date(2026, 6, 1)) == 75
    clock.on(date(2026, 7, 1))
    app.handle(
        EndFact(
            uscc=code, fact_id=_uuid(fid), ended_on=date(2025, 1, 1), reason="paid", actor=SYSTEM
        )
    )
    assert score(app, code, date(2024, 12, 31)) == 75
    assert score(app, code, date(2025, 1, 1)) == 80


@scenario
def effective_until_ends_a_fact_early(app: CreditLedger, clock: StepClock) -> None:
    code = register(app, clock)
    fact(app, clock, code, "penalty.serious", date(2022, 1, 1), effective_until=date(2022, 6, 1))
    assert score(app, code, date(2022, 5, 31)) == 65
    assert score(app, code, date(2022, 6, 1)) == 80


@scenario
def a_revoked_fact_is_void_from_the_start_as_known_after_revocation(
    app: CreditLedger, clock: StepClock
) -> None:
    code = register(app, clock)
    fid = fact(app, clock, code, "penalty.serious", date(2022, 1, 1))
    before = clock.on(date(2022, 2, 1))
    clock.on(date(2022, 3, 1))
    app.handle(
        RevokeFact(uscc=code, fact_id=_uuid(fid), reason="administrative review", actor=SYSTEM)
    )
    assert score(app, code, date(2022, 1, 15)) == 80
    assert score(app, code, date(2022, 1, 15), known_at=before) == 65
    excluded = app.evaluate(code, as_of=date(2022, 1, 15)).excluded
    assert [x.reason for x in excluded] == ["revoked: void from the start"]


@scenario
def the_listing_override_grades_poor_whatever_the_score(
    app: CreditLedger, clock: StepClock
) -> None:
    code = register(app, clock)
    fact(app, clock, code, "honor.national", date(2022, 1, 1))
    clock.on(date(2022, 3, 1))
    listing = app.handle(
        ListSubject(
            uscc=code,
            list_type="judgment_defaulter",
            listed_on=date(2022, 3, 1),
            domain="food",
            document_no="(2022)豫0481执123号",
            authority="舞钢市人民法院",
            actor=SYSTEM,
        )
    )
    ev = app.evaluate(code, as_of=date(2022, 3, 1))
    assert (ev.score, ev.score_grade, ev.grade, ev.listed) == (Decimal(85), "良", "差", True)
    assert score(app, code, date(2022, 2, 28)) == 85
    assert grade(app, code, date(2022, 2, 28)) == "良"
    clock.on(date(2022, 9, 1))
    app.handle(
        DelistSubject(
            uscc=code,
            listing_id=listing.id,
            delisted_on=date(2022, 9, 1),
            reason="expired",
            actor=SYSTEM,
        )
    )
    assert grade(app, code, date(2022, 8, 31)) == "差"
    assert grade(app, code, date(2022, 9, 1)) == "良"


@scenario
def a_delisting_as_revoked_voids_the_listing_from_the_start(
    app: CreditLedger, clock: StepClock
) -> None:
    code = register(app, clock)
    clock.on(date(2022, 3, 1))
    listing = app.handle(
        ListSubject(
            uscc=code,
            list_type="major_tax_violation",
            listed_on=date(2022, 3, 1),
            domain="taxation",
            document_no="税名单1",
            authority="舞钢市税务局",
            actor=SYSTEM,
        )
    )
    known_before = clock.on(date(2022, 4, 1))
    clock.on(date(2022, 5, 1))
    app.handle(
        DelistSubject(
            uscc=code,
            listing_id=listing.id,
            delisted_on=date(2022, 5, 1),
            reason="revoked",
            actor=SYSTEM,
        )
    )
    assert grade(app, code, date(2022, 3, 15)) == "良"
    assert grade(app, code, date(2022, 3, 15), known_at=known_before) == "差"


@scenario
def an_approved_repair_stops_the_fact_from_the_decision_and_a_revoked_one_restores_it(
    app: CreditLedger, clock: StepClock
) -> None:
    code = register(app, clock)
    fid = _uuid(fact(app, clock, code, "penalty.general", date(2023, 1, 10)))
    clock.on(date(2023, 4, 10))
    repair = app.handle(
        RequestRepair(
            uscc=code,
            target_id=fid,
            requested_on=date(2023, 4, 10),
            commitment="已整改，承诺守信",
            actor=PLATFORM,
        )
    )
    assert repair.status == "pending"
    clock.on(date(2023, 4, 20))
    app.handle(
        DecideRepair(
            repair_id=repair.id,
            approved=True,
            decided_on=date(2023, 4, 20),
            reason="ok",
            actor=SYSTEM,
        )
    )
    assert score(app, code, date(2023, 4, 19)) == 75  # not retroactive
    assert score(app, code, date(2023, 4, 20)) == 80
    (c,) = app.evaluate(code, as_of=date(2023, 4, 19)).contributions
    assert c.counts_until == date(2023, 4, 20)
    clock.on(date(2023, 6, 1))
    app.handle(
        RevokeRepair(
            repair_id=repair.id, revoked_on=date(2023, 6, 1), reason="false materials", actor=SYSTEM
        )
    )
    assert score(app, code, date(2023, 5, 31)) == 80
    assert score(app, code, date(2023, 6, 1)) == 75
    assert score(app, code, date(2024, 1, 10)) == 80  # the natural window still ends


@scenario
def repair_eligibility_follows_the_minimum_publication_period(
    app: CreditLedger, clock: StepClock
) -> None:
    code = register(app, clock)
    general = _uuid(fact(app, clock, code, "penalty.general", date(2023, 1, 31)))
    serious = _uuid(fact(app, clock, code, "penalty.serious", date(2023, 1, 31)))
    minor = _uuid(fact(app, clock, code, "penalty.minor", date(2023, 1, 31)))
    bonus = _uuid(fact(app, clock, code, "honor.municipal", date(2023, 1, 31)))
    clock.on(date(2024, 3, 1))
    before = app.max_position()
    with pytest.raises(NotEligible) as refused:
        app.handle(
            RequestRepair(
                uscc=code,
                target_id=general,
                requested_on=date(2023, 4, 29),
                commitment="c",
                actor=PLATFORM,
            )
        )
    assert refused.value.eligible_on == date(2023, 4, 30)  # 31 Jan + 3 months, clamped
    assert refused.value.field == "requested_on"
    with pytest.raises(NotEligible) as refused:
        app.handle(
            RequestRepair(
                uscc=code,
                target_id=serious,
                requested_on=date(2024, 1, 30),
                commitment="c",
                actor=PLATFORM,
            )
        )
    assert refused.value.eligible_on == date(2024, 1, 31)
    with pytest.raises(InvalidInput) as refused_bonus:
        app.handle(
            RequestRepair(
                uscc=code,
                target_id=bonus,
                requested_on=date(2023, 6, 1),
                commitment="c",
                actor=PLATFORM,
            )
        )
    assert refused_bonus.value.field == "target_id"
    assert app.max_position() == before
    assert app.handle(
        RequestRepair(
            uscc=code,
            target_id=general,
            requested_on=date(2023, 4, 30),
            commitment="c",
            actor=PLATFORM,
        )
    ).created
    assert app.handle(
        RequestRepair(
            uscc=code,
            target_id=minor,
            requested_on=date(2023, 1, 31),
            commitment="c",
            actor=PLATFORM,
        )
    ).created


@scenario
def an_objection_flags_the_fact_and_falls_due_in_ten_working_days(
    app: CreditLedger, clock: StepClock
) -> None:
    code = register(app, clock)
    fid = _uuid(fact(app, clock, code, "penalty.general", date(2023, 9, 20)))
    clock.on(date(2023, 9, 27))
    objection = app.handle(
        FileObjection(
            uscc=code, target_id=fid, filed_on=date(2023, 9, 27), grounds="not us", actor=PLATFORM
        )
    )
    # 28 Sep, then the National Day holiday, then the adjusted working weekend of 7–8 October.
    assert objection.due_on == date(2023, 10, 17)
    (c,) = app.evaluate(code, as_of=date(2023, 10, 1)).contributions
    assert c.under_objection
    assert c.points == -5
    (c,) = app.evaluate(code, as_of=date(2023, 9, 26)).contributions
    assert not c.under_objection
    clock.on(date(2023, 10, 10))
    app.handle(
        ResolveObjection(
            objection_id=objection.id,
            outcome="rejected",
            resolved_on=date(2023, 10, 10),
            actor=SYSTEM,
        )
    )
    (c,) = app.evaluate(code, as_of=date(2023, 10, 10)).contributions
    assert not c.under_objection
    assert c.points == -5


@scenario
def an_objection_correction_applies_over_the_whole_valid_time_from_its_record_time(
    app: CreditLedger, clock: StepClock
) -> None:
    code = register(app, clock)
    voided = _uuid(fact(app, clock, code, "penalty.serious", date(2023, 3, 1)))
    changed = _uuid(fact(app, clock, code, "penalty.general", date(2023, 3, 1), document_no="g"))
    published = datetime(2023, 10, 31, 23, 59, 59, tzinfo=CST)
    clock.on(date(2023, 11, 5))
    o1 = app.handle(
        FileObjection(
            uscc=code, target_id=voided, filed_on=date(2023, 11, 5), grounds="g", actor=PLATFORM
        )
    )
    o2 = app.handle(
        FileObjection(
            uscc=code, target_id=changed, filed_on=date(2023, 11, 5), grounds="g", actor=PLATFORM
        )
    )
    before_resolution = clock.on(date(2023, 11, 6))
    clock.on(date(2023, 11, 10))
    app.handle(
        ResolveObjection(
            objection_id=o1.id,
            outcome="corrected",
            resolved_on=date(2023, 11, 10),
            void=True,
            actor=SYSTEM,
        )
    )
    app.handle(
        ResolveObjection(
            objection_id=o2.id,
            outcome="corrected",
            resolved_on=date(2023, 11, 10),
            indicator="penalty.minor",
            decided_on=date(2023, 9, 1),
            actor=SYSTEM,
        )
    )
    # As published on 31 October 2023: both facts as first recorded.
    assert score(app, code, date(2023, 10, 31), known_at=published) == 60
    assert score(app, code, date(2023, 10, 31), known_at=before_resolution) == 60
    # Restated: the serious penalty never existed, the general one is a minor one from 1 Sep.
    assert score(app, code, date(2023, 10, 31)) == 79
    assert score(app, code, date(2023, 8, 31)) == 80
    assert score(app, code, date(2023, 11, 30)) == 79
    assert score(app, code, date(2023, 12, 1)) == 80  # 1 Sep + 3 months ends on 1 Dec


@scenario
def a_listing_can_be_voided_by_an_objection(app: CreditLedger, clock: StepClock) -> None:
    code = register(app, clock)
    clock.on(date(2023, 3, 1))
    listing = app.handle(
        ListSubject(
            uscc=code,
            list_type="other_joint_punishment",
            listed_on=date(2023, 3, 1),
            domain="food",
            document_no="L1",
            authority="信用办",
            actor=SYSTEM,
        )
    )
    clock.on(date(2023, 3, 5))
    o = app.handle(
        FileObjection(
            uscc=code, target_id=listing.id, filed_on=date(2023, 3, 5), grounds="g", actor=PLATFORM
        )
    )
    assert app.evaluate(code, as_of=date(2023, 3, 6)).listings[0].under_objection
    clock.on(date(2023, 3, 9))
    app.handle(
        ResolveObjection(
            objection_id=o.id, outcome="corrected", resolved_on=date(2023, 3, 9), actor=SYSTEM
        )
    )
    assert grade(app, code, date(2023, 3, 2)) == "良"


@scenario
def bad_input_is_refused_naming_the_field_and_writes_nothing(
    app: CreditLedger, clock: StepClock
) -> None:
    code = register(app, clock)
    fid = _uuid(fact(app, clock, code, "penalty.general", date(2023, 3, 1)))
    clock.on(date(2023, 6, 1))
    objection = app.handle(
        FileObjection(
            uscc=code, target_id=fid, filed_on=date(2023, 4, 1), grounds="g", actor=PLATFORM
        )
    )
    before = app.max_position()
    bad_code = code[:-1] + ("0" if code[-1] != "0" else "1")
    cases: list[tuple[type[LedgerError], str, Callable[[], object]]] = [
        (
            InvalidInput,
            "uscc",
            lambda: app.handle(
                RegisterSubject(uscc=bad_code, name="x", kind="enterprise", actor=SYSTEM)
            ),
        ),
        (
            InvalidInput,
            "uscc",
            lambda: app.handle(
                RegisterSubject(uscc="91410481", name="x", kind="enterprise", actor=SYSTEM)
            ),
        ),
        (
            InvalidInput,
            "kind",
            lambda: app.handle(
                RegisterSubject(uscc=uscc(99), name="x", kind="person", actor=SYSTEM)
            ),
        ),
        (
            InvalidInput,
            "fields",
            lambda: app.handle(
                RegisterSubject(
                    uscc=uscc(99), name="x", kind="enterprise", fields=["fishing"], actor=SYSTEM
                )
            ),
        ),
        (
            InvalidInput,
            "indicator",
            lambda: app.handle(
                RecordFact(
                    uscc=code,
                    indicator="penalty.huge",
                    decided_on=date(2023, 3, 2),
                    domain="food",
                    document_no="d2",
                    actor=SYSTEM,
                )
            ),
        ),
        (
            InvalidInput,
            "domain",
            lambda: app.handle(
                RecordFact(
                    uscc=code,
                    indicator="penalty.minor",
                    decided_on=date(2023, 3, 2),
                    domain="fishing",
                    document_no="d2",
                    actor=SYSTEM,
                )
            ),
        ),
        (
            InvalidInput,
            "decided_on",
            lambda: app.handle(
                RecordFact(
                    uscc=code,
                    indicator="penalty.minor",
                    decided_on=date(2023, 6, 2),
                    domain="food",
                    document_no="d3",
                    actor=SYSTEM,
                )
            ),
        ),
        (
            InvalidInput,
            "effective_until",
            lambda: app.handle(
                RecordFact(
                    uscc=code,
                    indicator="penalty.minor",
                    decided_on=date(2023, 3, 2),
                    domain="food",
                    document_no="d4",
                    effective_until=date(2023, 3, 2),
                    actor=SYSTEM,
                )
            ),
        ),
        (
            InvalidInput,
            "ended_on",
            lambda: app.handle(
                EndFact(
                    uscc=code, fact_id=fid, ended_on=date(2023, 2, 28), reason="r", actor=SYSTEM
                )
            ),
        ),
        (
            InvalidInput,
            "document_no",
            lambda: app.handle(
                RecordFact(
                    uscc=code,
                    indicator="penalty.minor",
                    decided_on=date(2023, 3, 2),
                    domain="food",
                    document_no="  ",
                    actor=SYSTEM,
                )
            ),
        ),
        (
            Conflict,
            "document_no",
            lambda: app.handle(
                RecordFact(
                    uscc=code,
                    indicator="penalty.serious",
                    decided_on=date(2023, 3, 1),
                    domain="food",
                    document_no="doc-penalty.general-2023-03-01",
                    actor=SYSTEM,
                )
            ),
        ),
        (
            NotFound,
            "uscc",
            lambda: app.handle(
                RecordFact(
                    uscc=uscc(98),
                    indicator="penalty.minor",
                    decided_on=date(2023, 3, 2),
                    domain="food",
                    document_no="d5",
                    actor=SYSTEM,
                )
            ),
        ),
        (
            NotFound,
            "fact_id",
            lambda: app.handle(
                EndFact(
                    uscc=code,
                    fact_id=_uuid("00000000-0000-4000-8000-000000000000"),
                    ended_on=date(2023, 4, 1),
                    reason="r",
                    actor=SYSTEM,
                )
            ),
        ),
        (
            Forbidden,
            "domain",
            lambda: app.handle(
                RecordFact(
                    uscc=code,
                    indicator="penalty.minor",
                    decided_on=date(2023, 3, 2),
                    domain="food",
                    document_no="d6",
                    actor=recorder("taxation"),
                )
            ),
        ),
        (
            Forbidden,
            "target's field",
            lambda: app.handle(
                ResolveObjection(
                    objection_id=objection.id,
                    outcome="rejected",
                    resolved_on=date(2023, 4, 2),
                    actor=recorder("drugs"),
                )
            ),
        ),
        (
            InvalidInput,
            "resolved_on",
            lambda: app.handle(
                ResolveObjection(
                    objection_id=objection.id,
                    outcome="rejected",
                    resolved_on=date(2023, 3, 31),
                    actor=SYSTEM,
                )
            ),
        ),
        (
            InvalidInput,
            "correction",
            lambda: app.handle(
                ResolveObjection(
                    objection_id=objection.id,
                    outcome="corrected",
                    resolved_on=date(2023, 4, 2),
                    actor=SYSTEM,
                )
            ),
        ),
        (
            InvalidInput,
            "correction",
            lambda: app.handle(
                ResolveObjection(
                    objection_id=objection.id,
                    outcome="rejected",
                    resolved_on=date(2023, 4, 2),
                    void=True,
                    actor=SYSTEM,
                )
            ),
        ),
        (
            InvalidInput,
            "outcome",
            lambda: app.handle(
                ResolveObjection(
                    objection_id=objection.id,
                    outcome="maybe",
                    resolved_on=date(2023, 4, 2),
                    actor=SYSTEM,
                )
            ),
        ),
        (
            NotFound,
            "objection_id",
            lambda: app.handle(
                ResolveObjection(
                    objection_id=_uuid("00000000-0000-4000-8000-000000000001"),
                    outcome="rejected",
                    resolved_on=date(2023, 4, 2),
                    actor=SYSTEM,
                )
            ),
        ),
        (
            Forbidden,
            "role",
            lambda: app.handle(
                FileObjection(
                    uscc=code,
                    target_id=fid,
                    filed_on=date(2023, 4, 1),
                    grounds="g",
                    actor=recorder("food"),
                )
            ),
        ),
        (
            Conflict,
            "target_id",
            lambda: app.handle(
                FileObjection(
                    uscc=code,
                    target_id=fid,
                    filed_on=date(2023, 4, 3),
                    grounds="other",
                    actor=PLATFORM,
                )
            ),
        ),
    ]
    for error, field_name, call in cases:
        with pytest.raises(error) as refused:
            call()
        assert refused.value.field == field_name, (field_name, refused.value.message)
        assert refused.value.message
    assert app.max_position() == before


@scenario
def writes_are_idempotent_on_the_document_number(app: CreditLedger, clock: StepClock) -> None:
    code = register(app, clock)
    clock.on(date(2023, 3, 2))
    first = app.handle(
        RecordFact(
            uscc=code,
            indicator="penalty.minor",
            decided_on=date(2023, 3, 1),
            domain="food",
            document_no="舞市监罚〔2023〕7号",
            actor=SYSTEM,
        )
    )
    again = app.handle(
        RecordFact(
            uscc=code,
            indicator="penalty.minor",
            decided_on=date(2023, 3, 1),
            domain="food",
            document_no="舞市监罚〔2023〕7号",
            actor=SYSTEM,
        )
    )
    assert first.created
    assert not again.created
    assert again.id == first.id
    assert again.position == first.position
    assert len(app.history(code)) == 2
    same = app.handle(
        RegisterSubject(
            uscc=code, name="舞钢市测试1有限公司", kind="enterprise", fields=["food"], actor=SYSTEM
        )
    )
    assert not same.created
    with pytest.raises(Conflict):
        app.handle(RegisterSubject(uscc=code, name="other", kind="enterprise", actor=SYSTEM))


@scenario
def stored_events_carry_explicit_topics_provenance_and_record_time(
    app: CreditLedger, clock: StepClock
) -> None:
    code = register(app, clock)
    at = clock.on(date(2023, 3, 2))
    app.handle(
        RecordFact(
            uscc=code,
            indicator="penalty.minor",
            decided_on=date(2023, 3, 1),
            domain="food",
            document_no="D-1",
            actor=recorder("food"),
        )
    )
    notifications = app.notification_log.select(start=1, limit=10)
    topics = [n.topic for n in notifications]
    assert topics == ["credit.subject_registered.v1", "credit.fact_recorded.v1"]
    registered, recorded = app.history(code)
    assert registered.originator_id == subject_id_for(code)
    assert recorded.actor_id == "token:recorder:food"  # type: ignore[attr-defined]
    assert recorded.source_document == "D-1"  # type: ignore[attr-defined]
    assert recorded.decided_on == date(2023, 3, 1)  # type: ignore[attr-defined]
    assert at < recorded.timestamp < at + timedelta(seconds=1)


def _uuid(value: object) -> object:
    import uuid

    return uuid.UUID(str(value))
