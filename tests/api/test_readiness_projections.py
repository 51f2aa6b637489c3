"""`/readyz` says when the read models cannot be brought up to date, and which, and why.

The failure is real: a read model's table is moved away while the service runs, then back.
The projector runs in the service's process (the test client) or as its own `project` worker
beside a real `credit-ledger serve`.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from credit_ledger.bootstrap import open_ledger
from ledger.domain.commands import RegisterSubject
from ledger.service.application import CreditLedger
from projections.runner import Projector
from projections.store import unescape_text
from tests.api.conftest import Api
from tests.integration.test_cli import CLI
from tests.integration.test_projection_resilience import (
    NUL_NAME,
    moved_away,
    moved_back,
    register_as_an_older_version,
)
from tests.support import SYSTEM, free_port, serving, uscc

FAILURES = re.compile(r'^credit_ledger_projector_failures_total\{projection="feed"\} (\S+)$', re.M)


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Failing projectors retry at most a second apart (set before the service starts)."""
    monkeypatch.setenv("CREDIT_LEDGER_PROJECTOR_BACKOFF_SECONDS", "1")


def eventually(check: Callable[[], Any], seconds: float = 20) -> Any:
    """The first true result of `check`, polled until `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"not so after {seconds} s: {check}"
        time.sleep(0.1)


def feed_failures(metrics: str) -> float:
    found = FAILURES.search(metrics)
    return float(found.group(1)) if found else 0.0


def register(api: Api, n: int) -> int:
    created = api.post(
        "/v1/subjects",
        {"uscc": uscc(n), "name": f"某食品有限公司{n}", "kind": "enterprise", "fields": ["food"]},
    )
    assert created.status_code == 201, created.text
    return int(created.json()["position"])


def test_readyz_is_503_naming_a_failing_projection_and_200_again_after_recovery(
    quick_retries: None, api: Api
) -> None:
    counted = feed_failures(api.client.get("/metrics").text)
    register(api, 101)
    eventually(lambda: api.get("/readyz").status_code == 200)
    projector: Projector = api.client.app.state.projector  # type: ignore[attr-defined]
    table = moved_away(projector, "feed")
    try:
        position = register(api, 102)
        refused = eventually(lambda: (r := api.get("/readyz")).status_code == 503 and r)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"] == "5"
        body = refused.json()
        assert body["status"] == 503
        assert body["type"] == "urn:credit-ledger:problem:projection-failing"
        assert "projection feed is failing since" in body["detail"]
        (failing,) = body["projections"]
        assert failing["projection"] == "feed"
        assert failing["error"] in {"ProgrammingError", "OperationalError"}
        assert table in failing["message"]
        # It keeps trying, and each attempt is counted.
        eventually(
            lambda: api.get("/readyz").json().get("projections", [{}])[0].get("failures", 0) >= 2
        )
        assert feed_failures(api.client.get("/metrics").text) >= counted + 2
        # A read that waits for the failing read model is told why it cannot have it.
        waited = api.get("/v1/feed", min_position=position)
        assert waited.status_code == 503, waited.text
        assert waited.json()["type"] == "urn:credit-ledger:problem:projection-failing"
        assert waited.json()["projections"][0]["projection"] == "feed"
    finally:
        moved_back(projector, table)
    ready = eventually(lambda: (r := api.get("/readyz")).status_code == 200 and r)
    assert ready.json()["projector_error"] is None
    feed = api.get("/v1/feed", min_position=position)
    assert feed.status_code == 200
    assert uscc(102) in [item["uscc"] for item in feed.json()["items"]]


def test_reads_with_min_position_answer_after_an_event_with_nul_was_stored(api: Api) -> None:
    ledger: CreditLedger = api.ledger
    position = register_as_an_older_version(ledger, uscc(103), NUL_NAME, description="\x00")
    worklist = api.get("/v1/fields/food/subjects", min_position=position)
    assert worklist.status_code == 200, worklist.text
    (item,) = worklist.json()["items"]
    assert item["name"] == "坏\\u0000名食品有限公司"  # the escaped text, as stored
    assert unescape_text(item["name"]) == NUL_NAME
    feed = api.get("/v1/feed", min_position=position)
    assert feed.status_code == 200
    assert [i["uscc"] for i in feed.json()["items"]] == [uscc(103), uscc(103)]
    assert api.get("/readyz").status_code == 200


def test_readyz_of_a_served_process_names_a_projection_its_external_worker_fails_on(
    store_url: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "CREDIT_LEDGER_DATABASE_URL": store_url,
        "CREDIT_LEDGER_PROJECTOR": "off",  # the `project` worker below keeps the read models
        "CREDIT_LEDGER_PROJECTOR_BACKOFF_SECONDS": "1",
    }
    ledger = open_ledger(store_url)
    worker_log = tmp_path / "project.log"
    try:
        ledger.handle(
            RegisterSubject(
                uscc=uscc(104), name="某公司", kind="enterprise", fields=["food"], actor=SYSTEM
            )
        )
        with serving(CLI, env, tmp_path) as (base, _), worker_log.open("wb") as sink:
            metrics = f"http://127.0.0.1:{(port := free_port())}/metrics"
            worker = subprocess.Popen(
                [CLI, "project", "--poll", "0.1", "--metrics-port", str(port)],
                env=env,
                stdout=sink,
                stderr=sink,
            )
            try:

                def readyz() -> httpx.Response:
                    return httpx.get(base + "/readyz", timeout=10)

                eventually(lambda: set(readyz().json().get("projection_lag", {}).values()) == {0})
                projector = Projector(ledger)
                table = moved_away(projector, "feed")
                try:
                    ledger.handle(
                        RegisterSubject(
                            uscc=uscc(105), name="某公司", kind="enterprise", actor=SYSTEM
                        )
                    )
                    refused = eventually(lambda: (r := readyz()).status_code == 503 and r)
                    assert refused.headers["content-type"] == "application/problem+json"
                    body = refused.json()
                    assert "projection feed is failing since" in body["detail"]
                    (failing,) = body["projections"]
                    assert failing["projection"] == "feed"
                    assert failing["lag"] > 0
                    assert table in failing["message"]
                    # The worker's own metrics count its failed attempts.
                    eventually(lambda: feed_failures(httpx.get(metrics, timeout=5).text) >= 1)
                finally:
                    moved_back(projector, table)
                eventually(lambda: readyz().status_code == 200)
                assert set(readyz().json()["projection_lag"].values()) == {0}
                assert worker.poll() is None  # it never stopped
            finally:
                worker.terminate()
                worker.wait(timeout=15)
    finally:
        ledger.close()
    logged = worker_log.read_text(errors="replace")
    assert '"message":"projection failed"' in logged
    assert '"projection":"feed"' in logged
    assert "Traceback" not in logged
