"""The batch read: many subjects' explained evaluations in one audited request (a bid check)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import Config, Ledger, Reader, wait_for_position
from api.grade_reads import GradeReadLog
from api.problems import Problem, problem_body
from api.schemas import (
    PROBLEM_RESPONSES,
    BatchEvaluationIn,
    BatchEvaluationOut,
    BatchItemOut,
    EvaluationOut,
    ProblemOut,
)
from ledger.domain.errors import InvalidInput, NotFound
from ledger.domain.rules.grade import Evaluation
from ledger.domain.text import clean_text
from ledger.domain.values import normalize_uscc
from ledger.service.audit import MAX_PURPOSE
from ledger.service.queries import require_batch_size

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"], responses=PROBLEM_RESPONSES)


def well_formed(codes: list[str]) -> list[str]:
    """The codes in their compact form, or one refusal naming every malformed one by index.

    A malformed code is a mistake in the department's list (a typo, a truncated cell), not a
    fact about a subject, so nothing is read until the list is right; a well-formed code the
    ledger does not hold is an answer (`not_found`) and does not fail the batch.
    """
    compact: list[str] = []
    errors: list[dict[str, Any]] = []
    rule = None
    for index, code in enumerate(codes):
        try:
            compact.append(normalize_uscc(code))
        except InvalidInput as refused:
            errors.append({"loc": ["body", "uscc", index], "msg": refused.message})
            rule = rule or refused.rule
    if errors:
        named = ", ".join(str(e["loc"][2]) for e in errors[:20])
        more = f" and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise Problem(
            422,
            f"{len(errors)} of {len(codes)} credit codes are malformed (index {named}{more}); "
            "nothing was read",
            kind=InvalidInput.kind,
            extra={"errors": errors, "rule": rule},
        )
    return compact


def _stated_purpose(body: BatchEvaluationIn, query_purpose: str | None) -> str:
    """The body's purpose under the text rule; a `purpose` query parameter must say the same."""
    purpose = clean_text(body.purpose, "purpose", max_length=MAX_PURPOSE)
    if query_purpose is not None and clean_text(query_purpose, "purpose") != purpose:
        raise Problem(
            422,
            "the purpose is stated in the body; a purpose query parameter must say the same",
            kind=InvalidInput.kind,
            extra={"errors": [{"loc": ["query", "purpose"], "msg": "differs from the body's"}]},
        )
    return purpose


def _not_found(index: int, missing: NotFound) -> ProblemOut:
    """The single read's 404 for this subject, its `loc` naming the item (or `known_at`)."""
    loc: list[str | int] = (
        ["body", "uscc", index] if missing.field in (None, "uscc") else ["body", missing.field]
    )
    extra: dict[str, Any] = {"errors": [{"loc": loc, "msg": missing.message}]}
    if missing.rule is not None:
        extra["rule"] = missing.rule
    return ProblemOut.model_validate(
        problem_body(404, missing.message, kind=NotFound.kind, **extra)
    )


@router.post(":batch", response_model=BatchEvaluationOut)
def batch_evaluations(
    body: BatchEvaluationIn, actor: Reader, ledger: Ledger, config: Config, reads: GradeReadLog
) -> BatchEvaluationOut:
    """Up to 1,000 subjects' explained evaluations at one `as_of` as known at one `known_at`.

    One item per requested code, in the request's order (a code listed twice answers twice,
    read once): the evaluation the single read gives, or that read's 404 as the item's
    `problem`. Any malformed code refuses the whole request (422 naming each index). The read
    is audited as one record naming every code answered, with the body's `purpose`.
    """
    require_batch_size(len(body.uscc))
    codes = well_formed(body.uscc)
    purpose = _stated_purpose(body, reads.purpose)
    wait_for_position(ledger, body.min_position, seconds=config.read_wait_seconds)
    batch = ledger.evaluate_many(codes, as_of=body.as_of, known_at=body.known_at)
    # The record names every code answered, unknown ones too: that the ledger holds no such
    # subject (or held none at K) is also what the department learned about it.
    reads.record(
        "evaluations.batch",
        list(batch.results),
        as_of=batch.as_of,
        known_at=batch.known_at,
        purpose=purpose,
    )
    answered = {
        code: EvaluationOut.model_validate(result)
        for code, result in batch.results.items()
        if isinstance(result, Evaluation)
    }
    items = []
    for index, code in enumerate(codes):
        result = batch.results[code]
        if isinstance(result, Evaluation):
            items.append(
                BatchItemOut(index=index, uscc=code, status="ok", evaluation=answered[code])
            )
        else:
            items.append(
                BatchItemOut(
                    index=index, uscc=code, status="not_found", problem=_not_found(index, result)
                )
            )
    return BatchEvaluationOut(
        as_of=batch.as_of,
        known_at=batch.known_at,
        count=len(items),
        found=sum(item.evaluation is not None for item in items),
        items=items,
    )
