"""Two writers appending to one subject at once never lose an event."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from credit_ledger.bootstrap import open_ledger
from ledger.domain.commands import RecordFact, RegisterSubject
from ledger.service.application import CreditLedger
from tests.support import SYSTEM, postgres_schema, uscc

WRITES = 25


@pytest.fixture(params=["sqlite", "postgres"])
def two_ledgers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[CreditLedger, CreditLedger]]:
    """Two independent applications (separate connections) on one store."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/shared.db"
        a, b = open_ledger(url), open_ledger(url)
        yield a, b
        a.close()
        b.close()
    else:
        with postgres_schema() as url:
            a, b = open_ledger(url), open_ledger(url)
            yield a, b
            a.close()
            b.close()


def test_concurrent_writers_to_one_subject_keep_every_event(
    two_ledgers: tuple[CreditLedger, CreditLedger],
) -> None:
    first, second = two_ledgers
    code = uscc(77)
    first.handle(
        RegisterSubject(uscc=code, name="n", kind="enterprise", fields=["food"], actor=SYSTEM)
    )
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def write(app: CreditLedger, prefix: str) -> None:
        start.wait()
        try:
            for i in range(WRITES):
                app.handle(
                    RecordFact(
                        uscc=code,
                        indicator="penalty.minor",
                        decided_on=date(2024, 1, 1),
                        domain="food",
                        document_no=f"{prefix}-{i}",
                        actor=SYSTEM,
                    )
                )
        except BaseException as exc:  # reported below, with the thread's context
            failures.append(exc)

    threads = [
        threading.Thread(target=write, args=(app, p)) for app, p in ((first, "a"), (second, "b"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures
    history = first.history(code)
    assert len(history) == 1 + 2 * WRITES
    assert [e.originator_version for e in history] == list(range(1, 2 + 2 * WRITES))
    documents = {e.document_no for e in history[1:]}  # type: ignore[attr-defined]
    assert documents == {f"{p}-{i}" for p in "ab" for i in range(WRITES)}


def test_processes_starting_together_on_a_new_store_all_create_it_without_deadlock() -> None:
    # `serve --workers N` and rebuild workers open the same new store at the same moment.
    from tests.integration.test_cli import CLI

    with postgres_schema() as url:
        env = {**os.environ, "CREDIT_LEDGER_DATABASE_URL": url}
        starts = [
            subprocess.Popen(
                [CLI, "project", "--once"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for _ in range(4)
        ]
        for process in starts:
            _, err = process.communicate(timeout=120)
            assert process.returncode == 0, err.decode()[-2000:]
