"""Nothing already stored stops a projection; a projector that fails retries and says so.

Events holding text the read-model tables cannot hold (NUL, lone surrogates) are written as an
older version wrote them: through the aggregate and the application's save, or as stored bytes,
past today's input rule. Failures are real: a read model's table is moved away, then back.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from uuid import uuid4

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from credit_ledger.bootstrap import open_audit, open_ledger
from ledger.domain.commands import RecordFact, RegisterSubject
from ledger.domain.subject import Subject
from ledger.service.application import CreditLedger
from projections.annual import AnnualResults
from projections.health import FAILURES, Backoff, ProjectionFailed
from projections.runner import BackgroundProjector, Projector
from projections.store import escape_text, holdable, unescape_text
from replay.tools import verify
from tests.integration.test_cli import run
from tests.support import PG_URL, SYSTEM, StepClock, postgres_schema, uscc

NUL_NAME = "坏\x00名食品有限公司"
SURROGATE_NAME = "坏\ud800名食品有限公司"
PLACEHOLDER = "@@placeholder@@"


@pytest.fixture
def ledger(store_url: str, clock: StepClock) -> Iterator[CreditLedger]:
    """A ledger on each real store, its record clock in June 2024."""
    clock.on(date(2024, 6, 1))
    app = open_ledger(store_url, clock=clock)
    yield app
    app.close()


def verified(ledger: CreditLedger, store_url: str) -> list[str]:
    """What `verify` finds wrong with the ledger's logs and read models."""
    audit = open_audit(store_url)
    try:
        return verify(ledger, audit).problems
    finally:
        audit.close()


def store_as_an_older_version(
    ledger: CreditLedger, subject: Subject, swap: tuple[str, str] | None = None
) -> int:
    """Store a subject's pending events past today's input rule, as an older version did.

    With `swap`, the stored JSON's text `swap[0]` becomes the JSON `swap[1]`: how an encoder
    that escapes lone surrogates (`json.dumps`) wrote text today's encoder refuses to write.
    """
    if swap is None:
        ledger.save(subject)
        return ledger.max_position()
    stored = [ledger.mapper.to_stored_event(e) for e in subject.collect_events()]
    old, new = swap
    ledger.recorder.insert_events(
        [replace(s, state=s.state.replace(old.encode(), new.encode())) for s in stored]
    )
    return ledger.max_position()


def register_as_an_older_version(
    ledger: CreditLedger,
    code: str,
    name: str,
    *,
    document_no: str = "罚〔2023〕1号",
    description: str | None = None,
    swap: tuple[str, str] | None = None,
) -> int:
    """A subject in `food` with a penalty, written as an older version wrote them."""
    at = datetime(2023, 3, 1, 2, tzinfo=UTC)
    provenance = {"actor_id": SYSTEM.actor_id, "department": SYSTEM.department}
    subject = Subject._create(
        Subject.Registered,
        uscc=code,
        name=name,
        kind="enterprise",
        fields=["food"],
        established_on=None,
        timestamp=at,
        source_document=None,
        **provenance,
    )
    subject.trigger_event(
        Subject.FactRecorded,
        fact_id=uuid4(),
        indicator="penalty.general",
        decided_on=date(2023, 2, 20),
        domain="food",
        document_no=document_no,
        description=description,
        effective_until=None,
        timestamp=at,
        source_document=document_no,
        **provenance,
    )
    return store_as_an_older_version(ledger, subject, swap)


def moved_away(projector: Projector, projection: str) -> str:
    """Move a read model's active table aside (a real failure for its projector)."""
    table = projector.tables(projection).active  # type: ignore[union-attr]
    with projector.store.transaction() as cur:
        cur.execute(f"ALTER TABLE {projector.store.table(table)} RENAME TO {table}_moved")
    return table


def moved_back(projector: Projector, table: str) -> None:
    """Put a table moved by `moved_away` back."""
    with projector.store.transaction() as cur:
        cur.execute(f"ALTER TABLE {projector.store.table(table + '_moved')} RENAME TO {table}")


@contextmanager
def table_moved_away(projector: Projector, projection: str) -> Iterator[str]:
    table = moved_away(projector, projection)
    try:
        yield table
    finally:
        moved_back(projector, table)


def failures_counted(projection: str) -> float:
    return FAILURES.labels(projection)._value.get()


def record_penalty(ledger: CreditLedger, code: str, document_no: str) -> int:
    written = ledger.handle(
        RecordFact(
            uscc=code,
            indicator="penalty.general",
            decided_on=date(2024, 5, 1),
            domain="food",
            document_no=document_no,
            actor=SYSTEM,
        )
    )
    assert written.position is not None
    return written.position


