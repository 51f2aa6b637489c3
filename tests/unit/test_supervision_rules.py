"""The supervision rules as pure functions: the policy file, the tier's basis, a draw's recipe."""

from __future__ import annotations

import copy
import hashlib
import tomllib
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from typing import Any
from uuid import UUID

import pytest

from ledger.domain.errors import InvalidInput
from ledger.domain.model import default_models
from ledger.domain.rules.supervision import (
    PolicyRegistry,
    SupervisionPolicy,
    TierRule,
    draw,
    in_field,
    industry_in_force,
    supervise,
)
from ledger.domain.state import IndustryEvaluationState, ListingState, Membership, SubjectState

RECORDED = datetime(2024, 6, 1, tzinfo=UTC)
KNOWN = datetime(2025, 1, 1, tzinfo=UTC)


def shipped_policy_file() -> dict[str, Any]:
    text = (
        resources.files("ledger.domain") / "data" / "policies" / "supervision-2021.toml"
    ).read_text("utf-8")
    return tomllib.loads(text)


def test_the_policy_file_reads_as_the_domain_table() -> None:
    food_b = TierRule("reduced", Decimal("0.02"), 1)
    assert SupervisionPolicy.from_toml(shipped_policy_file()) == SupervisionPolicy(
        version="SUP-2021",
        effective_from=date(2021, 1, 1),
        public_to_letter={"优": "A", "良": "B", "中": "C", "差": "D"},
        default={
            "A": TierRule("reduced", Decimal("0.01"), 1),
            "B": TierRule("reduced", Decimal("0.03"), 1),
            "C": TierRule("regular", Decimal("0.10"), 2),
            "D": TierRule("intensified", Decimal("0.30"), 4),
        },
        fields={
            "food": {"B": food_b},
            "drugs": {"B": food_b},
            "medical_devices": {"B": food_b},
            "market_entities": {"B": food_b},
        },
    )


def test_a_policy_without_a_default_row_for_every_letter_is_refused() -> None:
    raw = shipped_policy_file()
    del raw["default"]["C"]
    with pytest.raises(ValueError, match=r"^SUP-2021: the default needs rows for \('A', 'B'"):
        SupervisionPolicy.from_toml(raw)


@pytest.mark.parametrize("ratio", ["0", "-0.1", "1.01"])
def test_a_draw_ratio_outside_zero_to_one_is_refused(ratio: str) -> None:
    raw = shipped_policy_file()
    raw["default"]["D"]["ratio"] = ratio
    with pytest.raises(ValueError, match=r"^SUP-2021: ratios lie in \(0, 1\]$"):
        SupervisionPolicy.from_toml(raw)


def test_a_draw_ratio_of_one_inspects_everyone_and_is_allowed() -> None:
    raw = shipped_policy_file()
    raw["default"]["D"]["ratio"] = "1"
    assert SupervisionPolicy.from_toml(raw).default["D"].ratio == Decimal(1)


def test_a_policy_without_field_overrides_uses_its_default_everywhere() -> None:
    raw = shipped_policy_file()
    del raw["fields"]
    policy = SupervisionPolicy.from_toml(raw)
    assert policy.fields == {}
    assert policy.rule("food", "B") == TierRule("reduced", Decimal("0.03"), 1)


def test_the_policy_in_force_is_the_latest_from_its_date_and_the_first_before_any() -> None:
    first = SupervisionPolicy.from_toml(shipped_policy_file())
    raw = copy.deepcopy(shipped_policy_file())
    raw["version"], raw["effective_from"] = "SUP-2026", date(2026, 1, 1)
    second = SupervisionPolicy.from_toml(raw)
    policies = PolicyRegistry((first, second))
    assert policies.in_force(date(2019, 1, 1)) is first
    assert policies.in_force(date(2025, 12, 31)) is first
    assert policies.in_force(date(2026, 1, 1)) is second


# --- the basis of a tier -------------------------------------------------------------------------


def industry(n: int, domain: str, on: date, grade: str) -> IndustryEvaluationState:
    return IndustryEvaluationState(
        evaluation_id=UUID(int=n),
        domain=domain,
        evaluated_on=on,
        score=None,
        native_grade=None,
        grade=grade,
        model="food-2021",
        document_no=None,
        recorded_at=RECORDED,
    )


def test_the_industry_evaluation_in_force_is_the_latest_on_or_before_the_day() -> None:
    state = SubjectState(
        industry_evaluations=[
            industry(1, "food", date(2022, 1, 1), "B"),
            industry(2, "food", date(2023, 1, 1), "C"),
            industry(3, "food", date(2023, 1, 1), "D"),  # restated the same day: the later holds
            industry(4, "drugs", date(2022, 6, 1), "A"),
        ]
    )
    assert industry_in_force(state, "food", date(2021, 12, 31)) is None
    assert industry_in_force(state, "food", date(2022, 1, 1)) == state.industry_evaluations[0]
    assert industry_in_force(state, "food", date(2022, 12, 31)) == state.industry_evaluations[0]
    assert industry_in_force(state, "food", date(2023, 1, 1)) == state.industry_evaluations[2]
    assert industry_in_force(state, "drugs", date(2022, 5, 31)) is None


