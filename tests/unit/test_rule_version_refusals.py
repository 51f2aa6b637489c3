# ruff: noqa: E501 - the exact refusals are data, one string each
"""Every check of a model or policy file, each refusal exact: the line, the key, the words and
the rule (what an operator reads when `models validate` or a publication refuses a file)."""

from __future__ import annotations

import hashlib

import pytest

from ledger.domain.errors import InvalidInput, InvalidVersion
from ledger.domain.rulebook import publishable_file, shipped_files
from ledger.domain.rules.versions import digest, load_version, parse_version, require_kind

FILES = {
    "MODEL": shipped_files()["model", "PCCE-2021"],
    "POLICY": shipped_files()["supervision", "SUP-2021"],
    "ORDER_36": publishable_file("repair-2026.toml"),
}
_MODEL = FILES["MODEL"]
#: Every grade but the first (`ONE_GRADE` in a case): a model of one grade.
ONE_GRADE = _MODEL[_MODEL.index('[[grades]]\ncode = "good"') : _MODEL.index("# Any listing")]

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
    (
        "model",
        "MODEL",
        'floor = "0"',
        'floor = "90"',
        "line 8: base: base 80 must lie in [90, 100]",
        "score range",
    ),
    (
        "model",
        "MODEL",
        'ceiling = "100"',
        'ceiling = "75"',
        "line 8: base: base 80 must lie in [0, 75]",
        "score range",
    ),
    (
        "model",
        "MODEL",
        'ceiling = "100"',
        'ceiling = "84"',
        "line 17: grades[0].above: threshold 85 outside the score range",
        "grade thresholds",
    ),
    (
        "model",
        "MODEL",
        "ONE_GRADE",
        "",
        "line 14: grades: needs at least two [[grades]]",
        "grade thresholds",
    ),
    (
        "model",
        "MODEL",
        '"commitment.kept" = "any_field"',
        '"commitment.kept" = []',
        "line 146: authority.indicators.\"commitment.kept\": must be 'any_field', 'admin_only' or a list of field codes",
        "authority entries",
    ),
    (
        "model",
        "MODEL",
        '"wage.arrears" = ["labour_employment"]',
        '"wage.arrears" = ["labour", "mining"]',
        'line 138: authority.indicators."wage.arrears": unknown field(s) labour, mining (see fields.toml)',
        "every field named exists",
    ),
    (
        "model",
        "MODEL",
        'kind = "bonus"',
        'kind = "reward"',
        "line 100: indicators.\"tax.a_level\".kind: 'reward' is not one of: bonus, deduction",
        "kinds: deduction or bonus",
    ),
    (
        "model",
        "MODEL",
        'severity = "minor"\n',
        "",
        'line 43: indicators."penalty.minor": \'indicators."penalty.minor".severity\' is missing',
        "required key",
    ),
    (
        "model",
        "MODEL",
        "minor = { months = 0 }",
        'minor = "until_ended"',
        "line 39: repair.minimum_publication.minor: must be {months = N} or {years = N}, got 'until_ended'",
        "periods",
    ),
    (
        "model",
        "MODEL",
        "serious = { years = 1 }",
        "serious = { years = -1 }",
        "line 41: repair.minimum_publication.serious: must be {months = N} or {years = N}, got {'years': -1}",
        "periods",
    ),
    (
        "model",
        "MODEL",
        "effective_from = 2021-01-01",
        "effective_from = 2021-01-01T00:00:00",
        "line 7: effective_from: must be a date (2024-01-01), got datetime.datetime(2021, 1, 1, 0, 0)",
        "a date",
    ),
    (
        "model",
        "MODEL",
        'bonus_cap = "20"',
        'bonus_cap = "-1"',
        "line 9: bonus_cap: must be 0 or more, got -1",
        "points",
    ),
    (
        "model",
        "MODEL",
        'period = "until_ended"',
        'period = "forever"',
        "line 88: indicators.\"tax.arrears\".period: must be {months = N} or {years = N} or 'until_ended', N above 0, got 'forever'",
        "periods",
    ),
    (
        "model",
        "MODEL",
        'list_types = ["judgment_defaulter", "serious_illegal_dishonest", "major_tax_violation", "other_joint_punishment"]',
        'list_types = "judgment_defaulter"',
        "line 36: listing_override.list_types: must list types among: judgment_defaulter, major_tax_violation, other_joint_punishment, serious_illegal_dishonest",
        "list types that exist",
    ),
    (
        "supervision",
        "POLICY",
        'ratio = "0.30"',
        'ratio = "1.5"',
        "line 31: default.D.ratio: ratio 1.5 above 1",
        "ratios lie in (0, 1]",
    ),
    (
        "supervision",
        "POLICY",
        'ratio = "0.30"',
        'ratio = "0"',
        "line 31: default.D.ratio: must be above 0, got 0",
        "points",
    ),
    (
        "supervision",
        "POLICY",
        'tier = "reduced"',
        'tier = "relaxed"',
        "line 15: default.A.tier: 'relaxed' is not one of: intensified, reduced, regular",
        "tiers",
    ),
    (
        "supervision",
        "POLICY",
        "[fields.food.B]",
        "[fields.fooood.B]",
        "line 35: fields.fooood: unknown field 'fooood' (see fields.toml)",
        "every field named exists",
    ),
    (
        "supervision",
        "POLICY",
        '"差" = "D"\n',
        "",
        "line 8: public_to_letter: grade '差' has no letter",
        "every public grade maps onto a letter",
    ),
    (
        "supervision",
        "POLICY",
        "max_per_year = 4",
        'max_per_year = "4"',
        "line 32: default.D.max_per_year: must be a whole number, got '4'",
        "inspections a year",
    ),
    (
        "supervision",
        "POLICY",
        'version = "SUP-2021"',
        'version = ""',
        "line 4: version: must be a non-empty name, got ''",
        "a version name",
    ),
    (
        "repair",
        "ORDER_36",
        "[minimum_publication]",
        "[minimum_publicatio]",
        "the file: repair: 'minimum_publication' is missing",
        "required key",
    ),
    (
        "repair",
        "ORDER_36",
        "minor = { months = 0 }",
        "tiny = { months = 0 }",
        "line 11: minimum_publication: no period for severity 'minor'",
        "a period per severity (minor, general, serious)",
    ),
    (
        "repair",
        "ORDER_36",
        "serious = { years = 1 }\n",
        "",
        "line 11: minimum_publication: no period for severity 'serious'",
        "a period per severity (minor, general, serious)",
    ),
    (
        "repair",
        "ORDER_36",
        "general = { years = 1 }",
        "general = { months = 1 }",
        "line 20: maximum_publication.general: the maximum publication period is shorter than the minimum",
        "minimum ≤ maximum publication period",
    ),
    (
        "repair",
        "ORDER_36",
        "minor = { months = 0 }",
        "minor = { weeks = 1 }",
        "line 12: minimum_publication.minor: must be {months = N} or {years = N}, got {'weeks': 1}",
        "periods",
    ),
    (
        "repair",
        "ORDER_36",
        "minor = { months = 3 }",
        "minor = { months = 0 }",
        "line 19: maximum_publication.minor: must be {months = N} or {years = N}, N above 0, got {'months': 0}",
        "periods",
    ),
    (
        "repair",
        "ORDER_36",
        "minor = { months = 0 }",
        "minor = { months = 0 }\ntiny = { months = 0 }",
        "line 13: minimum_publication.tiny: 'tiny' is not a severity",
        "severities",
    ),
    (
        "repair",
        "ORDER_36",
        "effective_from = 2026-04-01",
        'effective_from = "2026-04-01"',
        "line 6: effective_from: must be a date (2024-01-01), got '2026-04-01'",
        "a date",
    ),
]


