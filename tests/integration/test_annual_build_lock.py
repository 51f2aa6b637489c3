"""One build of a year at a time, on both stores: a second is refused while the first lives,
and what a killed build left behind is dropped by the next build of its year."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from credit_ledger.bootstrap import open_ledger
from credit_ledger.parallel import rebuild_partitioned
from ledger.domain.errors import Conflict
from ledger.service.application import CreditLedger
from projections import runner
from projections.annual import AnnualResults
from projections.runner import Projector
from projections.store import ReadStore
from projections.store.annual import RESULTS, AnnualTables
from tests.integration.test_cli import run
from tests.integration.test_one_pass_rebuild import _a_year_later
from tests.support import StepClock

#: A build of 2023 in a process of its own, which kills itself once it has staged a row:
#: nothing of it runs after the signal (no `finally`, no exit handler), as when an operator
#: or the kernel's OOM killer ends a build mid-way.
KILLED_BUILD = """
import os, signal, sys
from credit_ledger.bootstrap import open_ledger
from projections.annual import AnnualResults
results = AnnualResults(open_ledger(sys.argv[1]))
staging = results.tables.begin_year(2023)
row = (2023, "91000000000000000X", "s", None, None, None, None, None, None)
results.tables.stage(staging, [row])
print(staging, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def url_ledger(store_url: str, clock: StepClock) -> Iterator[tuple[str, CreditLedger]]:
    """A populated ledger a year after the 2023 cut-off, and the URL another process opens."""
    app = open_ledger(store_url, clock=clock)
    try:
        _a_year_later(app, clock)
        yield store_url, app
    finally:
        app.close()


def stagings(store: ReadStore, year: int) -> list[str]:
    """The staging tables of a year's builds in the store now."""
    with store.transaction(write=False) as cur:
        return store.dialect.tables_with_prefix(cur, f"{RESULTS}_{year}_build_")


def assert_built_again(results: AnnualResults, built: list[dict[str, Any]]) -> None:
    """2023 was built again, equal to a fresh computation, and no staging table is left."""
    assert results.rows(2023) == built
    assert results.check(2023) == []
    assert stagings(results.store, 2023) == []


def test_a_second_build_of_a_year_while_one_runs_is_refused_and_changes_nothing(
    url_ledger: tuple[str, CreditLedger],
) -> None:
    _, app = url_ledger
    results = AnnualResults(app)
    results.build(2023)
    built, info = results.rows(2023), results.build_info(2023)
    running = AnnualTables(ReadStore(app))  # another build, staging its rows
    staging = running.begin_year(2023)

    with pytest.raises(Conflict) as refused:
        AnnualResults(app).build(2023)
    assert refused.value.field == "year"
    assert refused.value.rule == "one build of a year at a time"
    assert "another build of 2023 is running" in refused.value.message
    assert stagings(results.store, 2023) == [staging]  # the running build's table untouched
    assert results.rows(2023) == built
    assert results.build_info(2023) == info
    # A partitioned rebuild that would materialise the year again is refused alike.
    with pytest.raises(Conflict):
        Projector(app).rebuild_all(years=[2023])

    running.drop_staging(staging)  # the running build ends: the year is free again
    assert results.build(2023) == len(built)
    assert stagings(results.store, 2023) == []


def test_a_build_of_another_year_neither_waits_for_nor_touches_a_running_build(
    url_ledger: tuple[str, CreditLedger],
) -> None:
    _, app = url_ledger
    running = AnnualTables(ReadStore(app))
    staging = running.begin_year(2022)
    results = AnnualResults(app)
    assert results.build(2023) > 0
    assert stagings(results.store, 2022) == [staging]
    running.drop_staging(staging)
    assert stagings(results.store, 2022) == []


def test_a_killed_build_leaves_its_staging_table_and_the_next_build_of_its_year_drops_it(
    url_ledger: tuple[str, CreditLedger],
) -> None:
    url, app = url_ledger
    results = AnnualResults(app)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_BUILD, url], capture_output=True, text=True, timeout=60
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    left = killed.stdout.strip()
    assert stagings(results.store, 2023) == [left]  # what a dead build leaves behind
    other = AnnualTables(ReadStore(app)).begin_year(2022)  # a live build of another year

    # The dead build's lock died with it: the next build of 2023 runs, and drops its table.
    count = results.build(2023)
    assert count == len(results.compute_rows(2023, app.clock()))
    assert stagings(results.store, 2023) == []
    assert results.check(2023) == []
    assert stagings(results.store, 2022) == [other]


def test_a_full_rebuild_whose_pass_could_not_stage_a_year_builds_it_on_its_own(
    url_ledger: tuple[str, CreditLedger], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The year's own build takes the year's lock, which the pass's staging must not hold then.
    _, app = url_ledger
    results = AnnualResults(app)
    results.build(2023)
    built = results.rows(2023)
    monkeypatch.setattr(runner.Fed, "complete", property(lambda fed: False))
    Projector(app, today=lambda: date(2024, 6, 1)).rebuild_all(years=[2023])
    assert_built_again(results, built)


def test_a_resumed_partitioned_rebuild_builds_a_year_by_the_years_own_partitioned_build(
    url_ledger: tuple[str, CreditLedger],
) -> None:
    # A partition that resumes stages no year, so the rebuild builds each year on its own,
    # which takes the year's lock: the rebuild's staging must not hold it then.
    url, app = url_ledger
    results = AnnualResults(app)
    results.build(2023)
    built = results.rows(2023)
    projector = Projector(app)
    buildings, _ = projector.begin_rebuilds()
    projector.rebuild_partitions(buildings, 0, 2, 3, batch=1)  # partition 0, part of the way
    rebuild_partitioned(url, workers=2, years=[2023])
    assert_built_again(results, built)


def test_the_build_and_rebuild_commands_refuse_a_year_another_build_holds_naming_it(
    url_ledger: tuple[str, CreditLedger],
) -> None:
    url, app = url_ledger
    AnnualResults(app).build(2023)
    running = AnnualTables(ReadStore(app))
    staging = running.begin_year(2023)
    for args in (["evaluations", "build", "--year", "2023"], ["rebuild", "--workers", "1"]):
        refused = run(url, *args)
        assert refused.returncode == 2, (args, refused.stdout, refused.stderr)  # as for bad input
        assert "year: another build of 2023 is running" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    assert stagings(running.store, 2023) == [staging]
    running.drop_staging(staging)
    assert run(url, "evaluations", "build", "--year", "2023").returncode == 0


def test_a_database_in_memory_holds_a_years_build_for_its_one_process() -> None:
    # No file to lock beside it: the lock lives in the process, which alone sees the database.
    app = open_ledger("sqlite:///:memory:")
    try:
        running = AnnualTables(ReadStore(app))
        staging = running.begin_year(2023)
        with pytest.raises(Conflict):
            AnnualTables(ReadStore(app)).begin_year(2023)
        other = AnnualTables(ReadStore(app)).begin_year(2022)
        running.drop_staging(staging)
        again = AnnualTables(ReadStore(app))
        assert again.begin_year(2023) != staging
        assert stagings(again.store, 2022) == [other]
    finally:
        app.close()
