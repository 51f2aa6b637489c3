"""The checks a model or policy file passes before it is published, each naming line and rule.

`parse_version(kind, text)` reads one file of a kind (`model`, `supervision`, `repair`) and
answers the domain object it defines, or raises `InvalidVersion` naming the line, the key and
the rule it broke: kinds, points, periods, monotone grade thresholds, every field, indicator,
grade and list type it names, and a complete authority table. Pure: no store, no clock.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Collection
from decimal import Decimal
from typing import Any, Literal, get_args

from ledger.domain.catalog import catalogue
from ledger.domain.errors import InvalidInput, InvalidVersion
from ledger.domain.model import (
    ADMIN_ONLY,
    ANY_FIELD,
    SEVERITIES,
    EvaluationModel,
    RepairPolicy,
)
from ledger.domain.rules.supervision import LETTERS, SupervisionPolicy, Tier
from ledger.domain.toml_lines import Path, TomlFile, key_lines
from ledger.domain.values import ListType

#: The kinds of versioned rules a publication may carry.
RuleKind = Literal["model", "supervision", "repair"]
KINDS: tuple[RuleKind, ...] = get_args(RuleKind)


def require_kind(kind: str) -> RuleKind:
    """The kind named, or a refusal listing the kinds."""
    if kind not in KINDS:
        raise InvalidInput(
            f"'{kind}' is not a kind of versioned rules; kinds: {', '.join(KINDS)}",
            field="kind",
            rule="model, supervision or repair",
        )
    return kind


def digest(text: str) -> str:
    """The SHA-256 of a file's text: the same file published twice is recognised."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_model(f: TomlFile, known_fields: Collection[str]) -> None:
    f.name(("version",))
    f.day(("effective_from",))
    base = f.decimal(("base",))
    f.decimal(("bonus_cap",))
    floor = f.decimal(("floor",)) if "floor" in f.raw else Decimal(0)
    ceiling = f.decimal(("ceiling",)) if "ceiling" in f.raw else Decimal(100)
    if not floor <= base <= ceiling:
        raise f.fail(("base",), f"base {base} must lie in [{floor}, {ceiling}]", "score range")
    grades = f.get(("grades",))
    if not isinstance(grades, list) or len(grades) < 2:
        raise f.fail(("grades",), "needs at least two [[grades]]", "grade thresholds")
    codes: set[str] = set()
    labels: set[str] = set()
    previous: Decimal | None = None
    for i, _ in enumerate(grades):
        code, label = f.name(("grades", i, "code")), f.name(("grades", i, "label"))
        for key, value, seen in (("code", code, codes), ("label", label, labels)):
            if value in seen:
                raise f.fail(("grades", i, key), f"'{value}' names two grades", "distinct grades")
        codes.add(code)
        labels.add(label)
        last = i == len(grades) - 1
        has_bound = isinstance(grades[i], dict) and "above" in grades[i]
        if last and has_bound:
            raise f.fail(
                ("grades", i, "above"),
                "the last grade catches the rest: no 'above'",
                "grade thresholds",
            )
        if not last:
            if not has_bound:
                raise f.fail(
                    ("grades", i), "only the last grade may lack 'above'", "grade thresholds"
                )
            above = f.decimal(("grades", i, "above"))
            if previous is not None and above >= previous:
                raise f.fail(
                    ("grades", i, "above"),
                    f"threshold {above} is not below the one before ({previous})",
                    "monotone grade thresholds (strictly decreasing, best grade first)",
                )
            if not floor <= above < ceiling:
                raise f.fail(
                    ("grades", i, "above"),
                    f"threshold {above} outside the score range",
                    "grade thresholds",
                )
            previous = above
    f.one_of(("listing_override", "grade"), codes, "the override grade is a grade of the model")
    list_types = f.get(("listing_override", "list_types"))
    known_lists = {t.value for t in ListType}
    if not isinstance(list_types, list) or not set(list_types) <= known_lists:
        raise f.fail(
            ("listing_override", "list_types"),
            f"must list types among: {', '.join(sorted(known_lists))}",
            "list types that exist",
        )
    for severity, _ in f.entries(("repair", "minimum_publication")):
        if severity not in SEVERITIES:
            raise f.fail(
                ("repair", "minimum_publication", severity),
                f"'{severity}' is not a severity ({', '.join(SEVERITIES)})",
                "severities",
            )
        f.period(("repair", "minimum_publication", severity), until_ended=False, zero=True)
    indicators = f.table(("indicators",))
    if not indicators:
        raise f.fail(("indicators",), "the model needs at least one indicator", "indicators")
    for code, _ in indicators.items():
        at: Path = ("indicators", code)
        kind = f.one_of((*at, "kind"), ("deduction", "bonus"), "kinds: deduction or bonus")
        f.decimal((*at, "points"), positive=True)
        f.period((*at, "period"))
        if kind == "deduction":
            f.one_of((*at, "severity"), SEVERITIES, "a deduction has a severity (repair rule)")
    f.table(("authority",))
    for table, names, what in (
        ("indicators", set(indicators), "indicator of the model"),
        ("list_types", known_lists, "list type"),
    ):
        given = f.table(("authority", table))
        for code in sorted(names - set(given)):
            raise f.fail(
                ("authority", table),
                f'"{code}" is missing',
                "authority table complete: every indicator and list type",
            )
        for code, spec in given.items():
            at = ("authority", table, code)
            if code not in names:
                raise f.fail(at, f'"{code}" names no {what}', f"every {what} named exists")
            if spec in (ANY_FIELD, ADMIN_ONLY):
                continue
            if not isinstance(spec, list) or not spec or not all(isinstance(s, str) for s in spec):
                raise f.fail(
                    at,
                    f"must be '{ANY_FIELD}', '{ADMIN_ONLY}' or a list of field codes",
                    "authority entries",
                )
            unknown = sorted(set(spec) - set(known_fields))
            if unknown:
                raise f.fail(
                    at,
                    f"unknown field(s) {', '.join(unknown)} (see fields.toml)",
                    "every field named exists",
                )


