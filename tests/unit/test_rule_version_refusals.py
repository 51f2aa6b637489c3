# ruff: noqa: E501 - the exact refusals are data, one string each
"""Every check of a model or policy file, each refusal exact: the line, the key, the words and
the rule (what an operator reads when `models validate` or a publication refuses a file)."""

from __future__ import annotations

import pytest

from ledger.domain.errors import InvalidVersion
from ledger.domain.rulebook import publishable_file, shipped_files
from ledger.domain.rules.versions import parse_version

FILES = {
    "MODEL": shipped_files()["model", "PCCE-2021"],
    "POLICY": shipped_files()["supervision", "SUP-2021"],
    "ORDER_36": publishable_file("repair-2026.toml"),
}

CASES = [
    (
        "model",
        "MODEL",
        'base = "80"',
        'base = "120"',
        "line 8: base: base 120 must lie in [0, 100]",
        "score range",
    ),
    (
        "model",
        "MODEL",
        'base = "80"',
        'base = "Infinity"',
        "line 8: base: must be a decimal string like \"5\", got 'Infinity'",
        "points",
    ),
    (
        "model",
        "MODEL",
        'base = "80"',
        "base = 80",
        'line 8: base: must be a decimal string like "5", got 80',
        "points",
    ),
    (
        "model",
        "MODEL",
        'version = "PCCE-2021"',
        'version = " PCCE"',
        "line 4: version: must be a non-empty name, got ' PCCE'",
        "a version name",
    ),
    (
        "model",
        "MODEL",
        'version = "PCCE-2021"\n',
        "",
        "the file: model: 'version' is missing",
        "required key",
    ),
    (
        "model",
        "MODEL",
        'label = "差"',
        'label = "差"\nabove = "10"',
        "line 32: grades[3].above: the last grade catches the rest: no 'above'",
        "grade thresholds",
    ),
    (
        "model",
        "MODEL",
        'above = "70"\n',
        "",
        "line 19: grades[1]: only the last grade may lack 'above'",
        "grade thresholds",
    ),
    (
        "model",
        "MODEL",
        'above = "50"',
        'above = "100"',
        "line 27: grades[2].above: threshold 100 is not below the one before (70)",
        "monotone grade thresholds (strictly decreasing, best grade first)",
    ),
    (
        "model",
        "MODEL",
        'code = "good"',
        'code = "excellent"',
        "line 20: grades[1].code: 'excellent' names two grades",
        "distinct grades",
    ),
    (
        "model",
        "MODEL",
        'list_types = ["judgment_defaulter"',
        'list_types = ["debtor"',
        "line 36: listing_override.list_types: must list types among: judgment_defaulter, major_tax_violation, other_joint_punishment, serious_illegal_dishonest",
        "list types that exist",
    ),
    (
        "model",
        "MODEL",
        "general = { months = 3 }",
        "medium = { months = 3 }",
        "line 40: repair.minimum_publication.medium: 'medium' is not a severity (minor, general, serious)",
        "severities",
    ),
    (
        "model",
        "MODEL",
        'points = "5"\nperiod = { years = 1 }\nname_zh = "纳税信用A级"',
        'points = "0"\nperiod = { years = 1 }\nname_zh = "纳税信用A级"',
        'line 101: indicators."tax.a_level".points: must be above 0, got 0',
        "points",
    ),
    (
        "model",
        "MODEL",
        "period = { months = 3 }",
        "period = { months = 0 }",
        "line 46: indicators.\"penalty.minor\".period: must be {months = N} or {years = N} or 'until_ended', N above 0, got {'months': 0}",
        "periods",
    ),
    (
        "model",
        "MODEL",
        '"commitment.kept" = "any_field"',
        '"commitment.kept" = "any_field"\n"honor.global" = "any_field"',
        'line 147: authority.indicators."honor.global": "honor.global" names no indicator of the model',
        "every indicator of the model named exists",
    ),
    (
        "model",
        "MODEL",
        '"commitment.kept" = "any_field"',
        '"commitment.kept" = "anyone"',
        "line 146: authority.indicators.\"commitment.kept\": must be 'any_field', 'admin_only' or a list of field codes",
        "authority entries",
    ),
    (
        "model",
        "MODEL",
        'judgment_defaulter = "admin_only"',
        "",
        'line 148: authority.list_types: "judgment_defaulter" is missing',
        "authority table complete: every indicator and list type",
    ),
    (
        "model",
        "MODEL",
        "[listing_override]",
        "[listing_override]\n[x]",
        "line 34: listing_override: 'listing_override.grade' is missing",
        "required key",
    ),
    (
        "supervision",
        "POLICY",
        '"优" = "A"',
        '"优" = "A"\n"甲" = "A"',
        "line 10: public_to_letter.\"甲\": '甲' is no grade of a model",
        "every grade named exists",
    ),
    (
        "supervision",
        "POLICY",
        '"优" = "A"',
        '"优" = "E"',
        "line 9: public_to_letter.\"优\": 'E' is not one of: A, B, C, D",
        "letters A-D",
    ),
    (
        "supervision",
        "POLICY",
        '[default.D]\ntier = "intensified"\nratio = "0.30"\nmax_per_year = 4\n',
        "",
        "line 14: default: no row for letter D",
        "a default row per letter",
    ),
    (
        "supervision",
        "POLICY",
        "max_per_year = 4",
        "max_per_year = -1",
        "line 32: default.D.max_per_year: must be a whole number, got -1",
        "inspections a year",
    ),
    (
        "supervision",
        "POLICY",
        "[fields.food.B]",
        "[fields.food.F]",
        "line 35: fields.food.F: 'F' is not a letter A-D",
        "letters A-D",
    ),
    (
        "repair",
        "ORDER_36",
        "serious = { years = 3 }",
        'serious = "until_ended"',
        "line 21: maximum_publication.serious: must be {months = N} or {years = N}, N above 0, got 'until_ended'",
        "periods",
    ),
    (
        "repair",
        "ORDER_36",
        "minor = { months = 3 }",
        "tiny = { months = 3 }",
        "line 18: maximum_publication: no period for severity 'minor'",
        "a period per severity (minor, general, serious)",
    ),
]


@pytest.mark.parametrize(("kind", "file", "old", "new", "message", "rule"), CASES)
def test_each_check_refuses_with_its_exact_words(
    kind: str, file: str, old: str, new: str, message: str, rule: str
) -> None:
    text = FILES[file]
    assert old in text
    with pytest.raises(InvalidVersion) as refused:
        parse_version(kind, text.replace(old, new, 1), labels=("优", "良", "中", "差"))
    assert (str(refused.value), refused.value.rule) == (message, rule)
