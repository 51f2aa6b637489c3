"""Every answer that carries a grade, score or tier is on the query-audit log (DOMAIN §7).

The walk calls every operation of the OpenAPI document as admin on a store with real data, and
fails when an answer carrying grades left no audit record naming the subjects it carried. A new
operation the walk does not know how to call fails it too, so nothing is skipped unseen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from starlette.responses import Response

from api.grade_reads import GradeReadLog, check_routes, grade_fields
from credit_ledger.bootstrap import service
from ledger.domain.exchange import Tally
from ledger.domain.rulebook import shipped_files
from ledger.service.audit import GradeRead, QueryAudit
from tests.api.conftest import Api
from tests.support import uscc

CODE = uscc(4_201)
OTHER = uscc(4_202)
GRADE_WORDS = re.compile(r"(?:^|_)(?:grade|score|tier)(?:_|$)")
GRADE_LABELS = {"优", "良", "中", "差"}
CONSOLE = Path(__file__).resolve().parents[2] / "api" / "console" / "static"


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def _codes(value: Any) -> set[str]:
    """Every credit code an answer names (its `uscc` fields)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "uscc" and isinstance(item, str):
                found.add(item)
            found |= _codes(item)
    elif isinstance(value, list):
        for item in value:
            found |= _codes(item)
    return found


def carries_grades(body: Any) -> bool:
    """The walk's own reading of an answer: a key naming a grade, score or tier."""
    return any(GRADE_WORDS.search(k) or k in GRADE_LABELS for k in _keys(body))


