"""Read models on both stores: exactly-once batches, rebuild equivalence, annual restatements."""

from __future__ import annotations

import threading
from datetime import date, datetime
from typing import Any
from uuid import uuid4

import pytest

from ledger.domain.commands import (
    DecideRepair,
    FileObjection,
    ListSubject,
    RecordFact,
    RegisterSubject,
    RequestRepair,
    ResolveObjection,
)
from ledger.domain.rules.grade import evaluate_history
from ledger.domain.subject import SUBJECT_EVENT_TOPICS
from ledger.domain.values import CST, china_date
from ledger.service.application import CreditLedger
from ledger.store import stores as store_adapter
from projections.annual import AnnualResults, changes_since_publication, subject_result
from projections.models import Feed
from projections.runner import Projector, partition_key, partition_of
from projections.store import ReadStore
from projections.store import postgres as read_store
from tests.support import PLATFORM, SYSTEM, StepClock, uscc

TODAY = date(2024, 6, 1)


def populate(app: CreditLedger, clock: StepClock, subjects: int = 8) -> None:
    """A small history with facts, listings, objections and repairs over 2023."""
    for n in range(subjects):
        code = uscc(200 + n)
        clock.on(date(2023, 1, 2 + n))
        app.handle(
            RegisterSubject(
                uscc=code, name=f"n{n}", kind="enterprise", fields=["food"], actor=SYSTEM
            )
        )
    for n in range(subjects):
        code = uscc(200 + n)
        clock.on(date(2023, 2, 1 + n))
        fact = app.handle(
            RecordFact(
                uscc=code,
                indicator=["penalty.general", "penalty.serious", "honor.municipal", "wage.arrears"][
                    n % 4
                ],
                decided_on=date(2023, 2, 1 + n),
                domain="food" if n % 4 != 3 else "labour_employment",
                document_no=f"a{n}",
                actor=SYSTEM,
            )
        )
        if n % 3 == 0:
            clock.on(date(2023, 3, 1 + n))
            app.handle(
                ListSubject(
                    uscc=code,
                    list_type="other_joint_punishment",
                    listed_on=date(2023, 3, 1 + n),
                    domain="food",
                    document_no=f"l{n}",
                    authority="a",
                    actor=SYSTEM,
                )
            )
        if n % 4 == 1:
            clock.on(date(2023, 4, 1 + n))
            objection = app.handle(
                FileObjection(
                    uscc=code,
                    target_id=fact.id,
                    filed_on=date(2023, 4, 1 + n),
                    grounds="g",
                    actor=PLATFORM,
                )
            )
            clock.on(date(2023, 4, 10 + n))
            app.handle(
                ResolveObjection(
                    objection_id=objection.id,
                    outcome="corrected",
                    resolved_on=date(2023, 4, 10 + n),
                    indicator="penalty.minor",
                    actor=SYSTEM,
                )
            )
        clock.on(date(2023, 6, 1 + n))
        app.handle(
            RecordFact(
                uscc=code,
                indicator="commitment.kept",
                decided_on=date(2023, 6, 1 + n),
                domain="food",
                document_no=f"c{n}",
                actor=SYSTEM,
            )
        )


def fresh_rows(app: CreditLedger, projection: str) -> list[dict[str, Any]]:
    """The rows a brand-new projection of the whole log produces in one go."""
    projector = Projector(app, today=lambda: TODAY)
    name = projector.rebuild(projection)
    return projector.rows(projection, name)