# -- text a read model cannot hold -------------------------------------------------------------


@given(st.text(alphabet=st.characters(codec=None, exclude_categories=())))
def test_escaped_text_holds_no_nul_or_surrogate_and_reads_back_exactly(text: str) -> None:
    stored = escape_text(text)
    assert "\x00" not in stored
    stored.encode("utf-8")  # no lone surrogate left: every character has a UTF-8 encoding
    assert unescape_text(stored) == text


def test_escaping_is_visible_and_leaves_ordinary_text_alone() -> None:
    assert escape_text("舞钢市某食品有限公司") == "舞钢市某食品有限公司"
    assert escape_text("a\x00b") == "a\\u0000b"
    assert escape_text("a\ud800b") == "a\\ud800b"
    # A backslash is doubled, so text that looks like an escape is not taken for one.
    assert escape_text("a\\u0000b") == "a\\\\u0000b"
    assert unescape_text("a\\\\u0000b") == "a\\u0000b"
    assert holdable(["food", "x\x00"]) == '["food","x\\\\u0000"]'


def test_todays_encoder_refuses_a_lone_surrogate_but_reads_one_an_older_encoder_wrote(
    ledger: CreditLedger,
) -> None:
    transcoder = ledger.mapper.transcoder
    with pytest.raises(UnicodeEncodeError):
        transcoder.encode({"name": SURROGATE_NAME})
    assert transcoder.decode(json.dumps({"name": SURROGATE_NAME}).encode()) == {
        "name": SURROGATE_NAME
    }


def test_a_name_description_and_document_number_with_nul_are_projected_and_verified(
    ledger: CreditLedger, store_url: str
) -> None:
    code = uscc(1)
    position = register_as_an_older_version(
        ledger, code, NUL_NAME, document_no="罚\x00〔2023〕1号", description="说\x00明"
    )
    projector = Projector(ledger)
    assert projector.run_once() > 0
    assert projector.caught_up_to() == position
    (grades,) = projector.rows("current_grades")
    assert grades["name"] == "坏\\u0000名食品有限公司"  # visibly escaped
    assert unescape_text(grades["name"]) == NUL_NAME
    assert [r["name"] for r in projector.rows("supervision")] == [grades["name"]]
    assert [r["uscc"] for r in projector.rows("feed")] == [code, code]
    assert verified(ledger, store_url) == []


def test_a_lone_surrogate_an_older_encoder_stored_is_projected_and_verified(
    ledger: CreditLedger, store_url: str
) -> None:
    position = register_as_an_older_version(
        ledger, uscc(2), PLACEHOLDER, swap=(PLACEHOLDER, "\\ud800名")
    )
    assert ledger.subject(uscc(2)).name == "\ud800名"
    projector = Projector(ledger)
    projector.run_once()
    assert projector.caught_up_to() == position
    (grades,) = projector.rows("current_grades")
    assert grades["name"] == "\\ud800名"
    assert verified(ledger, store_url) == []


def test_a_backslash_in_a_name_reads_back_exactly(ledger: CreditLedger) -> None:
    name = "某\\u0000公司"  # a real backslash: not an escape
    ledger.handle(
        RegisterSubject(uscc=uscc(3), name=name, kind="enterprise", fields=["food"], actor=SYSTEM)
    )
    projector = Projector(ledger)
    projector.run_once()
    (grades,) = projector.rows("current_grades")
    assert grades["name"] == "某\\\\u0000公司"
    assert unescape_text(grades["name"]) == name


def test_the_annual_build_and_check_hold_subjects_with_unholdable_text(
    ledger: CreditLedger,
) -> None:
    register_as_an_older_version(ledger, uscc(4), NUL_NAME, description="\x00")
    register_as_an_older_version(ledger, uscc(5), PLACEHOLDER, swap=(PLACEHOLDER, "\\udfff"))
    annual = AnnualResults(ledger)
    assert annual.build(2023) == 2
    assert annual.check(2023) == []
    assert sum(annual.summary(2023).restated.values()) == 2


def test_project_once_verify_and_the_annual_build_exit_0_on_a_store_holding_such_text(
    store_url: str,
) -> None:
    ledger = open_ledger(store_url)
    try:
        register_as_an_older_version(ledger, uscc(6), NUL_NAME, document_no="\x00")
        register_as_an_older_version(ledger, uscc(7), PLACEHOLDER, swap=(PLACEHOLDER, "\\ud800"))
    finally:
        ledger.close()
    for command in (
        ("project", "--once"),
        ("verify",),
        ("evaluations", "build", "--year", "2023", "--workers", "1"),
        ("evaluations", "check", "--year", "2023"),
        ("verify",),
    ):
        done = run(store_url, *command)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
    assert "verified" in done.stdout


