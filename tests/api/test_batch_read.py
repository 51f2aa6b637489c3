"""The batch read (`POST /v1/evaluations:batch`) on SQLite and PostgreSQL: order, unknown codes,
refusals that write nothing, the audit record, authentication, time travel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.domain.values import CST
from tests.api.conftest import Api
from tests.api.test_endpoints import CODE, OTHER, fact, problem, register
from tests.support import uscc

BATCH = "/v1/evaluations:batch"
UNKNOWN = uscc(13)


def batch(api: Api, codes: list[Any], who: str | None = "reader", **more: Any) -> Any:
    return api.post(BATCH, {"uscc": codes, "purpose": "招标投标资格审查", **more}, who)


def audit_records(api: Api, endpoint: str = "evaluations.batch") -> list[dict[str, Any]]:
    reads = api.get("/v1/audit/reads", "auditor", limit=1000).json()["items"]
    return [r for r in reads if r["endpoint"] == endpoint]


def test_items_answer_each_code_in_order_as_the_single_read_does(api: Api) -> None:
    register(api)
    register(api, OTHER)
    fact(api)
    known_at = datetime.now(CST).isoformat()
    # An unknown code and a repeat, in a lower-case spelling: one item per requested position.
    codes = [OTHER, UNKNOWN, CODE, CODE.lower()]
    answer = batch(api, codes, as_of="2023-10-31", known_at=known_at)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["as_of"], body["known_at"], body["count"], body["found"]) == (
        "2023-10-31",
        known_at,
        4,
        3,
    )
    items = body["items"]
    assert [(i["index"], i["uscc"], i["status"]) for i in items] == [
        (0, OTHER, "ok"),
        (1, UNKNOWN, "not_found"),
        (2, CODE, "ok"),
        (3, CODE, "ok"),
    ]
    for item in (items[0], items[2]):
        single = api.get(
            f"/v1/subjects/{item['uscc']}/evaluation",
            "reader",
            as_of="2023-10-31",
            known_at=known_at,
        )
        assert item["evaluation"] == single.json()
        assert item["problem"] is None
    assert items[2]["evaluation"]["score"] == "75"
    assert items[3]["evaluation"] == items[2]["evaluation"]
    unknown = items[1]
    assert unknown["evaluation"] is None
    missing = api.get(f"/v1/subjects/{UNKNOWN}/evaluation", "reader")
    assert unknown["problem"]["status"] == 404
    assert unknown["problem"]["type"] == problem(missing, 404)["type"]
    assert unknown["problem"]["detail"] == missing.json()["detail"]
    assert unknown["problem"]["errors"][0]["loc"] == ["body", "uscc", 1]


def test_the_read_is_one_audit_record_naming_every_code_answered_with_its_purpose(
    api: Api,
) -> None:
    register(api)
    register(api, OTHER)
    answer = batch(api, [CODE, UNKNOWN, OTHER, CODE])
    assert answer.status_code == 200, answer.text
    (record,) = audit_records(api)
    # Every code answered, once, the unknown one too (the department learned it is not held).
    assert record["subjects"] == [CODE, UNKNOWN, OTHER]
    assert record["count"] == 3
    assert record["purpose"] == "招标投标资格审查"
    assert record["role"] == "reader"
    assert record["as_of"] == answer.json()["as_of"]
    assert record["query"] == f"POST {BATCH}"
    for code in (CODE, UNKNOWN, OTHER):  # an auditor asking by code finds the department's read
        by_subject = api.get("/v1/audit/reads", "auditor", uscc=code).json()["items"]
        assert [r["position"] for r in by_subject if r["endpoint"] == record["endpoint"]] == [
            record["position"]
        ]


def test_more_than_a_thousand_codes_are_refused_naming_the_field_and_rule_writing_nothing(
    api: Api,
) -> None:
    register(api)
    position = api.position()
    answer = batch(api, [CODE] * 1001)
    body = problem(answer, 422)
    assert body["errors"][0]["loc"] == ["body", "uscc"]
    assert body["rule"] == "1 to 1000 credit codes per batch"
    assert "1,001" in body["detail"]
    assert problem(batch(api, []), 422)["errors"][0]["loc"] == ["body", "uscc"]
    assert batch(api, [CODE] * 1000).json()["count"] == 1000
    assert len(audit_records(api)) == 1  # only the batch of 1,000 was read
    assert api.position() == position


def test_a_malformed_code_refuses_the_batch_naming_every_index(api: Api) -> None:
    register(api)
    bad = CODE[:-1] + ("0" if CODE[-1] != "0" else "1")  # a wrong check character
    answer = batch(api, [CODE, bad, UNKNOWN, "not-a-code"])
    body = problem(answer, 422)
    assert [e["loc"] for e in body["errors"]] == [["body", "uscc", 1], ["body", "uscc", 3]]
    assert "GB 32100-2015" in body["rule"]
    assert "index 1, 3" in body["detail"]
    assert problem(batch(api, [CODE, 42]), 400)["errors"][0]["loc"] == ["body", "uscc", 1]
    assert audit_records(api) == []


def test_the_purpose_is_required_and_follows_the_text_rule(api: Api) -> None:
    register(api)
    missing = api.post(BATCH, {"uscc": [CODE]}, "reader")
    assert problem(missing, 400)["errors"][0]["loc"] == ["body", "purpose"]
    hidden = batch(api, [CODE], purpose="招标\u200b审查")
    body = problem(hidden, 422)
    assert body["errors"][0]["loc"] == ["body", "purpose"]
    assert "U+200B" in body["detail"]
    other = api.client.post(
        BATCH,
        params={"purpose": "另一目的"},
        json={"uscc": [CODE], "purpose": "招标投标资格审查"},
        headers=api.headers("reader"),
    )
    assert problem(other, 422)["errors"][0]["loc"] == ["query", "purpose"]
    assert audit_records(api) == []


def test_only_a_token_that_may_read_grades_gets_an_answer(api: Api) -> None:
    register(api)
    unauthenticated = batch(api, [CODE], who=None)
    problem(unauthenticated, 401)
    assert unauthenticated.headers["www-authenticate"] == "Bearer"
    problem(batch(api, [CODE], who="platform"), 403)
    for who in ("reader", "food", "auditor", "admin"):
        assert batch(api, [CODE], who=who).status_code == 200, who
    assert len(audit_records(api)) == 4


def test_known_at_answers_as_the_ledger_knew_it_then(api: Api) -> None:
    before_registration = datetime.now(CST).isoformat()
    register(api)
    register(api, OTHER)
    before_fact = datetime.now(CST).isoformat()
    fact(api, decided_on="2023-03-01")
    then = batch(api, [CODE, OTHER], as_of="2023-10-31", known_at=before_fact).json()
    now = batch(api, [CODE, OTHER], as_of="2023-10-31").json()
    assert [i["evaluation"]["score"] for i in then["items"]] == ["80", "80"]
    assert [i["evaluation"]["score"] for i in now["items"]] == ["75", "80"]
    assert then["known_at"] == before_fact
    earlier = batch(api, [CODE], known_at=before_registration).json()
    (item,) = earlier["items"]
    assert item["status"] == "not_found"
    assert item["problem"]["errors"][0]["loc"] == ["body", "known_at"]
    future = batch(api, [CODE], known_at="2999-01-01T00:00:00+08:00")
    assert problem(future, 422)["errors"][0]["loc"] == ["body", "known_at"]
    no_offset = batch(api, [CODE], known_at="2024-01-01T00:00:00")
    assert problem(no_offset, 422)["errors"][0]["loc"] == ["body", "known_at"]
    assert problem(batch(api, [CODE], as_of=20231031), 400)["errors"][0]["loc"] == [
        "body",
        "as_of",
    ]
