"""The bulk import's lean path stores exactly what the command path stores, on both stores."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest

from credit_ledger.bootstrap import open_ledger
from credit_ledger.bulk import BATCH_ATTEMPTS, checkpoint_key, generate, import_file
from credit_ledger.parallel import import_partitioned
from ledger.domain.commands import RecordFact
from ledger.domain.errors import Conflict
from ledger.domain.values import SYSTEM_ACTOR
from ledger.service import lean
from ledger.service.application import CreditLedger
from ledger.store.chain import verify_chain
from projections.store.checkpoints import ImportCheckpoints
from tests.integration.test_bulk import TODAY, _streams
from tests.integration.test_cli import run
from tests.support import postgres_schema

#: Events whose record time is the real present on either path (not the line's `at`).
NOW_STAMPED = ("credit.inspector_pool", "credit.locator")


@contextmanager
def fresh_store(kind: str, tmp_path: Path, name: str) -> Iterator[str]:
    """One more fresh store of the kind (an SQLite file, or its own PostgreSQL schema)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path}/{name}.db"
    else:
        with postgres_schema() as url:
            yield url


@pytest.fixture(params=["sqlite", "postgres"])
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two fresh, empty stores of one backend."""
    with (
        fresh_store(request.param, tmp_path, "command") as one,
        fresh_store(request.param, tmp_path, "bulk") as two,
    ):
        yield one, two


class DrawnIds:
    """Ids the ledger draws for lines that give none, from a counter started again for each
    import: both apply the lines in the same order, so they draw the same ids."""

    def __init__(self) -> None:
        self.counter = itertools.count(1)

    def __call__(self) -> UUID:
        return UUID(int=next(self.counter) | (1 << 127))

    def restart(self) -> None:
        self.counter = itertools.count(1)


@pytest.fixture
def drawn_ids(monkeypatch: pytest.MonkeyPatch) -> DrawnIds:
    """The ledger's drawn ids, from a counter (see `DrawnIds`)."""
    ids = DrawnIds()
    monkeypatch.setattr("ledger.service.handlers.uuid4", ids)
    return ids


