"""Exchange batches as files on both stores: a batch records upstream what direct deliveries do,
a re-import adds nothing, a tampered batch is refused whole, and the command line does the same."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from credit_ledger.bootstrap import open_ledger
from credit_ledger.bulk import generate, import_file
from ledger.domain.errors import InvalidInput
from ledger.domain.exchange import DELIVERIES_FILE, MANIFEST_FILE, BatchMismatch
from ledger.domain.subject import SUBJECT_EVENT_TOPICS
from ledger.service.application import CreditLedger
from ledger.service.exchange import export_batch, import_batch, source_actor
from tests.integration.test_cli import run
from tests.support import postgres_schema

SOURCE = "舞钢市"
STORES = ["sqlite", "postgres"]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated platform history (deterministic for its seed)."""
    path = tmp_path_factory.mktemp("history") / "history.ndjson"
    with path.open("wb") as out:
        generate(30, 7, out, date(2026, 11, 30))
    return path


@contextmanager
def urls(store: str, tmp_path: Path, n: int) -> Iterator[list[str]]:
    """`n` fresh, empty stores' URLs of one kind."""
    if store == "sqlite":
        yield [f"sqlite:///{tmp_path}/store{i}.db" for i in range(n)]
        return
    with ExitStack() as stack:
        yield [stack.enter_context(postgres_schema()) for _ in range(n)]


@contextmanager
def ledgers(store: str, tmp_path: Path, n: int) -> Iterator[list[CreditLedger]]:
    """`n` fresh ledgers of one kind of store."""
    with urls(store, tmp_path, n) as found, ExitStack() as stack:
        opened = [open_ledger(url) for url in found]
        for ledger in opened:
            stack.callback(ledger.close)
        yield opened


def load(ledger: CreditLedger, history: Path, tmp_path: Path) -> None:
    report = import_file(ledger, history, rejects=tmp_path / "rejects", keep_record_time=True)
    assert report.events > 100


def streams(ledger: CreditLedger) -> dict[str, list[tuple[str, int, dict[str, Any]]]]:
    """Each subject stream's events: topic, version and payload without record time and actor."""
    found: dict[str, list[tuple[str, int, dict[str, Any]]]] = {}
    rows = ledger.recorder.select_notifications(
        start=None, limit=1_000_000, topics=SUBJECT_EVENT_TOPICS
    )
    for row in rows:
        event = ledger.mapper.to_domain_event(row)
        payload = {
            k: v for k, v in vars(event).items() if k not in {"timestamp", "actor_id", "_id"}
        }
        found.setdefault(str(row.originator_id), []).append(
            (row.topic, row.originator_version, payload)
        )
    return found


def delivered_directly(source: CreditLedger, target: CreditLedger) -> dict[str, int]:
    """Every delivery of `source` handed to `target.receive` page by page; counts by outcome."""
    actor = source_actor(target, SOURCE)
    counts: dict[str, int] = {}
    after = 0
    while True:
        page = source.outgoing(after, 200)
        if page.upto <= after:
            return counts
        for answer in target.receive(actor, [d.line() for d in page.deliveries]):
            counts[answer["status"]] = counts.get(answer["status"], 0) + 1
        after = page.upto


@pytest.mark.parametrize("store", STORES)
def test_an_imported_batch_records_what_direct_deliveries_record_and_again_nothing(
    store: str, history: Path, tmp_path: Path
) -> None:
    with ledgers(store, tmp_path, 3) as (city, by_file, by_call):
        load(city, history, tmp_path)
        manifest = export_batch(city, tmp_path / "batch", source=SOURCE)
        assert manifest.total > 50
        assert manifest.upto == city.max_position()

        report = import_batch(by_file, tmp_path / "batch")
        direct = delivered_directly(city, by_call)

        assert (report.lines, report.earlier) == (manifest.total, 0)
        counted = {"accepted": report.accepted, "unchanged": report.unchanged}
        counted["refused"] = report.refused
        assert {k: v for k, v in counted.items() if v} == direct
        assert [r["position"] for r in report.refusals] == sorted(
            r["position"] for r in report.refusals
        )
        recorded = streams(by_file)
        assert recorded == streams(by_call)
        assert any(t == "credit.delivery_received.v1" for s in recorded.values() for t, *_ in s)

        top = by_file.max_position()
        again = import_batch(by_file, tmp_path / "batch")
        assert again.earlier == again.lines == manifest.total
        assert (again.accepted, again.unchanged, again.refused) == (
            report.accepted,
            report.unchanged,
            report.refused,
        )
        assert by_file.max_position() == top


def _change_one_byte(batch: Path) -> str:
    data = bytearray((batch / DELIVERIES_FILE).read_bytes())
    at = data.index(b'"established_on":"') + len(b'"established_on":"')
    data[at + 3] = ord("7") if data[at + 3] != ord("7") else ord("8")  # still valid JSON
    (batch / DELIVERIES_FILE).write_bytes(bytes(data))
    return "manifest.digests.sm3"


