"""The checks of a model or policy file before publication: each refusal names the line, the
key and the rule; the shipped files pass; a file that passes reads back as the domain object."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.domain.errors import InvalidInput, InvalidVersion
from ledger.domain.model import EvaluationModel, RepairPolicy
from ledger.domain.rulebook import publishable_file, shipped_files
from ledger.domain.rules.supervision import SupervisionPolicy
from ledger.domain.rules.versions import parse_version
from ledger.domain.toml_lines import key_lines, show

MODEL = shipped_files()["model", "PCCE-2021"]
POLICY = shipped_files()["supervision", "SUP-2021"]
ORDER_36 = publishable_file("repair-2026.toml")
LABELS = ("优", "良", "中", "差")


def refusal(kind: str, text: str) -> InvalidVersion:
    with pytest.raises(InvalidVersion) as refused:
        parse_version(kind, text, labels=LABELS)
    return refused.value


def test_the_shipped_files_pass_and_read_back_as_their_objects() -> None:
    model = parse_version("model", MODEL)
    assert isinstance(model, EvaluationModel)
    assert model.indicator("penalty.serious").points == Decimal(15)
    assert isinstance(parse_version("supervision", POLICY, labels=LABELS), SupervisionPolicy)
    order = parse_version("repair", ORDER_36)
    assert isinstance(order, RepairPolicy)
    assert {s: p.months for s, p in order.maximum.items()} == {
        "minor": 3,
        "general": 12,
        "serious": 36,
    }
    assert order.stop_using_notice


def test_key_lines_follow_tables_arrays_and_quoted_keys() -> None:
    lines = key_lines(MODEL)
    assert lines["grades", 0, "above"] == 17
    assert lines["grades", 3] == 29
    assert lines["indicators", "penalty.minor", "points"] == 45
    assert show(("indicators", "penalty.minor", "points")) == 'indicators."penalty.minor".points'
    assert show(("grades", 1, "above")) == "grades[1].above"


@pytest.mark.parametrize(
    ("kind", "text", "line", "field", "rule"),
    [
        ("model", "version = 1", 1, "version", "a version name"),
        ("model", 'version = "X"\nbase = = 1', 2, "model", "a TOML file"),
        ("model", MODEL.replace('label = "良"', 'label = "优"'), 21, "grades[1].label", "distinct"),
        (
            "model",
            MODEL.replace('grade = "poor"', 'grade = "bad"'),
            35,
            "listing_override.grade",
            "override",
        ),
        (
            "model",
            MODEL.replace('severity = "minor"', 'severity = "tiny"'),
            47,
            'indicators."penalty.minor".severity',
            "severity",
        ),
        (
            "model",
            MODEL.replace("effective_from = 2021-01-01", 'effective_from = "2021"'),
            7,
            "effective_from",
            "a date",
        ),
        (
            "supervision",
            POLICY.replace('"差" = "D"\n', ""),
            8,
            "public_to_letter",
            "every public grade",
        ),
        (
            "supervision",
            POLICY.replace('ratio = "0.30"', 'ratio = "1.5"'),
            31,
            "default.D.ratio",
            "(0, 1]",
        ),
        (
            "supervision",
            POLICY.replace("[fields.food.B]", "[fields.fooood.B]"),
            35,
            "fields.fooood",
            "every field named exists",
        ),
        (
            "supervision",
            POLICY.replace('tier = "reduced"', 'tier = "relaxed"', 1),
            15,
            "default.A.tier",
            "tiers",
        ),
        (
            "repair",
            ORDER_36.replace("general = { years = 1 }", "general = { months = 1 }"),
            20,
            "maximum_publication.general",
            "minimum ≤ maximum",
        ),
        (
            "repair",
            ORDER_36.replace("serious = { years = 1 }\n", ""),
            11,
            "minimum_publication",
            "a period per severity",
        ),
        (
            "repair",
            ORDER_36.replace("stop_using_notice = true", 'stop_using_notice = "yes"'),
            8,
            "stop_using_notice",
            "a flag",
        ),
    ],
)
def test_a_bad_file_is_refused_naming_line_key_and_rule(
    kind: str, text: str, line: int, field: str, rule: str
) -> None:
    refused = refusal(kind, text)
    assert (refused.line, refused.field) == (line, field)
    assert rule in (refused.rule or "")
    assert str(refused).startswith(f"line {line}: {field}: ")


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not a kind of versioned rules"):
        parse_version("tax", MODEL)
