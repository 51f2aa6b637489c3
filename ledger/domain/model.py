"""Evaluation models as versioned data: indicators, points, periods, grades, repair rules."""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from ledger.domain.catalog import catalogue
from ledger.domain.errors import InvalidInput
from ledger.domain.values import ListType, add_months

#: How a model file says who may record an indicator or list type (besides admins, who always may).
ANY_FIELD = "any_field"
ADMIN_ONLY = "admin_only"
#: The severities of deductions, each with its own repair periods (DOMAIN §5).
SEVERITIES = ("minor", "general", "serious")


@dataclass(frozen=True)
class Period:
    """A calendar length (months and years) or, when `until_ended`, no natural end at all."""

    months: int = 0
    until_ended: bool = False

    @classmethod
    def parse(cls, raw: Any) -> Period:
        """Read `{months = N}`, `{years = N}` or `"until_ended"` from a model file."""
        if raw == "until_ended":
            return cls(until_ended=True)
        if isinstance(raw, dict) and set(raw) <= {"months", "years"}:
            return cls(months=int(raw.get("months", 0)) + 12 * int(raw.get("years", 0)))
        raise ValueError(f"period must be {{months|years = N}} or 'until_ended', got {raw!r}")

    def end_after(self, start: date) -> date | None:
        """The first day no longer covered when counting from `start`; None when until ended."""
        return None if self.until_ended else add_months(start, self.months)

    def describe(self) -> str:
        """Human words for the period, as in the model's table."""
        if self.until_ended:
            return "until ended"
        years, months = divmod(self.months, 12)
        if months == 0:
            return f"{years} year" + ("s" if years != 1 else "")
        return f"{self.months} months"


@dataclass(frozen=True)
class PersonRules:
    """What a model version says of natural persons (its `[natural_persons]` table, DOMAIN §9):
    whether the annual population counts them, which indicators never apply to them, and how
    long their identity is kept after their last recorded event. A version without the table
    counts no persons and keeps identities until an admin erases them."""

    in_population: bool = False
    not_applicable: frozenset[str] = frozenset()
    retention: Period | None = None

    @classmethod
    def parse(cls, raw: Any, version: str, indicators: Collection[str]) -> PersonRules:
        """Read a `[natural_persons]` table, naming a bad entry."""
        if raw is None:
            return cls()
        if not isinstance(raw, dict) or set(raw) - {"in_population", "not_applicable", "retention"}:
            raise ValueError(
                f"{version}: [natural_persons] takes in_population, not_applicable, retention"
            )
        included = raw.get("in_population", False)
        codes = raw.get("not_applicable", [])
        if not isinstance(included, bool):
            raise ValueError(f"{version}: natural_persons.in_population must be true or false")
        if not isinstance(codes, list) or not set(codes) <= set(indicators):
            raise ValueError(f"{version}: natural_persons.not_applicable must list indicators")
        retention = raw.get("retention")
        return cls(
            in_population=included,
            not_applicable=frozenset(codes),
            retention=None if retention is None else Period.parse(retention),
        )


def person_rules(model: EvaluationModel) -> PersonRules:
    """The natural-person rules of a model version (its `[natural_persons]` table)."""
    return model.persons


@dataclass(frozen=True)
class Indicator:
    """One indicator of the model: a deduction or bonus of fixed points for a period."""

    code: str
    kind: Literal["deduction", "bonus"]
    points: Decimal
    period: Period
    severity: str | None
    name_zh: str

    @property
    def is_deduction(self) -> bool:
        """Deductions can be objected to and repaired; bonuses only objected to."""
        return self.kind == "deduction"


@dataclass(frozen=True)
class Grade:
    """A public-evaluation grade: the Chinese label, the English code, and its lower bound."""

    code: str
    label: str
    above: Decimal | None


@dataclass(frozen=True)
class Recorders:
    """Which recorders may record one indicator or list type: those of any field, each in its
    own domain, or only those of the named fields, in that domain; neither means admins only."""

    any_field: bool = False
    fields: frozenset[str] = frozenset()

    def allow(self, domain: str) -> bool:
        """Whether a recorder of `domain` may record it in `domain`."""
        return self.any_field or domain in self.fields

    def describe(self) -> str:
        """The table's words for this entry (DOMAIN §4)."""
        if self.any_field:
            return "any field, in its own domain"
        if not self.fields:
            return "admins only"
        return f"recorders of {', '.join(sorted(self.fields))}, in that domain"

    @classmethod
    def parse(cls, raw: Any, entry: str, known_fields: Collection[str]) -> Recorders:
        """Read `"any_field"`, `"admin_only"` or a list of field codes, naming a bad entry."""
        if raw == ANY_FIELD:
            return cls(any_field=True)
        if raw == ADMIN_ONLY:
            return cls()
        if not isinstance(raw, list) or not raw or not all(isinstance(f, str) for f in raw):
            raise ValueError(
                f"{entry}: must be '{ANY_FIELD}', '{ADMIN_ONLY}' or a list of field codes, "
                f"got {raw!r}"
            )
        unknown = sorted(set(raw) - set(known_fields))
        if unknown:
            raise ValueError(f"{entry}: unknown field(s) {', '.join(unknown)} (see fields.toml)")
        return cls(fields=frozenset(raw))