def _check_supervision(f: TomlFile, labels: Collection[str], known_fields: Collection[str]) -> None:
    f.name(("version",))
    f.day(("effective_from",))
    mapping = f.table(("public_to_letter",))
    for label in sorted(set(labels) - set(mapping)):
        raise f.fail(
            ("public_to_letter",),
            f"grade '{label}' has no letter",
            "every public grade maps onto a letter",
        )
    for label, _ in mapping.items():
        if label not in labels:
            raise f.fail(
                ("public_to_letter", label),
                f"'{label}' is no grade of a model",
                "every grade named exists",
            )
        f.one_of(("public_to_letter", label), LETTERS, "letters A-D")
    rows: list[Path] = []
    default = f.table(("default",))
    for letter in LETTERS:
        if letter not in default:
            raise f.fail(("default",), f"no row for letter {letter}", "a default row per letter")
    rows += [("default", letter) for letter in default]
    for code, _ in f.entries(("fields",)):
        if code not in known_fields:
            raise f.fail(
                ("fields", code),
                f"unknown field '{code}' (see fields.toml)",
                "every field named exists",
            )
        rows += [("fields", code, letter) for letter in f.table(("fields", code))]
    for row in rows:
        if row[-1] not in LETTERS:
            raise f.fail(row, f"'{row[-1]}' is not a letter A-D", "letters A-D")
        f.one_of((*row, "tier"), get_args(Tier), "tiers")
        ratio = f.decimal((*row, "ratio"), positive=True)
        if ratio > 1:
            raise f.fail((*row, "ratio"), f"ratio {ratio} above 1", "ratios lie in (0, 1]")
        most = f.get((*row, "max_per_year"))
        if type(most) is not int or most < 0:
            raise f.fail(
                (*row, "max_per_year"),
                f"must be a whole number, got {most!r}",
                "inspections a year",
            )


def _check_repair(f: TomlFile) -> None:
    f.name(("version",))
    f.day(("effective_from",))
    notice = f.get(("stop_using_notice",), required=False)
    if notice is not None and not isinstance(notice, bool):
        raise f.fail(("stop_using_notice",), f"must be true or false, got {notice!r}", "a flag")
    minimum = f.table(("minimum_publication",))
    maximum = f.table(("maximum_publication",), required=False)
    for table, periods in (("minimum_publication", minimum), ("maximum_publication", maximum)):
        if table == "maximum_publication" and not maximum:
            continue
        for severity in SEVERITIES:
            if severity not in periods:
                raise f.fail(
                    (table,),
                    f"no period for severity '{severity}'",
                    "a period per severity (minor, general, serious)",
                )
        for severity in periods:
            if severity not in SEVERITIES:
                raise f.fail((table, severity), f"'{severity}' is not a severity", "severities")
    for severity in SEVERITIES:
        low = f.period(("minimum_publication", severity), until_ended=False, zero=True)
        if maximum:
            high = f.period(("maximum_publication", severity), until_ended=False)
            if high is not None and low is not None and high < low:
                raise f.fail(
                    ("maximum_publication", severity),
                    "the maximum publication period is shorter than the minimum",
                    "minimum ≤ maximum publication period",
                )


def parse_version(
    kind: str,
    text: str,
    *,
    labels: Collection[str] = (),
    known_fields: Collection[str] | None = None,
) -> EvaluationModel | SupervisionPolicy | RepairPolicy:
    """The domain object a file of `kind` defines, once it passes every check of its kind.

    `labels` are the grade labels a supervision policy must map (those of the models known);
    `known_fields` the field codes that exist (by default, the shipped catalogue's).
    """
    rule_kind = require_kind(kind)
    fields = catalogue().fields if known_fields is None else known_fields
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as bad:
        found = re.search(r"line (\d+)", str(bad))
        raise InvalidVersion(
            str(bad),
            line=int(found.group(1)) if found else None,
            field=rule_kind,
            rule="a TOML file",
        ) from None
    f = TomlFile(rule_kind, raw, key_lines(text))
    try:
        if rule_kind == "model":
            _check_model(f, fields)
            return EvaluationModel.from_toml(raw, known_fields=fields)
        if rule_kind == "supervision":
            _check_supervision(f, labels, fields)
            return SupervisionPolicy.from_toml(raw)
        _check_repair(f)
        return RepairPolicy.from_toml(raw)
    except InvalidVersion:
        raise
    except (KeyError, TypeError, ValueError) as shape:  # a check above should have said it
        raise InvalidVersion(str(shape), line=None, field=rule_kind, rule="file shape") from None


def load_version(kind: str, text: str) -> EvaluationModel | SupervisionPolicy | RepairPolicy:
    """The object a stored publication defines (it passed `parse_version` when published; a
    later catalogue must not make the stored log unreadable, so only the shape is read)."""
    raw = tomllib.loads(text)
    if kind == "model":
        return EvaluationModel.from_toml(raw, known_fields=_every_field(raw))
    if kind == "supervision":
        return SupervisionPolicy.from_toml(raw)
    return RepairPolicy.from_toml(raw)


def _every_field(raw: dict[str, Any]) -> set[str]:
    named: set[str] = set()
    for table in raw.get("authority", {}).values():
        for spec in table.values():
            if isinstance(spec, list):
                named.update(s for s in spec if isinstance(s, str))
    return named