# -- a projector that fails ---------------------------------------------------------------------


def test_backoff_doubles_from_the_first_wait_up_to_the_longest_and_restarts_on_success() -> None:
    backoff = Backoff(0.5, 4)
    assert [backoff.failed() for _ in range(6)] == [0.5, 1, 2, 4, 4, 4]
    backoff.succeeded()
    assert backoff.failed() == 0.5
    assert Backoff(1, 30).longest == 30
    assert [Backoff(2, 1).failed()] == [2]  # never shorter than the first wait


def test_one_failing_read_model_is_named_and_does_not_hold_the_others_back(
    ledger: CreditLedger,
) -> None:
    code = uscc(8)
    ledger.handle(
        RegisterSubject(uscc=code, name="某公司", kind="enterprise", fields=["food"], actor=SYSTEM)
    )
    projector = Projector(ledger)
    projector.run_once()
    counted = failures_counted("feed")
    with table_moved_away(projector, "feed") as feed_table:
        position = record_penalty(ledger, code, "罚1")
        with pytest.raises(ProjectionFailed) as failed:
            projector.run_once()
        assert set(failed.value.failures) == {"feed"}
        assert "projection feed is failing since" in str(failed.value)
        with pytest.raises(ProjectionFailed):
            projector.run_once()
        failure = projector.failures["feed"]
        assert failure.failures == 2
        assert failure.error in {"ProgrammingError", "OperationalError"}
        assert feed_table in failure.message
        assert failures_counted("feed") == counted + 2
        (stored,) = projector.stored_failures()
        assert (stored.projection, stored.error, stored.failures) == ("feed", failure.error, 2)
        assert stored.since == failure.since
        # The other read models kept up meanwhile.
        for name in ("current_grades", "supervision"):
            assert projector.position(projector.tables(name).active) == position  # type: ignore[union-attr]
        assert projector.position(feed_table) < position
    assert projector.run_once() > 0
    assert projector.failures == {}
    assert projector.stored_failures() == []
    assert projector.caught_up_to() == position


def test_a_failure_another_process_stored_is_cleared_by_the_next_success(
    ledger: CreditLedger,
) -> None:
    ledger.handle(
        RegisterSubject(
            uscc=uscc(9), name="某公司", kind="enterprise", fields=["food"], actor=SYSTEM
        )
    )
    worker = Projector(ledger)
    with table_moved_away(worker, "supervision"), pytest.raises(ProjectionFailed):
        worker.run_once()
    assert [f.projection for f in Projector(ledger).stored_failures()] == ["supervision"]
    restarted = Projector(ledger)  # a new process knows nothing of the failure
    restarted.run_once()
    assert restarted.stored_failures() == []


def test_a_failing_background_projector_waits_longer_before_each_retry_then_recovers(
    ledger: CreditLedger,
) -> None:
    code = uscc(10)
    ledger.handle(
        RegisterSubject(uscc=code, name="某公司", kind="enterprise", fields=["food"], actor=SYSTEM)
    )
    attempts: list[float] = []

    class Timed(Projector):
        def run_once(self, batch: int = 1000) -> int:
            attempts.append(time.monotonic())
            return super().run_once(batch)

    projector = Timed(ledger)
    projector.run_once()
    background = BackgroundProjector(projector, poll_seconds=0.1, longest_backoff=0.8)
    table = moved_away(projector, "feed")
    record_penalty(ledger, code, "罚2")
    attempts.clear()
    background.start()
    try:
        deadline = time.monotonic() + 20
        while len(attempts) < 7 and time.monotonic() < deadline:
            time.sleep(0.05)
        gaps = [b - a for a, b in itertools.pairwise(attempts[:7])]
        assert len(gaps) == 6, attempts
        # 0.1, 0.2, 0.4, 0.8, then no longer than 0.8 (plus the attempt itself)
        for gap, wait in zip(gaps, [0.1, 0.2, 0.4, 0.8, 0.8, 0.8], strict=True):
            assert wait * 0.95 <= gap < wait + 1.0, gaps
        assert set(background.failures) == {"feed"}
        assert background.last_error is not None
        assert "feed" in background.last_error
        moved_back(projector, table)
        deadline = time.monotonic() + 10
        while (background.failures or background.backoff.failures) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert background.failures == {}
        assert background.backoff.failures == 0
    finally:
        background.stop()
    assert projector.caught_up_to() == ledger.max_position()


