"""Answers under faults, in process: every answer is logged and counted, store faults are named."""

from __future__ import annotations

import logging
import sqlite3
import time
import warnings
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
import pytest
from eventsourcing.persistence import OperationalError
from prometheus_client.parser import text_string_to_metric_families

from api.observability import JSONFormatter
from credit_ledger.bootstrap import open_audit, open_ledger, service
from ledger.domain.values import subject_id_for
from ledger.store.stores import StoreFull, StoreUnavailable, store_fault
from tests.api.conftest import Api, make_tokens
from tests.api.test_endpoints import CODE, fact, problem, register
from tests.support import free_port, postgres_schema

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

EVALUATION = "/v1/subjects/{uscc}/evaluation"


class _Lines(logging.Handler):
    """The access log's lines as the service writes them (its JSON formatter)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JSONFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(orjson.loads(self.format(record)))


@pytest.fixture
def access_lines() -> Iterator[list[dict[str, Any]]]:
    handler = _Lines()
    logger = logging.getLogger("credit_ledger.access")
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


def _answered(api: Api, route: str, status: int) -> float:
    text = api.client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "credit_ledger_http_requests_total"
                and sample.labels.get("route") == route
                and sample.labels.get("status") == str(status)
            ):
                return float(sample.value)
    return 0.0


def _corrupt_the_subject_s_stream(api: Api) -> None:
    """Store an event whose bytes no longer decode (as a damaged disk or a bad migration would)."""
    recorder: Any = api.ledger.recorder
    stream = subject_id_for(CODE)
    last = recorder.select_events(stream)[-1]
    with recorder.datastore.transaction(commit=True) as cursor:
        if isinstance(cursor, psycopg.Cursor):
            cursor.execute(
                f'INSERT INTO "{recorder.datastore.schema}"."{recorder.events_table_name}" '
                "(originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)",
                (stream, last.originator_version + 1, last.topic, b"{not json"),
            )
        else:
            cursor.execute(
                f"INSERT INTO {recorder.events_table_name} "
                "(originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
                (stream.hex, last.originator_version + 1, last.topic, b"{not json"),
            )


def test_an_unexpected_failure_answers_a_500_problem_that_is_logged_and_counted(
    api: Api, access_lines: list[dict[str, Any]]
) -> None:
    assert register(api).status_code == 201
    _corrupt_the_subject_s_stream(api)
    before = _answered(api, EVALUATION, 500)
    access_lines.clear()
    answer = api.get(f"/v1/subjects/{CODE}/evaluation", "reader", as_of="2024-01-01")
    body = problem(answer, 500)
    assert body["type"] == "urn:credit-ledger:problem:internal"
    assert "Traceback" not in answer.text
    logged = [line for line in access_lines if line.get("status") == 500]
    assert len(logged) == 1, access_lines
    assert logged[0]["route"] == EVALUATION
    assert logged[0]["path"] == f"/v1/subjects/{CODE}/evaluation"
    assert logged[0]["token"] is not None  # who asked is on record for failures too
    assert _answered(api, EVALUATION, 500) == before + 1


def test_refusals_and_successes_are_logged_once_each_with_their_status(
    api: Api, access_lines: list[dict[str, Any]]
) -> None:
    assert register(api).status_code == 201
    access_lines.clear()
    api.get(f"/v1/subjects/{CODE}", "reader")
    api.get("/v1/subjects/not-a-code", "reader")
    api.get("/v1/no-such-route")
    assert [line["status"] for line in access_lines] == [200, 422, 404]
    assert access_lines[2]["route"] == "unmatched"


def test_a_store_that_refuses_connections_is_unavailable() -> None:
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(host="127.0.0.1", port=free_port(), dbname="x", connect_timeout=2)
    # As the event store library raises it: its own error, the driver's as the cause.
    with pytest.raises(OperationalError) as wrapped:
        raise OperationalError(str(refused.value)) from refused.value
    assert isinstance(store_fault(wrapped.value), StoreUnavailable)


def test_an_sqlite_store_out_of_pages_is_full_and_an_sql_mistake_is_no_store_fault(
    tmp_path: Any,
) -> None:
    db = sqlite3.connect(tmp_path / "small.db", isolation_level=None)
    db.execute("CREATE TABLE t (x BLOB)")
    db.execute("PRAGMA max_page_count = 3")  # the file may not grow: as a full disk answers
    with pytest.raises(sqlite3.OperationalError) as full:
        db.execute("INSERT INTO t VALUES (randomblob(100000))")
    assert isinstance(store_fault(full.value), StoreFull)
    with pytest.raises(sqlite3.OperationalError) as mistake:
        db.execute("SELECT * FROM no_such_table")
    assert store_fault(mistake.value) is None
    db.close()


@pytest.fixture
def pg_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The service in process on a fresh PostgreSQL schema."""
    with postgres_schema() as url:
        ledger, audit = open_ledger(url), open_audit(url)
        with TestClient(service(ledger, audit), raise_server_exceptions=False) as client:
            yield Api(client, ledger, make_tokens(ledger))
        ledger.close()
        audit.close()


def _server_runs_out_of_space_writing(app: Any) -> None:
    """The server answers every insert into this log's events as a full disk does (53100)."""
    recorder: Any = app.recorder
    schema, table = recorder.datastore.schema, recorder.events_table_name
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(
            f'CREATE OR REPLACE FUNCTION "{schema}".disk_full() RETURNS trigger '
            "LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' "
            "USING ERRCODE = 'disk_full'; END $$"
        )
        cursor.execute(
            f'CREATE TRIGGER "{table}_disk_full" BEFORE INSERT ON "{schema}"."{table}" '
            f'FOR EACH ROW EXECUTE FUNCTION "{schema}".disk_full()'
        )


def test_postgresql_out_of_space_answers_507_to_writes_and_audited_reads(pg_api: Api) -> None:
    assert register(pg_api).status_code == 201
    position = pg_api.ledger.max_position()
    _server_runs_out_of_space_writing(pg_api.ledger)
    _server_runs_out_of_space_writing(pg_api.client.app.state.audit)  # type: ignore[attr-defined]
    started = time.monotonic()
    written = fact(pg_api)
    assert problem(written, 507)["type"] == "urn:credit-ledger:problem:store-full"
    assert time.monotonic() - started < 1.0  # a full disk is not retried
    read = pg_api.get(f"/v1/subjects/{CODE}/evaluation", "reader", as_of="2024-01-01")
    assert problem(read, 507)["type"] == "urn:credit-ledger:problem:store-full"
    assert pg_api.ledger.max_position() == position  # nothing was written
    assert pg_api.get(f"/v1/subjects/{CODE}", "reader").status_code == 200