def platform_file(tmp_path: Path, subjects: int) -> tuple[Path, Path]:
    """A generated history with broken lines, repeated lines and a conflicting repeat; and
    its first half, imported first so that the second import meets stored subjects."""
    generated = tmp_path / "generated.ndjson"
    with generated.open("wb") as fh:
        generate(subjects, 11, fh, TODAY)
    lines = generated.read_bytes().splitlines(keepends=True)
    facts = [line for line in lines if b'"record_fact"' in line]
    conflicting = orjson.loads(facts[3])
    conflicting["args"]["description"] = "another payload under the same document"
    bad = [
        b"{this is not json\n",
        b'{"at": "2024-01-01T00:00:00+08:00", "command": "drop_table", "args": {}}\n',
        b'{"at": "yesterday", "command": "record_fact", "args": {}}\n',
        orjson.dumps(conflicting) + b"\n",
    ]
    mixed: list[bytes] = []
    for number, line in enumerate(lines):
        mixed.append(line)
        if number % 97 == 50:
            mixed.append(bad[(number // 97) % len(bad)])
        if number % 61 == 30:
            mixed.append(lines[number // 2])  # a line seen before: a no-op
    whole = tmp_path / "platform.ndjson"
    whole.write_bytes(b"".join(mixed))
    # Cut in the middle of a subject's lines, so the second import appends to a stored stream.
    cut = next(n for n in range(len(mixed) // 2, len(mixed)) if b'"record_fact"' in mixed[n])
    half = tmp_path / "first-half.ndjson"
    half.write_bytes(b"".join(mixed[:cut]))
    return half, whole


def stored(ledger: CreditLedger) -> list[tuple[int, str, int, str, Any]]:
    """Every stored event in log order: position, stream, version, topic and stored bytes
    (decoded, less the record time, for events stamped with the real present)."""
    rows = []
    for n in ledger.recorder.select_notifications(start=None, limit=1_000_000):
        state: Any = n.state
        if n.topic.startswith(NOW_STAMPED):
            state = orjson.loads(n.state)
            state.pop("timestamp")
        rows.append((n.id, str(n.originator_id), n.originator_version, n.topic, state))
    return rows


def test_the_bulk_path_stores_what_the_command_path_stores(
    two_stores: tuple[str, str], tmp_path: Path, drawn_ids: DrawnIds
) -> None:
    half, whole = platform_file(tmp_path, 90)
    results = {}
    for via, url in zip(("command", "bulk"), two_stores, strict=True):
        drawn_ids.restart()
        ledger = open_ledger(url)
        reports = [
            import_file(
                ledger,
                path,
                rejects=tmp_path / f"{via}.{path.stem}.rejects",
                batch_lines=41,  # subjects span batches, so batches fold stored streams
                keep_record_time=True,
                via=via,
            )
            for path in (half, whole)
        ]
        results[via] = (
            [(r.lines, r.applied, r.unchanged, r.rejected, r.events) for r in reports],
            stored(ledger),
            ledger.max_position(),
        )
        report = verify_chain(ledger.recorder)
        assert report.problems == ()
        assert report.events == ledger.max_position()
        ledger.close()
    assert results["bulk"] == results["command"]
    counts, events, _ = results["bulk"]
    assert counts[0][1] > 0, "the first import applied lines"
    assert counts[1][1] > 0, "the second import applied lines"
    assert counts[1][2] >= counts[0][1], "the second import met the first's lines as no-ops"
    assert {topic for *_, topic, _ in events} >= {
        "credit.subject_registered.v1",
        "credit.fact_recorded.v1",
        "credit.objection_filed.v1",
        "credit.locator_created.v1",
    }
    for name in ("first-half", "platform"):
        mine = (tmp_path / f"bulk.{name}.rejects").read_bytes()
        assert mine == (tmp_path / f"command.{name}.rejects").read_bytes()
    reasons = {orjson.loads(r)["reason"].split(":")[0] for r in mine.splitlines()}
    assert {"malformed", "document_no"} <= reasons


def test_partitioned_bulk_imports_store_what_one_command_path_import_stores(
    two_stores: tuple[str, str], tmp_path: Path
) -> None:
    _, whole = platform_file(tmp_path, 60)
    command_url, bulk_url = two_stores
    alone = open_ledger(command_url)
    single = import_file(
        alone, whole, rejects=tmp_path / "alone.rejects", keep_record_time=True, via="command"
    )
    together = import_partitioned(
        bulk_url, whole, rejects=tmp_path / "together.rejects", workers=2, keep_record_time=True
    )
    assert (together.applied, together.rejected, together.events) == (
        single.applied,
        single.rejected,
        single.events,
    )
    assert (tmp_path / "together.rejects").read_bytes() == (tmp_path / "alone.rejects").read_bytes()
    ledger = open_ledger(bulk_url)
    # Two processes interleave their batches in the log, so streams are compared, not order
    # (ids drawn in the worker processes, from their own sources, masked).
    assert _streams(ledger) == _streams(alone)
    assert verify_chain(ledger.recorder).problems == ()
    ledger.close()
    alone.close()


class Interleaving:
    """`LeanBatch.write` with another writer appending first to a stored subject the batch
    appends to, the first `times` times (as a `serve` writing the same subject would)."""

    def __init__(self, url: str, times: int) -> None:
        self.other = open_ledger(url)
        self.times = times
        self.done = 0
        self.original = lean.LeanBatch.write

    def __call__(self, batch: lean.LeanBatch, then: Any = None) -> list[int]:
        stored = [h for h in batch.touched.values() if h.new and h.version > len(h.new)]
        if stored and self.done < self.times:
            self.done += 1
            state = stored[0].state
            self.other.handle(
                RecordFact(
                    uscc=str(state.uscc),
                    indicator="penalty.minor",
                    decided_on=TODAY,
                    domain=state.fields[0],
                    document_no=f"concurrent-{self.done}",
                    actor=SYSTEM_ACTOR,
                )
            )
        return self.original(batch, then)

    def method(self) -> Any:
        """This, as a method of `LeanBatch` (a function, so that it binds to the batch)."""

        def write(batch: lean.LeanBatch, then: Any = None) -> list[int]:
            return self(batch, then)

        return write


def test_a_batch_another_writer_overtook_is_decided_again_on_what_is_stored(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    half, whole = platform_file(tmp_path, 30)
    ledger = open_ledger(store_url)
    import_file(ledger, half, rejects=tmp_path / "first.rejects")
    other = Interleaving(store_url, times=1)
    monkeypatch.setattr(lean.LeanBatch, "write", other.method())
    report = import_file(ledger, whole, rejects=tmp_path / "second.rejects")
    assert other.done == 1
    assert report.applied > 0
    chain = verify_chain(ledger.recorder)
    assert chain.problems == ()
    # The concurrent fact is stored, and the import's events follow it on its stream.
    concurrent = [
        n
        for n in ledger.recorder.select_notifications(start=None, limit=1_000_000)
        if b"concurrent-" in n.state
    ]
    assert len(concurrent) == 1
    stream = ledger.recorder.select_events(concurrent[0].originator_id)
    assert [e.originator_version for e in stream] == list(range(1, len(stream) + 1))
    other.other.close()
    ledger.close()


def test_a_batch_overtaken_every_time_fails_clearly_and_stores_nothing(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    half, whole = platform_file(tmp_path, 30)
    ledger = open_ledger(store_url)
    import_file(ledger, half, rejects=tmp_path / "first.rejects")
    before = ledger.max_position()
    other = Interleaving(store_url, times=1_000)
    monkeypatch.setattr(lean.LeanBatch, "write", other.method())
    monkeypatch.setattr("credit_ledger.bulk.time.sleep", lambda _: None)
    with pytest.raises(Conflict, match="attempts"):
        import_file(ledger, whole, rejects=tmp_path / "second.rejects")
    # Only the other writer's facts were stored (one per attempt at least), no checkpoint.
    added = ledger.recorder.select_notifications(start=before + 1, limit=1_000_000)
    assert len(added) == other.done == BATCH_ATTEMPTS
    assert all(b"concurrent-" in n.state for n in added)
    assert ImportCheckpoints(ledger).get(checkpoint_key(whole)) == 0
    assert verify_chain(ledger.recorder).problems == ()
    other.other.close()
    ledger.close()


def test_the_command_line_imports_by_either_path_and_names_a_wrong_one(tmp_path: Path) -> None:
    _, whole = platform_file(tmp_path, 20)
    wrong = run(f"sqlite:///{tmp_path}/wrong.db", "import", str(whole), "--path", "lean")
    assert wrong.returncode != 0
    assert "--path" in wrong.stderr
    assert "bulk, command" in wrong.stderr
    printed = {}
    for via in ("bulk", "command"):
        rejects = ["--rejects", str(tmp_path / f"{via}.rejects")]
        url = f"sqlite:///{tmp_path}/{via}.db"
        done = run(url, "import", str(whole), "--path", via, "--keep-record-time", *rejects)
        assert done.returncode == 0, done.stderr
        printed[via] = done.stdout.split(" in ")[0]  # the counts, not the time taken
    assert printed["bulk"] == printed["command"]
    assert " applied, " in printed["bulk"]


def test_an_import_into_postgresql_leaves_the_planner_fresh_statistics(tmp_path: Path) -> None:
    # Stale statistics after a bulk load made every topic query walk the whole log.
    half, _ = platform_file(tmp_path, 30)
    with postgres_schema() as url:
        ledger = open_ledger(url)
        try:
            import_file(ledger, half, rejects=tmp_path / "r", keep_record_time=True)
            recorder: Any = ledger.recorder
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(
                    "SELECT last_analyze FROM pg_stat_user_tables "
                    "WHERE schemaname = %s AND relname = %s",
                    (recorder.datastore.schema, recorder.events_table_name),
                )
                row = cursor.fetchone()
            assert row is not None
            assert row["last_analyze"] is not None
        finally:
            ledger.close()
