"""Stored events cannot be changed through the database, and a change behind its back is found."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import psycopg
import pytest

from credit_ledger.bootstrap import open_ledger
from ledger.domain.commands import RecordFact, RegisterSubject
from ledger.service.application import CreditLedger
from ledger.store.chain import verify_chain
from tests.support import PG_URL, SYSTEM, postgres_schema, uscc


def _fill(app: CreditLedger) -> None:
    for n in range(3):
        app.handle(
            RegisterSubject(
                uscc=uscc(n), name=f"n{n}", kind="enterprise", fields=["food"], actor=SYSTEM
            )
        )
        app.handle(
            RecordFact(
                uscc=uscc(n),
                indicator="penalty.minor",
                decided_on=date(2024, 1, 1),
                domain="food",
                document_no=f"d{n}",
                actor=SYSTEM,
            )
        )


def test_sqlite_refuses_updates_and_deletes_and_verify_finds_a_change_behind_its_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.db"
    app = open_ledger(f"sqlite:///{path}")
    _fill(app)
    honest = verify_chain(app.recorder)
    assert (honest.problems, honest.events) == ((), 6)
    app.close()
    conn = sqlite3.connect(path)
    for statement in (
        "UPDATE stored_events SET state = x'00' WHERE rowid = 2",
        "DELETE FROM stored_events WHERE rowid = 2",
        "UPDATE stored_events_chain SET link = 'x'",
    ):
        with pytest.raises(sqlite3.DatabaseError, match="immutable"):
            conn.execute(statement)
    # Someone with the file drops the trigger and rewrites an event's bytes.
    conn.execute("DROP TRIGGER stored_events_no_update")
    conn.execute(
        "UPDATE stored_events SET state = replace(state, 'penalty.minor', 'honor.nation') "
        "WHERE rowid = 4"
    )
    conn.commit()
    conn.close()
    app = open_ledger(f"sqlite:///{path}")
    report = verify_chain(app.recorder)
    assert len(report.problems) == 1
    assert "position 4" in report.problems[0]
    app.close()


def test_postgres_refuses_updates_and_deletes_and_verify_finds_a_superusers_change() -> None:
    with postgres_schema() as url:
        schema = url.split("schema=")[1]
        app = open_ledger(url)
        _fill(app)
        assert verify_chain(app.recorder).problems == ()
        table = f"{schema}.credit_ledger_events"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            for statement in (
                f"UPDATE {table} SET topic = 'x'",
                f"DELETE FROM {table}",
                f"TRUNCATE {table}",
                f"DELETE FROM {table}_chain",
            ):
                with pytest.raises(psycopg.errors.RaiseException, match="immutable"):
                    conn.execute(statement)
            # A superuser bypasses the triggers and changes one stored event.
            conn.execute("SET session_replication_role = replica")
            conn.execute(
                f"UPDATE {table} SET state = convert_to(replace(convert_from(state, 'UTF8'), "
                f"'penalty.minor', 'honor.nation'), 'UTF8') WHERE notification_id = 4"
            )
            conn.execute(f"DELETE FROM {table} WHERE notification_id = 6")
        report = verify_chain(app.recorder)
        app.close()
        assert any("position 4" in p and "differs" in p for p in report.problems), report.problems
        assert any("position 6" in p and "deleted" in p for p in report.problems), report.problems


def test_verify_reads_the_log_page_by_page_and_finds_the_same_as_in_one_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with postgres_schema() as url:
        schema = url.split("schema=")[1]
        app = open_ledger(url)
        _fill(app)
        honest = verify_chain(app.recorder)
        table = f"{schema}.credit_ledger_events"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute("SET session_replication_role = replica")
            conn.execute(f"UPDATE {table} SET topic = topic || 'x' WHERE notification_id = 2")
            conn.execute(f"DELETE FROM {table} WHERE notification_id IN (5, 6)")
        whole = verify_chain(app.recorder, anchor=(honest.head_position, honest.head))
        monkeypatch.setattr("ledger.store.chain.VERIFY_PAGE", 2)
        paged = verify_chain(app.recorder, anchor=(honest.head_position, honest.head))
        wrong_anchor = verify_chain(app.recorder, anchor=(3, "0" * 64))
        app.close()
    assert paged == whole
    assert paged.events == honest.events - 2
    assert any("position 2" in p and "differs" in p for p in paged.problems)
    assert sum("deleted" in p for p in paged.problems) == 2
    assert any("anchored" in p for p in paged.problems)  # the head itself was deleted
    assert any("position 3" in p and "anchored" in p for p in wrong_anchor.problems)
