"""Supervision over HTTP: tiers, worklists, draws anyone can verify from the seed, results."""

from __future__ import annotations

import hashlib
import math
from decimal import Decimal
from typing import Any

from tests.api.conftest import Api
from tests.api.test_endpoints import problem
from tests.support import uscc


def field_of(api: Api, n: int = 12) -> list[str]:
    codes = []
    for i in range(n):
        code = uscc(900 + i)
        api.post(
            "/v1/subjects",
            {"uscc": code, "name": f"食品{i}", "kind": "enterprise", "fields": ["food"]},
        )
        codes.append(code)
        if i % 3 == 0:
            api.post(
                f"/v1/subjects/{code}/facts",
                {
                    "indicator": "penalty.serious",
                    "decided_on": "2025-01-02",
                    "domain": "food",
                    "document_no": f"s{i}",
                },
                "food",
            )
        if i % 6 == 0:
            listed = api.post(
                f"/v1/subjects/{code}/listings",
                {
                    "list_type": "judgment_defaulter",
                    "listed_on": "2025-01-03",
                    "domain": "food",
                    "document_no": f"l{i}",
                    "authority": "法院",
                },
                "admin",  # imported from the courts' list: admins only (DOMAIN §4)
            )
            assert listed.status_code == 201, listed.text
    return codes


def test_the_tier_of_a_subject_in_a_field_with_its_basis_and_the_read_audited(api: Api) -> None:
    codes = field_of(api, 7)
    listed = api.get(
        f"/v1/subjects/{codes[0]}/supervision",
        "reader",
        field="food",
        as_of="2025-06-01",
        purpose="检查前",
    ).json()
    assert (listed["tier"], listed["basis"], listed["grade"], listed["ratio"]) == (
        "intensified",
        "listing",
        "D",
        "0.30",
    )
    plain = api.get(
        f"/v1/subjects/{codes[1]}/supervision", "reader", field="food", as_of="2025-06-01"
    ).json()
    assert (
        plain["tier"],
        plain["basis"],
        plain["grade"],
        plain["ratio"],
        plain["max_per_year"],
    ) == ("reduced", "public", "B", "0.02", 1)
    reads = api.get("/v1/audit/reads", "auditor", uscc=codes[0]).json()["items"]
    assert [(r["endpoint"], r["purpose"], r["grade"]) for r in reads] == [
        ("supervision", "检查前", "D")
    ]
    problem(api.get(f"/v1/subjects/{codes[1]}/supervision", "reader", field="fishing"), 422)


def test_a_department_lists_its_intensified_subjects(api: Api) -> None:
    codes = field_of(api)
    position = api.position()
    listed = api.get(
        "/v1/fields/food/subjects", "reader", tier="intensified", min_position=position
    ).json()
    assert [i["uscc"] for i in listed["items"]] == sorted([codes[0], codes[6]])
    assert listed["counts"] == {"reduced": 8, "regular": 2, "intensified": 2}
    regular = api.get("/v1/fields/food/subjects", "reader", grade="C").json()["items"]
    assert {i["uscc"] for i in regular} == {codes[3], codes[9]}
    page = api.get("/v1/fields/food/subjects", "reader", limit=5).json()
    assert len(page["items"]) == 5
    rest = api.get("/v1/fields/food/subjects", "reader", after=page["next"], limit=100).json()
    assert len(rest["items"]) == 7


def recompute(seed: str, members: list[dict[str, Any]], ratios: dict[str, str]) -> set[str]:
    """What anyone holding the seed and the population can do, in a few lines."""
    chosen: set[str] = set()
    for grade in {m["grade"] for m in members}:
        stratum = sorted(
            (m["uscc"] for m in members if m["grade"] == grade),
            key=lambda u: hashlib.sha256(f"{seed}|{u}".encode()).hexdigest(),
        )
        chosen |= set(stratum[: math.ceil(Decimal(ratios[grade]) * len(stratum))])
    return chosen


