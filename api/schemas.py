"""Request and response bodies of API v1 (the contract in spec/API.md)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AliasPath,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_serializer,
    model_validator,
)

from ledger.domain.dates import parse_date, parse_instant
from ledger.domain.errors import InvalidInput
from ledger.domain.rules.grade import NOTICE
from ledger.domain.rules.queues import ObjectionStatus, RepairStatus
from ledger.domain.rules.supervision import Basis, Tier
from ledger.domain.values import CST, DelistReason, ListType, ObjectionOutcome, SubjectKind
from ledger.service.audit import MAX_PURPOSE
from ledger.service.queries import MAX_BATCH


def _iso_date(value: Any, info: ValidationInfo) -> date:
    # The ledger's one date rule: a JSON number is never a date (pydantic would read it as a
    # Unix time), nor is any text other than YYYY-MM-DD.
    try:
        return parse_date(value, str(info.field_name or "date"))
    except InvalidInput as refused:
        raise ValueError(refused.message) from None


def _iso_instant(value: Any, info: ValidationInfo) -> datetime:
    try:
        # The offset is the ledger's rule (422 naming the field); only the form is checked here.
        return parse_instant(value, str(info.field_name or "instant"), require_offset=False)
    except InvalidInput as refused:
        raise ValueError(refused.message) from None


#: A date in a request: the string YYYY-MM-DD only (DOMAIN §8).
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
#: A record-time instant in a request: RFC 3339 with offset, never a number.
IsoInstant = Annotated[datetime, BeforeValidator(_iso_instant)]


def _decimal_text(value: Any) -> Any:
    # Points, scores and ratios are answered as decimal strings (str of the Decimal), never floats.
    return str(value) if isinstance(value, Decimal) else value


def _in_cst(instant: datetime) -> datetime:
    return instant.astimezone(CST)


#: A Decimal of the domain answered as its decimal string ("-5", "92.5").
DecimalText = Annotated[str, BeforeValidator(_decimal_text)]
#: A record-time instant answered in China Standard Time (+08:00), whatever offset it holds.
CstInstant = Annotated[datetime, AfterValidator(_in_cst)]


class Mirror(BaseModel):
    """A response that mirrors a domain object: built by `model_validate(obj)` from its attributes.

    A field the object names otherwise is read through its `validation_alias` (by name too, so
    the model can still be built from its own field names)."""

    model_config = ConfigDict(from_attributes=True, validate_by_name=True, validate_by_alias=True)


class Joined:
    """A domain object's attributes with a few beside them, for `model_validate`: what an answer
    carries that the object does not hold itself (its subject's credit code, a status asked of
    the rules on a day, counts)."""

    __slots__ = ("_item", "_more")

    def __init__(self, item: object, **more: object) -> None:
        self._item = item
        self._more = more

    def __getattr__(self, name: str) -> object:
        # Only names the slots do not hold arrive here: the extra values, then the object's own.
        if name in self._more:
            return self._more[name]
        return getattr(self._item, name)


def text() -> Any:
    """A required free-text field."""
    return Field(min_length=1, max_length=2000)


class Body(BaseModel):
    """Request bodies refuse unknown fields, so a misspelt field is named, not ignored."""

    model_config = ConfigDict(extra="forbid")


class SubjectIn(Body):
    uscc: str | None = Field(
        default=None,
        description="unified social credit code (GB 32100-2015); not for a natural person",
        max_length=64,
    )
    id_number: str | None = Field(
        default=None,
        description="a natural person's resident identity number (GB 11643), instead of uscc: "
        "stored only encrypted; the answer's ref names the person from then on",
        max_length=64,
    )
    name: str = text()
    kind: SubjectKind
    fields: list[str] = Field(default_factory=list, max_length=40)
    established_on: IsoDate | None = None
    source_document: str | None = Field(default=None, max_length=2000)


class SubjectCreated(BaseModel):
    uscc: str
    subject_id: UUID
    position: int


class PersonCreated(SubjectCreated):
    ref: str = Field(description="the person's opaque ref: every path takes it for a credit code")


class PersonLookupIn(Body):
    id_number: str = Field(max_length=64, description="resident identity number (GB 11643)")


class PersonRef(BaseModel):
    ref: str
    subject_id: UUID


class IdentityOut(BaseModel):
    """A natural person's identity: masked, or in the clear for an audited reveal."""

    name: str
    id_number: str
    revealed: bool


class EraseIn(Body):
    reason: str = text()


