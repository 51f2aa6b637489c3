"""Supervision fields of the plan's annex, each owned by one department; industry grading."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources

from ledger.domain.errors import InvalidInput


@dataclass(frozen=True)
class Field:
    """A supervision field (监管领域) and the department that owns it."""

    code: str
    name_zh: str
    name_en: str
    department: str


@dataclass(frozen=True)
class Department:
    """One of the plan's 26 city departments."""

    code: str
    name_zh: str
    name_en: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Catalogue:
    """Departments and fields as loaded from `ledger/domain/data/fields.toml`."""

    departments: dict[str, Department]
    fields: dict[str, Field]

    def field(self, code: str, *, field_name: str = "domain") -> Field:
        """The field with this code, or a refusal naming the catalogue."""
        try:
            return self.fields[code]
        except KeyError:
            raise InvalidInput(
                f"unknown supervision field '{code}'",
                field=field_name,
                rule="a field code of the plan's annex (see GET /v1/fields)",
            ) from None

    def department_of(self, field_code: str) -> str:
        """The department that owns a field."""
        return self.field(field_code).department


@cache
def catalogue() -> Catalogue:
    """The shipped catalogue of the Wugang plan's annex."""
    raw = tomllib.loads(
        (resources.files("ledger.domain") / "data" / "fields.toml").read_text("utf-8")
    )
    departments: dict[str, Department] = {}
    fields: dict[str, Field] = {}
    for dep in raw["departments"]:
        codes = []
        for f in dep["fields"]:
            if f["code"] in fields:
                raise ValueError(f"field {f['code']} owned twice")
            fields[f["code"]] = Field(f["code"], f["name_zh"], f["name_en"], dep["code"])
            codes.append(f["code"])
        departments[dep["code"]] = Department(
            dep["code"], dep["name_zh"], dep["name_en"], tuple(codes)
        )
    return Catalogue(departments, fields)


@dataclass(frozen=True)
class IndustryGrading:
    """Unified A/B/C/D thresholds, and native-grade mappings of fields with their own standard."""

    version: str
    thresholds: tuple[tuple[str, Decimal | None], ...]
    native: dict[str, dict[str, str]]

    def grade(self, domain: str, score: Decimal | None, native_grade: str | None) -> str:
        """The unified grade of an industry evaluation given as a score or as a native grade."""
        if (score is None) == (native_grade is None):
            raise InvalidInput(
                "give exactly one of score or native_grade",
                field="score",
                rule="an industry evaluation is a 100-point score or a native grade",
            )
        if score is not None:
            if not Decimal(0) <= score <= Decimal(100):
                raise InvalidInput(
                    f"score {score} is outside 0..100", field="score", rule="100-point score"
                )
            for grade, above in self.thresholds:
                if above is None or score > above:
                    return grade
        mapping = self.native.get(domain)
        if mapping is None:
            raise InvalidInput(
                f"field '{domain}' has no native grading standard; give a 100-point score",
                field="native_grade",
                rule="native grades only for fields with a declared mapping",
            )
        try:
            return mapping[str(native_grade)]
        except KeyError:
            raise InvalidInput(
                f"'{native_grade}' is not a grade of {domain}'s standard ({', '.join(mapping)})",
                field="native_grade",
                rule=f"native grade of {domain}",
            ) from None


@cache
def industry_grading() -> IndustryGrading:
    """The shipped industry grading rules."""
    raw = tomllib.loads(
        (resources.files("ledger.domain") / "data" / "industry.toml").read_text("utf-8")
    )
    return IndustryGrading(
        version=raw["version"],
        thresholds=tuple(
            (g["grade"], Decimal(g["above"]) if "above" in g else None)
            for g in raw["unified_grades"]
        ),
        native={code: dict(spec["mapping"]) for code, spec in raw.get("native", {}).items()},
    )
