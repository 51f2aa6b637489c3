"""A rebuild of every read model reads the log once and equals the rebuilds one by one; the
annual pass reads it once through the same reader."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from ledger.domain.commands import RecordFact
from ledger.service.application import CreditLedger
from projections import annual, runner
from projections.annual import AnnualResults, latest_results, subject_result
from projections.models import READ_MODELS
from projections.runner import Projector
from projections.store.annual import RESULT_COLUMNS
from tests.integration.test_projections import TODAY, populate
from tests.support import SYSTEM, StepClock, uscc


class CountingReads:
    """Every row the projector's passes read through the log reader, by position."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.positions: Counter[int] = Counter()
        self.queries = 0
        read_pages = runner.read_pages

        def counted(*args: Any, **kwargs: Any) -> Iterator[list[Any]]:
            for page in read_pages(*args, **kwargs):
                self.queries += 1
                self.positions.update(row.id for row in page)
                yield page

        monkeypatch.setattr(runner, "read_pages", counted)


def live_rows(app: CreditLedger) -> dict[str, list[dict[str, Any]]]:
    """Every read model as the live projector keeps it, batch by batch."""
    projector = Projector(app, today=lambda: TODAY)
    projector.run_once(batch=3)
    return {name: projector.rows(name) for name in READ_MODELS}