class Counts(Mirror):
    """What is recorded about a subject (built from `ledger.domain.rules.queues.SubjectCounts`)."""

    facts: int
    facts_counting_today: int
    listings: int
    listings_active_today: int
    objections: int
    objections_pending: int
    repairs: int
    repairs_pending: int
    industry_evaluations: int


# A subject's registration (`SubjectState`), its stream id and its counts beside it.
class SubjectOut(Mirror):
    uscc: str
    subject_id: UUID
    name: str
    kind: str
    fields: list[str]
    established_on: date | None
    registered_at: datetime
    counts: Counts


class PersonOut(SubjectOut):
    """A natural person: the subject, and its identity (masked unless revealed)."""

    identity: IdentityOut


class FactIn(Body):
    indicator: str = Field(max_length=100)
    decided_on: IsoDate
    domain: str = Field(max_length=100)
    document_no: str = text()
    description: str | None = Field(default=None, max_length=2000)
    effective_until: IsoDate | None = None


class FactCreated(BaseModel):
    fact_id: UUID
    position: int


class FactEndIn(Body):
    ended_on: IsoDate
    reason: str = text()
    source_document: str | None = Field(default=None, max_length=2000)


class FactRevokeIn(Body):
    reason: str = text()
    source_document: str | None = Field(default=None, max_length=2000)


class Changed(BaseModel):
    id: UUID
    changed: bool = Field(description="false when the same change had already been stored")
    position: int


class ListingIn(Body):
    list_type: ListType
    listed_on: IsoDate
    domain: str = Field(max_length=100)
    document_no: str = text()
    authority: str = text()


class ListingCreated(BaseModel):
    listing_id: UUID
    position: int


class DelistIn(Body):
    delisted_on: IsoDate
    reason: DelistReason
    source_document: str | None = Field(default=None, max_length=2000)


class ObjectionIn(Body):
    target_id: UUID = Field(description="the fact or listing disputed")
    filed_on: IsoDate
    grounds: str = text()
    source_document: str | None = Field(default=None, max_length=2000)


class ObjectionCreated(BaseModel):
    objection_id: UUID
    status: str
    due_on: date
    position: int
    warning: str | None = None


class CorrectionIn(Body):
    void: bool = False
    indicator: str | None = Field(default=None, max_length=100)
    decided_on: IsoDate | None = None


class ResolveIn(Body):
    outcome: ObjectionOutcome
    resolved_on: IsoDate
    correction: CorrectionIn | None = None
    note: str | None = Field(default=None, max_length=2000)
    source_document: str | None = Field(default=None, max_length=2000)


class Resolved(BaseModel):
    objection_id: UUID
    status: str
    outcome: str
    changed: bool
    position: int


# An objection (`ObjectionState`) with its subject's code and its status on the day.
class ObjectionOut(Mirror):
    objection_id: UUID
    uscc: str
    target_id: UUID
    target_kind: str
    filed_on: date
    grounds: str
    due_on: date
    status: ObjectionStatus
    outcome: str | None
    resolved_on: date | None
    filed_at: datetime = Field(validation_alias="recorded_at")


class ObjectionList(BaseModel):
    items: list[ObjectionOut]
    total: int = Field(description="how many match, before `limit`")


class RepairIn(Body):
    target_id: UUID = Field(description="the deduction fact to repair")
    requested_on: IsoDate
    commitment: str = text()
    source_document: str | None = Field(default=None, max_length=2000)


class RepairCreated(BaseModel):
    repair_id: UUID
    due_on: date
    status: str
    position: int
    warning: str | None = None


class DecideIn(Body):
    approved: bool
    decided_on: IsoDate
    reason: str = text()
    source_document: str | None = Field(default=None, max_length=2000)


class RevokeRepairIn(Body):
    revoked_on: IsoDate
    reason: str = text()
    source_document: str | None = Field(default=None, max_length=2000)


class Decided(BaseModel):
    repair_id: UUID
    status: str
    changed: bool
    position: int


# A repair request (`RepairState`) with its subject's code and its status on the day.
class RepairOut(Mirror):
    repair_id: UUID
    uscc: str
    target_id: UUID
    requested_on: date
    commitment: str
    due_on: date
    status: RepairStatus
    decided_on: date | None
    reason: str | None
    requested_at: datetime = Field(validation_alias="recorded_at")


class RepairList(BaseModel):
    items: list[RepairOut]
    total: int = Field(description="how many match, before `limit`")


