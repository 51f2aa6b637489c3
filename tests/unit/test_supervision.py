"""Supervision tiers (DOMAIN §6) and double-random draws, checked against independent arithmetic."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ledger.domain.commands import (
    DelistSubject,
    ListSubject,
    RecordFact,
    RecordIndustryEvaluation,
    RecordInspectionResult,
    RegisterSubject,
)
from ledger.domain.errors import Forbidden, InvalidInput
from ledger.domain.rules.supervision import default_policies, draw
from ledger.service.application import CreditLedger
from tests.support import SYSTEM, StepClock, recorder, uscc

K = datetime(2030, 1, 1, tzinfo=UTC)


def subject_with(
    app: CreditLedger, clock: StepClock, n: int, facts: list[str], fields: list[str]
) -> str:
    code = uscc(500 + n)
    clock.on(date(2024, 1, 2))
    app.handle(
        RegisterSubject(uscc=code, name=f"s{n}", kind="enterprise", fields=fields, actor=SYSTEM)
    )
    for i, indicator in enumerate(facts):
        domain = (
            "taxation"
            if indicator.startswith("tax")
            else "labour_employment"
            if indicator.startswith("wage")
            else "food"
        )
        app.handle(
            RecordFact(
                uscc=code,
                indicator=indicator,
                decided_on=date(2024, 1, 2),
                domain=domain,
                document_no=f"{n}-{i}",
                actor=SYSTEM,
            )
        )
    return code


@pytest.mark.parametrize(
    ("facts", "public", "letter", "tier", "ratio", "food_ratio", "most"),
    [
        (["tax.a_level", "honor.municipal"], "优", "A", "reduced", "0.01", "0.01", 1),
        ([], "良", "B", "reduced", "0.03", "0.02", 1),
        (["wage.arrears", "penalty.general"], "中", "C", "regular", "0.10", "0.10", 2),
        (["penalty.serious", "penalty.serious"], "差", "D", "intensified", "0.30", "0.30", 4),
    ],
)
def test_the_public_grade_sets_the_tier_when_no_industry_grade_is_in_force(
    memory_ledger: CreditLedger,
    clock: StepClock,
    facts: list[str],
    public: str,
    letter: str,
    tier: str,
    ratio: str,
    food_ratio: str,
    most: int,
) -> None:
    code = subject_with(memory_ledger, clock, 1, facts, ["food", "transport"])
    for field, expected_ratio in (("transport", ratio), ("food", food_ratio)):
        sup = memory_ledger.supervision(code, field=field, as_of=date(2024, 6, 1))
        assert (sup.public.grade, sup.grade, sup.basis, sup.tier) == (
            public,
            letter,
            "public",
            tier,
        )
        assert (sup.ratio, sup.max_per_year) == (Decimal(expected_ratio), most)


def test_the_industry_grade_in_force_overrides_the_public_grade_until_the_next_one(
    memory_ledger: CreditLedger, clock: StepClock
) -> None:
    code = subject_with(memory_ledger, clock, 2, ["penalty.serious", "penalty.serious"], ["food"])
    clock.on(date(2024, 7, 1))
    memory_ledger.handle(
        RecordIndustryEvaluation(
            uscc=code,
            domain="food",
            evaluated_on=date(2024, 3, 1),
            score="91",
            model="food-2024",
            actor=SYSTEM,
        )
    )
    memory_ledger.handle(
        RecordIndustryEvaluation(
            uscc=code,
            domain="food",
            evaluated_on=date(2024, 6, 1),
            score="65",
            model="food-2024b",
            actor=SYSTEM,
        )
    )
    before = memory_ledger.supervision(code, field="food", as_of=date(2024, 2, 29))
    first = memory_ledger.supervision(code, field="food", as_of=date(2024, 5, 31))
    second = memory_ledger.supervision(code, field="food", as_of=date(2024, 6, 1))
    assert (before.basis, before.grade, before.tier) == ("public", "D", "intensified")
    assert (first.basis, first.grade, first.tier) == ("industry", "A", "reduced")
    assert (second.basis, second.grade, second.tier) == ("industry", "C", "regular")
    # Another field's industry grade does not apply here.
    assert (
        memory_ledger.supervision(code, field="food", as_of=date(2024, 5, 31)).public.grade == "差"
    )


def test_an_active_listing_makes_the_tier_intensified_whatever_the_grades_say(
    memory_ledger: CreditLedger, clock: StepClock
) -> None:
    code = subject_with(memory_ledger, clock, 3, ["tax.a_level", "honor.municipal"], ["food"])
    clock.on(date(2024, 4, 1))
    memory_ledger.handle(
        RecordIndustryEvaluation(
            uscc=code,
            domain="food",
            evaluated_on=date(2024, 3, 1),
            score="95",
            model="m",
            actor=SYSTEM,
        )
    )
    listing = memory_ledger.handle(
        ListSubject(
            uscc=code,
            list_type="judgment_defaulter",
            listed_on=date(2024, 4, 1),
            domain="food",
            document_no="L",
            authority="court",
            actor=SYSTEM,
        )
    )
    sup = memory_ledger.supervision(code, field="food", as_of=date(2024, 4, 1))
    assert (sup.basis, sup.grade, sup.tier, sup.ratio) == (
        "listing",
        "D",
        "intensified",
        Decimal("0.30"),
    )
    clock.on(date(2024, 8, 1))
    memory_ledger.handle(
        DelistSubject(
            uscc=code,
            listing_id=listing.id,
            delisted_on=date(2024, 8, 1),
            reason="repaired",
            actor=SYSTEM,
        )
    )
    assert memory_ledger.supervision(code, field="food", as_of=date(2024, 8, 1)).basis == "industry"


def _independent_draw(
    seed: str, population: list[tuple[str, str]], ratios: dict[str, str]
) -> set[str]:
    chosen = set()
    for letter in {g for _, g in population}:
        stratum = sorted(
            (u for u, g in population if g == letter),
            key=lambda u: hashlib.sha256(f"{seed}|{u}".encode()).hexdigest(),
        )
        chosen |= set(stratum[: math.ceil(Decimal(ratios[letter]) * len(stratum))])
    return chosen


def test_a_draw_equals_an_independent_recomputation_with_ceil_sized_strata() -> None:
    population = (
        [(uscc(n), "B") for n in range(150)]
        + [(uscc(1000 + n), "D") for n in range(7)]
        + [(uscc(2000 + n), "A") for n in range(40)]
    )
    ratios = {"A": "0.01", "B": "0.03", "C": "0.10", "D": "0.30"}
    result = draw(
        "transport",
        date(2025, 6, 1),
        "公开种子-2025",
        [(u, g, "t") for u, g in population],
        {k: Decimal(v) for k, v in ratios.items()},
    )
    assert result.strata == {
        "A": (40, 1),
        "B": (150, 5),
        "D": (7, 3),
    }  # ceil(0.4), ceil(4.5), ceil(2.1)
    assert {s.uscc for s in result.selected} == _independent_draw(
        "公开种子-2025", population, ratios
    )
    lines = "\n".join(f"{u}|{g}" for u, g in sorted(population))
    assert result.population_digest == hashlib.sha256(lines.encode()).hexdigest()
    other = draw(
        "transport",
        date(2025, 6, 1),
        "another seed",
        [(u, g, "t") for u, g in population],
        {k: Decimal(v) for k, v in ratios.items()},
    )
    assert {s.uscc for s in other.selected} != {s.uscc for s in result.selected}


def test_inspectors_are_assigned_two_per_subject_by_the_smallest_hash() -> None:
    pool = ["甲", "乙", "丙", "丁", "戊"]
    result = draw(
        "food", date(2025, 6, 1), "s", [(uscc(1), "D", "intensified")], {"D": Decimal("0.3")}, pool
    )
    (chosen,) = result.selected
    expected = sorted(pool, key=lambda i: hashlib.sha256(f"s|{uscc(1)}|{i}".encode()).hexdigest())[
        :2
    ]
    assert list(chosen.inspectors) == expected


def test_the_shipped_policy_covers_every_grade_and_field_overrides_only_what_they_name() -> None:
    policy = default_policies().in_force(date(2024, 1, 1))
    assert {policy.rule("transport", g).tier for g in "ABCD"} == {
        "reduced",
        "regular",
        "intensified",
    }
    assert policy.rule("food", "B").ratio == Decimal("0.02")
    assert policy.rule("food", "D").ratio == Decimal("0.30")


def test_a_recorder_of_another_field_cannot_draw_or_record_results(
    memory_ledger: CreditLedger, clock: StepClock
) -> None:
    code = subject_with(memory_ledger, clock, 4, ["penalty.serious"], ["food"])
    clock.on(date(2025, 6, 2))
    with pytest.raises(Forbidden):
        memory_ledger.make_draw(
            field="food", as_of=date(2025, 6, 1), seed="s", actor=recorder("taxation")
        )
    made, _ = memory_ledger.make_draw(
        field="food", as_of=date(2025, 6, 1), seed="s", actor=recorder("food", "drugs")
    )
    drawn = made.selected[0]["uscc"]
    assert drawn == code
    with pytest.raises(Forbidden):
        memory_ledger.handle(
            RecordInspectionResult(
                draw_id=made.id,
                uscc=drawn,
                outcome="passed",
                inspected_on=date(2025, 6, 2),
                actor=recorder("transport"),
            )
        )
    with pytest.raises(InvalidInput) as refused:
        memory_ledger.handle(
            RecordInspectionResult(
                draw_id=made.id,
                uscc=uscc(3),
                outcome="passed",
                inspected_on=date(2025, 6, 2),
                actor=SYSTEM,
            )
        )
    assert refused.value.field == "uscc"