def test_a_rebuild_of_every_read_model_reads_each_position_once_and_equals_each_rebuild(
    stored_ledger: CreditLedger, clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(stored_ledger, clock)
    head = stored_ledger.max_position()
    live = live_rows(stored_ledger)
    projector = Projector(stored_ledger, today=lambda: TODAY)
    one_by_one = {}
    for name in READ_MODELS:
        one_by_one[name] = projector.rows(name, projector.rebuild(name, batch=4))

    reads = CountingReads(monkeypatch)
    old = {name: projector.tables(name).active for name in READ_MODELS}  # type: ignore[union-attr]
    tables = projector.rebuild_all(batch=4)
    assert set(tables) == set(READ_MODELS)
    # One pass: every position of the log read exactly once, for all three read models.
    assert reads.positions == Counter(range(1, head + 1))
    for name in READ_MODELS:
        assert projector.tables(name).active == tables[name] != old[name]  # type: ignore[union-attr]
        assert not projector.store.exists(old[name])
        assert projector.position(tables[name]) == head
        assert projector.rows(name) == one_by_one[name] == live[name]


@pytest.mark.parametrize("parts", [2, 3])
def test_a_partitioned_rebuild_of_every_read_model_reads_each_position_once(
    stored_ledger: CreditLedger, clock: StepClock, monkeypatch: pytest.MonkeyPatch, parts: int
) -> None:
    populate(stored_ledger, clock)
    head = stored_ledger.max_position()
    live = live_rows(stored_ledger)
    reads = CountingReads(monkeypatch)
    projector = Projector(stored_ledger, today=lambda: TODAY)
    buildings, until = projector.begin_rebuilds()
    for part in range(parts):
        assert projector.rebuild_partitions(buildings, part, parts, until, batch=3) == ({}, [])
    for name, building in buildings.items():
        projector.finish_partitioned_rebuild(name, building, parts, until)
    # The partitions divide the log: each position read once, by one of them, for every model.
    assert reads.positions == Counter(range(1, head + 1))
    for name in READ_MODELS:
        assert projector.tables(name).active == buildings[name]  # type: ignore[union-attr]
        assert projector.rows(name) == live[name]


def test_the_live_projector_reads_each_batch_once_for_every_read_model(
    stored_ledger: CreditLedger, clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(stored_ledger, clock)
    head = stored_ledger.max_position()
    reads = CountingReads(monkeypatch)
    projector = Projector(stored_ledger, today=lambda: TODAY)
    projector.run_once(batch=5)
    assert reads.positions == Counter(range(1, head + 1))
    assert projector.caught_up_to() == head


def test_a_resumed_rebuild_brings_tables_at_different_positions_level_and_reads_the_rest_once(
    stored_ledger: CreditLedger, clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(stored_ledger, clock)
    head = stored_ledger.max_position()
    live = live_rows(stored_ledger)
    projector = Projector(stored_ledger, today=lambda: TODAY)
    # An earlier rebuild of the feed alone stopped after two batches of 5.
    buildings, _ = projector.begin_rebuilds()
    projector.step("feed", buildings["feed"], batch=5)
    projector.step("feed", buildings["feed"], batch=5)
    assert projector.position(buildings["feed"]) == 10
    reads = CountingReads(monkeypatch)
    assert projector.rebuild_all(batch=4) == buildings
    # Positions 1..10 for the two tables behind, then everything after once for all three.
    assert reads.positions == Counter(range(1, head + 1))
    for name in READ_MODELS:
        assert projector.rows(name) == live[name]


def test_a_read_model_that_fails_during_a_rebuild_does_not_hold_the_others_back(
    stored_ledger: CreditLedger, clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(stored_ledger, clock)
    live = live_rows(stored_ledger)
    projector = Projector(stored_ledger, today=lambda: TODAY)
    feed_before = projector.tables("feed").active  # type: ignore[union-attr]
    feed = READ_MODELS["feed"]

    def broken(cur: Any, table: str, outcomes: Any) -> None:
        raise RuntimeError("the feed's table is not writable")

    monkeypatch.setattr(feed, "write", broken)
    with pytest.raises(runner.ProjectionFailed) as failed:
        projector.rebuild_all(batch=4)
    assert set(failed.value.failures) == {"feed"}
    assert "not writable" in failed.value.failures["feed"].message
    monkeypatch.undo()
    # The others were rebuilt and switched in; readers keep the feed's live table.
    assert projector.tables("feed").active == feed_before  # type: ignore[union-attr]
    assert projector.tables("feed").building is not None  # type: ignore[union-attr]
    for name in ("current_grades", "supervision"):
        assert projector.tables(name).building is None  # type: ignore[union-attr]
        assert projector.rows(name) == live[name]
    # Run again, the feed's rebuild resumes and completes.
    assert set(projector.rebuild_all(["feed"], batch=4)) == {"feed"}
    assert projector.rows("feed") == live["feed"]


def _after_the_cutoff(app: CreditLedger, clock: StepClock) -> None:
    # Events recorded after 31 October 2023, so that published and restated differ.
    for n in (0, 1, 5):
        clock.on(date(2023, 11, 2 + n))
        app.handle(
            RecordFact(
                uscc=uscc(200 + n),
                indicator="penalty.serious",
                decided_on=date(2023, 9, 1 + n),
                domain="food",
                document_no=f"late{n}",
                actor=SYSTEM,
            )
        )


@pytest.mark.parametrize("open_subjects", [2, 20_000])
def test_the_annual_pass_reads_the_log_once_and_equals_each_subjects_own_result(
    stored_ledger: CreditLedger,
    clock: StepClock,
    monkeypatch: pytest.MonkeyPatch,
    open_subjects: int,
) -> None:
    populate(stored_ledger, clock)
    _after_the_cutoff(stored_ledger, clock)
    head = stored_ledger.max_position()
    now = stored_ledger.clock()
    expected = {
        r.originator_id: subject_result(
            stored_ledger, list(stored_ledger.events.get(r.originator_id)), 2023, now
        )
        for r in stored_ledger.subject_registrations()
    }
    assert any(e.published != e.restated for e in expected.values())
    # Pages of 3 events, and (with 2) so few open subjects that streams leave and come back.
    monkeypatch.setattr(annual, "PASS_PAGE", 3)
    monkeypatch.setattr(annual, "OPEN_SUBJECTS", open_subjects)
    positions: Counter[int] = Counter()
    read_pages = annual.read_pages

    def counted(*args: Any, **kwargs: Any) -> Iterator[list[Any]]:
        for page in read_pages(*args, **kwargs):
            positions.update(row.id for row in page)
            yield page

    monkeypatch.setattr(annual, "read_pages", counted)
    found = latest_results(annual.all_results(stored_ledger, 2023, now))
    assert positions == Counter(range(1, head + 1))  # the log, once
    assert {r.subject_id: r for r in found} == expected
    assert len(found) == len(expected)  # each subject once
    for parts in (2, 3):
        split = []
        for part in range(parts):
            results = annual.all_results(stored_ledger, 2023, now, part=part, parts=parts)
            split += latest_results(results)
        assert sorted(r.uscc for r in split) == sorted(e.uscc for e in expected.values())
        assert {r.subject_id: r for r in split} == expected


def _counted(monkeypatch: pytest.MonkeyPatch, module: Any) -> Counter[int]:
    positions: Counter[int] = Counter()
    read_pages = module.read_pages

    def counted(*args: Any, **kwargs: Any) -> Iterator[list[Any]]:
        for page in read_pages(*args, **kwargs):
            positions.update(row.id for row in page)
            yield page

    monkeypatch.setattr(module, "read_pages", counted)
    return positions


def _a_year_later(ledger: CreditLedger, clock: StepClock) -> AnnualResults:
    """A populated ledger with changes after the 2023 cut-off, on 1 June 2024."""
    populate(ledger, clock)
    _after_the_cutoff(ledger, clock)
    clock.on(date(2024, 6, 1))
    return AnnualResults(ledger)


def test_a_full_rebuild_materialises_the_years_again_from_the_same_pass(
    stored_ledger: CreditLedger, clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = _a_year_later(stored_ledger, clock)
    results.build(2023)
    built = results.rows(2023)
    head = stored_ledger.max_position()
    monkeypatch.setattr(annual, "OPEN_SUBJECTS", 2)  # streams leave the open set and come back
    by_rebuild = _counted(monkeypatch, runner)
    by_annual = _counted(monkeypatch, annual)
    projector = Projector(stored_ledger, today=lambda: TODAY)
    projector.rebuild_all(years=[2023], batch=4)
    assert by_rebuild == Counter(range(1, head + 1))
    assert not by_annual  # the year read nothing of its own
    info = results.build_info(2023)
    assert info is not None
    assert info[1] == head  # up to the head the rebuild started from
    assert results.check(2023) == []
    assert results.rows(2023) == built  # nothing happened since the build

    # A resumed rebuild does not start from 0: the year is built by its own pass.
    buildings, _ = projector.begin_rebuilds()
    projector.step("feed", buildings["feed"], batch=5)
    by_annual.clear()
    projector.rebuild_all(years=[2023], batch=4)
    assert by_annual == Counter(range(1, head + 1))
    assert results.check(2023) == []
    assert results.rows(2023) == built


def test_partitions_of_a_full_rebuild_stage_their_subjects_of_the_years(
    stored_ledger: CreditLedger, clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(stored_ledger, clock)
    _after_the_cutoff(stored_ledger, clock)
    now = stored_ledger.clock()
    results = AnnualResults(stored_ledger)
    expected = sorted(results.compute_rows(2023, now))
    # Chunks of 2 rows and 2 open subjects: streams leave and come back, rows are replaced.
    monkeypatch.setattr(annual, "STAGE_ROWS", 2)
    monkeypatch.setattr(annual, "OPEN_SUBJECTS", 2)
    projector = Projector(stored_ledger, today=lambda: TODAY)
    buildings, until = projector.begin_rebuilds()
    staging = results.tables.begin_year(2023)
    for part in range(3):
        errors, staged = projector.rebuild_partitions(
            buildings, part, 3, until, batch=3, years={2023: staging}, known_now=now
        )
        assert errors == {}
        assert staged == [2023]
    assert results.rows(2023) == {}  # staged, not swapped in yet
    assert results.finish(2023, staging, now, until) == len(expected)
    assert sorted(_as_rows(results.rows(2023))) == expected
    assert not results.store.exists(staging)


def _as_rows(stored: dict[str, dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(row[c] for c in RESULT_COLUMNS) for row in stored.values()]


def test_a_build_stages_its_rows_a_chunk_at_a_time_and_the_later_result_of_a_subject_holds(
    stored_ledger: CreditLedger, clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = _a_year_later(stored_ledger, clock)
    expected = sorted(results.compute_rows(2023, stored_ledger.clock()))
    writes: list[int] = []
    stage = results.tables.stage

    def counted(staging: str, rows: Any) -> None:
        writes.append(len(rows))
        stage(staging, rows)

    monkeypatch.setattr(results.tables, "stage", counted)
    monkeypatch.setattr(annual, "STAGE_ROWS", 2)
    monkeypatch.setattr(annual, "PASS_PAGE", 3)
    monkeypatch.setattr(annual, "OPEN_SUBJECTS", 1)  # each subject leaves and comes back
    assert results.build(2023) == len(expected)
    assert max(writes) <= 2
    assert sum(writes) > len(expected)
    assert sorted(_as_rows(results.rows(2023))) == expected
    assert results.check(2023) == []


def test_a_build_that_fails_keeps_the_years_rows_and_leaves_no_staging_table(
    stored_ledger: CreditLedger, clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = _a_year_later(stored_ledger, clock)
    results.build(2023)
    built = results.rows(2023)
    info = results.build_info(2023)
    made: list[str] = []
    begin = results.tables.begin_year

    def remembered(year: int) -> str:
        made.append(begin(year))
        return made[-1]

    def broken(*args: Any, **kwargs: Any) -> Iterator[Any]:
        raise ConnectionError("the store went away")
        yield  # a generator, as the pass is

    monkeypatch.setattr(results.tables, "begin_year", remembered)
    monkeypatch.setattr(annual, "all_results", broken)
    with pytest.raises(ConnectionError):
        results.build(2023)
    assert made
    assert not results.store.exists(made[0])
    assert results.rows(2023) == built
    assert results.build_info(2023) == info


def test_a_read_of_the_log_that_fails_names_every_read_model_it_held_back(
    stored_ledger: CreditLedger, clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(stored_ledger, clock, subjects=2)
    projector = Projector(stored_ledger, today=lambda: TODAY)

    def away(*args: Any, **kwargs: Any) -> Iterator[list[Any]]:
        raise ConnectionError("the store went away")
        yield []  # a generator, as the reader is

    monkeypatch.setattr(runner, "read_pages", away)
    with pytest.raises(runner.ProjectionFailed) as failed:
        projector.run_once()
    assert set(failed.value.failures) == set(READ_MODELS)
    assert {s.projection for s in projector.stored_failures()} == set(READ_MODELS)
    monkeypatch.undo()
    projector.run_once()
    assert projector.stored_failures() == []
    assert projector.caught_up_to() == stored_ledger.max_position()