def _remove_a_line(batch: Path) -> str:
    lines = (batch / DELIVERIES_FILE).read_bytes().splitlines(keepends=True)
    del lines[len(lines) // 2]
    (batch / DELIVERIES_FILE).write_bytes(b"".join(lines))
    return "manifest.counts.total"


def _edit_the_count(batch: Path) -> str:
    manifest = json.loads((batch / MANIFEST_FILE).read_bytes())
    manifest["counts"]["total"] -= 1
    (batch / MANIFEST_FILE).write_text(json.dumps(manifest), "utf-8")
    return "manifest.counts.total"


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("tamper", [_change_one_byte, _remove_a_line, _edit_the_count])
def test_a_tampered_batch_is_refused_whole_and_writes_nothing(
    store: str, tamper: Any, history: Path, tmp_path: Path
) -> None:
    with ledgers(store, tmp_path, 2) as (city, province):
        load(city, history, tmp_path)
        export_batch(city, tmp_path / "batch", source=SOURCE)
        shutil.copytree(tmp_path / "batch", tmp_path / "tampered")
        named = tamper(tmp_path / "tampered")
        top = province.max_position()

        with pytest.raises(BatchMismatch) as refused:
            import_batch(province, tmp_path / "tampered")

        assert named in {where for where, _ in refused.value.problems}
        assert "refused whole" in refused.value.message
        assert province.max_position() == top
        assert province.inbox(SOURCE) is None
        # The untouched batch still imports.
        assert import_batch(province, tmp_path / "batch").accepted > 0


@pytest.mark.parametrize("store", STORES)
def test_a_long_history_exported_in_limited_batches_imports_as_one(
    store: str, history: Path, tmp_path: Path
) -> None:
    with ledgers(store, tmp_path, 3) as (city, in_parts, at_once):
        load(city, history, tmp_path)
        after, parts = 0, 0
        while after < city.max_position():
            part = export_batch(
                city, tmp_path / f"part{parts}", source=SOURCE, after=after, limit=9
            )
            assert part.total <= 9
            after, parts = part.upto, parts + 1
            import_batch(in_parts, tmp_path / f"part{parts - 1}")
        export_batch(city, tmp_path / "whole", source=SOURCE)
        import_batch(at_once, tmp_path / "whole")

        assert parts > 3
        assert streams(in_parts) == streams(at_once)


def test_an_export_never_overwrites_a_batch(history: Path, tmp_path: Path) -> None:
    with ledgers("sqlite", tmp_path, 1) as (city,):
        load(city, history, tmp_path)
        export_batch(city, tmp_path / "batch", source=SOURCE, limit=3)
        before = (tmp_path / "batch" / DELIVERIES_FILE).read_bytes()
        with pytest.raises(InvalidInput) as refused:
            export_batch(city, tmp_path / "batch", source=SOURCE)
        assert refused.value.field == "out"
        assert (tmp_path / "batch" / DELIVERIES_FILE).read_bytes() == before


@pytest.mark.parametrize("store", STORES)
def test_the_command_line_exports_and_imports_batches_and_refuses_a_tampered_one(
    store: str, history: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with urls(store, tmp_path, 2) as (city_url, province_url):
        city = open_ledger(city_url)
        try:
            load(city, history, tmp_path)
        finally:
            city.close()
        monkeypatch.setenv("CREDIT_LEDGER_LEDGER_NAME", SOURCE)

        first = run(city_url, "exchange", "export", "--out", str(tmp_path / "b1"), "--limit", "20")
        assert first.returncode == 0, first.stderr
        after = re.search(r"--after (\d+)", first.stdout)
        assert after is not None
        rest = run(
            city_url, "exchange", "export", "--out", str(tmp_path / "b2"), "--after", after[1]
        )
        assert rest.returncode == 0, rest.stderr
        manifest = json.loads((tmp_path / "b1" / MANIFEST_FILE).read_bytes())
        assert (manifest["source"], manifest["counts"]["total"]) == (SOURCE, 20)

        shutil.copytree(tmp_path / "b2", tmp_path / "bad")
        _edit_the_count(tmp_path / "bad")
        bad = run(province_url, "exchange", "import", str(tmp_path / "bad"))
        assert bad.returncode == 2
        assert "refused whole" in bad.stderr
        assert "manifest.counts.total" in bad.stderr

        taken = run(province_url, "exchange", "import", str(tmp_path / "b1"))
        assert taken.returncode == 0, taken.stderr
        assert re.search(r"20 deliveries from 舞钢市: \d+ accepted", taken.stdout)
        taken = run(province_url, "exchange", "import", str(tmp_path / "b2"))
        assert taken.returncode == 0, taken.stderr
        again = run(province_url, "exchange", "import", str(tmp_path / "b1"))
        assert "(20 taken before, answered as then)" in again.stdout

        province = open_ledger(province_url)
        try:
            inbox = province.inbox(SOURCE)
            assert inbox is not None
            rest_total = json.loads((tmp_path / "b2" / MANIFEST_FILE).read_bytes())["counts"]
            assert len(inbox.outcomes) == 20 + rest_total["total"]
        finally:
            province.close()
