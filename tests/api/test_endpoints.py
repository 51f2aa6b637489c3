"""Every endpoint of API.md through HTTP, on SQLite and PostgreSQL: success paths and refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ledger.domain.values import CST
from tests.api.conftest import Api
from tests.support import uscc

CODE = uscc(11)
OTHER = uscc(12)


def register(api: Api, code: str = CODE, who: str = "admin", **extra: Any) -> Any:
    body = {
        "uscc": code,
        "name": "舞钢市某某食品有限公司",
        "kind": "enterprise",
        "fields": ["food"],
        **extra,
    }
    return api.post("/v1/subjects", body, who)


def fact(api: Api, code: str = CODE, who: str = "food", **extra: Any) -> Any:
    body = {
        "indicator": "penalty.general",
        "decided_on": "2023-03-01",
        "domain": "food",
        "document_no": "舞市监罚〔2023〕1号",
        **extra,
    }
    return api.post(f"/v1/subjects/{code}/facts", body, who)


def problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body


def test_a_subject_is_registered_once_and_described(api: Api) -> None:
    created = register(api)
    assert created.status_code == 201
    assert created.json()["uscc"] == CODE
    assert created.json()["position"] > 0
    again = register(api)
    assert again.status_code == 200
    assert again.json()["subject_id"] == created.json()["subject_id"]
    fact(api)
    shown = api.get(f"/v1/subjects/{CODE}", "reader").json()
    assert shown["fields"] == ["food"]
    assert shown["counts"]["facts"] == 1
    assert shown["counts"]["facts_counting_today"] == 0  # a 2023 general penalty has lapsed


def test_a_recorded_fact_shows_in_the_explained_evaluation(api: Api) -> None:
    register(api)
    created = fact(api)
    assert created.status_code == 201
    known_at = datetime.now(CST).isoformat()
    answer = api.get(
        f"/v1/subjects/{CODE}/evaluation",
        "reader",
        as_of="2023-10-31",
        known_at=known_at,
        purpose="double random inspection",
    )
    assert answer.status_code == 200
    body = answer.json()
    assert (body["score"], body["grade"], body["grade_en"], body["model"]) == (
        "75",
        "良",
        "good",
        "PCCE-2021",
    )
    assert body["known_at"] == known_at
    early = api.get(
        f"/v1/subjects/{CODE}/evaluation", as_of="2023-10-31", known_at="2020-01-01T00:00:00+08:00"
    )
    assert problem(early, 404)["errors"][0]["loc"] == ["query", "known_at"]
    (c,) = body["contributions"]
    assert c == {
        **c,
        "fact_id": created.json()["fact_id"],
        "points": "-5",
        "decided_on": "2023-03-01",
        "counts_until": "2024-03-01",
        "under_objection": False,
    }
    assert "not an endorsement" in body["notice"]


def test_a_repeated_write_answers_the_original_and_a_changed_one_conflicts(api: Api) -> None:
    register(api)
    first = fact(api)
    before = api.position()
    again = fact(api)
    assert again.status_code == 200
    assert again.json()["fact_id"] == first.json()["fact_id"]
    body = problem(fact(api, indicator="penalty.serious"), 409)
    assert body["errors"][0]["loc"] == ["body", "document_no"]
    assert api.position() == before


def test_facts_end_and_revoke(api: Api) -> None:
    register(api)
    fid = fact(api, indicator="tax.arrears", domain="taxation", who="tax").json()["fact_id"]
    ended = api.post(
        f"/v1/subjects/{CODE}/facts/{fid}/end", {"ended_on": "2024-01-01", "reason": "paid"}, "tax"
    )
    assert ended.status_code == 200
    assert ended.json()["changed"] is True
    assert api.get(f"/v1/subjects/{CODE}/evaluation", as_of="2023-12-31").json()["score"] == "75"
    assert api.get(f"/v1/subjects/{CODE}/evaluation", as_of="2024-01-01").json()["score"] == "80"
    revoked = api.post(f"/v1/subjects/{CODE}/facts/{fid}/revoke", {"reason": "复议撤销"}, "tax")
    assert revoked.status_code == 200
    assert api.get(f"/v1/subjects/{CODE}/evaluation", as_of="2023-12-31").json()["score"] == "80"


def test_a_listing_grades_poor_until_delisted(api: Api) -> None:
    register(api)
    listed = api.post(
        f"/v1/subjects/{CODE}/listings",
        {
            # A department lists in its own field; judgment defaulters come from the courts.
            "list_type": "serious_illegal_dishonest",
            "listed_on": "2024-05-01",
            "domain": "food",
            "document_no": "舞市监严失〔2024〕1号",
            "authority": "舞钢市市场监督管理局",
        },
        "food",
    )
    assert listed.status_code == 201
    lid = listed.json()["listing_id"]
    answer = api.get(f"/v1/subjects/{CODE}/evaluation", as_of="2024-06-01").json()
    assert (answer["score"], answer["grade"], answer["listed"]) == ("80", "差", True)
    assert answer["listings"][0]["listing_id"] == lid
    delisted = api.post(
        f"/v1/subjects/{CODE}/listings/{lid}/delist",
        {"delisted_on": "2024-09-01", "reason": "repaired"},
        "food",
    )
    assert delisted.status_code == 200
    assert api.get(f"/v1/subjects/{CODE}/evaluation", as_of="2024-09-01").json()["grade"] == "良"


def test_the_objection_lifecycle_and_time_travel_around_a_correction(api: Api) -> None:
    register(api)
    fid = fact(api, indicator="penalty.serious").json()["fact_id"]
    filed = api.post(
        f"/v1/subjects/{CODE}/objections",
        {"target_id": fid, "filed_on": "2023-09-27", "grounds": "认定错误"},
        "platform",
    )
    assert filed.status_code == 201
    objection = filed.json()
    assert (objection["status"], objection["due_on"]) == ("pending", "2023-10-17")
    flagged = api.get(f"/v1/subjects/{CODE}/evaluation", as_of="2023-10-31").json()
    assert flagged["contributions"][0]["under_objection"] is True
    overdue = api.get("/v1/objections", "reader", status="overdue").json()["items"]
    assert [o["objection_id"] for o in overdue] == [objection["objection_id"]]
    assert api.get("/v1/objections", status="pending").json()["items"][0]["status"] == "overdue"
    before_resolution = datetime.now(UTC).isoformat()
    resolved = api.post(
        f"/v1/objections/{objection['objection_id']}/resolve",
        {
            "outcome": "corrected",
            "resolved_on": "2023-10-20",
            "correction": {"indicator": "penalty.minor"},
        },
        "food",
    )
    assert resolved.status_code == 200
    assert resolved.json()["outcome"] == "corrected"
    assert api.get("/v1/objections", status="resolved").json()["items"][0]["outcome"] == "corrected"
    assert api.get("/v1/objections", status="pending").json()["items"] == []
    listed = api.get("/v1/objections", "reader", uscc=CODE, limit=1).json()
    assert (listed["total"], len(listed["items"]), listed["items"][0]["uscc"]) == (1, 1, CODE)
    assert api.get("/v1/objections", "reader", uscc=OTHER).json() == {"items": [], "total": 0}
    then = api.get(
        f"/v1/subjects/{CODE}/evaluation", as_of="2023-05-01", known_at=before_resolution
    ).json()
    now = api.get(f"/v1/subjects/{CODE}/evaluation", as_of="2023-05-01").json()
    assert (then["score"], now["score"]) == ("65", "79")
    # Restated as a minor penalty, it counts 3 months from 1 March only.
    assert api.get(f"/v1/subjects/{CODE}/evaluation", as_of="2023-06-01").json()["score"] == "80"
    assert api.get(
        f"/v1/subjects/{CODE}/evaluation", as_of="2023-05-31", known_at=before_resolution
    ).json()["contributions"][0]["indicator"] == ("penalty.serious")


def test_the_repair_lifecycle(api: Api) -> None:
    register(api)
    fid = fact(api, decided_on="2023-01-31").json()["fact_id"]
    early = problem(
        api.post(
            f"/v1/subjects/{CODE}/repairs",
            {"target_id": fid, "requested_on": "2023-04-29", "commitment": "已整改"},
            "platform",
        ),
        422,
    )
    assert early["eligible_on"] == "2023-04-30"
    assert early["errors"][0]["loc"] == ["body", "requested_on"]
    requested = api.post(
        f"/v1/subjects/{CODE}/repairs",
        {"target_id": fid, "requested_on": "2023-05-04", "commitment": "已整改"},
        "platform",
    )
    assert requested.status_code == 201
    repair = requested.json()
    # Saturday 6 May 2023 was a working day (the Labour Day swap).
    assert (repair["status"], repair["due_on"]) == ("pending", "2023-05-17")
    assert (
        api.get("/v1/repairs", status="overdue").json()["items"][0]["repair_id"]
        == (repair["repair_id"])
    )
    decided = api.post(
        f"/v1/repairs/{repair['repair_id']}/decide",
        {"approved": True, "decided_on": "2023-05-10", "reason": "符合条件"},
        "food",
    )
    assert (decided.status_code, decided.json()["status"]) == (200, "approved")
    assert api.get(f"/v1/subjects/{CODE}/evaluation", as_of="2023-05-09").json()["score"] == "75"
    assert api.get(f"/v1/subjects/{CODE}/evaluation", as_of="2023-05-10").json()["score"] == "80"
    revoked = api.post(
        f"/v1/repairs/{repair['repair_id']}/revoke",
        {"revoked_on": "2023-07-01", "reason": "材料虚假"},
        "food",
    )
    assert revoked.json()["status"] == "revoked"
    assert api.get(f"/v1/subjects/{CODE}/evaluation", as_of="2023-07-01").json()["score"] == "75"
    assert api.get("/v1/repairs", status="revoked").json()["items"][0]["status"] == "revoked"


def test_industry_evaluations_are_graded(api: Api) -> None:
    register(api, fields=["food", "taxation"])
    scored = api.post(
        f"/v1/subjects/{CODE}/industry-evaluations",
        {"domain": "food", "evaluated_on": "2024-06-30", "score": "88", "model": "food-2024"},
        "food",
    )
    assert (scored.status_code, scored.json()["grade"]) == (201, "A")
    native = api.post(
        f"/v1/subjects/{CODE}/industry-evaluations",
        {
            "domain": "taxation",
            "evaluated_on": "2024-06-30",
            "native_grade": "M",
            "model": "纳税信用2024",
        },
        "tax",
    )
    assert native.json()["grade"] == "B"
    problem(
        api.post(
            f"/v1/subjects/{CODE}/industry-evaluations",
            {"domain": "taxation", "evaluated_on": "2024-06-30", "score": "88", "model": "x"},
            "food",
        ),
        403,
    )


def test_history_lists_every_event_with_position_and_record_time(api: Api) -> None:
    register(api)
    fid = fact(api).json()["fact_id"]
    history = api.get(f"/v1/subjects/{CODE}/history", "auditor").json()
    topics = [e["topic"] for e in history["events"]]
    assert topics == ["credit.subject_registered.v1", "credit.fact_recorded.v1"]
    positions = [e["position"] for e in history["events"]]
    assert positions == sorted(positions)
    assert history["events"][1]["payload"]["fact_id"] == fid
    assert history["events"][1]["payload"]["actor_id"].startswith("tok_")
    assert datetime.fromisoformat(history["events"][1]["recorded_at"]).tzinfo is not None
    problem(api.get(f"/v1/subjects/{CODE}/history", "reader"), 403)


def test_every_grade_read_is_audited_and_auditors_read_the_log(api: Api) -> None:
    register(api)
    reader_id = next(t.token_id for t in api.ledger.tokens() if t.name == "reader")
    assert api.get("/v1/audit/reads", "auditor", uscc=CODE).json()["items"] == []
    api.get(f"/v1/subjects/{CODE}/evaluation", "reader", as_of="2024-01-01", purpose="检查前核查")
    api.get(f"/v1/subjects/{CODE}/evaluation", "food")
    log = api.get("/v1/audit/reads", "auditor", uscc=CODE).json()["items"]
    assert len(log) == 2
    assert (log[0]["token_id"], log[0]["purpose"], log[0]["grade"], log[0]["as_of"]) == (
        reader_id,
        "检查前核查",
        "良",
        "2024-01-01",
    )
    assert api.get("/v1/audit/reads", "auditor", token=reader_id).json()["items"][0]["uscc"] == CODE
    problem(api.get("/v1/audit/reads", "reader"), 403)


def test_authentication_is_required_and_revoked_tokens_stop_working(api: Api) -> None:
    register(api)
    path = f"/v1/subjects/{CODE}/evaluation"
    missing = problem(api.get(path, None), 401)
    assert "Bearer" in missing["detail"]
    assert api.client.get(path).headers["www-authenticate"] == "Bearer"
    problem(api.client.get(path, headers={"Authorization": "Bearer clt_nope"}), 401)
    problem(api.client.get(path, headers={"Authorization": "Basic abc"}), 401)
    reader_id = next(t.token_id for t in api.ledger.tokens() if t.name == "reader")
    assert api.get(path, "reader").status_code == 200
    api.ledger.revoke_token(reader_id, actor=api.ledger.authenticate(api.tokens["admin"]))  # type: ignore[arg-type]
    problem(api.get(path, "reader"), 401)


def test_roles_and_fields_are_enforced(api: Api) -> None:
    register(api)
    fid = fact(api).json()["fact_id"]
    before = api.position()
    problem(register(api, OTHER, who="reader"), 403)
    problem(fact(api, who="reader", document_no="x"), 403)
    other_field = problem(fact(api, who="tax", document_no="y"), 403)
    assert other_field["errors"][0]["loc"] == ["body", "domain"]
    problem(
        api.post(
            f"/v1/subjects/{CODE}/facts/{fid}/end", {"ended_on": "2024-01-01", "reason": "r"}, "tax"
        ),
        403,
    )
    problem(
        api.post(
            f"/v1/subjects/{CODE}/objections",
            {"target_id": fid, "filed_on": "2023-04-01", "grounds": "g"},
            "food",
        ),
        403,
    )
    problem(api.get(f"/v1/subjects/{CODE}/evaluation", "platform"), 403)
    assert api.position() == before


def test_unknown_things_are_404(api: Api) -> None:
    register(api)
    nil = "00000000-0000-4000-8000-000000000000"
    problem(api.get(f"/v1/subjects/{OTHER}", "reader"), 404)
    problem(api.get(f"/v1/subjects/{OTHER}/evaluation", "reader"), 404)
    problem(
        api.post(f"/v1/subjects/{CODE}/facts/{nil}/end", {"ended_on": "2024-01-01", "reason": "r"}),
        404,
    )
    problem(
        api.post(
            f"/v1/objections/{nil}/resolve", {"outcome": "rejected", "resolved_on": "2024-01-01"}
        ),
        404,
    )
    problem(
        api.post(
            f"/v1/repairs/{nil}/decide",
            {"approved": True, "decided_on": "2024-01-01", "reason": "r"},
        ),
        404,
    )
    problem(api.get("/v1/no-such-thing"), 404)


def test_rule_refusals_are_422_naming_the_field_and_write_nothing(api: Api) -> None:
    register(api)
    fid = fact(api).json()["fact_id"]
    before = api.position()
    bad = CODE[:-1] + ("0" if CODE[-1] != "0" else "1")
    cases = [
        (register(api, bad), ["body", "uscc"]),
        (
            api.post(
                f"/v1/subjects/{bad}/facts",
                {
                    "indicator": "penalty.minor",
                    "decided_on": "2023-01-01",
                    "domain": "food",
                    "document_no": "z",
                },
            ),
            ["path", "uscc"],
        ),
        (fact(api, indicator="penalty.huge", document_no="z"), ["body", "indicator"]),
        (fact(api, decided_on="2099-01-01", document_no="z"), ["body", "decided_on"]),
        (fact(api, effective_until="2023-02-01", document_no="z"), ["body", "effective_until"]),
        (
            api.post(
                f"/v1/subjects/{CODE}/facts/{fid}/end", {"ended_on": "2023-02-01", "reason": "r"}
            ),
            ["body", "ended_on"],
        ),
        (register(api, OTHER, fields=["fishing"]), ["body", "fields"]),
        (
            api.get(f"/v1/subjects/{CODE}/evaluation", known_at="2024-01-01T00:00:00"),
            ["query", "known_at"],
        ),
    ]
    for answer, loc in cases:
        body = problem(answer, 422)
        assert body["errors"][0]["loc"] == loc, body
        assert body["detail"]
    assert api.position() == before


def test_malformed_requests_are_400_naming_the_field(api: Api) -> None:
    register(api)
    body = problem(fact(api, decided_on="2023-02-30"), 400)
    assert body["errors"][0]["loc"] == ["body", "decided_on"]
    body = problem(fact(api, colour="red"), 400)
    assert body["errors"][0]["loc"] == ["body", "colour"]
    body = problem(
        api.client.post(
            f"/v1/subjects/{CODE}/facts",
            content=b"{not json",
            headers={**api.headers("food"), "content-type": "application/json"},
        ),
        400,
    )
    problem(api.get(f"/v1/subjects/{CODE}/facts/not-a-uuid/end"), 405)
    problem(
        api.post(
            f"/v1/subjects/{CODE}/facts/not-a-uuid/end", {"ended_on": "2024-01-01", "reason": "r"}
        ),
        400,
    )


def test_operations_endpoints(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz").json()
    assert ready["status"] == "ready"
    register(api)
    metrics = api.client.get("/metrics").text
    assert 'credit_ledger_http_requests_total{method="POST",route="/v1/subjects",status="201"}' in (
        metrics
    )
    assert "credit_ledger_http_request_seconds_bucket" in metrics
    fields = api.client.get("/v1/fields").json()
    assert len(fields) == 31
    assert {"code": "food", "department": "market_regulation"}.items() <= fields[0].items()


def test_min_position_waits_for_a_position_and_gives_up_when_it_never_comes(api: Api) -> None:
    created = register(api).json()
    ok = api.get(f"/v1/subjects/{CODE}/evaluation", min_position=created["position"])
    assert ok.status_code == 200
    body = problem(api.get(f"/v1/subjects/{CODE}/evaluation", min_position=10**9), 409)
    assert "not available yet" in body["detail"]


def test_a_token_can_ask_who_it_is(api: Api) -> None:
    me = api.get("/v1/me", "food").json()
    assert (me["role"], me["fields"], me["department"]) == (
        "recorder",
        ["food"],
        "market_regulation",
    )
    assert api.get("/v1/me", "platform").json()["role"] == "platform"
    problem(api.get("/v1/me", None), 401)