class World:
    """Real data to walk over: two subjects, facts, a listing, objection, repair and a draw."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.ids: dict[str, str] = {}
        for code in (CODE, OTHER):
            self._ok(
                "/v1/subjects",
                {
                    "uscc": code,
                    "name": f"舞钢市审计走查{code[-4:]}有限公司",
                    "kind": "enterprise",
                    "fields": ["food", "taxation"],
                },
            )
        for name, n in (("end", 1), ("revoke", 2), ("objection", 3), ("repair", 4)):
            self.ids[f"fact_{name}"] = self._ok(
                f"/v1/subjects/{CODE}/facts",
                {
                    "indicator": "penalty.general",
                    "decided_on": "2025-03-01",
                    "domain": "food",
                    "document_no": f"舞市监罚〔2025〕{n}号",
                },
            )["fact_id"]
        self.ids["listing"] = self._ok(
            f"/v1/subjects/{OTHER}/listings",
            {
                "list_type": "serious_illegal_dishonest",
                "listed_on": "2025-05-01",
                "domain": "food",
                "document_no": "舞市监名〔2025〕1号",
                "authority": "舞钢市市场监督管理局",
            },
        )["listing_id"]
        self.ids["objection"] = self._ok(
            f"/v1/subjects/{CODE}/objections",
            {
                "target_id": self.ids["fact_objection"],
                "filed_on": "2025-04-01",
                "grounds": "处罚主体认定错误",
            },
        )["objection_id"]
        self.ids["repair"] = self._ok(
            f"/v1/subjects/{CODE}/repairs",
            {
                "target_id": self.ids["fact_repair"],
                "requested_on": "2025-07-01",
                "commitment": "已整改",
            },
        )["repair_id"]
        self._ok(
            f"/v1/subjects/{CODE}/industry-evaluations",
            {"domain": "food", "evaluated_on": "2025-06-30", "score": "90", "model": "食品2025"},
        )
        self.api.client.put(
            "/v1/fields/food/inspectors",
            json={"inspectors": ["张伟", "王芳", "李娜"]},
            headers=api.headers("admin"),
        )
        self.ids["draw"] = self._ok(
            "/v1/inspections/draws",
            {"field": "food", "as_of": "2025-06-01", "seed": "审计走查"},
        )["draw_id"]
        self.position = api.position()

    def _ok(self, path: str, body: Any) -> Any:
        answer = self.api.post(path, body)
        assert answer.status_code in (200, 201), (path, answer.text)
        return answer.json()


Request = Callable[[World], tuple[str, dict[str, Any], Any]]


def _get(path: str, **params: Any) -> Request:
    return lambda w: (path.format(**w.ids, uscc=CODE), params, None)


def _body(path: str, body: Callable[[World], Any], **params: Any) -> Request:
    return lambda w: (path.format(**w.ids, uscc=CODE), params, body(w))


def _renamed() -> str:
    """The shipped model under another name: published, it changes no grade of the walk."""
    return shipped_files()["model", "PCCE-2021"].replace('"PCCE-2021"', '"PCCE-WALK"')


def _lower_base() -> str:
    """A model that would lower every score (its dry run answers grades)."""
    return _renamed().replace('"PCCE-WALK"', '"PCCE-LOW"').replace('base = "80"', 'base = "40"')


#: How to call each operation of the OpenAPI document; a new operation must be added here.
CALLS: dict[tuple[str, str], Request] = {
    ("GET", "/healthz"): _get("/healthz"),
    ("GET", "/v1/subjects/{uscc}/upstream"): _get("/v1/subjects/{uscc}/upstream"),
    ("GET", "/v1/federation/differences"): _get("/v1/federation/differences"),
    ("GET", "/v1/federation/inbox"): _get("/v1/federation/inbox"),
    ("GET", "/v1/federation/parked"): _get("/v1/federation/parked"),
    ("GET", "/v1/federation/state"): _get("/v1/federation/state"),
    # Both answer 403 to an admin: only a federation token delivers and reads its results
    # (tests/api/test_federation_http.py reads them with one, audited).
    ("GET", "/v1/federation/results"): _get("/v1/federation/results"),
    ("POST", "/v1/federation/deliveries"): _body(
        "/v1/federation/deliveries", lambda w: {"items": []}
    ),
    # An empty exchange batch: checked and taken, it answers counts and no grades.
    ("POST", "/v1/federation/exchange"): _body(
        "/v1/federation/exchange",
        lambda w: {
            "manifest": Tally().manifest("walk", 0, datetime.now(UTC)).json(),
            "deliveries": "",
        },
    ),
    ("GET", "/readyz"): _get("/readyz"),
    ("GET", "/metrics"): _get("/metrics"),
    ("POST", "/v1/subjects"): _body(
        "/v1/subjects",
        lambda w: {"uscc": uscc(4_203), "name": "走查新主体", "kind": "enterprise"},
    ),
    ("GET", "/v1/subjects/{uscc}"): _get("/v1/subjects/{uscc}"),
    ("POST", "/v1/subjects/{uscc}/facts"): _body(
        "/v1/subjects/{uscc}/facts",
        lambda w: {
            "indicator": "penalty.general",
            "decided_on": "2025-08-01",
            "domain": "food",
            "document_no": "舞市监罚〔2025〕9号",
        },
    ),
    ("POST", "/v1/subjects/{uscc}/facts/{fact_id}/end"): _body(
        "/v1/subjects/{uscc}/facts/{fact_end}/end",
        lambda w: {"ended_on": "2025-09-01", "reason": "整改完毕"},
    ),
    ("POST", "/v1/subjects/{uscc}/facts/{fact_id}/revoke"): _body(
        "/v1/subjects/{uscc}/facts/{fact_revoke}/revoke", lambda w: {"reason": "复议撤销"}
    ),
    ("POST", "/v1/subjects/{uscc}/listings"): _body(
        "/v1/subjects/{uscc}/listings",
        lambda w: {
            "list_type": "judgment_defaulter",
            "listed_on": "2025-05-02",
            "domain": "food",
            "document_no": "舞市监名〔2025〕2号",
            "authority": "舞钢市市场监督管理局",
        },
    ),
    ("POST", "/v1/subjects/{uscc}/listings/{listing_id}/delist"): lambda w: (
        f"/v1/subjects/{OTHER}/listings/{w.ids['listing']}/delist",
        {},
        {"delisted_on": "2025-08-01", "reason": "repaired"},
    ),
    ("POST", "/v1/subjects/{uscc}/objections"): _body(
        "/v1/subjects/{uscc}/objections",
        lambda w: {"target_id": w.ids["fact_end"], "filed_on": "2025-04-02", "grounds": "另议"},
    ),
    ("POST", "/v1/subjects/{uscc}/repairs"): _body(
        "/v1/subjects/{uscc}/repairs",
        lambda w: {
            "target_id": w.ids["fact_end"],
            "requested_on": "2025-07-02",
            "commitment": "诺",
        },
    ),
    ("POST", "/v1/subjects/{uscc}/industry-evaluations"): _body(
        "/v1/subjects/{uscc}/industry-evaluations",
        lambda w: {
            "domain": "taxation",
            "evaluated_on": "2025-06-30",
            "native_grade": "B",
            "model": "纳税信用",
        },
        purpose="walk",
    ),
    ("GET", "/v1/subjects/{uscc}/evaluation"): _get(
        "/v1/subjects/{uscc}/evaluation", as_of="2025-10-31", purpose="walk"
    ),
    ("GET", "/v1/subjects/{uscc}/supervision"): _get(
        "/v1/subjects/{uscc}/supervision", field="food", purpose="walk"
    ),
    ("POST", "/v1/subjects/{uscc}/fields"): _body(
        "/v1/subjects/{uscc}/fields", lambda w: {"field": "drugs", "joined_on": "2025-01-01"}
    ),
    ("POST", "/v1/subjects/{uscc}/fields/{field}/leave"): _body(
        "/v1/subjects/{uscc}/fields/drugs/leave", lambda w: {"left_on": "2025-02-01"}
    ),
    ("GET", "/v1/subjects/{uscc}/history"): _get("/v1/subjects/{uscc}/history", purpose="walk"),
    ("POST", "/v1/subjects/{uscc}/erase"): _body(
        "/v1/subjects/{uscc}/erase", lambda w: {"reason": "walk"}
    ),
    ("POST", "/v1/persons/lookup"): _body(
        "/v1/persons/lookup", lambda w: {"id_number": "410481199003071232"}
    ),
    ("POST", "/v1/objections/{objection_id}/resolve"): _body(
        "/v1/objections/{objection}/resolve",
        lambda w: {"outcome": "rejected", "resolved_on": "2025-04-10"},
    ),
    ("GET", "/v1/objections"): _get("/v1/objections"),
    ("POST", "/v1/repairs/{repair_id}/decide"): _body(
        "/v1/repairs/{repair}/decide",
        lambda w: {"approved": True, "decided_on": "2025-07-10", "reason": "符合条件"},
    ),
    ("POST", "/v1/repairs/{repair_id}/revoke"): _body(
        "/v1/repairs/{repair}/revoke",
        lambda w: {"revoked_on": "2025-08-10", "reason": "材料虚假"},
    ),
    ("GET", "/v1/repairs"): _get("/v1/repairs"),
    ("GET", "/v1/evaluations/{year}"): _get("/v1/evaluations/2025", purpose="walk"),
    ("GET", "/v1/evaluations/{year}/subjects/{uscc}"): _get(
        "/v1/evaluations/2025/subjects/{uscc}", purpose="walk"
    ),
    ("POST", "/v1/evaluations:batch"): _body(
        "/v1/evaluations:batch",
        lambda w: {"uscc": [CODE, uscc(4_299), OTHER], "as_of": "2025-10-31", "purpose": "walk"},
    ),
    ("GET", "/v1/feed"): _get("/v1/feed", after=0, limit=1000, purpose="walk"),
    ("GET", "/v1/fields"): _get("/v1/fields"),
    ("GET", "/v1/fields/{field}/subjects"): _get("/v1/fields/food/subjects", purpose="walk"),
    ("PUT", "/v1/fields/{field}/inspectors"): _body(
        "/v1/fields/taxation/inspectors", lambda w: {"inspectors": ["赵一", "钱二"]}
    ),
    ("POST", "/v1/inspections/draws"): _body(
        "/v1/inspections/draws",
        lambda w: {"field": "taxation", "as_of": "2025-07-01", "seed": "走查-税务"},
        purpose="walk",
    ),
    ("GET", "/v1/inspections/draws/{draw_id}"): _get("/v1/inspections/draws/{draw}"),
    ("GET", "/v1/inspections/draws/{draw_id}/verify"): _get("/v1/inspections/draws/{draw}/verify"),
    ("GET", "/v1/inspections/draws/{draw_id}/population"): _get(
        "/v1/inspections/draws/{draw}/population", purpose="walk"
    ),
    ("POST", "/v1/inspections/draws/{draw_id}/results"): _body(
        "/v1/inspections/draws/{draw}/results",
        lambda w: {"uscc": CODE, "outcome": "passed", "inspected_on": "2025-06-10"},
    ),
    ("GET", "/v1/me"): _get("/v1/me"),
    ("GET", "/v1/models"): _get("/v1/models"),
    ("GET", "/v1/models/versions"): _get("/v1/models/versions"),
    ("GET", "/v1/models/versions/{kind}/{version}"): _get("/v1/models/versions/model/PCCE-2021"),
    ("POST", "/v1/models/validate"): _body(
        "/v1/models/validate", lambda w: {"kind": "model", "source": _lower_base()}
    ),
    ("POST", "/v1/models/dry-run"): _body(
        "/v1/models/dry-run", lambda w: {"kind": "model", "source": _lower_base()}
    ),
    ("POST", "/v1/models/versions"): _body(
        "/v1/models/versions",
        lambda w: {"kind": "model", "source": _renamed(), "reason": "走查"},
    ),
    ("GET", "/v1/audit/reads"): _get("/v1/audit/reads", limit=1000, purpose="walk"),
}

#: The operations that must answer grades on this data (so the walk cannot pass vacuously).
GRADE_ANSWERS = {
    ("POST", "/v1/subjects/{uscc}/industry-evaluations"),
    ("GET", "/v1/subjects/{uscc}/evaluation"),
    ("GET", "/v1/subjects/{uscc}/supervision"),
    ("GET", "/v1/subjects/{uscc}/history"),
    ("GET", "/v1/evaluations/{year}"),
    ("GET", "/v1/evaluations/{year}/subjects/{uscc}"),
    ("POST", "/v1/evaluations:batch"),
    ("GET", "/v1/feed"),
    ("GET", "/v1/fields/{field}/subjects"),
    ("POST", "/v1/inspections/draws"),
    ("GET", "/v1/inspections/draws/{draw_id}"),
    ("GET", "/v1/inspections/draws/{draw_id}/population"),
    ("GET", "/v1/audit/reads"),
    ("POST", "/v1/models/dry-run"),
    ("GET", "/v1/subjects/{uscc}/upstream"),
}


def _audit(api: Api) -> QueryAudit:
    audit: QueryAudit = api.client.app.state.audit  # type: ignore[attr-defined]
    return audit


def _records_after(audit: QueryAudit, position: int) -> list[tuple[int, GradeRead.Recorded]]:
    found, _ = audit.reads(after=position, limit=100_000, scan=100_000)
    return found


def test_every_operation_that_answers_a_grade_writes_an_audit_record_naming_its_subjects(
    api: Api,
) -> None:
    world = World(api)
    admin = api.get("/v1/me").json()["token_id"]
    operations = [
        (method.upper(), path)
        for path, ops in api.client.get("/openapi.json").json()["paths"].items()
        for method in ops
    ]
    unknown = sorted(set(operations) - set(CALLS))
    assert not unknown, f"new operations: add a call to CALLS so the walk covers them: {unknown}"

    audit = _audit(api)
    last = max([p for p, _ in _records_after(audit, 0)], default=0)
    answered: dict[tuple[str, str], bool] = {}
    unaudited: list[str] = []
    for method, template in operations:
        path, params, body = CALLS[(method, template)](world)
        declared = _parameters(api, template)
        if "min_position" in declared:
            params = {**params, "min_position": world.position}
        if "purpose" in declared:
            params = {**params, "purpose": "walk"}
        answer = api.client.request(
            method, path, params=params, json=body, headers=api.headers("admin")
        )
        assert answer.status_code < 500, (method, path, answer.text)
        records = _records_after(audit, last)
        last = max([p for p, _ in records], default=last)
        if answer.status_code >= 300 or "json" not in answer.headers.get("content-type", ""):
            continue
        content = answer.json()
        answered[(method, template)] = carries_grades(content)
        if not carries_grades(content):
            continue
        if not records:
            unaudited.append(f"{method} {template}")
            continue
        for _, record in records:
            assert (record.token_id, record.role) == (admin, "admin"), record
            assert (record.query or "").startswith(f"{method} "), record
            assert record.purpose == "walk", record  # every grade route takes a purpose
        carried = {s for _, r in records for s in r.subjects}
        assert _codes(content) <= carried, (method, template, _codes(content) - carried)
    assert not unaudited, f"answers carried grades without an audit record: {unaudited}"
    missing = sorted(GRADE_ANSWERS - {op for op, graded in answered.items() if graded})
    assert not missing, f"these should have answered grades on this data: {missing}"


def _parameters(api: Api, template: str) -> set[str]:
    doc = api.client.get("/openapi.json").json()["paths"][template]
    return {p["name"] for op in doc.values() for p in op.get("parameters", [])}


def test_a_worklist_read_names_every_subject_on_the_page_for_an_auditor_asking_by_subject(
    api: Api,
) -> None:
    world = World(api)
    page = api.get(
        "/v1/fields/food/subjects", "reader", min_position=world.position, purpose="抽查前核查"
    ).json()
    assert {i["uscc"] for i in page["items"]} == {CODE, OTHER}
    for code in (CODE, OTHER):
        reads = api.get("/v1/audit/reads", "auditor", uscc=code).json()["items"]
        worklist = [r for r in reads if r["endpoint"] == "worklist"]
        assert len(worklist) == 1, reads
        assert worklist[0]["purpose"] == "抽查前核查"
        assert worklist[0]["count"] == 2
        assert worklist[0]["role"] == "reader"
        assert sorted(worklist[0]["subjects"]) == sorted([CODE, OTHER])
        assert worklist[0]["query"].startswith("GET /v1/fields/food/subjects?")


def test_a_draw_and_its_population_are_audited_with_the_subjects_they_carry(api: Api) -> None:
    world = World(api)
    draw_id = world.ids["draw"]
    population = api.get(f"/v1/inspections/draws/{draw_id}/population", "reader").json()
    drawn = api.get(f"/v1/inspections/draws/{draw_id}", "reader").json()
    reads = api.get("/v1/audit/reads", "auditor", limit=1000).json()["items"]
    by_reader = [r for r in reads if r["role"] == "reader"]
    assert [r["endpoint"] for r in by_reader] == ["draw.population", "draw"]
    assert sorted(by_reader[0]["subjects"]) == sorted(m["uscc"] for m in population["members"])
    assert sorted(by_reader[1]["subjects"]) == sorted(s["uscc"] for s in drawn["selected"])
    made = [r for r in reads if r["endpoint"] == "draw" and r["role"] == "admin"]
    assert len(made) == 1  # the draw's own answer, when it was made


class _Graded(BaseModel):
    uscc: str
    grade: str


def _bare_app(api: Api) -> FastAPI:
    audit = _audit(api)
    return service(api.ledger, audit)


def test_a_route_that_serves_grades_without_recording_them_is_withheld_by_the_guard(
    api: Api,
) -> None:
    app = _bare_app(api)

    # Added after the app was built, so only the guard stands between it and the client.
    @app.get("/sneaky", response_model=None)
    def sneaky() -> dict[str, str]:
        return {"uscc": CODE, "grade": "良"}

    @app.get("/sneaky.csv", response_model=None)
    def sneaky_csv() -> Response:
        return Response(
            '\ufeff"uscc","name","tier"\r\n"x","y","reduced"\r\n', media_type="text/csv"
        )

    @app.get("/recorded", response_model=None)
    def recorded(reads: GradeReadLog) -> dict[str, str]:
        reads.record("test", [CODE], grade="良")
        return {"uscc": CODE, "grade": "良"}

    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/sneaky", "/sneaky.csv"):
            withheld = client.get(path)
            assert withheld.status_code == 500, path
            assert withheld.headers["content-type"] == "application/problem+json"
            assert "no audit record" in withheld.json()["detail"]
            assert CODE not in withheld.text
        served = client.get("/recorded", headers=api.headers("reader"))
        assert served.status_code == 200
        assert served.json() == {"uscc": CODE, "grade": "良"}
    reads = api.get("/v1/audit/reads", "auditor", uscc=CODE).json()["items"]
    assert [r["endpoint"] for r in reads] == ["test"]


def test_a_service_with_a_grade_route_that_does_not_take_the_audit_dependency_will_not_start(
    api: Api,
) -> None:
    app = _bare_app(api)

    @app.get("/v1/unrecorded", response_model=list[_Graded])
    def unrecorded() -> list[_Graded]:
        return []

    with pytest.raises(RuntimeError, match=r"GET /v1/unrecorded \(answers grade\)"):
        check_routes(app)
    route = next(r for r in app.routes if getattr(r, "path", "") == "/v1/unrecorded")
    assert grade_fields(route) == ["grade"]  # type: ignore[arg-type]


def test_every_api_path_the_console_calls_is_an_operation_of_the_walk(api: Api) -> None:
    # A segment `{name}` of a route and `${expr}` of a script both stand for any segment.
    templates = [re.sub(r"\{[^}]+\}", "*", path) for _, path in CALLS]
    called = {
        re.sub(r"\$\{[^}]+\}", "*", found)
        for script in CONSOLE.glob("*.js")
        for found in re.findall(r"[`\"'](/v1/[^`\"'?]*)", script.read_text())
    }
    assert len(called) >= 8, called

    def same(a: str, b: str) -> bool:
        x, y = a.rstrip("/").split("/"), b.rstrip("/").split("/")
        return len(x) == len(y) and all(p == q or "*" in (p, q) for p, q in zip(x, y, strict=True))

    for path in called:
        assert any(same(path, t) for t in templates), path
    # The console's own pages and scripts answer no grades of their own.
    with TestClient(_bare_app(api)) as client:
        pages = ["/console", *(f"/console/static/{p.name}" for p in CONSOLE.glob("*.[jc]s*"))]
        for page in pages:
            answer = client.get(page)
            assert answer.status_code == 200, page
            assert "json" not in answer.headers["content-type"]
