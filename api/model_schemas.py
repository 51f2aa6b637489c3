"""Response bodies of `GET /v1/models`: the rules' data as loaded, built from the domain objects.

Key names avoid the words grade, score and tier on purpose: these answers carry no subject's
values, and the grade-read guard withholds any JSON answer with such keys that was not audited.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _sorted(value: Any) -> Any:
    # A frozenset of codes answers in a stable order.
    return sorted(value) if isinstance(value, Collection) and not isinstance(value, str) else value


def _pairs(*names: str) -> Any:
    """Read a mapping or a sequence of pairs as a list of objects with these two keys."""

    def read(value: Any) -> Any:
        items = value.items() if isinstance(value, Mapping) else value
        return [p if isinstance(p, Mapping) else dict(zip(names, p, strict=True)) for p in items]

    return BeforeValidator(read)


Codes = Annotated[list[str], BeforeValidator(_sorted)]


class _FromDomain(BaseModel):
    # Built from the frozen dataclasses of `ledger` (`model_validate(obj)`), and from their own
    # dump when FastAPI checks the answer again (hence names as well as aliases).
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


class PeriodOut(_FromDomain):
    months: int = Field(description="calendar months (years are 12 months)")
    until_ended: bool = Field(description="no natural end: counts until ended or revoked")


class BandOut(_FromDomain):
    code: str = Field(description="the English code: excellent, good, fair, poor")
    label: str = Field(description="the Chinese label: 优, 良, 中, 差")
    above: Decimal | None = Field(
        description="the band holds a value strictly above this bound; null for the last band, "
        "which holds the rest"
    )


class IndicatorOut(_FromDomain):
    code: str
    kind: str = Field(description="deduction or bonus")
    points: Decimal
    period: PeriodOut
    severity: str | None = Field(description="a deduction's severity (sets its repair period)")
    name_zh: str


class RecordersOut(_FromDomain):
    any_field: bool = Field(description="recorders of any field, each in its own domain")
    fields: Codes = Field(description="else only recorders of these fields; none: admins only")


class AuthorityOut(_FromDomain):
    indicators: dict[str, RecordersOut]
    list_types: dict[str, RecordersOut]


class EvaluationModelOut(_FromDomain):
    """One version of the public credit comprehensive evaluation model (DOMAIN §4)."""

    version: str = Field(description="the code an evaluation names in its `model`")
    effective_from: date = Field(description="in force for valid dates from this day")
    base: Decimal
    bonus_cap: Decimal
    floor: Decimal
    ceiling: Decimal
    bands: list[BandOut] = Field(
        validation_alias="grades",
        description="the grades, best first: the first whose bound a value is above applies",
    )
    override_code: str = Field(
        validation_alias="override_grade",
        description="the grade (English code) a listing on an override list gives outright",
    )
    override_list_types: Codes
    indicators: dict[str, IndicatorOut]
    repair_minimum: dict[str, PeriodOut] = Field(
        description="per severity, how long a deduction is published before a repair"
    )
    authority: AuthorityOut = Field(description="who may record each indicator and list type")


class LetterBandOut(BaseModel):
    letter: str = Field(description="A, B, C or D")
    above: Decimal | None = Field(description="strictly above this 100-point bound; null: rest")


class IndustryOut(_FromDomain):
    """Industry credit evaluation: unified A–D bands and fields' native mappings (DOMAIN §6)."""

    version: str
    bands: Annotated[list[LetterBandOut], _pairs("letter", "above")] = Field(
        validation_alias="thresholds"
    )
    native: dict[str, dict[str, str]] = Field(
        description="per field with its own standard: native grade → unified letter"
    )


class LetterOut(BaseModel):
    label: str = Field(description="a public grade label")
    letter: str


class SupervisionRowOut(_FromDomain):
    letter: str
    supervision: str = Field(
        validation_alias="tier", description="the supervision tier: reduced, regular, intensified"
    )
    ratio: Decimal = Field(description="the share of the field's subjects drawn each round")
    max_per_year: int


def _rows(value: Any) -> Any:
    # `{letter: TierRule}` as rows that name their letter.
    if not isinstance(value, Mapping):
        return value
    return [{"letter": letter, **asdict(rule)} for letter, rule in value.items()]


Rows = Annotated[list[SupervisionRowOut], BeforeValidator(_rows)]


class SupervisionPolicyOut(_FromDomain):
    """One version of the differentiated supervision policy (DOMAIN §6)."""

    version: str
    effective_from: date
    public_letters: Annotated[list[LetterOut], _pairs("label", "letter")] = Field(
        validation_alias="public_to_letter", description="each public grade's letter"
    )
    default: Rows
    fields: dict[str, Rows] = Field(description="per field, the rows it overrides")


class ModelsOut(BaseModel):
    """Every rule set the ledger grades and supervises with, as loaded."""

    models: list[EvaluationModelOut] = Field(description="evaluation model versions, oldest first")
    industry: IndustryOut
    supervision: list[SupervisionPolicyOut] = Field(description="policy versions, oldest first")


class RuleVersionOut(BaseModel):
    """One version of some rules as the ledger knows it (`ledger.domain.rulebook.Version`)."""

    kind: str = Field(description="model, supervision or repair")
    version: str
    effective_from: date = Field(description="valid time: in force for dates from this day")
    known_from: datetime | None = Field(
        description="record time it was published; null for a genesis version shipped with the "
        "code, known at every record time"
    )
    position: int | None = Field(description="its ledger position; null for a genesis version")
    published_by: str | None = None
    reason: str | None = None
    digest: str | None = Field(default=None, description="SHA-256 of its file")
    in_force_today: bool = Field(description="the version of its kind in force today, known now")


class RuleVersionsOut(BaseModel):
    """Every version known now, genesis first, then in order of publication."""

    versions: list[RuleVersionOut]


class RuleFileOut(RuleVersionOut):
    """A version with its file, as stored."""

    source: str | None = Field(description="the file's text; null when given in code")


class RuleFileIn(BaseModel):
    """A model or policy file to check (validate, dry run)."""

    kind: str = Field(description="model, supervision or repair", max_length=20)
    source: str = Field(description="the TOML file's text", max_length=200_000)


class PublishIn(RuleFileIn):
    """A version to publish."""

    reason: str = Field(description="why, e.g. the decision that adopted it", max_length=2000)


class RuleValidOut(BaseModel):
    kind: str
    version: str
    effective_from: date
    valid: bool = True


class PublishedOut(BaseModel):
    kind: str
    version: str
    position: int = Field(description="the ledger position it was stored at")


class DryRunIn(RuleFileIn):
    years: list[int] | None = Field(
        default=None, description="restatements to compare (default: every materialised year)"
    )


class TransitionOut(BaseModel):
    grade_from: str | None = Field(description="the grade without the version (null: none)")
    grade_to: str | None = Field(description="the grade with it")
    count: int


class ShiftOut(BaseModel):
    scope: str = Field(description="`current` (today) or a year (its 31-October restatement)")
    uscc: str
    as_of: date
    grade_from: str | None
    grade_to: str | None
    score_from: str | None
    score_to: str | None


class DryRunOut(BaseModel):
    """What publishing the version now would change: per scope, counts per grade transition."""

    kind: str
    version: str
    effective_from: date
    known_at: datetime
    subjects: int = Field(description="subjects graded")
    scopes: dict[str, list[TransitionOut]]
    changes: list[ShiftOut]