class IndustryEvaluationIn(Body):
    domain: str = Field(max_length=100)
    evaluated_on: IsoDate
    score: Decimal | None = Field(default=None, ge=0, le=100)
    native_grade: str | None = Field(default=None, max_length=10)
    model: str = Field(min_length=1, max_length=200)
    document_no: str | None = Field(default=None, max_length=2000)


class IndustryEvaluationCreated(BaseModel):
    evaluation_id: UUID
    grade: str
    position: int


# A fact counting at D (`ledger.domain.rules.grade.Contribution`).
class ContributionOut(Mirror):
    fact_id: UUID
    indicator: str
    kind: str
    points: DecimalText
    decided_on: date
    counts_until: date | None
    under_objection: bool
    domain: str
    document_no: str
    corrected: bool


# A listing in force at D (`ActiveListing`).
class ListingOut(Mirror):
    listing_id: UUID
    list_type: str
    listed_on: date
    delisted_on: date | None
    authority: str
    domain: str
    document_no: str
    under_objection: bool


# A recorded fact not counting at D, and why (`Excluded`).
class ExcludedOut(Mirror):
    fact_id: UUID
    indicator: str
    reason: str


# The explained evaluation (`ledger.domain.rules.grade.Evaluation`); scores and points as decimal
# strings, `known_at` in CST.
class EvaluationOut(Mirror):
    uscc: str
    name: str
    as_of: date
    known_at: CstInstant
    model: str
    score: DecimalText
    grade: str
    grade_en: str
    score_grade: str
    listed: bool
    listings: list[ListingOut]
    contributions: list[ContributionOut]
    excluded: list[ExcludedOut]
    deductions: DecimalText
    bonuses: DecimalText
    bonuses_counted: DecimalText
    notes: list[str]
    notice: str = NOTICE

    @classmethod
    def of(cls, ev: object) -> EvaluationOut:
        """`model_validate(ev)`, under the name the command line's `--json` still calls."""
        return cls.model_validate(ev)


class HistoryEvent(BaseModel):
    position: int | None
    version: int
    topic: str
    recorded_at: datetime
    payload: dict[str, Any]


class HistoryOut(BaseModel):
    uscc: str
    subject_id: UUID
    events: list[HistoryEvent]


# A grade read (`GradeRead.Recorded`) with its position in the audit log beside it.
class AuditRecord(Mirror):
    position: int
    recorded_at: datetime = Field(validation_alias="timestamp")
    token_id: str
    role: str
    department: str | None
    endpoint: str
    uscc: str | None
    purpose: str | None
    as_of: date | None
    known_at: datetime | None
    grade: str | None
    count: int = Field(description="how many subjects the answer carried (or counted)")
    subjects: list[str] = Field(description="every subject whose grade the answer carried")
    query: str | None = Field(description="the method, path and query string asked")


class AuditPage(BaseModel):
    items: list[AuditRecord]
    next: int = Field(description="pass as `after` to continue")


# A supervision field (`ledger.domain.catalog.Field`) with its department's name beside it.
class FieldOut(Mirror):
    code: str
    name_zh: str
    name_en: str
    department: str
    department_zh: str


# A row of the feed read model.
class FeedItem(Mirror):
    position: int = Field(description="ledger position of the event that changed the grade")
    uscc: str
    kind: Literal["grade", "industry", "inspection", "stop_using"] = Field(
        description="a public grade change, an industry evaluation, an inspection result, or "
        "(under a repair policy with the notice, NDRC Order 36) an approved repair: every "
        "department stops using the repaired record"
    )
    field: str | None
    detail: str | None = Field(
        description="the industry grade, the inspection outcome, or the repaired fact's id"
    )
    topic: str
    recorded_at: datetime
    as_of: date = Field(description="the valid date graded: the event's record date (CST)")
    score: str
    grade: str
    grade_en: str
    listed: bool
    previous_score: str | None
    previous_grade: str | None
    valid_until: date | None = Field(
        description="the grade may change without a new event from this date (a fact lapses)"
    )


class FeedPage(BaseModel):
    items: list[FeedItem]
    next: int = Field(description="pass as `after` for the next page")


# A year's counts (`projections.annual.YearSummary`) with the dates and instants they hold at
# beside them.
class YearSummaryOut(Mirror):
    year: int
    as_of: date
    published_known_at: datetime
    restated_known_at: CstInstant
    published: dict[str, int]
    restated: dict[str, int]
    changed: int = Field(description="subjects whose grade differs between the two")
    entered: int = Field(description="subjects in the restatement but not the publication")
    left: int = Field(description="subjects in the publication but not the restatement")
    source: Literal["materialised", "computed"]
    notice: str = NOTICE


