"""The admin tools as operators run them: verify, rebuild (killed and resumed), replay."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import psycopg

from credit_ledger.bootstrap import open_ledger
from projections.annual import AnnualResults
from projections.runner import Projector, partition_key
from tests.integration.test_cli import run, start
from tests.support import PG_URL, postgres_schema


def test_verify_passes_on_an_honest_store_and_fails_naming_a_row_a_superuser_changed() -> None:
    with postgres_schema() as url:
        assert run(url, "demo", "--subjects", "40").returncode == 0
        assert run(url, "evaluations", "build", "--year", "2023").returncode == 0
        honest = run(url, "verify")
        assert honest.returncode == 0, honest.stderr
        assert "verified" in honest.stdout
        head = next(line for line in honest.stdout.splitlines() if "credit_ledger_events:" in line)
        anchor = head.rsplit("head ", 1)[1]
        schema = url.split("schema=")[1]
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute("SET session_replication_role = replica")  # superuser: triggers off
            conn.execute(
                f"UPDATE {schema}.credit_ledger_events SET state = convert_to(replace("
                f"convert_from(state, 'UTF8'), '\"name\":\"', '\"name\":\"X'), 'UTF8') "
                "WHERE notification_id = 7"
            )
        tampered = run(url, "verify", "--expect-head", anchor)
        assert tampered.returncode == 1
        assert "position 7" in tampered.stderr
        assert "DIFFERENCE" in tampered.stderr


def test_verify_finds_a_read_model_row_that_disagrees_with_a_replay(store_url: str) -> None:
    assert run(store_url, "demo", "--subjects", "30").returncode == 0
    assert run(store_url, "project", "--once").returncode == 0
    ledger = open_ledger(store_url)
    projector = Projector(ledger)
    table = projector.active_table("current_grades")
    with projector.store.transaction() as cur:
        cur.execute(
            # A bracketed value, which the console would take for a style were it not escaped.
            f"UPDATE {table} SET grade = '[erased]', score = '99' "
            "WHERE uscc = (SELECT MIN(uscc) FROM " + table + ")"
        )
    ledger.close()
    found = run(store_url, "verify")
    assert found.returncode == 1
    assert "current_grades" in found.stderr
    assert "'score': '99'" in found.stderr
    assert "'grade': '[erased]'" in found.stderr


def test_a_one_process_rebuild_killed_midway_resumes_and_equals_the_incremental_model(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/rebuild.db"
    assert run(url, "demo", "--subjects", "150").returncode == 0
    assert run(url, "project", "--once").returncode == 0
    ledger = open_ledger(url)
    projector = Projector(ledger)
    incremental = projector.rows("feed")
    head = ledger.max_position()

    proc = start(url, "rebuild", "feed", "--batch", "1", "--workers", "1")
    deadline = time.monotonic() + 60
    building = None
    while time.monotonic() < deadline:
        state = projector.tables("feed")
        if (
            state is not None
            and state.building
            and 50 < projector.position(state.building) < head - 50
        ):
            building = state.building
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert building is not None, "the rebuild was not caught midway"
    stopped_at = projector.position(building)
    assert 0 < stopped_at < head
    assert projector.tables("feed").active != building  # type: ignore[union-attr]
    assert projector.rows("feed") == incremental  # readers kept the old table meanwhile
    resumed = run(url, "rebuild", "feed", "--workers", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert projector.tables("feed").active == building  # type: ignore[union-attr]
    assert projector.rows("feed") == incremental
    ledger.close()


def test_a_rebuild_in_worker_processes_killed_midway_stops_resumes_and_equals_the_model(
    store_url: str,
) -> None:
    assert run(store_url, "demo", "--subjects", "150").returncode == 0
    assert run(store_url, "project", "--once").returncode == 0
    ledger = open_ledger(store_url)
    projector = Projector(ledger)
    incremental = {name: projector.rows(name) for name in ("feed", "current_grades")}
    head = ledger.max_position()

    proc = start(store_url, "rebuild", "feed", "--batch", "1", "--workers", "2")
    deadline = time.monotonic() + 60
    keys: list[str] = []
    while time.monotonic() < deadline and not keys:
        state = projector.tables("feed")
        if state is not None and state.building:
            candidates = [partition_key(state.building, part, 2) for part in range(2)]
            positions = [projector.position(k) for k in candidates]
            # On SQLite the two workers take turns at the one write lock, so one may lead:
            # midway means some work done and neither partition finished.
            if max(positions) > 50 and all(p < head - 50 for p in positions):
                keys = candidates
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # the parent only: its workers must notice and stop
    proc.wait(timeout=10)
    assert keys, "the rebuild was not caught midway"
    time.sleep(3)
    stopped = [projector.position(k) for k in keys]
    time.sleep(2)
    assert [projector.position(k) for k in keys] == stopped, "a worker outlived its parent"
    assert all(p < head for p in stopped)
    assert max(stopped) > 0
    assert projector.rows("feed") == incremental["feed"]  # readers kept the old table

    resumed = run(store_url, "rebuild", "--workers", "2")  # both read models
    assert resumed.returncode == 0, resumed.stderr
    for name, rows in incremental.items():
        assert projector.rows(name) == rows
    assert projector.caught_up_to() == head
    ledger.close()


def test_a_year_evaluated_by_worker_processes_equals_the_one_process_build(
    store_url: str,
) -> None:
    assert run(store_url, "demo", "--subjects", "60").returncode == 0
    ledger = open_ledger(store_url)
    annual = AnnualResults(ledger)
    built = {}
    for workers in ("1", "3"):
        done = run(store_url, "evaluations", "build", "--year", "2023", "--workers", workers)
        assert done.returncode == 0, done.stderr
        assert "60 subjects materialised" in done.stdout
        built[workers] = annual.rows(2023)
        assert run(store_url, "evaluations", "check", "--year", "2023").returncode == 0
    assert len(built["3"]) == 60
    assert built["3"] == built["1"]
    # Some subjects' 2023 grades were restated after publication, and both builds show it.
    assert any(r["published_grade"] != r["restated_grade"] for r in built["3"].values())
    ledger.close()


def test_replay_prints_each_event_with_the_grade_after_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/replay.db"
    loaded = run(url, "demo", "--subjects", "60")
    code = next(
        line.split(": ")[1]
        for line in loaded.stdout.splitlines()
        if line.strip().startswith("restated:")
    )
    shown = run(url, "replay", code, "--as-of", "2023-10-31")
    assert shown.returncode == 0, shown.stderr
    assert "subject_registered" in shown.stdout
    assert "fact_corrected" in shown.stdout
    until = run(url, "replay", code, "--until", "2020-01-01T00:00:00+08:00")
    assert "fact_corrected" not in until.stdout