def test_the_background_error_is_gone_once_a_pass_clears_the_failing_read_model(
    ledger: CreditLedger,
) -> None:
    """Readiness reads `last_error` beside `failures`: both must clear in the same step, not
    the error only when the background's run returns (a race `/readyz` once lost)."""
    code = uscc(12)
    ledger.handle(
        RegisterSubject(uscc=code, name="某公司", kind="enterprise", fields=["food"], actor=SYSTEM)
    )
    projector = Projector(ledger)
    projector.run_once()
    background = BackgroundProjector(projector, poll_seconds=0.1, longest_backoff=0.8)
    with table_moved_away(projector, "feed"):
        record_penalty(ledger, code, "罚4")
        background.attempt()
        assert set(background.failures) == {"feed"}
        failing = background.last_error
        assert failing is not None
        assert failing.startswith("ProjectionFailed: projection feed")
    # A pass clears the read model's failure before the background's own run has returned.
    projector.run_once()
    assert background.failures == {}
    assert background.last_error is None
    assert background.attempt() == 0.1


def test_a_background_error_other_than_a_read_models_stands_until_a_run_succeeds(
    ledger: CreditLedger,
) -> None:
    class Unreachable(Projector):
        down = True

        def run_once(self, batch: int = 1000) -> int:
            if self.down:
                raise ConnectionError("the store does not answer")
            return super().run_once(batch)

    projector = Unreachable(ledger)
    background = BackgroundProjector(projector, poll_seconds=0.1, longest_backoff=0.8)
    assert background.attempt() == 0.1  # the first failure waits the shortest backoff
    assert background.failures == {}
    assert background.last_error == "ConnectionError: the store does not answer"
    projector.down = False
    assert background.last_error is not None  # no run has succeeded since
    background.attempt()
    assert background.last_error is None


def test_project_once_exits_1_naming_the_failing_projection_without_a_traceback(
    ledger: CreditLedger, store_url: str
) -> None:
    ledger.handle(
        RegisterSubject(
            uscc=uscc(11), name="某公司", kind="enterprise", fields=["food"], actor=SYSTEM
        )
    )
    projector = Projector(ledger)
    with table_moved_away(projector, "feed"):
        record_penalty(ledger, uscc(11), "罚3")
        done = run(store_url, "project", "--once")
        assert done.returncode == 1, done.stderr
        assert "projection feed is failing since" in done.stderr
        assert "Traceback" not in done.stderr
    assert run(store_url, "project", "--once").returncode == 0
    assert projector.stored_failures() == []


def test_verify_exits_1_naming_a_read_model_it_cannot_bring_up_to_date(
    ledger: CreditLedger, store_url: str
) -> None:
    ledger.handle(
        RegisterSubject(
            uscc=uscc(12), name="某公司", kind="enterprise", fields=["food"], actor=SYSTEM
        )
    )
    projector = Projector(ledger)
    with table_moved_away(projector, "supervision"):
        done = run(store_url, "verify")
    assert done.returncode == 1, done.stdout
    assert "projection supervision is failing since" in done.stderr
    assert "Traceback" not in done.stderr
    assert run(store_url, "verify").returncode == 0


def test_a_batch_waiting_on_a_locked_table_fails_after_its_lock_wait_and_then_recovers(
    clock: StepClock,
) -> None:
    # PostgreSQL's LOCK TABLE (SQLite locks the whole file, and its writers wait a timeout).
    with postgres_schema() as url:
        ledger = open_ledger(url, clock=clock)
        try:
            ledger.handle(
                RegisterSubject(
                    uscc=uscc(13), name="某公司", kind="enterprise", fields=["food"], actor=SYSTEM
                )
            )
            projector = Projector(ledger, lock_wait=0.5)
            table = projector.store.table(projector.tables("feed").active)  # type: ignore[union-attr]
            with psycopg.connect(PG_URL.split("?")[0]) as other, other.transaction():
                other.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
                started = time.monotonic()
                with pytest.raises(ProjectionFailed) as failed:
                    projector.run_once()
                assert time.monotonic() - started < 5
                assert set(failed.value.failures) == {"feed"}
                assert "lock timeout" in failed.value.failures["feed"].message
            projector.run_once()
            assert projector.caught_up_to() == ledger.max_position()
            assert projector.failures == {}
        finally:
            ledger.close()