# A later event that changed a year's result (`projections.annual.Change`): the score and grade
# before and after it, none where the subject was not in the population.
class YearChange(Mirror):
    position: int | None
    topic: str
    recorded_at: datetime
    score_before: DecimalText | None = Field(validation_alias=AliasPath("before", "score"))
    grade_before: str | None = Field(validation_alias=AliasPath("before", "grade"))
    score_after: DecimalText | None = Field(validation_alias=AliasPath("after", "score"))
    grade_after: str | None = Field(validation_alias=AliasPath("after", "grade"))
    version: str | None = Field(
        default=None,
        description="the rule version whose publication changed the result (only then present)",
    )

    @model_serializer(mode="wrap")
    def _version_only_when_published(self, handler: Any):  # type: ignore[no-untyped-def]
        # A subject's own event has no version: the key is left out, not written as null.
        out = handler(self)
        if isinstance(out, dict) and out.get("version") is None:
            out.pop("version", None)
        return out

    @model_validator(mode="before")
    @classmethod
    def _outside_population(cls, change: Any) -> Any:
        # No evaluation on a side: neither its score nor its grade (the paths lead nowhere).
        outside = {
            f"{part}_{side}": None
            for side in ("before", "after")
            if getattr(change, side, True) is None
            for part in ("score", "grade")
        }
        return Joined(change, **outside) if outside else change


# A subject's year (`projections.annual.AnnualResult`) with today's evaluation and the changes
# beside it.
class SubjectYearOut(Mirror):
    uscc: str
    year: int
    published: EvaluationOut | None = Field(description="null when not in the published population")
    restated: EvaluationOut | None
    current: EvaluationOut = Field(description="today's evaluation, as known now")
    restated_differs: bool
    changes: list[YearChange] = Field(description="later events that changed the year's result")
    upstream: dict[str, Any] | None = Field(
        default=None,
        description="the upstream ledger's result for the year (published and restated, with "
        "the upstream position it was read at), when this ledger has an upstream (DOMAIN §10)",
    )

    @model_serializer(mode="wrap")
    def _upstream_only_when_pulled(self, handler: Any):  # type: ignore[no-untyped-def]
        # A ledger without an upstream answers as before: the key is left out, not null.
        out = handler(self)
        if isinstance(out, dict) and out.get("upstream") is None:
            out.pop("upstream", None)
        return out


# A subject's supervision in a field (`ledger.domain.rules.supervision.Supervision`); the public
# and industry grades it rests on are read from its parts.
class SupervisionOut(Mirror):
    uscc: str
    field: str
    as_of: date
    tier: Tier
    basis: Basis
    grade: str = Field(description="the letter A–D the tier was read from")
    ratio: DecimalText = Field(
        description="share of the field's subjects in this grade drawn per draw"
    )
    max_per_year: int
    policy: str
    public_grade: str = Field(validation_alias=AliasPath("public", "grade"))
    public_score: DecimalText = Field(validation_alias=AliasPath("public", "score"))
    industry_grade: str | None = Field(validation_alias=AliasPath("industry", "grade"))
    industry_evaluated_on: date | None = Field(
        validation_alias=AliasPath("industry", "evaluated_on")
    )
    listed: bool = Field(validation_alias=AliasPath("public", "listed"))
    notice: str = NOTICE

    @model_validator(mode="before")
    @classmethod
    def _no_industry_evaluation(cls, supervision: Any) -> Any:
        # No industry evaluation in force: neither its grade nor its date.
        if getattr(supervision, "industry", True) is None:
            return Joined(supervision, industry_grade=None, industry_evaluated_on=None)
        return supervision


# A row of the supervision read model.
class WorklistItem(Mirror):
    uscc: str
    name: str
    tier: str
    grade: str
    basis: str
    public_grade: str
    industry_grade: str | None
    listed: bool
    as_of: date


class Worklist(BaseModel):
    field: str
    counts: dict[str, int] = Field(description="subjects per tier in the field (all filters off)")
    items: list[WorklistItem]
    next: str | None = Field(description="pass as `after` for the next page")


class JoinFieldIn(Body):
    field: str = Field(max_length=100)
    joined_on: IsoDate


