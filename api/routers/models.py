"""The rules' data the ledger grades with, and its versions: list, show, validate, dry run,
publish (admin)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import Admin, Ledger, Reader
from api.grade_reads import GradeReadLog
from api.model_schemas import (
    DryRunIn,
    DryRunOut,
    EvaluationModelOut,
    IndustryOut,
    ModelsOut,
    PublishedOut,
    PublishIn,
    RuleFileIn,
    RuleFileOut,
    RuleValidOut,
    RuleVersionOut,
    RuleVersionsOut,
    ShiftOut,
    SupervisionPolicyOut,
    TransitionOut,
)
from api.schemas import PROBLEM_RESPONSES
from ledger.domain.catalog import industry_grading
from ledger.domain.commands import PublishVersion
from ledger.domain.errors import NotFound
from ledger.domain.rulebook import Rulebook, Version
from ledger.domain.rules.versions import KINDS, require_kind
from ledger.service.application import CreditLedger

router = APIRouter(prefix="/v1/models", tags=["models"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=ModelsOut)
def list_models(actor: Reader, ledger: Ledger) -> ModelsOut:
    """Every evaluation model version (bands with labels and codes, indicators, authority), the
    industry A–D bands and the supervision policy versions, as the ledger knows them now.

    Reference data about rules, not about any subject: no grade read, so not on the audit log.
    The console draws its grade bands from this answer instead of restating them."""
    return ModelsOut(
        models=[EvaluationModelOut.model_validate(m) for m in ledger.models.models],
        industry=IndustryOut.model_validate(industry_grading()),
        supervision=[SupervisionPolicyOut.model_validate(p) for p in ledger.policies.policies],
    )


def _in_force(ledger: CreditLedger, book: Rulebook) -> set[int]:
    today = ledger.today()
    return {
        id(book.models_at().in_force(today).model),
        id(book.policies_at().in_force(today)),
        id(book.repairs_at().in_force(today)),
    }


def _out(v: Version, in_force: set[int]) -> dict[str, object]:
    return {
        "kind": v.kind,
        "version": v.version,
        "effective_from": v.effective_from,
        "known_from": v.known_from,
        "position": v.position,
        "published_by": v.published_by,
        "reason": v.reason,
        "digest": v.digest,
        "in_force_today": id(v.value) in in_force,
    }


@router.get("/versions", response_model=RuleVersionsOut)
def list_versions(actor: Reader, ledger: Ledger, kind: str | None = None) -> RuleVersionsOut:
    """Every model, supervision-policy and repair-policy version known now, with its record
    time (null: a genesis version, known at every record time) and whether it is in force."""
    book = ledger.rulebook(fresh=True)
    kinds = [require_kind(kind)] if kind else list(KINDS)
    in_force = _in_force(ledger, book)
    return RuleVersionsOut(
        versions=[
            RuleVersionOut.model_validate(_out(v, in_force))
            for k in kinds
            for v in book.versions(k)
        ]
    )


@router.get("/versions/{kind}/{version}", response_model=RuleFileOut)
def show_version(kind: str, version: str, actor: Reader, ledger: Ledger) -> RuleFileOut:
    """One version with its file as stored."""
    book = ledger.rulebook(fresh=True)
    found = [v for v in book.versions(require_kind(kind)) if v.version == version]
    if not found:
        raise NotFound(f"no {kind} version '{version}'", field="version")
    return RuleFileOut.model_validate(
        {**_out(found[-1], _in_force(ledger, book)), "source": found[-1].source}
    )


@router.post("/validate", response_model=RuleValidOut)
def validate_version(body: RuleFileIn, actor: Reader, ledger: Ledger) -> RuleValidOut:
    """Check a file as publication would; 422 names the line, the key and the rule."""
    candidate = ledger.candidate(body.kind, body.source)
    return RuleValidOut(
        kind=candidate.kind, version=candidate.version, effective_from=candidate.effective_from
    )


@router.post("/dry-run", response_model=DryRunOut)
def dry_run_version(body: DryRunIn, actor: Admin, ledger: Ledger, reads: GradeReadLog) -> DryRunOut:
    """Which subjects' grades the version would change if published now: today's and each
    materialised year's restatement, counts per grade transition and the list. Writes no
    event; the grades it shows are an audited read."""
    from projections.dry_run import dry_run

    run = dry_run(ledger, ledger.candidate(body.kind, body.source), years=body.years)
    reads.record("models.dry_run", sorted({s.uscc for s in run.shifts}), known_at=run.known_at)
    return DryRunOut(
        kind=run.kind,
        version=run.version,
        effective_from=run.effective_from,
        known_at=run.known_at,
        subjects=run.subjects,
        scopes={
            scope: [
                TransitionOut(grade_from=a, grade_to=b, count=n)
                for (a, b), n in sorted(
                    run.counts[scope].items(), key=lambda item: (str(item[0][0]), str(item[0][1]))
                )
            ]
            for scope in run.scopes
        },
        changes=[
            ShiftOut(
                scope=s.scope,
                uscc=s.uscc,
                as_of=s.as_of,
                grade_from=s.before,
                grade_to=s.after,
                score_from=s.score_before,
                score_to=s.score_after,
            )
            for s in run.shifts
        ],
    )


@router.post(
    "/versions",
    status_code=201,
    response_model=PublishedOut,
    responses={200: {"model": PublishedOut, "description": "the same file, already published"}},
)
def publish_version(
    body: PublishIn, actor: Admin, ledger: Ledger, response: Response
) -> PublishedOut:
    """Publish a version (admin): validated first (422 names the line and the rule, nothing is
    written), then stored with its record time; the same file again answers 200."""
    written = ledger.handle(
        PublishVersion(kind=body.kind, source=body.source, actor=actor, reason=body.reason)
    )
    response.status_code = status.HTTP_201_CREATED if written.created else status.HTTP_200_OK
    return PublishedOut(
        kind=body.kind, version=written.status or "", position=written.position or 0
    )