def test_a_draw_is_recorded_and_anyone_can_verify_it_from_the_seed(api: Api) -> None:
    field_of(api)
    pool = api.client.put(
        "/v1/fields/food/inspectors",
        json={"inspectors": ["甲", "乙", "丙"]},
        headers=api.headers("food"),
    )
    assert pool.status_code == 200
    made = api.post(
        "/v1/inspections/draws",
        {"field": "food", "as_of": "2025-06-01", "seed": "舞钢市场监管2025-06"},
        "food",
    )
    assert made.status_code == 201
    body = made.json()
    assert body["seed"] == "舞钢市场监管2025-06"
    assert {k: v[0] for k, v in body["strata"].items()} == {"B": 8, "C": 2, "D": 2}
    population = api.get(f"/v1/inspections/draws/{body['draw_id']}/population", "reader").json()
    members = population["members"]
    lines = "\n".join(f"{m['uscc']}|{m['grade']}" for m in sorted(members, key=lambda m: m["uscc"]))
    assert hashlib.sha256(lines.encode()).hexdigest() == body["population_digest"]
    ratios = {"A": "0.01", "B": "0.02", "C": "0.10", "D": "0.30"}  # food: Henan's 2%
    assert {s["uscc"] for s in body["selected"]} == recompute(body["seed"], members, ratios)
    verified = api.get(f"/v1/inspections/draws/{body['draw_id']}/verify", "reader").json()
    assert verified == {"draw_id": body["draw_id"], "valid": True, "differences": []}
    generated = api.post("/v1/inspections/draws", {"field": "food", "as_of": "2025-06-01"}, "food")
    assert len(generated.json()["seed"]) == 32
    problem(api.post("/v1/inspections/draws", {"field": "food", "as_of": "2025-06-01"}, "tax"), 403)
    problem(
        api.post("/v1/inspections/draws", {"field": "food", "as_of": "2025-06-01"}, "reader"), 403
    )


def test_inspection_results_are_recorded_by_the_field_s_recorder_only(api: Api) -> None:
    field_of(api)
    body = api.post(
        "/v1/inspections/draws", {"field": "food", "as_of": "2025-06-01", "seed": "r"}, "food"
    ).json()
    drawn = body["selected"][0]["uscc"]
    path = f"/v1/inspections/draws/{body['draw_id']}/results"
    result = {
        "uscc": drawn,
        "outcome": "finding",
        "inspected_on": "2025-06-05",
        "indicator": "penalty.minor",
        "document_no": "舞市监罚〔2025〕5号",
    }
    problem(api.post(path, result, "tax"), 403)
    recorded = api.post(path, result, "food")
    assert recorded.status_code == 201
    assert recorded.json()["fact_id"]
    assert api.post(path, result, "food").status_code == 200
    history = api.get(f"/v1/subjects/{drawn}/history", "auditor").json()["events"]
    assert [e["topic"] for e in history[-2:]] == [
        "credit.inspection_result_recorded.v1",
        "credit.fact_recorded.v1",
    ]
    problem(api.post(path, {**result, "uscc": uscc(3)}, "food"), 422)


def test_a_subject_joins_and_leaves_a_field(api: Api) -> None:
    code = uscc(950)
    api.post("/v1/subjects", {"uscc": code, "name": "n", "kind": "enterprise", "fields": []})
    joined = api.post(
        f"/v1/subjects/{code}/fields", {"field": "food", "joined_on": "2025-01-01"}, "food"
    )
    assert joined.json()["changed"] is True
    assert api.get(f"/v1/subjects/{code}", "reader").json()["fields"] == ["food"]
    problem(
        api.post(
            f"/v1/subjects/{code}/fields", {"field": "taxation", "joined_on": "2025-01-01"}, "food"
        ),
        403,
    )
    left = api.post(f"/v1/subjects/{code}/fields/food/leave", {"left_on": "2025-09-01"}, "food")
    assert left.json()["changed"] is True
    assert api.get(f"/v1/subjects/{code}", "reader").json()["fields"] == []
