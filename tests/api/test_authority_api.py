"""Who may record what, over HTTP: a department's token is refused 403 outside its authority."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.api.test_endpoints import CODE, fact, problem, register


def refused(api: Api, answer: Any, loc: list[str]) -> dict[str, Any]:
    """A 403 problem naming the field, with the rule; `api.position()` is checked by callers."""
    body = problem(answer, 403)
    assert body["errors"][0]["loc"] == loc
    assert body["rule"]
    return body


def test_a_food_token_awarding_a_tax_a_level_is_refused_and_writes_nothing(api: Api) -> None:
    register(api)
    before = api.position()
    body = refused(
        api,
        fact(api, indicator="tax.a_level", document_no="纳税A级2023", decided_on="2023-04-01"),
        ["body", "indicator"],
    )
    assert body["rule"] == (
        "indicator 'tax.a_level' may be recorded by recorders of taxation, in that domain; "
        "admins always may (model PCCE-2021)"
    )
    refused(
        api,
        fact(api, indicator="tax.a_level", domain="taxation", document_no="纳税A级2023"),
        ["body", "domain"],
    )
    assert api.position() == before
    assert api.get(f"/v1/subjects/{CODE}", "reader").json()["counts"]["facts"] == 0
    awarded = fact(
        api,
        who="tax",
        indicator="tax.a_level",
        domain="taxation",
        document_no="纳税A级2023",
        decided_on="2023-04-01",
    )
    assert awarded.status_code == 201, awarded.text


def test_a_food_token_correcting_its_penalty_into_an_honour_is_refused(api: Api) -> None:
    register(api)
    fid = fact(api).json()["fact_id"]
    filed = api.post(
        f"/v1/subjects/{CODE}/objections",
        {"target_id": fid, "filed_on": "2023-03-10", "grounds": "认定错误"},
        "platform",
    )
    oid = filed.json()["objection_id"]
    before = api.position()

    def resolve(correction: dict[str, Any], who: str = "food") -> Any:
        return api.post(
            f"/v1/objections/{oid}/resolve",
            {"outcome": "corrected", "resolved_on": "2023-03-15", "correction": correction},
            who,
        )

    body = refused(api, resolve({"indicator": "honor.national"}), ["body", "correction.indicator"])
    assert body["rule"].startswith("a correction keeps the indicator's kind")
    refused(
        api, resolve({"indicator": "honor.national"}, "admin"), ["body", "correction.indicator"]
    )
    refused(api, resolve({"indicator": "wage.arrears"}), ["body", "correction.indicator"])
    assert api.position() == before
    pending = api.get("/v1/objections", "reader", uscc=CODE).json()["items"]
    assert [o["status"] for o in pending] == ["overdue"]
    corrected = resolve({"indicator": "penalty.minor"})
    assert corrected.status_code == 200, corrected.text


def test_a_food_token_listing_a_major_tax_violation_is_refused(api: Api) -> None:
    register(api)
    before = api.position()
    listing: dict[str, Any] = {
        "list_type": "major_tax_violation",
        "listed_on": "2024-05-01",
        "domain": "food",
        "document_no": "税失信〔2024〕1号",
        "authority": "国家税务总局舞钢市税务局",
    }
    refused(api, api.post(f"/v1/subjects/{CODE}/listings", listing, "food"), ["body", "list_type"])
    assert api.position() == before
    taxed = api.post(f"/v1/subjects/{CODE}/listings", {**listing, "domain": "taxation"}, "tax")
    assert taxed.status_code == 201, taxed.text


def test_a_food_token_registering_a_subject_into_taxation_is_refused(api: Api) -> None:
    before = api.position()
    refused(api, register(api, who="food", fields=["food", "taxation"]), ["body", "fields"])
    assert api.position() == before
    assert api.get(f"/v1/subjects/{CODE}", "reader").status_code == 404
    assert register(api, who="food", fields=[]).status_code == 201
    joined = api.post(
        f"/v1/subjects/{CODE}/fields", {"field": "taxation", "joined_on": "2024-01-01"}, "food"
    )
    refused(api, joined, ["body", "field"])
