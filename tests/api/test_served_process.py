"""The API against a real `credit-ledger serve` process, on SQLite and on PostgreSQL.

Tokens come from `credit-ledger token create`, as an operator would make them; requests go
over loopback HTTP; every call of the README's walk-through is exercised.
"""

from __future__ import annotations

import subprocess

from tests.api.conftest import Served
from tests.integration.test_cli import CLI
from tests.support import uscc


def test_the_readme_walk_through_works_against_a_served_process(served: Served) -> None:
    admin = served.token("--role", "admin", "--name", "信用办")
    food = served.token("--role", "recorder", "--field", "food", "--name", "市场监管局")
    platform = served.token("--role", "platform")
    reader = served.token("--role", "reader")
    auditor = served.token("--role", "auditor")
    code = uscc(31)

    assert served.call("GET", "/healthz").json() == {"status": "ok"}
    created = served.call(
        "POST",
        "/v1/subjects",
        admin,
        json={
            "uscc": code,
            "name": "舞钢市某食品有限公司",
            "kind": "enterprise",
            "fields": ["food"],
        },
    )
    assert created.status_code == 201
    fact = served.call(
        "POST",
        f"/v1/subjects/{code}/facts",
        food,
        json={
            "indicator": "penalty.general",
            "decided_on": "2025-03-01",
            "domain": "food",
            "document_no": "舞市监罚〔2025〕12号",
        },
    )
    assert fact.status_code == 201
    fid = fact.json()["fact_id"]
    position = fact.json()["position"]

    evaluation = served.call(
        "GET",
        f"/v1/subjects/{code}/evaluation",
        reader,
        params={"as_of": "2025-10-31", "purpose": "抽查", "min_position": position},
    )
    assert (evaluation.json()["score"], evaluation.json()["grade"]) == ("75", "良")

    objection = served.call(
        "POST",
        f"/v1/subjects/{code}/objections",
        platform,
        json={"target_id": fid, "filed_on": "2025-04-01", "grounds": "处罚已撤销"},
    ).json()
    assert objection["status"] == "pending"
    queue = served.call("GET", "/v1/objections", reader, params={"status": "overdue"}).json()
    assert [o["objection_id"] for o in queue["items"]] == [objection["objection_id"]]
    resolved = served.call(
        "POST",
        f"/v1/objections/{objection['objection_id']}/resolve",
        food,
        json={"outcome": "corrected", "resolved_on": "2025-04-10", "correction": {"void": True}},
    )
    assert resolved.status_code == 200
    after = served.call(
        "GET", f"/v1/subjects/{code}/evaluation", reader, params={"as_of": "2025-10-31"}
    ).json()
    assert after["score"] == "80"

    refused = served.call(
        "POST",
        f"/v1/subjects/{code}/facts",
        food,
        json={
            "indicator": "penalty.general",
            "decided_on": "2025-03-01",
            "domain": "taxation",
            "document_no": "x",
        },
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"

    history = served.call("GET", f"/v1/subjects/{code}/history", auditor).json()
    assert [e["topic"].split(".")[1] for e in history["events"]] == [
        "subject_registered",
        "fact_recorded",
        "objection_filed",
        "objection_resolved",
        "fact_corrected",
    ]
    reads = served.call("GET", "/v1/audit/reads", auditor, params={"uscc": code}).json()["items"]
    assert [r["endpoint"] for r in reads] == ["evaluation", "evaluation", "history"]
    assert served.call("GET", "/metrics").text.count("credit_ledger_http_requests_total") > 3


def test_a_revoked_token_is_refused_by_the_running_service(served: Served) -> None:
    reader = served.token("--role", "reader", "--name", "temporary")
    assert served.call("GET", "/v1/objections", reader).status_code == 200
    listed = subprocess.run(
        [CLI, "token", "list"],
        env=served.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    token_id = next(line.split()[1] for line in listed.splitlines() if "temporary" in line)
    subprocess.run(
        [CLI, "token", "revoke", token_id],
        env=served.env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert served.call("GET", "/v1/objections", reader).status_code == 401
