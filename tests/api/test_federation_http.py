"""Federation over HTTP (DOMAIN §10): a downstream ledger's deliveries and results, who may call
them, how malformed deliveries are refused, and the sync's part of readiness."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from api.app import create_app
from credit_ledger.bootstrap import open_audit, open_ledger, service_config
from credit_ledger.sync import Sync
from ledger.domain.commands import command_of
from ledger.domain.values import SYSTEM_ACTOR, Actor, Role
from ledger.service.application import CreditLedger
from ledger.service.handlers import handle
from tests.api.conftest import Api
from tests.support import ADMIN, StepClock, free_port, uscc

CITY = "舞钢市"
#: The city's market regulator, recording in its field (its department travels with its records).
CITY_FOOD = Actor("token:city-food", Role.RECORDER, "market_regulation", frozenset({"food"}))
CODE = uscc(1_701)
OTHER = uscc(1_702)


def federation_token(ledger: CreditLedger, name: str) -> str:
    return ledger.issue_token(role="federation", fields=[], name=name, actor=SYSTEM_ACTOR).secret


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def city_lines() -> list[dict[str, Any]]:
    """What a city ledger delivers of a registration and a fact: its own `outgoing` page."""
    city = CreditLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        for name, args in [
            (
                "register_subject",
                {"uscc": CODE, "name": "舞钢市联邦示例有限公司", "kind": "enterprise"},
            ),
            (
                "record_fact",
                {
                    "uscc": CODE,
                    "indicator": "penalty.general",
                    "decided_on": "2025-03-01",
                    "domain": "food",
                    "document_no": "舞市监罚〔2025〕17号",
                },
            ),
        ]:
            handle(city, command_of(name, args, CITY_FOOD))
        return [d.line() for d in city.outgoing(0).deliveries]
    finally:
        city.close()


def deliver(api: Api, token: str, items: list[dict[str, Any]]) -> Any:
    return api.client.post(
        "/v1/federation/deliveries", json={"items": items}, headers=bearer(token)
    )


def test_a_city_batch_is_taken_item_by_item_and_a_redelivery_answers_earlier(api: Api) -> None:
    token = federation_token(api.ledger, CITY)
    lines = city_lines()
    assert [line["command"] for line in lines] == ["register_subject", "record_fact"]

    first = deliver(api, token, lines)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["source"] == CITY
    assert [o["status"] for o in body["outcomes"]] == ["accepted", "accepted"]
    assert [o["earlier"] for o in body["outcomes"]] == [False, False]
    assert body["acknowledged"] == lines[-1]["position"]
    history = api.get(f"/v1/subjects/{CODE}/history", "auditor").json()["events"]
    fact = next(e for e in history if e["topic"] == "credit.fact_recorded.v1")
    assert fact["payload"]["department"] == "market_regulation"  # as made at the source
    assert [e["payload"]["source"] for e in history if "received" in e["topic"]] == [CITY] * 2
    top = api.ledger.max_position()

    again = deliver(api, token, lines).json()
    assert [(o["status"], o["earlier"]) for o in again["outcomes"]] == [("accepted", True)] * 2
    assert [o["id"] for o in again["outcomes"]] == [o["id"] for o in body["outcomes"]]
    assert api.ledger.max_position() == top  # nothing appended the second time
    inbox = api.client.get("/v1/federation/inbox", headers=bearer(token)).json()
    assert (inbox["source"], inbox["taken"], inbox["refused"]) == (CITY, 2, [])


@pytest.mark.parametrize("who", ["reader", "food", "admin", "auditor", "platform"])
def test_only_a_federation_token_delivers_and_reads_results(api: Api, who: str) -> None:
    top = api.ledger.max_position()
    delivered = api.post("/v1/federation/deliveries", {"items": city_lines()}, who)
    assert delivered.status_code == 403, delivered.text
    assert delivered.headers["content-type"] == "application/problem+json"
    assert "federation" in delivered.json()["detail"]
    assert api.get("/v1/federation/results", who).status_code == 403
    assert api.ledger.max_position() == top


@pytest.mark.parametrize(
    ("items", "where"),
    [
        ([{"command": "register_subject", "args": {}}], ["body", "items", 0, "position"]),
        (
            [{"position": 1, "command": "register_subject", "args": [1]}],
            ["body", "items", 0, "args"],
        ),
        (
            [{"position": 0, "command": "register_subject", "args": {}}],
            ["body", "items", 0, "position"],
        ),
        ([{"position": 1, "command": "x" * 65, "args": {}}], ["body", "items", 0, "command"]),
        (
            [{"position": i, "command": "register_subject", "args": {}} for i in range(1, 1002)],
            ["body", "items"],
        ),
    ],
    ids=["no position", "args not an object", "position 0", "command too long", "1001 items"],
)
def test_a_malformed_batch_is_refused_whole_naming_the_field_and_writes_nothing(
    api: Api, items: list[dict[str, Any]], where: list[Any]
) -> None:
    token = federation_token(api.ledger, CITY)
    top = api.ledger.max_position()
    refused = deliver(api, token, items)
    # The shape is the router's to check: 400 malformed (API.md), before the ledger sees it.
    assert refused.status_code == 400, refused.text
    problem = refused.json()
    assert problem["type"] == "urn:credit-ledger:problem:malformed"
    assert [e["loc"] for e in problem["errors"]] == [where]
    assert api.ledger.max_position() == top
    assert api.ledger.inbox(CITY) is None


def test_what_the_ledger_decides_is_refused_per_item_naming_the_field_and_rule(api: Api) -> None:
    token = federation_token(api.ledger, CITY)
    good = city_lines()
    bad_date = {**good[1], "position": 10, "last": 10}
    bad_date["args"] = {
        **good[1]["args"],
        "decided_on": "2025-02-30",
        "document_no": "舞〔2025〕1号",
    }
    zero_width = {
        "position": 11,
        "command": "register_subject",
        "args": {"uscc": OTHER, "name": "舞钢\u200b市零宽有限公司", "kind": "enterprise"},
    }
    unknown = {"position": 12, "command": "frobnicate", "args": {}}
    evaluation = {
        "position": 13,
        "command": "record_industry_evaluation",
        "args": {"uscc": CODE, "domain": "taxation", "evaluated_on": "2025-04-01", "model": "m"},
    }
    # A city may name departments the annex does not, but every one passes the text rule.
    stranger = {**good[1], "position": 15, "last": 15, "department": "信用\u200b办"}
    stranger["args"] = {**good[1]["args"], "document_no": "舞〔2025〕2号"}
    person = {
        "position": 14,
        "command": "register_subject",
        "args": {"kind": "natural_person", "name": "张三", "id_number": "11010519491231002X"},
    }
    answer = deliver(
        api, token, [*good, bad_date, zero_width, unknown, evaluation, person, stranger]
    )
    assert answer.status_code == 200, answer.text
    outcomes = {o["position"]: o for o in answer.json()["outcomes"]}
    assert [outcomes[p]["status"] for p in (1, 2)] == ["accepted", "accepted"]
    refused = {p: (o["status"], o["field"]) for p, o in outcomes.items() if p >= 10}
    assert refused == {
        10: ("refused", "args.decided_on"),
        11: ("refused", "name"),
        12: ("refused", "command"),
        13: ("refused", "command"),
        14: ("refused", "args"),
        15: ("refused", "department"),
    }
    assert "calendar date" in outcomes[10]["reason"]
    assert "U+200B" in outcomes[11]["reason"]
    assert "format" in outcomes[11]["rule"]
    assert "frobnicate" in outcomes[12]["reason"]
    assert "not delivered between ledgers" in outcomes[13]["reason"]
    assert "id_number" in outcomes[14]["reason"]  # persons never travel (DOMAIN §9)
    assert "U+200B" in outcomes[15]["reason"]
    assert api.get(f"/v1/subjects/{OTHER}", "reader").status_code == 404
    # The refusals are kept with their reasons for the city's credit office.
    inbox = api.client.get("/v1/federation/inbox", headers=bearer(token)).json()
    assert sorted(o["position"] for o in inbox["refused"]) == [10, 11, 12, 13, 14, 15]


def test_results_name_only_the_callers_subjects_and_every_read_is_audited(api: Api) -> None:
    city = federation_token(api.ledger, CITY)
    other_city = federation_token(api.ledger, "汝州市")
    assert deliver(api, city, city_lines()).status_code == 200
    own = api.post(
        "/v1/subjects", {"uscc": OTHER, "name": "省级直录有限公司", "kind": "enterprise"}
    )
    assert own.status_code == 201, own.text

    page = api.client.get("/v1/federation/results", headers=bearer(city)).json()
    assert [i["uscc"] for i in page["items"]] == [CODE]
    result = page["items"][0]["result"]
    assert set(result) == {"current", "year", "published", "restated"}
    assert result["current"]["uscc"] == CODE
    assert result["current"]["grade"] in {"优", "良", "中", "差"}
    assert page["next"] >= page["items"][0]["position"]
    rest = api.client.get(
        "/v1/federation/results", params={"after": page["next"]}, headers=bearer(city)
    ).json()
    assert rest["items"] == []
    assert (
        api.client.get("/v1/federation/results", headers=bearer(other_city)).json()["items"] == []
    )

    reads = api.get("/v1/audit/reads", "auditor").json()["items"]
    results = [r for r in reads if r["endpoint"] == "federation.results"]
    assert [(r["role"], r["subjects"]) for r in results] == [
        ("federation", [CODE]),
        ("federation", []),
        ("federation", []),
    ]


def test_a_subjects_upstream_is_null_and_not_different_before_any_pull(api: Api) -> None:
    token = federation_token(api.ledger, CITY)
    assert deliver(api, token, city_lines()).status_code == 200
    answer = api.get(f"/v1/subjects/{CODE}/upstream", "reader", purpose="核对省级结果")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["uscc"], body["upstream"], body["differs"], body["differences"]) == (
        CODE,
        None,
        False,
        [],
    )
    assert body["local"]["current"]["uscc"] == CODE
    assert api.get("/v1/federation/differences", "reader").json() == []
    reads = api.get("/v1/audit/reads", "auditor", uscc=CODE).json()["items"]
    assert [r["endpoint"] for r in reads] == ["subjects.upstream"]


def test_readiness_has_no_sync_part_without_an_upstream(api: Api) -> None:
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["sync"] is None
    documented = api.client.get("/openapi.json").json()["paths"]["/readyz"]["get"]["responses"]
    assert "sync-stalled" in documented["503"]["description"]


@dataclass
class Downstream:
    client: TestClient
    ledger: CreditLedger
    clock: StepClock
    upstream: str


@pytest.fixture
def downstream(store_url: str) -> Iterator[Downstream]:
    """A city service whose upstream is configured on a port nobody listens on (no sync runs),
    a record stall of 60 s, and a record clock the test moves."""
    clock = StepClock()
    upstream = f"http://127.0.0.1:{free_port()}"
    config = replace(service_config(), upstream_url=upstream, sync_stall_seconds=60.0)
    ledger = open_ledger(store_url, clock=clock)
    audit = open_audit(store_url)
    app = create_app(config, ledger=ledger, audit=audit)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Downstream(client, ledger, clock, upstream)
    ledger.close()
    audit.close()


def test_readiness_is_503_sync_stalled_naming_the_record_the_upstream_never_acknowledged(
    downstream: Downstream,
) -> None:
    ready = downstream.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["sync"] == {
        "upstream": downstream.upstream,
        "acknowledged": 0,
        "parked": 0,
        "waiting_since": None,
    }
    written = handle(
        downstream.ledger,
        command_of(
            "register_subject",
            {"uscc": CODE, "name": "舞钢市等待有限公司", "kind": "enterprise"},
            ADMIN,
        ),
    )
    position = written.position
    assert position is not None
    assert downstream.client.get("/readyz").status_code == 200  # waited less than the limit

    downstream.clock.now += timedelta(seconds=61)
    stalled = downstream.client.get("/readyz")
    assert stalled.status_code == 503, stalled.text
    assert stalled.headers["content-type"] == "application/problem+json"
    problem = stalled.json()
    assert problem["type"] == "urn:credit-ledger:problem:sync-stalled"
    assert problem["sync"]["waiting_position"] == position
    assert problem["sync"]["upstream"] == downstream.upstream
    assert f"position {position}" in problem["detail"]
    assert "credit-ledger sync" in problem["detail"]


def test_the_sync_workers_lag_is_zero_once_the_province_acknowledged_everything(api: Api) -> None:
    token = federation_token(api.ledger, CITY)
    city = CreditLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    province = TestClient(api.client.app, headers=bearer(token))
    link = Sync(city, "http://testserver", token, client=province)
    try:
        for n in range(3):
            registration = {"uscc": uscc(1_800 + n), "name": f"舞钢市滞后{n}号有限公司"}
            handle(
                city,
                command_of("register_subject", {**registration, "kind": "enterprise"}, CITY_FOOD),
            )
        report = link.catch_up()
        assert (report.delivered, report.accepted) == (3, 3)
        registry = link.metrics.registry
        assert registry.get_sample_value("credit_ledger_sync_lag_positions") == 0
        acknowledged = registry.get_sample_value("credit_ledger_sync_acknowledged_position")
        assert acknowledged == city.sync_log("http://testserver").acknowledged >= 3  # type: ignore[union-attr]
        link.catch_up()  # a quiet round: still nothing waiting
        assert registry.get_sample_value("credit_ledger_sync_lag_positions") == 0
    finally:
        city.close()