def test_a_crash_inside_a_batch_applies_nothing_and_the_restart_applies_each_event_once(
    stored_ledger: CreditLedger, clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(stored_ledger, clock)
    first = Projector(stored_ledger, today=lambda: TODAY)
    table = first.tables("feed").active  # type: ignore[union-attr]
    assert first.step("feed", table, batch=5) == 5
    assert first.step("feed", table, batch=5) == 5
    rows_before = first.rows("feed")
    original = Feed.write

    def crash(self: Feed, cur: Any, name: str, outcomes: Any) -> None:
        original(self, cur, name, outcomes)  # the rows are written … then the process dies
        raise RuntimeError("killed mid-batch")

    monkeypatch.setattr(Feed, "write", crash)
    with pytest.raises(RuntimeError):
        first.step("feed", table, batch=5)
    monkeypatch.setattr(Feed, "write", original)
    assert first.position(table) == 10
    assert first.rows("feed") == rows_before
    restarted = Projector(stored_ledger, today=lambda: TODAY)
    restarted.run_once(batch=7)
    assert restarted.position(table) == stored_ledger.max_position()
    assert restarted.rows("feed") == fresh_rows(stored_ledger, "feed")


def test_two_runners_at_once_still_apply_each_event_once(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    populate(stored_ledger, clock)
    runners = [Projector(stored_ledger, today=lambda: TODAY) for _ in range(2)]
    threads = [threading.Thread(target=r.run_once, kwargs={"batch": 3}) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    rows = runners[0].rows("feed")
    assert len({r["position"] for r in rows}) == len(rows)
    assert rows == fresh_rows(stored_ledger, "feed")
    assert runners[0].rows("current_grades") == fresh_rows(stored_ledger, "current_grades")


def test_a_rebuild_equals_the_incremental_projection(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    populate(stored_ledger, clock, subjects=4)
    projector = Projector(stored_ledger, today=lambda: TODAY)
    projector.run_once(batch=2)
    populate_more = uscc(999)
    clock.on(date(2024, 1, 5))
    stored_ledger.handle(
        RegisterSubject(uscc=populate_more, name="late", kind="enterprise", actor=SYSTEM)
    )
    projector.run_once(batch=2)
    for projection in ("current_grades", "feed"):
        incremental = projector.rows(projection)
        old = projector.tables(projection).active  # type: ignore[union-attr]
        new = projector.rebuild(projection, batch=4)
        assert new != old
        assert projector.tables(projection).active == new  # type: ignore[union-attr]
        assert projector.rows(projection) == incremental
        assert not projector.store.exists(old)


def test_rows_written_in_bulk_equal_rows_written_one_by_one(
    stored_ledger: CreditLedger, clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On PostgreSQL every write goes through the staging table (COPY, then one INSERT … ON
    # CONFLICT); batches of 5 make later batches update rows earlier ones wrote.
    populate(stored_ledger, clock)
    projections = ("current_grades", "feed", "supervision")
    one_by_one = {p: fresh_rows(stored_ledger, p) for p in projections}
    monkeypatch.setattr(read_store, "STAGE_FROM", 1)
    projector = Projector(stored_ledger, today=lambda: TODAY)
    projector.run_once(batch=5)
    for projection, expected in one_by_one.items():
        assert projector.rows(projection) == expected
        assert fresh_rows(stored_ledger, projection) == expected


def test_streams_read_many_to_a_query_are_the_streams_read_one_by_one(
    stored_ledger: CreditLedger, clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(stored_ledger, clock)
    monkeypatch.setattr(store_adapter, "STREAMS_PER_QUERY", 3)  # several queries, one partial
    ids = [e.originator_id for e in stored_ledger.subject_registrations()]
    nobody = uuid4()
    streams = store_adapter.read_streams(stored_ledger, [*reversed(ids), nobody])
    assert set(streams) == set(ids)
    for subject_id in ids:
        alone = list(stored_ledger.events.get(subject_id))
        assert [(type(e), vars(e)) for e in streams[subject_id]] == [
            (type(e), vars(e)) for e in alone
        ]


@pytest.mark.parametrize("parts", [2, 3])
def test_a_rebuild_split_into_partitions_equals_the_one_process_rebuild(
    stored_ledger: CreditLedger, clock: StepClock, parts: int
) -> None:
    populate(stored_ledger, clock)
    for projection in ("current_grades", "feed", "supervision"):
        expected = fresh_rows(stored_ledger, projection)
        projector = Projector(stored_ledger, today=lambda: TODAY)
        building, until = projector.begin_rebuild(projection)
        for part in range(parts):
            projector.rebuild_partition(projection, building, part, parts, until, batch=3)
        projector.finish_partitioned_rebuild(projection, building, parts, until)
        assert projector.tables(projection).active == building  # type: ignore[union-attr]
        assert projector.position(building) == until
        assert projector.rows(projection) == expected
        with projector.store.transaction(write=False) as cur:
            cur.execute(f"SELECT table_name FROM {projector.store.table('projection_tracking')}")
            assert not [r for r in cur.fetchall() if "#" in r["table_name"]]


def test_partitions_divide_the_log_by_subject_each_event_in_exactly_one(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    populate(stored_ledger, clock)
    head = stored_ledger.max_position()
    every = [n.id for n in stored_ledger.recorder.select_notifications(start=None, limit=10_000)]
    store = ReadStore(stored_ledger)
    seen = []
    for part in range(3):
        mine = store.partition_notifications(0, head, part, 3)
        assert mine, "a partition of 8 subjects' streams was empty"
        assert all(partition_of(n.originator_id, 3) == part for n in mine)
        assert [n.id for n in mine] == sorted(n.id for n in mine)
        seen += [n.id for n in mine]
        # Read window by window of positions, the partition is the same.
        windows = [
            store.partition_notifications(start, min(start + 5, head), part, 3)
            for start in range(0, head, 5)
        ]
        assert [n for window in windows for n in window] == mine
    assert sorted(seen) == every


def test_a_partitioned_rebuild_is_switched_in_only_when_every_partition_is_done(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    populate(stored_ledger, clock, subjects=4)
    projector = Projector(stored_ledger, today=lambda: TODAY)
    old = projector.tables("current_grades").active  # type: ignore[union-attr]
    building, until = projector.begin_rebuild("current_grades")
    projector.rebuild_partition("current_grades", building, 0, 2, until, batch=2)
    with pytest.raises(RuntimeError, match=partition_key(building, 1, 2)):
        projector.finish_partitioned_rebuild("current_grades", building, 2, until)
    assert projector.tables("current_grades").active == old  # type: ignore[union-attr]
    # Resumed later (here: the other partition), it completes and switches in.
    projector.rebuild_partition("current_grades", building, 1, 2, until, batch=2)
    projector.finish_partitioned_rebuild("current_grades", building, 2, until)
    assert projector.rows("current_grades") == fresh_rows(stored_ledger, "current_grades")


def test_the_feed_is_the_sequence_of_grade_changes_in_ledger_order(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    populate(stored_ledger, clock)
    projector = Projector(stored_ledger, today=lambda: TODAY)
    projector.run_once(batch=4)
    # An independent recomputation: before and after each event, at its record date.
    expected = []
    seen: dict[Any, list[Any]] = {}
    for n in stored_ledger.recorder.select_notifications(start=1, limit=10_000):
        if n.topic not in SUBJECT_EVENT_TOPICS:  # tokens and locators grade nobody
            continue
        history = seen.setdefault(n.originator_id, [])
        event = stored_ledger.mapper.to_domain_event(n)
        day = china_date(event.timestamp)
        before = (
            evaluate_history(history, day, event.timestamp, stored_ledger.models)
            if history
            else None
        )
        history.append(event)
        after = evaluate_history(history, day, event.timestamp, stored_ledger.models)
        if before is None or (before.score, before.grade, before.listed) != (
            after.score,
            after.grade,
            after.listed,
        ):
            expected.append((n.id, after.uscc, str(after.score), after.grade))
    seen_by_poller = [
        (r["position"], r["uscc"], r["score"], r["grade"]) for r in projector.rows("feed")
    ]
    assert seen_by_poller == expected
    assert any(
        r["topic"] == "credit.subject_listed.v1" and r["grade"] == "差"
        for r in projector.rows("feed")
    )


def annual_story(app: CreditLedger, clock: StepClock) -> dict[str, str]:
    """Three subjects whose 2023 result is changed after 31 October by three kinds of event."""
    codes = {
        "correction": uscc(301),
        "backdated": uscc(302),
        "repair": uscc(303),
        "calm": uscc(304),
    }
    clock.on(date(2023, 1, 3))
    for code in codes.values():
        app.handle(
            RegisterSubject(uscc=code, name="n", kind="enterprise", fields=["food"], actor=SYSTEM)
        )
    clock.on(date(2023, 3, 2))
    serious = app.handle(
        RecordFact(
            uscc=codes["correction"],
            indicator="penalty.serious",
            decided_on=date(2023, 3, 1),
            domain="food",
            document_no="s",
            actor=SYSTEM,
        )
    )
    general = app.handle(
        RecordFact(
            uscc=codes["repair"],
            indicator="penalty.general",
            decided_on=date(2023, 1, 10),
            domain="food",
            document_no="g",
            actor=SYSTEM,
        )
    )
    app.handle(
        RecordFact(
            uscc=codes["calm"],
            indicator="penalty.minor",
            decided_on=date(2023, 3, 1),
            domain="food",
            document_no="m",
            actor=SYSTEM,
        )
    )
    clock.on(date(2023, 4, 15))
    repair = app.handle(
        RequestRepair(
            uscc=codes["repair"],
            target_id=general.id,
            requested_on=date(2023, 4, 15),
            commitment="c",
            actor=PLATFORM,
        )
    )
    # After publication: an objection upheld, a backdated fact, a May repair entered late.
    clock.on(date(2023, 11, 2))
    objection = app.handle(
        FileObjection(
            uscc=codes["correction"],
            target_id=serious.id,
            filed_on=date(2023, 11, 2),
            grounds="g",
            actor=PLATFORM,
        )
    )
    clock.on(date(2023, 11, 10))
    app.handle(
        ResolveObjection(
            objection_id=objection.id,
            outcome="corrected",
            resolved_on=date(2023, 11, 10),
            void=True,
            actor=SYSTEM,
        )
    )
    clock.on(date(2023, 12, 1))
    app.handle(
        RecordFact(
            uscc=codes["backdated"],
            indicator="wage.arrears",
            decided_on=date(2023, 9, 1),
            domain="labour_employment",
            document_no="w",
            actor=SYSTEM,
        )
    )
    clock.on(date(2023, 12, 5))
    app.handle(
        DecideRepair(
            repair_id=repair.id,
            approved=True,
            decided_on=date(2023, 5, 1),
            reason="r",
            actor=SYSTEM,
        )
    )
    clock.on(date(2024, 2, 1))
    return codes


def test_later_corrections_leave_the_published_year_and_change_the_restatement_with_causes(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    codes = annual_story(stored_ledger, clock)
    expected = {  # (published, restated, topic of the cause)
        "correction": ("65", "80", "credit.fact_corrected.v1"),
        "backdated": ("80", "70", "credit.fact_recorded.v1"),
        "repair": ("75", "80", "credit.repair_decided.v1"),
    }
    now = stored_ledger.clock()
    for story, (published, restated, cause) in expected.items():
        events = stored_ledger.history(codes[story])
        result = subject_result(stored_ledger, events, 2023, now)
        assert (str(result.published.score), str(result.restated.score)) == (published, restated)  # type: ignore[union-attr]
        (change,) = changes_since_publication(stored_ledger, events, 2023)
        assert change.topic == cause
        assert change.position is not None
        assert change.recorded_at > datetime(2023, 10, 31, 23, 59, 59, tzinfo=CST)
    calm = changes_since_publication(stored_ledger, stored_ledger.history(codes["calm"]), 2023)
    assert calm == []
    annual = AnnualResults(stored_ledger)
    computed = annual.summary(2023)
    assert computed.published == {"优": 0, "良": 3, "中": 1, "差": 0}
    # The counts happen to balance: the correction lifts one subject 中 → 良, the backdated
    # wage arrears (70) drop another 良 → 中.
    assert computed.restated == {"优": 0, "良": 3, "中": 1, "差": 0}
    assert computed.changed == 2
    assert annual.build(2023) == 4
    assert annual.summary(2023).published == computed.published
    assert annual.summary(2023).restated == computed.restated
    assert annual.check(2023) == []


def test_the_published_year_is_reproducible_and_a_changed_materialised_row_is_found(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    codes = annual_story(stored_ledger, clock)
    annual = AnnualResults(stored_ledger)
    annual.build(2023)
    published = {
        u: (r["published_score"], r["published_grade"]) for u, r in annual.rows(2023).items()
    }
    # Much later, more corrections arrive; the published year stays exactly as it was.
    clock.on(date(2025, 3, 1))
    stored_ledger.handle(
        RecordFact(
            uscc=codes["calm"],
            indicator="penalty.serious",
            decided_on=date(2023, 6, 1),
            domain="food",
            document_no="late",
            actor=SYSTEM,
        )
    )
    # Before a new build, the summary restates the subject written to since from its stream.
    since_build = annual.summary(2023)
    assert since_build.source == "materialised"
    assert since_build.restated["中"] == 2
    annual.build(2023)
    rebuilt = annual.summary(2023)
    assert (rebuilt.published, rebuilt.restated, rebuilt.changed) == (
        since_build.published,
        since_build.restated,
        since_build.changed,
    )
    again = {u: (r["published_score"], r["published_grade"]) for u, r in annual.rows(2023).items()}
    assert again == published
    assert annual.summary(2023).restated["中"] == 2  # the backdated subject and now calm too
    with annual.store.transaction() as cur:
        cur.execute(
            f"UPDATE {annual.store.table('annual_results')} SET published_grade = '优' "
            "WHERE uscc = %s",
            (codes["calm"],),
        )
    problems = annual.check(2023)
    assert len(problems) == 1
    assert codes["calm"] in problems[0]
    assert "published_grade" in problems[0]
