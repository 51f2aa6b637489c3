"""The evaluation read's one-hop shape checks token and role as every other read does."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import READERS
from api.grade_reads import GradeReadOnce, check_routes
from credit_ledger.bootstrap import service
from ledger.domain.values import SYSTEM_ACTOR
from ledger.service.audit import QueryAudit
from tests.api.conftest import Api

CODE = "91410422MA44GLWX8G"
PATH = f"/v1/subjects/{CODE}/evaluation"


class _Graded(BaseModel):
    uscc: str
    grade: str


def _audit(api: Api) -> QueryAudit:
    audit: QueryAudit = api.client.app.state.audit  # type: ignore[attr-defined]
    return audit


def _reads(api: Api) -> int:
    found, _ = _audit(api).reads(limit=100_000, scan=100_000)
    return len(found)


def test_an_evaluation_read_is_refused_without_a_token_a_live_token_or_a_reading_role(
    api: Api,
) -> None:
    federation = api.ledger.issue_token(role="federation", name="舞钢市", actor=SYSTEM_ACTOR).secret
    revoked = api.ledger.issue_token(role="reader", name="gone", actor=SYSTEM_ACTOR)
    # Admitted once (and so cached) before it is revoked: the revocation must still be honoured.
    admitted = api.client.get(PATH, headers={"Authorization": f"Bearer {revoked.secret}"})
    assert admitted.status_code not in (401, 403), admitted.text
    api.ledger.revoke_token(revoked.info.token_id, actor=SYSTEM_ACTOR)
    before = _reads(api)
    cases = {
        "no token": ({}, 401, "send Authorization"),
        "not bearer": ({"Authorization": "Basic dXNlcjpwdw=="}, 401, "send Authorization"),
        "unknown": ({"Authorization": "Bearer clt_nosuchtoken"}, 401, "unknown or revoked"),
        "revoked": ({"Authorization": f"Bearer {revoked.secret}"}, 401, "unknown or revoked"),
        "federation": ({"Authorization": f"Bearer {federation}"}, 403, "may not read grades"),
    }
    for name, (headers, status, detail) in cases.items():
        answer = api.client.get(PATH, headers=headers, params={"as_of": "2025-10-31"})
        assert answer.status_code == status, (name, answer.text)
        assert detail in answer.json()["detail"], name
        if status == 401:
            assert answer.headers["www-authenticate"] == "Bearer", name
    assert _reads(api) == before  # a refused read is not served, so nothing is recorded


def test_a_one_hop_route_passes_the_start_check_and_is_withheld_if_it_records_nothing(
    api: Api,
) -> None:
    app: FastAPI = service(api.ledger, _audit(api))

    @app.get("/v1/forgetful", response_model=_Graded)
    async def forgetful(access: GradeReadOnce) -> _Graded:
        def answer() -> _Graded:
            access.open(READERS, "read grades")
            return _Graded(uscc=CODE, grade="良")

        return await run_in_threadpool(answer)

    check_routes(app)  # it takes the grade-read access, so the service starts
    with TestClient(app, raise_server_exceptions=False) as client:
        withheld = client.get("/v1/forgetful", headers=api.headers("reader"))
    assert withheld.status_code == 500
    assert "no audit record" in withheld.json()["detail"]
    assert CODE not in withheld.text
