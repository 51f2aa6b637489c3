"""Model versions over HTTP: listed with record times, validated naming line and rule, a dry
run before publication (admin, audited), publication (admin) and the evaluation naming it."""

from __future__ import annotations

from datetime import UTC, datetime

from ledger.domain.rulebook import shipped_files
from tests.api.conftest import Api
from tests.support import uscc

GENESIS = shipped_files()["model", "PCCE-2021"]


def _model(points: str = "15") -> str:
    text = GENESIS.replace('version = "PCCE-2021"', 'version = "PCCE-2026"')
    text = text.replace("effective_from = 2021-01-01", "effective_from = 2026-01-01")
    general = '[indicators."penalty.general"]\nkind = "deduction"\npoints = "5"'
    return text.replace(general, general.replace('"5"', f'"{points}"'))


def _subject(api: Api) -> str:
    code = uscc(7101)
    body = {
        "uscc": code,
        "name": "舞钢市版本测试有限公司",
        "kind": "enterprise",
        "fields": ["food"],
    }
    assert api.post("/v1/subjects", body, "food").status_code == 201
    fact = {
        "indicator": "penalty.general",
        "decided_on": "2026-06-01",
        "domain": "food",
        "document_no": "舞市监罚〔2026〕1号",
    }
    assert api.post(f"/v1/subjects/{code}/facts", fact, "food").status_code == 201
    return code


def test_versions_are_listed_validated_dry_run_and_published_by_an_admin(api: Api) -> None:
    code = _subject(api)
    listed = api.get("/v1/models/versions", "reader", kind="model").json()["versions"]
    assert [(v["version"], v["known_from"], v["in_force_today"]) for v in listed] == [
        ("PCCE-2021", None, True)
    ]
    bad = _model().replace('above = "70"', 'above = "90"')
    refused = api.post("/v1/models/validate", {"kind": "model", "source": bad}, "reader")
    assert refused.status_code == 422, refused.text
    assert refused.json()["line"] == 22
    assert "monotone grade thresholds" in refused.json()["rule"]
    assert refused.json()["errors"][0]["loc"] == ["body", "grades[1].above"]
    ok = api.post("/v1/models/validate", {"kind": "model", "source": _model()}, "reader")
    assert ok.json() == {
        "kind": "model",
        "version": "PCCE-2026",
        "effective_from": "2026-01-01",
        "valid": True,
    }

    file = {"kind": "model", "source": _model()}
    assert api.post("/v1/models/dry-run", file, "reader").status_code == 403
    run = api.post("/v1/models/dry-run", file, "admin")
    assert run.status_code == 200, run.text
    assert run.json()["scopes"]["current"] == [{"grade_from": "良", "grade_to": "中", "count": 1}]
    assert [c["uscc"] for c in run.json()["changes"]] == [code]

    before = datetime.now(UTC).isoformat()
    publication = {**file, "reason": "舞信用办〔2026〕3号"}
    assert api.post("/v1/models/versions", publication, "reader").status_code == 403
    assert api.post("/v1/models/versions", {**publication, "source": bad}).status_code == 422
    stored = api.post("/v1/models/versions", publication, "admin")
    assert stored.status_code == 201, stored.text
    assert stored.json()["version"] == "PCCE-2026"
    assert api.post("/v1/models/versions", publication, "admin").status_code == 200

    now = api.get(f"/v1/subjects/{code}/evaluation", "reader").json()
    assert (now["model"], now["score"], now["grade"]) == ("PCCE-2026", "65", "中")
    then = api.get(f"/v1/subjects/{code}/evaluation", "reader", known_at=before).json()
    assert (then["model"], then["score"]) == ("PCCE-2021", "75")
    listed = api.get("/v1/models/versions", "reader", kind="model").json()["versions"]
    assert [(v["version"], v["in_force_today"]) for v in listed] == [
        ("PCCE-2021", False),
        ("PCCE-2026", True),
    ]
    assert listed[1]["known_from"] is not None
    assert listed[1]["position"] == stored.json()["position"]
    shown = api.get("/v1/models/versions/model/PCCE-2026", "reader").json()
    assert shown["source"] == _model()
    assert shown["reason"] == "舞信用办〔2026〕3号"
