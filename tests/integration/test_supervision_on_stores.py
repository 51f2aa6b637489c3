"""Supervision on both stores: draws re-verified from the ledger, results made public, worklists."""

from __future__ import annotations

from datetime import date

from ledger.domain.commands import (
    ListSubject,
    RecordFact,
    RecordIndustryEvaluation,
    RecordInspectionResult,
    RegisterSubject,
)
from ledger.service.application import CreditLedger
from projections.runner import Projector
from tests.support import SYSTEM, StepClock, recorder, uscc

FOOD = recorder("food")


def food_field(app: CreditLedger, clock: StepClock, size: int = 30) -> list[str]:
    codes = []
    clock.on(date(2024, 1, 2))
    for n in range(size):
        code = uscc(700 + n)
        app.handle(
            RegisterSubject(
                uscc=code, name=f"f{n}", kind="enterprise", fields=["food"], actor=SYSTEM
            )
        )
        codes.append(code)
    clock.on(date(2024, 2, 1))
    for n, code in enumerate(codes):
        indicator = ["penalty.serious", "penalty.general", "tax.a_level", "commitment.kept"][n % 4]
        app.handle(
            RecordFact(
                uscc=code,
                indicator=indicator,
                decided_on=date(2024, 2, 1),
                domain="taxation" if indicator.startswith("tax") else "food",
                document_no=f"d{n}",
                actor=SYSTEM,
            )
        )
        if n % 10 == 0:
            app.handle(
                ListSubject(
                    uscc=code,
                    list_type="serious_illegal_dishonest",
                    listed_on=date(2024, 2, 1),
                    domain="food",
                    document_no=f"l{n}",
                    authority="市监局",
                    actor=SYSTEM,
                )
            )
    app.register_inspectors("food", inspectors=["甲", "乙", "丙", "丁"], actor=FOOD)
    return codes


def test_a_draw_is_re_verified_from_the_ledger_even_after_later_writes(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    codes = food_field(stored_ledger, clock)
    clock.on(date(2025, 6, 2))
    made, position = stored_ledger.make_draw(
        field="food", as_of=date(2025, 6, 1), seed="2025-06", actor=FOOD
    )
    assert position > made.position
    assert sum(v[1] for v in made.strata.values()) == len(made.selected)
    assert all(len(s["inspectors"]) == 2 for s in made.selected)
    assert stored_ledger.verify_draw(made.id) == []
    # Later writes (a new subject in the field, a new penalty) do not change what was drawn.
    clock.on(date(2025, 6, 3))
    stored_ledger.handle(
        RegisterSubject(
            uscc=uscc(799), name="late", kind="enterprise", fields=["food"], actor=SYSTEM
        )
    )
    stored_ledger.handle(
        RecordFact(
            uscc=codes[2],
            indicator="penalty.serious",
            decided_on=date(2025, 6, 3),
            domain="food",
            document_no="later",
            actor=SYSTEM,
        )
    )
    assert stored_ledger.verify_draw(made.id) == []
    again = stored_ledger.get_draw(made.id)
    assert (again.seed, again.population_digest) == ("2025-06", made.population_digest)
    members = stored_ledger.field_population("food", date(2025, 6, 1), made.position)
    assert len(members) == len(codes)


def test_results_are_recorded_once_and_a_finding_becomes_a_fact_and_a_feed_item(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    food_field(stored_ledger, clock)
    clock.on(date(2025, 6, 2))
    made, _ = stored_ledger.make_draw(field="food", as_of=date(2025, 6, 1), seed="x", actor=FOOD)
    first, second = made.selected[0]["uscc"], made.selected[1]["uscc"]
    clock.on(date(2025, 6, 10))
    before = stored_ledger.evaluate(second, as_of=date(2025, 6, 10)).score
    passed = stored_ledger.handle(
        RecordInspectionResult(
            draw_id=made.id,
            uscc=first,
            outcome="passed",
            inspected_on=date(2025, 6, 10),
            actor=FOOD,
        )
    )
    finding = stored_ledger.handle(
        RecordInspectionResult(
            draw_id=made.id,
            uscc=second,
            outcome="finding",
            inspected_on=date(2025, 6, 10),
            actor=FOOD,
            indicator="penalty.general",
            document_no="舞市监罚〔2025〕99号",
            note="冷库温度不达标",
        )
    )
    assert passed.created
    assert finding.created
    again = stored_ledger.handle(
        RecordInspectionResult(
            draw_id=made.id,
            uscc=first,
            outcome="passed",
            inspected_on=date(2025, 6, 10),
            actor=FOOD,
        )
    )
    assert not again.created
    after = stored_ledger.evaluate(second, as_of=date(2025, 6, 10))
    assert after.score == before - 5
    assert any(c.fact_id == finding.id and c.domain == "food" for c in after.contributions)
    projector = Projector(stored_ledger, today=lambda: date(2025, 6, 11))
    projector.run_once()
    feed = projector.rows("feed")
    inspections = [(r["uscc"], r["detail"]) for r in feed if r["kind"] == "inspection"]
    assert inspections == [(first, "passed"), (second, "finding")]
    assert [r["detail"] for r in feed if r["kind"] == "industry"] == []


def test_worklists_follow_tiers_and_lapse_when_facts_stop_counting(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    codes = food_field(stored_ledger, clock, size=12)
    clock.on(date(2024, 3, 1))
    stored_ledger.handle(
        RecordIndustryEvaluation(
            uscc=codes[1],
            domain="food",
            evaluated_on=date(2024, 3, 1),
            score="92",
            model="food-2024",
            actor=FOOD,
        )
    )
    today = [date(2024, 6, 1)]
    projector = Projector(stored_ledger, today=lambda: today[0])
    projector.run_once()
    rows = {r["uscc"]: r for r in projector.rows("supervision")}
    assert rows[codes[0]]["tier"] == "intensified"  # listed
    assert (rows[codes[0]]["basis"], rows[codes[1]]["basis"]) == ("listing", "industry")
    assert (rows[codes[1]]["grade"], rows[codes[1]]["tier"]) == ("A", "reduced")
    assert rows[codes[4]]["public_grade"] == "中"  # a serious penalty: 65
    # A year on, the general penalties (1 year) have lapsed with no event: the refresh finds them.
    general = codes[5]
    assert rows[general]["public_grade"] == "良"
    grades_before = {r["uscc"]: r["score"] for r in projector.rows("current_grades")}
    assert grades_before[general] == "75"
    today[0] = date(2025, 3, 1)
    assert projector.run_once() > 0
    grades_after = {r["uscc"]: r for r in projector.rows("current_grades")}
    assert (grades_after[general]["score"], grades_after[general]["as_of"]) == ("80", "2025-03-01")
    assert grades_after[codes[4]]["score"] == "65"  # three years: still counting
    tiers_after = {r["uscc"]: r for r in projector.rows("supervision")}
    assert tiers_after[general]["as_of"] == "2025-03-01"
    assert tiers_after[codes[4]]["as_of"] == "2024-06-01"  # unchanged: still valid
