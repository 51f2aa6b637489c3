"""Bulk platform data: deterministic generation, batched idempotent import, rejects, resume."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from contextlib import suppress
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
import pytest

from credit_ledger.bootstrap import open_ledger
from credit_ledger.bulk import decode, generate, import_file
from credit_ledger.parallel import import_partitioned
from ledger.domain.commands import command_of
from ledger.domain.errors import LedgerError
from ledger.domain.values import SYSTEM_ACTOR
from ledger.service.application import CreditLedger
from ledger.store import stores
from projections.runner import Projector
from projections.store import ReadStore
from tests.integration.test_cli import CLI, run, start
from tests.support import uscc

TODAY = date(2026, 1, 1)


def test_generation_is_deterministic_and_each_subject_stands_alone() -> None:
    one, two, longer = io.BytesIO(), io.BytesIO(), io.BytesIO()
    generate(40, 9, one, TODAY)
    generate(40, 9, two, TODAY)
    generate(41, 9, longer, TODAY)
    assert one.getvalue() == two.getvalue()
    assert longer.getvalue().startswith(one.getvalue())  # subject 41 only adds lines
    lines = one.getvalue().splitlines()
    commands = {decode(line)[1] for line in lines}
    assert {"register_subject", "record_fact", "file_objection", "resolve_objection"} <= commands


def test_an_import_goes_through_the_rules_and_a_second_run_adds_nothing(
    store_url: str,
    tmp_path: Path,
) -> None:
    path = tmp_path / "platform.ndjson"
    with path.open("wb") as fh:
        lines, _ = generate(60, 3, fh, TODAY)
    ledger = open_ledger(store_url)
    first = import_file(
        ledger, path, rejects=tmp_path / "r1", batch_lines=100, keep_record_time=True
    )
    events = ledger.max_position()
    assert first.applied + first.rejected == lines
    assert first.events == events  # the store was empty
    again = import_file(ledger, path, rejects=tmp_path / "r2", batch_lines=100)
    assert again.resumed_from == lines
    assert ledger.max_position() == events
    # Even without the checkpoint (a copy of the file), every line is already present.
    copy = tmp_path / "copy.ndjson"
    copy.write_bytes(b"\n" + path.read_bytes())
    third = import_file(ledger, copy, rejects=tmp_path / "r3", batch_lines=100)
    assert third.applied == 0
    assert third.unchanged == first.applied
    assert ledger.max_position() == events
    ledger.close()


def test_an_import_refreshes_the_stores_statistics_each_time_the_log_has_doubled(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL plans the rulebook's topic reads by them; stale, each read walked the log.
    path = tmp_path / "platform.ndjson"
    with path.open("wb") as fh:
        generate(60, 3, fh, TODAY)
    ledger = open_ledger(store_url)
    heads: list[int] = []
    refresh = stores.refresh_statistics

    def counted(app: CreditLedger) -> None:
        heads.append(app.max_position())
        refresh(app)

    monkeypatch.setattr(stores, "refresh_statistics", counted)
    monkeypatch.setattr(stores, "STATISTICS_FROM", 20)
    import_file(ledger, path, rejects=tmp_path / "r", batch_lines=10, keep_record_time=True)
    during, last = heads[:-1], heads[-1]
    assert last == ledger.max_position()  # and once at the end
    assert len(during) >= 3
    assert during[0] >= 40
    assert all(later >= 2 * earlier for earlier, later in pairwise(during))


def test_the_projector_refreshes_the_stores_statistics_as_the_live_log_doubles(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = open_ledger(store_url)
    heads: list[int] = []
    monkeypatch.setattr(stores, "refresh_statistics", lambda app: heads.append(app.max_position()))
    monkeypatch.setattr(stores, "STATISTICS_FROM", 2)
    projector = Projector(ledger)
    projector.run_once()  # reads where the log stands
    out = io.BytesIO()
    generate(12, 5, out, TODAY)
    lines = out.getvalue().splitlines()
    for first in range(0, len(lines), 4):
        for line in lines[first : first + 4]:
            _, name, args = decode(line)
            with suppress(LedgerError):  # what the rules refuse writes nothing
                ledger.handle(command_of(name, args, SYSTEM_ACTOR))
        projector.run_once()
    assert len(heads) >= 3
    assert all(later >= 2 * earlier for earlier, later in pairwise(heads))
    assert heads[-1] * 2 > ledger.max_position()  # the last doubling was caught


def test_bad_lines_go_to_the_rejects_file_with_number_and_reason_and_the_rest_import(
    store_url: str,
    tmp_path: Path,
) -> None:
    good = {
        "at": "2024-01-02T10:00:00+08:00",
        "command": "register_subject",
        "args": {"uscc": uscc(1), "name": "n", "kind": "enterprise", "fields": ["food"]},
    }
    fact = {
        "at": "2024-01-03T10:00:00+08:00",
        "command": "record_fact",
        "args": {
            "uscc": uscc(1),
            "indicator": "penalty.minor",
            "decided_on": "2024-01-02",
            "domain": "food",
            "document_no": "d1",
        },
    }
    lines = [
        orjson.dumps(good),
        b"{this is not json",
        orjson.dumps({**good, "args": {**good["args"], "uscc": "91350100M000100Y4A"}}),
        orjson.dumps(
            {**fact, "args": {**fact["args"], "indicator": "penalty.huge", "document_no": "d2"}}
        ),
        orjson.dumps({**fact, "command": "drop_table"}),
        orjson.dumps(fact),
    ]
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    ledger = open_ledger(store_url)
    report = import_file(ledger, path, rejects=tmp_path / "rejects.ndjson")
    assert (report.applied, report.rejected) == (2, 4)
    rejected = [orjson.loads(r) for r in (tmp_path / "rejects.ndjson").read_bytes().splitlines()]
    assert [r["line"] for r in rejected] == [2, 3, 4, 5]
    assert "broken JSON" in rejected[0]["reason"]
    assert rejected[1]["reason"].startswith("uscc:")
    assert rejected[2]["reason"].startswith("indicator:")
    assert "unknown command" in rejected[3]["reason"]
    assert ledger.evaluate(uscc(1), as_of=date(2024, 1, 2)).score == 79
    ledger.close()


def _imported_line(ledger: CreditLedger) -> int:
    store = ReadStore(ledger)
    if not store.exists("import_checkpoints"):
        return 0
    with store.transaction(write=False) as cur:
        cur.execute(f"SELECT MAX(line) AS line FROM {store.table('import_checkpoints')}")
        row = cur.fetchone()
    return int(row["line"] or 0) if row else 0


def test_a_killed_import_resumes_and_ends_equal_to_an_uninterrupted_one(tmp_path: Path) -> None:
    path = tmp_path / "big.ndjson"
    with path.open("wb") as fh:
        lines, _ = generate(400, 5, fh, TODAY)
    url = f"sqlite:///{tmp_path}/killed.db"
    proc = start(url, "import", str(path), "--batch", "20", "--keep-record-time")
    watcher = open_ledger(url) if Path(f"{tmp_path}/killed.db").exists() else None
    deadline = time.monotonic() + 60
    stopped_at = 0
    while time.monotonic() < deadline:
        if watcher is None and Path(f"{tmp_path}/killed.db").exists():
            time.sleep(0.2)
            watcher = open_ledger(url)
        if watcher is not None and (done := _imported_line(watcher)) > lines // 4:
            stopped_at = done
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert 0 < stopped_at < lines, "the import was not caught midway"
    resumed = run(url, "import", str(path), "--batch", "20", "--keep-record-time")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed after line" in resumed.stdout
    clean_url = f"sqlite:///{tmp_path}/clean.db"
    assert run(clean_url, "import", str(path), "--keep-record-time").returncode == 0
    killed, clean = open_ledger(url), open_ledger(clean_url)
    assert killed.max_position() == clean.max_position()
    codes = [e.uscc for e in clean.subject_registrations()]
    for code in codes[::37]:
        assert killed.evaluate(code, as_of=date(2025, 10, 31)).score == (
            clean.evaluate(code, as_of=date(2025, 10, 31)).score
        )
    for app in (killed, clean):
        app.close()
    assert watcher is not None
    watcher.close()


def _streams(ledger: CreditLedger) -> dict[tuple[str, int], tuple[str, dict[str, Any]]]:
    """Every stream's events, less what differs by design between two imports of one file:
    ids the ledger draws when a line gives none (masked), and the record time (now) of pools
    and locators, which are not subject events."""
    rows = ledger.recorder.select_notifications(start=None, limit=1_000_000)
    streams = {}
    for n in rows:
        state = {
            key: "<id>" if isinstance(value, dict) and value.get("_type_") == "uuid_hex" else value
            for key, value in orjson.loads(n.state).items()
        }
        if n.topic.startswith(("credit.inspector_pool", "credit.locator")):
            state.pop("timestamp")
        streams[(str(n.originator_id), n.originator_version)] = (n.topic, state)
    return streams


def test_importers_in_several_processes_store_exactly_what_one_importer_stores(
    store_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "platform.ndjson"
    with path.open("wb") as fh:
        lines, _ = generate(120, 9, fh, TODAY)
    # Decisions that name only the objection or repair must follow their subject's partition.
    assert b'"resolve_objection"' in path.read_bytes()
    alone = open_ledger(f"sqlite:///{tmp_path}/alone.db")
    single = import_file(
        alone, path, rejects=tmp_path / "alone.rejects", batch_lines=50, keep_record_time=True
    )
    together = import_partitioned(
        store_url,
        path,
        rejects=tmp_path / "together.rejects",
        workers=3,
        batch_lines=50,
        keep_record_time=True,
    )
    assert (together.applied, together.rejected, together.events) == (
        single.applied,
        single.rejected,
        single.events,
    )
    assert together.lines == lines
    assert (tmp_path / "together.rejects").read_bytes() == (tmp_path / "alone.rejects").read_bytes()
    ledger = open_ledger(store_url)
    assert _streams(ledger) == _streams(alone)
    for code in [e.uscc for e in alone.subject_registrations()]:
        for day in (date(2022, 10, 31), date(2025, 10, 31)):
            mine, theirs = ledger.evaluate(code, as_of=day), alone.evaluate(code, as_of=day)
            assert (mine.score, mine.grade, len(mine.contributions), mine.listed) == (
                theirs.score,
                theirs.grade,
                len(theirs.contributions),
                theirs.listed,
            )
    again = import_partitioned(
        store_url, path, rejects=tmp_path / "again.rejects", workers=3, batch_lines=50
    )
    assert (again.applied, again.events) == (0, 0)
    assert ledger.max_position() == single.events
    ledger.close()
    alone.close()


def test_decisions_on_items_filed_by_an_earlier_import_reach_their_subject_s_importer(
    tmp_path: Path,
) -> None:
    path = tmp_path / "platform.ndjson"
    with path.open("wb") as fh:
        generate(120, 9, fh, TODAY)
    lines = path.read_bytes().splitlines(keepends=True)
    decisions = [line for line in lines if b'"resolve_objection"' in line]
    assert decisions
    first, second = tmp_path / "first.ndjson", tmp_path / "second.ndjson"
    first.write_bytes(b"".join(line for line in lines if line not in decisions))
    second.write_bytes(b"".join(decisions))
    url = f"sqlite:///{tmp_path}/two-files.db"
    for part in (first, second):
        import_partitioned(
            url, part, rejects=tmp_path / f"{part.name}.rejects", workers=2, keep_record_time=True
        )
    assert (tmp_path / "second.ndjson.rejects").read_bytes() == b""
    ledger = open_ledger(url)
    resolved = [state for _, state in ledger.objections() if state.resolved_on is not None]
    assert len(resolved) == len(decisions)
    ledger.close()


def test_ctrl_c_stops_an_import_in_worker_processes_quietly_and_it_resumes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "big.ndjson"
    with path.open("wb") as fh:
        lines, _ = generate(400, 5, fh, TODAY)
    url = f"sqlite:///{tmp_path}/interrupted.db"
    env = {**os.environ, "CREDIT_LEDGER_DATABASE_URL": url}
    rejects = ["--rejects", str(tmp_path / "interrupted.rejects")]
    command = [CLI, "import", str(path), "--batch", "20", "--workers", "2", "--keep-record-time"]
    proc = subprocess.Popen(
        [*command, *rejects],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    deadline = time.monotonic() + 60
    watcher = None
    while time.monotonic() < deadline:
        if watcher is None and Path(f"{tmp_path}/interrupted.db").exists():
            time.sleep(0.2)
            watcher = open_ledger(url)
        if watcher is not None and 0 < _imported_line(watcher) < lines // 2:
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends: to every process of the group
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert b"Traceback" not in err
    assert watcher is not None
    stopped_at = _imported_line(watcher)
    assert 0 < stopped_at < lines, "the import was not caught midway"
    resumed = run(url, "import", str(path), "--workers", "2", "--keep-record-time", *rejects)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed after line" in resumed.stdout
    clean_url = f"sqlite:///{tmp_path}/clean.db"
    clean_rejects = ["--rejects", str(tmp_path / "clean.rejects")]
    assert run(clean_url, "import", str(path), "--keep-record-time", *clean_rejects).returncode == 0
    clean = open_ledger(clean_url)
    assert watcher.max_position() == clean.max_position()

    def refused(name: str) -> set[int]:
        return {orjson.loads(r)["line"] for r in (tmp_path / name).read_bytes().splitlines()}

    # Every refusal is kept across the interruption (a batch cut off is listed on resume).
    assert refused("interrupted.rejects") == refused("clean.rejects")
    assert refused("clean.rejects"), "the generated history has refused lines"
    clean.close()
    watcher.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_killed_import_resumed_lists_each_refusal_of_the_whole_file_once(
    tmp_path: Path, workers: int
) -> None:
    path = tmp_path / "big.ndjson"
    with path.open("wb") as fh:
        lines, _ = generate(400, 5, fh, TODAY)
    url = f"sqlite:///{tmp_path}/killed.db"
    rejects = tmp_path / "killed.rejects"
    command = [CLI, "import", str(path), "--batch", "5", "--workers", str(workers)]
    command += ["--keep-record-time", "--rejects", str(rejects)]
    env = {**os.environ, "CREDIT_LEDGER_DATABASE_URL": url}
    # Its own process group, so the kill reaches the workers too, as `kill -9 -PGID` does.
    proc = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    watcher = None
    while time.monotonic() < deadline:
        if watcher is None and Path(f"{tmp_path}/killed.db").exists():
            time.sleep(0.2)
            watcher = open_ledger(url)
        if watcher is not None and 0 < _imported_line(watcher) < lines // 2:
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert watcher is not None
    assert 0 < _imported_line(watcher) < lines, "the import was not caught midway"
    watcher.close()
    # Whatever the killed run left in the rejects file (here, a line of some other run too).
    with rejects.open("ab") as stale:
        stale.write(b'{"line":1,"reason":"from another run","raw":""}\n')
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed after line" in resumed.stdout
    clean_url = f"sqlite:///{tmp_path}/clean.db"
    clean_rejects = tmp_path / "clean.rejects"
    clean = run(
        clean_url, "import", str(path), "--keep-record-time", "--rejects", str(clean_rejects)
    )
    assert clean.returncode == 0
    expected = clean_rejects.read_bytes().splitlines()
    assert expected, "the generated history has refused lines"
    # The same refusals, each once, in line order: none duplicated, none lost, none stale.
    assert rejects.read_bytes().splitlines() == expected
