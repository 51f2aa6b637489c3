"""Credit codes, calendar arithmetic, the model file, the field catalogue and working days."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources

import pytest

from ledger.domain.catalog import catalogue, industry_grading
from ledger.domain.commands import RecordFact, RegisterSubject
from ledger.domain.errors import InvalidInput
from ledger.domain.model import EvaluationModel, ModelRegistry, default_models
from ledger.domain.values import add_months, china_date, end_of_china_day, normalize_uscc
from ledger.domain.workdays import add_working_days
from ledger.service.application import CreditLedger
from tests.support import SYSTEM, StepClock, uscc


def test_a_valid_credit_code_is_normalised_to_compact_upper_case() -> None:
    code = uscc(5)
    spaced = f" {code[:6]} {code[6:].lower()} "
    assert normalize_uscc(spaced) == code


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("91410481MA3X5Y6T", "must be 18 characters"),
        ("9141048IMA3X5Y6TXX", "administrative division code"),
        ("91350100M000100Y4A", "check character should be"),
    ],
)
def test_an_invalid_credit_code_is_refused_naming_the_rule(value: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalize_uscc(value)
    assert refused.value.field == "uscc"
    assert problem in refused.value.message
    assert "GB 32100-2015" in str(refused.value.rule)


def test_a_known_real_world_credit_code_passes() -> None:
    # The check character of this published code is 3 (GB 32100-2015 weights, mod 31).
    assert normalize_uscc("91350100M000100Y43") == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2020, 2, 29), 12, date(2021, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2023, 11, 30), 3, date(2024, 2, 29)),
        (date(2023, 3, 1), 12, date(2024, 3, 1)),
        (date(2023, 12, 15), 1, date(2024, 1, 15)),
    ],
)
def test_calendar_months_clamp_to_the_last_day_of_the_month(
    start: date, months: int, end: date
) -> None:
    assert add_months(start, months) == end


def test_the_annual_cut_off_is_the_end_of_31_october_china_time() -> None:
    cut = end_of_china_day(date(2023, 10, 31))
    assert cut.astimezone(UTC) < datetime(2023, 10, 31, 16, 0, tzinfo=UTC)
    assert china_date(cut) == date(2023, 10, 31)
    assert china_date(datetime(2023, 10, 31, 16, 0, tzinfo=UTC)) == date(2023, 11, 1)


@pytest.mark.parametrize(
    ("score", "label", "code"),
    [
        ("100", "优", "excellent"),
        ("85.01", "优", "excellent"),
        ("85", "良", "good"),
        ("70.5", "良", "good"),
        ("70", "中", "fair"),
        ("50.01", "中", "fair"),
        ("50", "差", "poor"),
        ("0", "差", "poor"),
    ],
)
def test_grades_follow_the_plan_thresholds(score: str, label: str, code: str) -> None:
    grade = default_models().in_force(date(2023, 1, 1)).model.grade_for(Decimal(score))
    assert (grade.label, grade.code) == (label, code)


def test_the_shipped_model_matches_the_domain_table() -> None:
    model = default_models().version("PCCE-2021")
    table = {
        code: (ind.kind, ind.points, ind.period.describe(), ind.severity)
        for code, ind in model.indicators.items()
    }
    assert table == {
        "penalty.minor": ("deduction", 1, "3 months", "minor"),
        "penalty.general": ("deduction", 5, "1 year", "general"),
        "penalty.serious": ("deduction", 15, "3 years", "serious"),
        "contract.default": ("deduction", 5, "1 year", "general"),
        "wage.arrears": ("deduction", 10, "1 year", "general"),
        "social_insurance.arrears": ("deduction", 3, "1 year", "general"),
        "tax.arrears": ("deduction", 5, "until ended", "general"),
        "business.anomaly": ("deduction", 10, "until ended", "general"),
        "tax.a_level": ("bonus", 5, "1 year", None),
        "honor.municipal": ("bonus", 2, "2 years", None),
        "honor.provincial": ("bonus", 3, "2 years", None),
        "honor.national": ("bonus", 5, "3 years", None),
        "commitment.kept": ("bonus", 1, "1 year", None),
    }
    assert (model.base, model.bonus_cap) == (Decimal(80), Decimal(20))
    assert {s: p.months for s, p in model.repair_minimum.items()} == {
        "minor": 0,
        "general": 3,
        "serious": 12,
    }


def _model_2024() -> EvaluationModel:
    raw = tomllib.loads(
        (resources.files("ledger.domain") / "data" / "models" / "pcce-2021.toml").read_text("utf-8")
    )
    raw["version"] = "PCCE-2024"
    raw["effective_from"] = date(2024, 1, 1)
    raw["indicators"]["penalty.general"]["points"] = "8"
    del raw["indicators"]["commitment.kept"]
    del raw["authority"]["indicators"]["commitment.kept"]
    return EvaluationModel.from_toml(raw)


def test_an_evaluation_uses_the_model_version_in_force_at_its_valid_date() -> None:
    clock = StepClock()
    registry = ModelRegistry([*default_models().models, _model_2024()])
    app = CreditLedger(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=clock, models=registry
    )
    code = uscc(3)
    app.handle(RegisterSubject(uscc=code, name="n", kind="enterprise", actor=SYSTEM))
    clock.on(date(2023, 7, 2))
    for ind in ("penalty.general", "commitment.kept"):
        app.handle(
            RecordFact(
                uscc=code,
                indicator=ind,
                decided_on=date(2023, 7, 1),
                domain="food",
                document_no=ind,
                actor=SYSTEM,
            )
        )
    old = app.evaluate(code, as_of=date(2023, 12, 31))
    new = app.evaluate(code, as_of=date(2024, 1, 1))
    assert (old.model, old.score) == ("PCCE-2021", Decimal(76))
    assert (new.model, new.score) == ("PCCE-2024", Decimal(72))
    assert [x.reason for x in new.excluded] == ["indicator not in model PCCE-2024"]


def test_a_date_before_the_first_model_version_says_which_baseline_applied() -> None:
    choice = default_models().in_force(date(2020, 6, 1))
    assert choice.model.version == "PCCE-2021"
    assert choice.note is not None
    assert "baseline" in choice.note
    assert default_models().in_force(date(2021, 1, 1)).note is None


def test_the_catalogue_has_the_26_departments_each_field_owned_once() -> None:
    cat = catalogue()
    assert len(cat.departments) == 26
    assert cat.department_of("food") == cat.department_of("drugs") == "market_regulation"
    assert cat.fields["taxation"].name_zh == "纳税主体"
    assert len(cat.fields) == sum(len(d.fields) for d in cat.departments.values()) == 31


@pytest.mark.parametrize(
    ("domain", "score", "native", "grade"),
    [
        ("food", "85.5", None, "A"),
        ("food", "85", None, "B"),
        ("food", "70", None, "C"),
        ("food", "50", None, "D"),
        ("taxation", None, "M", "B"),
        ("taxation", None, "A", "A"),
    ],
)
def test_industry_grades_use_the_unified_scale_or_the_declared_mapping(
    domain: str, score: str | None, native: str | None, grade: str
) -> None:
    value = Decimal(score) if score is not None else None
    assert industry_grading().grade(domain, value, native) == grade


def test_a_native_grade_is_refused_for_a_field_without_a_standard() -> None:
    with pytest.raises(InvalidInput) as refused:
        industry_grading().grade("food", None, "A")
    assert refused.value.field == "native_grade"


def test_working_days_skip_holidays_and_count_adjusted_weekends() -> None:
    # Spring Festival 2024: 10–17 February off, Sunday 4 and Sunday 18 February worked.
    assert add_working_days(date(2024, 2, 8), 1).due_on == date(2024, 2, 9)
    assert add_working_days(date(2024, 2, 9), 1).due_on == date(2024, 2, 18)
    due = add_working_days(date(2023, 9, 27), 10)
    assert (due.due_on, due.warning) == (date(2023, 10, 17), None)


def test_beyond_the_official_calendar_weekdays_count_with_a_warning() -> None:
    due = add_working_days(date(2031, 1, 3), 10)  # a Friday
    assert due.due_on == date(2031, 1, 17)
    assert due.warning is not None
    assert "2031" in due.warning