@dataclass(frozen=True)
class Authority:
    """Who may record what (DOMAIN §4): an entry for every indicator and every list type."""

    indicators: dict[str, Recorders]
    list_types: dict[str, Recorders]

    @classmethod
    def parse(
        cls, raw: Any, version: str, indicators: Collection[str], known_fields: Collection[str]
    ) -> Authority:
        """Read a model's `[authority]` table, refusing a missing, extra or malformed entry."""
        if not isinstance(raw, dict):
            raise ValueError(f"{version}: the model needs an [authority] table")
        tables: dict[str, dict[str, Recorders]] = {}
        for table, codes in (
            ("indicators", set(indicators)),
            ("list_types", {t.value for t in ListType}),
        ):
            given = raw.get(table, {})
            missing = sorted(codes - set(given))
            if missing:
                raise ValueError(f'{version}: authority.{table}."{missing[0]}" is missing')
            extra = sorted(set(given) - codes)
            if extra:
                raise ValueError(
                    f'{version}: authority.{table}."{extra[0]}" names no '
                    f"{'indicator of the model' if table == 'indicators' else 'list type'}"
                )
            tables[table] = {
                code: Recorders.parse(spec, f'{version}: authority.{table}."{code}"', known_fields)
                for code, spec in given.items()
            }
        return cls(indicators=tables["indicators"], list_types=tables["list_types"])


@dataclass(frozen=True)
class EvaluationModel:
    """One version of the public credit comprehensive evaluation model (DOMAIN §4)."""

    version: str
    effective_from: date
    base: Decimal
    bonus_cap: Decimal
    floor: Decimal
    ceiling: Decimal
    grades: tuple[Grade, ...]
    override_grade: str
    override_list_types: frozenset[str]
    indicators: dict[str, Indicator]
    repair_minimum: dict[str, Period]
    authority: Authority
    #: The `[natural_persons]` table: a published version carries its own (DOMAIN §9).
    persons: PersonRules = PersonRules()

    def indicator(self, code: str, *, field_name: str = "indicator") -> Indicator:
        """The indicator with this code, or a refusal listing the known codes."""
        try:
            return self.indicators[code]
        except KeyError:
            known = ", ".join(sorted(self.indicators))
            raise InvalidInput(
                f"unknown indicator '{code}' in model {self.version}; known: {known}",
                field=field_name,
                rule=f"indicator of model {self.version}",
            ) from None

    def grade_for(self, score: Decimal) -> Grade:
        """The grade of a score: the first whose bound the score is strictly above."""
        for grade in self.grades:
            if grade.above is None or score > grade.above:
                return grade
        raise AssertionError("model file guarantees a catch-all grade")  # pragma: no cover

    @property
    def labels(self) -> tuple[str, ...]:
        """The grades' Chinese labels, best first (优 良 中 差 in PCCE-2021)."""
        return tuple(g.label for g in self.grades)

    def grade_by_code(self, code: str) -> Grade:
        """The grade with an English code (`excellent`, `good`, `fair`, `poor`)."""
        return next(g for g in self.grades if g.code == code)

    @classmethod
    def from_toml(
        cls, data: dict[str, Any], *, known_fields: Collection[str] | None = None
    ) -> EvaluationModel:
        """Build a model from the parsed contents of a model file, checking its shape.

        The authority table's fields must exist in the catalogue (`known_fields`, by default the
        shipped one).
        """
        grades = tuple(
            Grade(
                code=g["code"],
                label=g["label"],
                above=Decimal(g["above"]) if "above" in g else None,
            )
            for g in data["grades"]
        )
        if grades[-1].above is not None or any(g.above is None for g in grades[:-1]):
            raise ValueError(f"{data['version']}: only the last grade may lack 'above'")
        indicators = {
            code: Indicator(
                code=code,
                kind=spec["kind"],
                points=Decimal(spec["points"]),
                period=Period.parse(spec["period"]),
                severity=spec.get("severity"),
                name_zh=spec.get("name_zh", code),
            )
            for code, spec in data["indicators"].items()
        }
        for ind in indicators.values():
            if ind.kind not in ("deduction", "bonus"):
                raise ValueError(f"{ind.code}: kind must be deduction or bonus")
            if ind.is_deduction and ind.severity is None:
                raise ValueError(f"{ind.code}: a deduction needs a severity")
        return cls(
            version=data["version"],
            effective_from=data["effective_from"],
            base=Decimal(data["base"]),
            bonus_cap=Decimal(data["bonus_cap"]),
            floor=Decimal(data.get("floor", "0")),
            ceiling=Decimal(data.get("ceiling", "100")),
            grades=grades,
            override_grade=data["listing_override"]["grade"],
            override_list_types=frozenset(data["listing_override"]["list_types"]),
            indicators=indicators,
            # A published model may leave repair to the repair policy; a genesis model's table
            # is the genesis repair policy (`RepairPolicy.of_model`).
            repair_minimum={
                sev: Period.parse(p)
                for sev, p in data.get("repair", {}).get("minimum_publication", {}).items()
            },
            authority=Authority.parse(
                data.get("authority"),
                data["version"],
                indicators,
                catalogue().fields if known_fields is None else known_fields,
            ),
            persons=PersonRules.parse(data.get("natural_persons"), data["version"], indicators),
        )