@pytest.mark.parametrize(("kind", "file", "old", "new", "message", "rule"), CASES)
def test_each_check_refuses_with_its_exact_words(
    kind: str, file: str, old: str, new: str, message: str, rule: str
) -> None:
    text = FILES[file]
    old = ONE_GRADE if old == "ONE_GRADE" else old
    assert old in text
    with pytest.raises(InvalidVersion) as refused:
        parse_version(kind, text.replace(old, new, 1), labels=("优", "良", "中", "差"))
    assert (str(refused.value), refused.value.rule) == (message, rule)


def test_the_kinds_are_named_when_one_is_unknown() -> None:
    with pytest.raises(InvalidInput) as refused:
        require_kind("tax")
    assert (str(refused.value), refused.value.field, refused.value.rule) == (
        "'tax' is not a kind of versioned rules; kinds: model, supervision, repair",
        "kind",
        "model, supervision or repair",
    )


def test_a_toml_error_names_its_line() -> None:
    with pytest.raises(InvalidVersion) as refused:
        parse_version("repair", 'version = "R"\n\nminimum_publication = { minor = }\n')
    assert refused.value.line == 3
    assert (refused.value.field, refused.value.rule) == ("repair", "a TOML file")


@pytest.mark.parametrize("kind", ["model", "supervision", "repair"])
def test_a_stored_file_reads_back_as_when_it_was_checked(kind: str) -> None:
    text = {"model": FILES["MODEL"], "supervision": FILES["POLICY"], "repair": FILES["ORDER_36"]}
    checked = parse_version(kind, text[kind], labels=("优", "良", "中", "差"))
    assert load_version(kind, text[kind]) == checked
    assert digest(text[kind]) == hashlib.sha256(text[kind].encode()).hexdigest()
