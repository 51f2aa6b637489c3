"""The evaluation read outside FastAPI answers every request as FastAPI's route does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any

from starlette.routing import Match

from api.evaluation_read import ROUTE
from api.observability import REGISTRY
from ledger.domain.values import CST, SYSTEM_ACTOR
from ledger.service.audit import MAX_PURPOSE, QueryAudit
from tests.api.conftest import Api
from tests.api.test_endpoints import CODE, fact, register
from tests.support import uscc

PATH = f"/v1/subjects/{CODE}/evaluation"


@contextmanager
def fastapi_only(api: Api) -> Iterator[None]:
    """The same service with its fast route taken out: FastAPI's route answers."""
    routes = api.client.app.router.routes  # type: ignore[attr-defined]
    at = routes.index(ROUTE)
    routes.remove(ROUTE)
    try:
        yield
    finally:
        routes.insert(at, ROUTE)


def _answer(api: Api, method: str, path: str, headers: dict[str, str], params: Any) -> Any:
    got = api.client.request(method, path, headers=headers, params=params)
    body: Any = got.content
    if got.content and got.headers.get("content-type", "").endswith("json"):
        body = got.json()
        if isinstance(body, dict) and "known_at" in body and "known_at" not in dict(params):
            body.pop("known_at")  # "now", a different instant for each request
    return got.status_code, got.headers.get("content-type"), got.headers.get("allow"), body


def both(
    api: Api, params: Any, who: str | None = "reader", *, method: str = "GET", path: str = PATH
) -> tuple[Any, Any]:
    """One request asked of the fast route, then of FastAPI's."""
    headers = api.headers(who)
    fast = _answer(api, method, path, headers, params)
    with fastapi_only(api):
        reference = _answer(api, method, path, headers, params)
    return fast, reference


def _audit(api: Api) -> QueryAudit:
    audit: QueryAudit = api.client.app.state.audit  # type: ignore[attr-defined]
    return audit


def test_the_fast_route_is_the_one_that_answers_the_read(api: Api) -> None:
    scope = {"type": "http", "method": "GET", "path": PATH}
    routes = api.client.app.router.routes  # type: ignore[attr-defined]
    assert routes[0] is ROUTE
    assert ROUTE.matches(scope)[0] is Match.FULL
    assert ROUTE.matches({**scope, "method": "HEAD"})[0] is Match.PARTIAL


def test_good_reads_answer_the_same_evaluation(api: Api) -> None:
    assert register(api).status_code == 201
    assert fact(api).status_code == 201
    position = api.position()
    known = datetime.now(CST).isoformat()
    for params in (
        {},
        {"as_of": "2025-10-31", "known_at": known},
        {"as_of": "2023-03-02"},
        {"known_at": datetime.now(UTC).isoformat().replace("+00:00", "Z")},
        {"min_position": 0},
        {"min_position": position, "as_of": "2024-01-01"},
        {"purpose": "招标资格审查", "as_of": "2025-10-31"},
        {"purpose": "长" * MAX_PURPOSE},
        {"unasked": "ignored", "as_of": "2025-10-31"},
        [("as_of", "2020-01-01"), ("as_of", "2025-10-31")],
    ):
        fast, reference = both(api, params)
        assert fast[0] == 200, (params, fast)
        assert fast == reference, params
    assert both(api, {"as_of": "2025-10-31"}, "admin") == both(api, {"as_of": "2025-10-31"})


def test_refused_reads_answer_the_same_problem_naming_the_same_field(api: Api) -> None:
    assert register(api).status_code == 201
    federation = api.ledger.issue_token(role="federation", name="舞钢市", actor=SYSTEM_ACTOR)
    api.tokens["federation"] = federation.secret
    api.tokens["unknown"] = "clt_nosuchtoken"
    cases: list[tuple[Any, str | None, int]] = [
        ({"as_of": "2023-13-01"}, "reader", 400),
        ({"as_of": "yesterday"}, "reader", 400),
        ({"as_of": ""}, "reader", 400),
        ({"known_at": "2023-01-01T00:00:00"}, "reader", 422),
        ({"known_at": "soon"}, "reader", 400),
        ({"min_position": -1}, "reader", 400),
        ({"min_position": 2**63}, "reader", 400),
        ({"min_position": "first"}, "reader", 400),
        ({"purpose": "长" * (MAX_PURPOSE + 1)}, "reader", 400),
        ({"as_of": "2023-13-01", "known_at": "soon"}, "reader", 400),
        ({}, None, 401),
        ({}, "unknown", 401),
        ({"as_of": "2023-13-01"}, None, 401),  # the token is checked before the read's query
        ({"purpose": "长" * (MAX_PURPOSE + 1)}, None, 400),  # but after the access's own
        ({"as_of": "2023-13-01", "purpose": "长" * (MAX_PURPOSE + 1)}, "reader", 400),
        ({}, "federation", 403),
        ({"known_at": "2023-03-01T12:00:00Z"}, "reader", 404),  # before it was registered
    ]
    for params, who, status in cases:
        fast, reference = both(api, params, who)
        assert fast[0] == status, (params, who, fast)
        assert fast[1] == "application/problem+json", (params, who, fast)
        assert fast == reference, (params, who)
    for path in (f"/v1/subjects/{uscc(99)}/evaluation", "/v1/subjects/not-a-code/evaluation"):
        fast, reference = both(api, {}, path=path)
        assert fast[0] in (404, 422), (path, fast)
        assert fast == reference, path


def test_a_head_request_is_refused_as_fastapi_refuses_it(api: Api) -> None:
    fast, reference = both(api, {}, method="HEAD")
    assert fast[0] == 405
    assert fast == reference


def test_the_fast_read_leaves_the_same_audit_record(api: Api) -> None:
    assert register(api).status_code == 201
    known = datetime.now(CST).isoformat()
    params = {"as_of": "2025-10-31", "known_at": known, "purpose": "招标资格审查"}
    records = []
    for routes in (nullcontext(), fastapi_only(api)):
        with routes:
            got = api.get(PATH, "reader", **params)
        assert got.status_code == 200, got.text
        found, _ = _audit(api).reads(limit=100_000, scan=100_000)
        records.append(found[-1][1])
    fast, reference = (_comparable(r) for r in records)
    assert fast == reference
    assert fast["purpose"] == "招标资格审查"
    assert list(fast["subjects"]) == [CODE]
    assert fast["role"] == "reader"
    assert fast["endpoint"] == "evaluation"


def _comparable(record: Any) -> dict[str, Any]:
    shown = dict(vars(record))
    for volatile in ("originator_id", "originator_version", "timestamp"):
        shown.pop(volatile)
    return shown


def test_the_openapi_document_still_lists_the_read_and_its_parameters(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    read = spec["paths"]["/v1/subjects/{uscc}/evaluation"]
    assert set(read) == {"get"}
    names = {p["name"]: p for p in read["get"]["parameters"]}
    assert {"uscc", "as_of", "known_at", "min_position", "purpose"} <= set(names)
    assert names["min_position"]["schema"]["anyOf"][0]["minimum"] == 0
    assert names["purpose"]["schema"]["anyOf"][0]["maxLength"] == MAX_PURPOSE


def test_the_fast_read_is_counted_under_its_route_in_the_metrics(api: Api) -> None:
    name = "credit_ledger_http_requests_total"
    labels = {"method": "GET", "route": "/v1/subjects/{uscc}/evaluation", "status": "401"}
    before = REGISTRY.get_sample_value(name, labels) or 0.0
    assert api.get(PATH, None).status_code == 401
    assert REGISTRY.get_sample_value(name, labels) == before + 1