def test_only_a_registered_member_is_in_a_field_population() -> None:
    member = SubjectState(memberships=[Membership("food", since=date(2022, 1, 1))])
    assert in_field(member, "food", date(2022, 1, 1)) is False
    member.registered_at = RECORDED
    assert in_field(member, "food", date(2022, 1, 1)) is True
    assert in_field(member, "drugs", date(2022, 1, 1)) is False


def registered(**kw: Any) -> SubjectState:
    return SubjectState(uscc="91410481MA0000000X", name="Acme", registered_at=RECORDED, **kw)


def test_a_tier_rests_on_the_industry_grade_in_force_and_names_its_policy() -> None:
    policies = PolicyRegistry((SupervisionPolicy.from_toml(shipped_policy_file()),))
    state = registered(industry_evaluations=[industry(1, "food", date(2022, 1, 1), "B")])
    result = supervise(state, "food", date(2022, 6, 1), KNOWN, default_models(), policies)
    assert (result.uscc, result.field, result.as_of, result.policy) == (
        "91410481MA0000000X",
        "food",
        date(2022, 6, 1),
        "SUP-2021",
    )
    assert (result.basis, result.grade, result.tier, result.ratio, result.max_per_year) == (
        "industry",
        "B",
        "reduced",
        Decimal("0.02"),
        1,
    )
    assert result.industry == state.industry_evaluations[0]
    assert (result.public.grade, result.public.known_at) == ("良", KNOWN)


def test_a_listing_in_force_makes_the_tier_intensified_over_an_industry_grade() -> None:
    policies = PolicyRegistry((SupervisionPolicy.from_toml(shipped_policy_file()),))
    court = ListingState(
        listing_id=UUID(int=9),
        list_type="judgment_defaulter",
        listed_on=date(2022, 3, 1),
        domain="courts",
        document_no="list-9",
        authority="People's Court",
        recorded_at=RECORDED,
    )
    state = registered(
        industry_evaluations=[industry(1, "food", date(2022, 1, 1), "A")],
        listings={court.listing_id: court},
    )
    before = supervise(state, "food", date(2022, 2, 28), KNOWN, default_models(), policies)
    during = supervise(state, "food", date(2022, 3, 1), KNOWN, default_models(), policies)
    assert (before.basis, before.grade, before.tier) == ("industry", "A", "reduced")
    assert (during.basis, during.grade, during.tier) == ("listing", "D", "intensified")


# --- a draw, recomputed from its published recipe -----------------------------------------------


def rank(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def test_a_draw_takes_the_smallest_hashes_per_stratum_and_says_how_many_of_how_many() -> None:
    seed = "2024-Q2 public seed"
    population = [(f"code-{n:02}", "C" if n < 11 else "A", "tier-x") for n in range(14)]
    result = draw(
        "food", date(2024, 4, 1), seed, population, {"A": Decimal("0.5"), "C": Decimal("0.1")}
    )
    c_members = sorted((u for u, g, _ in population if g == "C"), key=lambda u: rank(seed, u))
    a_members = sorted((u for u, g, _ in population if g == "A"), key=lambda u: rank(seed, u))
    assert result.strata == {"A": (3, 2), "C": (11, 2)}  # ceil(0.5 × 3), ceil(0.1 × 11)
    assert [(s.uscc, s.grade, s.tier) for s in result.selected] == [
        *((u, "A", "tier-x") for u in a_members[:2]),
        *((u, "C", "tier-x") for u in c_members[:2]),
    ]
    lines = "\n".join(f"{u}|{g}" for u, g in sorted((u, g) for u, g, _ in population))
    assert result.population_digest == hashlib.sha256(lines.encode()).hexdigest()
    assert (result.field, result.as_of, result.seed) == ("food", date(2024, 4, 1), seed)


def test_a_drawn_subject_gets_the_two_inspectors_with_the_smallest_hashes() -> None:
    seed = "s"
    pool = ["Wang", "Li", "Zhang", "Li"]
    result = draw("food", date(2024, 4, 1), seed, [("code-1", "D", "t")], {"D": Decimal(1)}, pool)
    expected = tuple(sorted({"Wang", "Li", "Zhang"}, key=lambda i: rank(seed, "code-1", i))[:2])
    assert result.selected[0].inspectors == expected
    assert (
        draw("food", date(2024, 4, 1), seed, [("code-1", "D", "t")], {"D": Decimal(1)})
        .selected[0]
        .inspectors
        == ()
    )


def test_a_draw_without_a_seed_is_refused_naming_the_seed() -> None:
    with pytest.raises(InvalidInput) as refused:
        draw("food", date(2024, 4, 1), "", [], {})
    assert (refused.value.message, refused.value.field, refused.value.rule) == (
        "a draw needs a seed",
        "seed",
        "public seed",
    )