@dataclass(frozen=True)
class ModelChoice:
    """The model used for a valid date, and why (a date before the first version says so)."""

    model: EvaluationModel
    note: str | None


class ModelRegistry:
    """All versions of the evaluation model, each in force from its effective date."""

    def __init__(
        self, models: list[EvaluationModel], repairs: RepairRegistry | None = None
    ) -> None:
        if not models:
            raise ValueError("at least one evaluation model version is needed")
        self.models = tuple(sorted(models, key=lambda m: m.effective_from))
        #: The repair policies graded with (by default the models' own repair tables).
        self.repairs = repairs or RepairRegistry(
            tuple(RepairPolicy.of_model(m) for m in self.models if m.repair_minimum)
        )
        versions = [m.version for m in self.models]
        if len(set(versions)) != len(versions):
            raise ValueError(f"duplicate model versions: {versions}")

    def in_force(self, on: date) -> ModelChoice:
        """The version in force on a valid date; before the first, the first as baseline."""
        chosen = None
        for model in self.models:
            if model.effective_from <= on:
                chosen = model
        if chosen is None:
            first = self.models[0]
            return ModelChoice(
                first,
                f"{on.isoformat()} precedes the first model version; "
                f"{first.version} (from {first.effective_from.isoformat()}) applied as baseline",
            )
        return ModelChoice(chosen, None)

    def version(self, name: str) -> EvaluationModel:
        """The model version with this name."""
        for model in self.models:
            if model.version == name:
                return model
        raise InvalidInput(f"unknown model version '{name}'", field="model", rule="model version")

    def definition(self, code: str, on: date) -> Indicator | None:
        """An indicator as defined by the version in force on `on`, else by the latest version
        that defines it (a fact outlives the model it was recorded under); None if none does."""
        found = self.in_force(on).model.indicators.get(code)
        for model in reversed(self.models):
            if found is None:
                found = model.indicators.get(code)
        return found

    def knows_indicator(self, code: str) -> bool:
        """Whether any version defines the indicator (facts outlive model changes)."""
        return any(code in m.indicators for m in self.models)


@dataclass(frozen=True)
class RepairPolicy:
    """One version of the credit-repair policy (DOMAIN §5): per severity, the minimum period of
    publication before a repair may be requested and, when given, the maximum after which a
    deduction stops being published (and counting) by itself."""

    version: str
    effective_from: date
    minimum: dict[str, Period]
    maximum: dict[str, Period]
    #: Whether an approved repair puts a "stop using" notice to every department on the feed.
    stop_using_notice: bool = False

    @classmethod
    def from_toml(cls, raw: dict[str, Any]) -> RepairPolicy:
        """Build a policy from a parsed repair-policy file (checked by `rules.versions`)."""
        return cls(
            version=raw["version"],
            effective_from=raw["effective_from"],
            minimum={s: Period.parse(p) for s, p in raw["minimum_publication"].items()},
            maximum={s: Period.parse(p) for s, p in raw.get("maximum_publication", {}).items()},
            stop_using_notice=bool(raw.get("stop_using_notice", False)),
        )

    @classmethod
    def of_model(cls, model: EvaluationModel) -> RepairPolicy:
        """The genesis repair policy: the repair table of a shipped model file."""
        return cls(model.version, model.effective_from, dict(model.repair_minimum), {})

    def publication_ends(self, severity: str | None, decided_on: date) -> date | None:
        """The day publication of a deduction of `severity` stops by itself; None if never."""
        period = self.maximum.get(severity or "")
        return None if period is None else period.end_after(decided_on)


@dataclass(frozen=True)
class RepairRegistry:
    """Every repair-policy version, each in force from its effective date (the first before)."""

    policies: tuple[RepairPolicy, ...]

    def in_force(self, on: date) -> RepairPolicy:
        """The version in force on a date (the first one before any)."""
        chosen = self.policies[0]
        for policy in self.policies:
            if policy.effective_from <= on:
                chosen = policy
        return chosen


def load_model_file(path: Path) -> EvaluationModel:
    """Read one model version from a TOML file."""
    with path.open("rb") as fh:
        return EvaluationModel.from_toml(tomllib.load(fh))


@cache
def default_models() -> ModelRegistry:
    """The model versions shipped with the ledger (`ledger/domain/data/models/*.toml`)."""
    folder = resources.files("ledger.domain") / "data" / "models"
    models = [
        EvaluationModel.from_toml(tomllib.loads(entry.read_text("utf-8")))
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".toml")
    ]
    return ModelRegistry(models)


@cache
def default_repair_policies() -> RepairRegistry:
    """The genesis repair policy: the repair tables of the shipped model files."""
    return default_models().repairs
