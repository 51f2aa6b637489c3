"""The library's own recorder conformance suites, run against our hash-chained recorders."""

from __future__ import annotations

import os
import tempfile
import unittest
import uuid
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import (
    ApplicationRecorderTestCase,
    NonInterleavingNotificationIDsBaseCase,
)

from ledger.store.chain import (
    COPY_FROM,
    ChainedPostgresRecorder,
    ChainedSQLiteRecorder,
    verify_chain,
)
from tests.support import PG_URL, REQUIRE_PG, postgres_available


class _SQLiteStore:
    def setUp(self) -> None:
        self.folder = tempfile.TemporaryDirectory()
        self.datastore = SQLiteDatastore(os.path.join(self.folder.name, "conformance.db"))

    def tearDown(self) -> None:
        self.folder.cleanup()

    def create_recorder(self) -> ChainedSQLiteRecorder:
        recorder = ChainedSQLiteRecorder(self.datastore)
        recorder.create_table()
        return recorder


class _AppendingSQLiteRecorder(ChainedSQLiteRecorder):
    """Every insert through `append_on`, the bulk import's write, on its own transaction."""

    def insert_events(self, stored_events: Any, **kwargs: Any) -> Any:
        with self.datastore.transaction(commit=True) as cursor:
            return self.append_on(cursor, stored_events)


class _SQLiteStoreAppending(_SQLiteStore):
    def create_recorder(self) -> ChainedSQLiteRecorder:
        recorder = _AppendingSQLiteRecorder(self.datastore)
        recorder.create_table()
        return recorder


class _PostgresStore:
    def setUp(self) -> None:
        why = postgres_available()
        if why is not None:
            if REQUIRE_PG:
                pytest.fail(why)
            pytest.skip(why)
        self.schema = f"conf_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {self.schema}")
        parts = psycopg.conninfo.conninfo_to_dict(PG_URL)
        self.datastore = PostgresDatastore(
            dbname=str(parts["dbname"]),
            host=str(parts.get("host", "127.0.0.1")),
            port=str(parts.get("port", "5432")),
            user=str(parts.get("user", "postgres")),
            password=str(parts.get("password", "")),
            schema=self.schema,
        )

    def tearDown(self) -> None:
        self.datastore.close()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {self.schema} CASCADE")

    def create_recorder(self) -> ChainedPostgresRecorder:
        recorder = ChainedPostgresRecorder(self.datastore, events_table_name="conformance_events")
        recorder.create_table()
        return recorder


class _PostgresStoreCopying(_PostgresStore):
    """Every insert, however small, through the COPY path imports use (`append_on`)."""

    def create_recorder(self) -> ChainedPostgresRecorder:
        recorder = ChainedPostgresRecorder(
            self.datastore, events_table_name="conformance_events", copy_from=1
        )
        recorder.create_table()
        return recorder


class _ChainStaysValid:
    """After each conformance test, the chain the recorder kept must verify."""

    def tearDown(self) -> None:
        recorder: Any = self.create_recorder()  # type: ignore[attr-defined]
        report = verify_chain(recorder)
        assert report.problems == (), report.problems
        super().tearDown()  # type: ignore[misc]


class TestChainedSQLiteRecorderConformance(
    _ChainStaysValid, _SQLiteStore, ApplicationRecorderTestCase[Any]
):
    pass


class TestChainedSQLiteNonInterleaving(
    _ChainStaysValid, _SQLiteStore, NonInterleavingNotificationIDsBaseCase
):
    pass


class TestAppendingSQLiteRecorderConformance(
    _ChainStaysValid, _SQLiteStoreAppending, ApplicationRecorderTestCase[Any]
):
    pass


class TestAppendingSQLiteNonInterleaving(
    _ChainStaysValid, _SQLiteStoreAppending, NonInterleavingNotificationIDsBaseCase
):
    pass


class TestChainedPostgresRecorderConformance(
    _ChainStaysValid, _PostgresStore, ApplicationRecorderTestCase[Any]
):
    pass


class TestChainedPostgresNonInterleaving(
    _ChainStaysValid, _PostgresStore, NonInterleavingNotificationIDsBaseCase
):
    pass


class TestChainedPostgresCopyRecorderConformance(
    _ChainStaysValid, _PostgresStoreCopying, ApplicationRecorderTestCase[Any]
):
    pass


class TestChainedPostgresCopyNonInterleaving(
    _ChainStaysValid, _PostgresStoreCopying, NonInterleavingNotificationIDsBaseCase
):
    pass


class TestThreeAppendPathsMakeOneChain(_PostgresStore, unittest.TestCase):
    """The server-side append, binary COPY and the library's statements chain alike."""

    def test_links_from_every_path_verify_as_one_chain(self) -> None:
        recorder = self.create_recorder()

        def events(count: int) -> list[StoredEvent]:
            return [
                StoredEvent(uuid.uuid4(), 1, "credit.test_event.v1", f'{{"n":{n}}}'.encode())
                for n in range(count)
            ]

        appended = recorder.insert_events(events(3))  # below COPY_FROM: the server function
        copied = recorder.insert_events(events(COPY_FROM))
        by_statement = recorder._insert_by_statement(events(2))
        again = recorder.insert_events(events(1))
        assert appended is not None
        assert copied is not None
        assert by_statement is not None
        assert again is not None
        positions = [*appended, *copied, *by_statement, *again]
        assert len(positions) == 3 + COPY_FROM + 2 + 1
        assert positions == sorted(set(positions))
        report = verify_chain(recorder)
        assert report.problems == ()
        assert (report.events, report.head_position) == (len(positions), positions[-1])


class TestAnApplicationSaveTakesTheFastPaths(_PostgresStore, unittest.TestCase):
    """An application's save passes `tracking=None`; it still takes the server append and COPY."""

    def test_save_with_no_tracking_takes_the_append_and_copy_paths(self) -> None:
        recorder = self.create_recorder()
        taken: list[str] = []
        for name in ("_append", "_copy_events", "_insert_by_statement"):
            original = getattr(recorder, name)

            def spy(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
                taken.append(_name)
                return _original(*args, **kw)

            setattr(recorder, name, spy)
        small = [StoredEvent(uuid.uuid4(), 1, "credit.test_event.v1", b"{}")]
        large = [
            StoredEvent(uuid.uuid4(), 1, "credit.test_event.v1", b"{}") for _ in range(COPY_FROM)
        ]
        recorder.insert_events(small, tracking=None)
        recorder.insert_events(large, tracking=None)
        assert taken == ["_append", "_copy_events"]
        assert verify_chain(recorder).problems == ()
