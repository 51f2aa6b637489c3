"""The read side over HTTP: the change feed a department polls, and the annual results."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ledger.domain.values import CST
from tests.api.conftest import Api
from tests.api.test_endpoints import CODE, fact, register
from tests.support import uscc


def days_ago(days: int) -> str:
    return (datetime.now(CST).date() - timedelta(days=days)).isoformat()


def poll(api: Api, after: int, min_position: int | None = None) -> list[dict[str, Any]]:
    """Read the feed to its end in pages of 2, as a department system would."""
    items: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"after": after, "limit": 2}
        if min_position is not None:
            params["min_position"] = min_position
        page = api.get("/v1/feed", "reader", **params)
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["items"]
        if not body["items"]:
            return items
        after = body["next"]


def test_a_poller_sees_every_grade_change_once_in_ledger_order(api: Api) -> None:
    register(api)
    register(api, uscc(12))
    first = poll(api, 0, min_position=api.position())
    assert [i["topic"] for i in first] == ["credit.subject_registered.v1"] * 2
    cursor = first[-1]["position"]
    written = fact(api, decided_on=days_ago(40), indicator="penalty.serious").json()
    # A minor penalty of 200 days ago has lapsed by its record date: no grade change, no item.
    fact(api, decided_on=days_ago(200), indicator="penalty.minor", document_no="lapsed")
    listed = api.post(
        f"/v1/subjects/{CODE}/listings",
        {
            "list_type": "judgment_defaulter",
            "listed_on": days_ago(10),
            "domain": "food",
            "document_no": "L",
            "authority": "court",
        },
        "admin",  # the courts' list is imported by an admin (DOMAIN §4)
    ).json()
    more = poll(api, cursor, min_position=listed["position"])
    positions = [i["position"] for i in more]
    assert positions == sorted(positions)
    assert positions[0] == written["position"]
    assert [(i["score"], i["grade"], i["previous_grade"]) for i in more] == [
        ("65", "中", "良"),
        ("65", "差", "中"),
    ]
    assert more[-1]["listed"] is True
    assert poll(api, more[-1]["position"]) == []
    reads = api.get("/v1/audit/reads", "auditor").json()["items"]
    assert any(r["endpoint"] == "feed" for r in reads)


def test_the_annual_results_say_published_and_restated(api: Api) -> None:
    register(api)
    year = api.get("/v1/evaluations/2023", "reader")
    assert year.status_code == 200
    body = year.json()
    # Registered now, the subject was not in the 2023 publication but is in the restatement.
    assert sum(body["published"].values()) == 0
    assert body["restated"]["良"] == 1
    assert body["entered"] == 1
    assert body["published_known_at"] == "2023-10-31T23:59:59.999999+08:00"
    fact(api, decided_on="2023-05-01", indicator="penalty.serious")
    one = api.get(f"/v1/evaluations/2023/subjects/{CODE}", "reader").json()
    assert one["published"] is None
    assert (one["restated"]["score"], one["restated"]["grade"]) == ("65", "中")
    assert [c["topic"] for c in one["changes"]] == [
        "credit.subject_registered.v1",
        "credit.fact_recorded.v1",
    ]
    assert one["current"]["score"] == "80"  # three years from May 2023 have passed
    not_yet = api.get("/v1/evaluations/2099", "reader")
    assert not_yet.status_code == 422
    assert not_yet.json()["errors"][0]["loc"] == ["path", "year"]