class LeaveFieldIn(Body):
    left_on: IsoDate


class InspectorsIn(Body):
    inspectors: list[str] = Field(min_length=2, max_length=500)


class DrawIn(Body):
    field: str = Field(max_length=100)
    as_of: IsoDate
    seed: str | None = Field(default=None, max_length=200)


# A drawn subject (`DrawSelection`, stored as a mapping in the draw's event).
class DrawnOut(Mirror):
    uscc: str
    grade: str
    tier: str
    inspectors: list[str]


# A recorded draw (`ledger.domain.inspections.InspectionDraw`).
class DrawOut(Mirror):
    draw_id: UUID = Field(validation_alias="id")
    field: str
    as_of: date
    seed: str
    seed_key: str = Field(description="the seed's NFKC form, which the sha256 ranks hash")
    position: int = Field(description="the ledger position the population was read at")
    policy: str
    population_digest: str
    strata: dict[str, list[int]] = Field(description="grade -> [population, drawn]")
    selected: list[DrawnOut]
    recorded_at: datetime


class DrawVerified(BaseModel):
    draw_id: UUID
    valid: bool
    differences: list[str]


# A member of a draw's population (its `Supervision`: grade letter and tier).
class PopulationMember(Mirror):
    uscc: str
    grade: str
    tier: str


# A recorded draw's population, beside the seed and digest it was drawn with.
class DrawPopulation(Mirror):
    draw_id: UUID = Field(validation_alias="id")
    seed: str
    seed_key: str | None = Field(default=None, description="the form the ranks hash (NFKC)")
    population_digest: str
    members: list[PopulationMember]


class ResultIn(Body):
    uscc: str = Field(max_length=64)
    outcome: Literal["passed", "finding"]
    inspected_on: IsoDate
    indicator: str | None = Field(default=None, max_length=100)
    document_no: str | None = Field(default=None, max_length=2000)
    note: str | None = Field(default=None, max_length=2000)


class ResultOut(BaseModel):
    draw_id: UUID
    uscc: str
    outcome: str
    fact_id: UUID | None
    position: int


class ProblemError(BaseModel):
    loc: list[str | int]
    msg: str


class ProblemOut(BaseModel):
    """An RFC 9457 problem: what was refused and why."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemError] | None = None
    rule: str | None = None
    eligible_on: date | None = None


class BatchEvaluationIn(Body):
    uscc: list[str] = Field(
        description=f"1 to {MAX_BATCH:,} credit codes (a list of bidders), answered in this "
        "order; any malformed one refuses the request (422 naming its index)",
        # Documented here, enforced by the ledger's rule: 422 naming the field and the rule.
        json_schema_extra={"minItems": 1, "maxItems": MAX_BATCH},
    )
    as_of: IsoDate | None = Field(default=None, description="valid date (default today, CST)")
    known_at: IsoInstant | None = Field(
        default=None, description="record-time instant with offset (default now)"
    )
    purpose: str = Field(
        min_length=1,
        max_length=MAX_PURPOSE,
        description="why the department reads these grades: kept in the query-audit log",
    )
    min_position: int | None = Field(default=None, ge=0, le=2**62)


# One requested position of a batch read: its evaluation, or the problem the single read answers.
class BatchItemOut(BaseModel):
    index: int = Field(description="the code's position in the request")
    uscc: str
    status: Literal["ok", "not_found"]
    evaluation: EvaluationOut | None = None
    problem: ProblemOut | None = None


class BatchEvaluationOut(BaseModel):
    as_of: date
    known_at: CstInstant
    count: int = Field(description="items answered: one per requested code, duplicates too")
    found: int = Field(description="items that carry an evaluation")
    items: list[BatchItemOut]


def _problem(description: str) -> dict[str, Any]:
    return {
        "model": ProblemOut,
        "description": description,
        "content": {"application/problem+json": {}},
    }


#: The refusals every resource can answer, documented once for the OpenAPI document.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem("malformed request (the failing fields are listed in `errors`)"),
    401: _problem("no token, or an unknown or revoked one"),
    403: _problem("the token's role or fields do not allow this"),
    404: _problem("unknown subject, fact, listing, objection or repair"),
    409: _problem("same natural key with another payload, concurrent change, or not caught up"),
    422: _problem("refused by a ledger rule (the field and rule are named)"),
    503: _problem("the store is unavailable (it does not answer); retry after `Retry-After`"),
    507: _problem("the store is out of space: nothing was written"),
}
