"""GET /v1/models: the rules the ledger grades with, as data, equal to what the ledger applies."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ledger.domain.catalog import industry_grading
from ledger.domain.model import default_models
from ledger.domain.rules.supervision import default_policies
from tests.api.conftest import Api
from tests.support import uscc

#: The bounds of the shipped model's bands and the values just above them.
BOUNDARY_SCORES = ["0", "50", "50.01", "70", "70.01", "85", "85.01", "100"]


def _named(bands: list[dict[str, Any]], value: Decimal, key: str) -> str:
    """The band the answer names for a value: the first whose bound the value is above."""
    return str(next(b[key] for b in bands if b["above"] is None or value > Decimal(b["above"])))


def _models(api: Api, who: str = "reader") -> Any:
    answer = api.get("/v1/models", who)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_served_bands_name_the_grade_the_evaluation_computes_at_each_boundary(
    api: Api,
) -> None:
    served = {m["version"]: m for m in _models(api)["models"]}
    assert set(served) == {m.version for m in default_models().models}
    for model in default_models().models:
        bands = served[model.version]["bands"]
        assert [(b["code"], b["label"]) for b in bands] == [(g.code, g.label) for g in model.grades]
        for score in BOUNDARY_SCORES:
            assert _named(bands, Decimal(score), "code") == model.grade_for(Decimal(score)).code
    assert [b["label"] for b in served["PCCE-2021"]["bands"]] == ["优", "良", "中", "差"]


@pytest.mark.parametrize(
    ("facts", "score"),
    [
        ([], "80"),
        (["penalty.general", "penalty.general"], "70"),
        (["penalty.serious", "penalty.serious"], "50"),
        (["tax.a_level"], "85"),
        (["tax.a_level", "honor.municipal"], "87"),
    ],
)
def test_an_evaluation_at_a_band_bound_is_graded_as_the_served_bands_say(
    api: Api, facts: list[str], score: str
) -> None:
    code = uscc(4_300 + len(facts) * 7 + int(score))
    created = api.post(
        "/v1/subjects",
        {"uscc": code, "name": "舞钢市等级边界有限公司", "kind": "enterprise", "fields": ["food"]},
    )
    assert created.status_code == 201, created.text
    for n, indicator in enumerate(facts, 1):
        recorded = api.post(
            f"/v1/subjects/{code}/facts",
            {
                "indicator": indicator,
                "decided_on": "2025-03-01",
                "domain": "food",
                "document_no": f"舞市监〔2025〕{n}号",
            },
        )
        assert recorded.status_code == 201, recorded.text
    evaluation = api.get(
        f"/v1/subjects/{code}/evaluation", as_of="2025-10-31", purpose="band bounds"
    ).json()
    assert evaluation["score"] == score
    model = next(m for m in _models(api)["models"] if m["version"] == evaluation["model"])
    assert evaluation["score_grade"] == _named(model["bands"], Decimal(score), "label")
    assert evaluation["grade_en"] == _named(model["bands"], Decimal(score), "code")


def test_the_served_industry_bands_and_supervision_rows_are_the_ones_applied(api: Api) -> None:
    served = _models(api)
    industry = served["industry"]
    for score in BOUNDARY_SCORES:
        letter = industry_grading().grade("food", Decimal(score), None)
        assert _named(industry["bands"], Decimal(score), "letter") == letter
    assert industry["native"]["taxation"]["M"] == industry_grading().grade("taxation", None, "M")
    policies = {p.version: p for p in default_policies().policies}
    for answer in served["supervision"]:
        policy = policies[answer["version"]]
        assert {x["label"]: x["letter"] for x in answer["public_letters"]} == (
            policy.public_to_letter
        )
        overrides = {f: {r["letter"]: r for r in rows} for f, rows in answer["fields"].items()}
        default = {r["letter"]: r for r in answer["default"]}
        for field in ("food", "taxation"):
            for letter in "ABCD":
                row = overrides.get(field, {}).get(letter, default[letter])
                rule = policy.rule(field, letter)
                assert (row["supervision"], Decimal(row["ratio"]), row["max_per_year"]) == (
                    rule.tier,
                    rule.ratio,
                    rule.max_per_year,
                )


def test_the_indicators_and_authority_are_served_as_the_model_file_states_them(
    api: Api,
) -> None:
    served = _models(api)["models"][-1]
    model = default_models().models[-1]
    general = served["indicators"]["penalty.general"]
    assert general == {
        "code": "penalty.general",
        "kind": "deduction",
        "points": "5",
        "period": {"months": 12, "until_ended": False},
        "severity": "general",
        "name_zh": "一般行政处罚",
    }
    assert set(served["indicators"]) == set(model.indicators)
    assert served["override_code"] == model.override_grade
    assert served["override_list_types"] == sorted(model.override_list_types)
    for code, recorders in model.authority.indicators.items():
        entry = served["authority"]["indicators"][code]
        assert (entry["any_field"], entry["fields"]) == (
            recorders.any_field,
            sorted(recorders.fields),
        )
    assert set(served["authority"]["list_types"]) == set(model.authority.list_types)
    assert served["repair_minimum"]["serious"] == {"months": 12, "until_ended": False}


def test_the_models_are_for_readers_and_leave_no_audit_record(api: Api) -> None:
    audit = api.client.app.state.audit  # type: ignore[attr-defined]
    before, _ = audit.reads(after=0, limit=100_000, scan=100_000)
    for who in ("reader", "food", "auditor", "admin"):
        assert api.get("/v1/models", who).status_code == 200, who
    assert api.get("/v1/models", None).status_code == 401
    refused = api.get("/v1/models", "platform")
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    after, _ = audit.reads(after=0, limit=100_000, scan=100_000)
    assert len(after) == len(before)


def test_the_models_answer_is_documented_in_the_openapi(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    operation = doc["paths"]["/v1/models"]["get"]
    assert operation["tags"] == ["models"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ModelsOut"}
    assert {"401", "403"} <= set(operation["responses"])
    models = doc["components"]["schemas"]["ModelsOut"]["properties"]
    assert {"models", "industry", "supervision"} <= set(models)
    band = doc["components"]["schemas"]["BandOut"]["properties"]
    assert {"code", "label", "above"} <= set(band)
