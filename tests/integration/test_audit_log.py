"""The query-audit log on both stores: reads recorded together are each stored, once."""

from __future__ import annotations

import threading
import time
from typing import Any

from credit_ledger.bootstrap import open_audit
from ledger.service.audit import GradeRead, QueryAudit


def _read(audit: QueryAudit, n: int) -> int:
    return audit.record_read(
        token_id=f"tok_{n}",
        role="reader",
        department=None,
        endpoint="evaluation",
        uscc=f"code-{n}",
        purpose="test",
    )


def test_reads_recorded_at_once_are_each_stored_once_under_their_own_position(
    store_url: str,
) -> None:
    audit = open_audit(store_url)
    try:
        positions: dict[int, int] = {}

        def reader(first: int) -> None:
            for n in range(first, first + 25):
                positions[n] = _read(audit, n)

        threads = [threading.Thread(target=reader, args=(k * 100,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(positions) == 200
        assert len(set(positions.values())) == 200
        found, _ = audit.reads(limit=1000)
        assert len(found) == 200
        # Each caller was told the position its own read was stored at.
        by_position = {position: event.token_id for position, event in found}
        assert all(by_position[p] == f"tok_{n}" for n, p in positions.items())
    finally:
        audit.close()


def test_reads_that_arrive_during_a_commit_are_stored_by_the_next_one_together(
    store_url: str,
) -> None:
    audit = open_audit(store_url)
    try:
        original = audit.store_reads
        commits: list[int] = []
        entered, release = threading.Event(), threading.Event()

        def held(records: Any) -> Any:
            commits.append(len(records))
            if not entered.is_set():
                entered.set()
                release.wait(timeout=30)
            return original(records)

        audit.store_reads = held  # type: ignore[method-assign]
        positions: dict[int, int] = {}
        threads = [
            threading.Thread(target=lambda n=n: positions.__setitem__(n, _read(audit, n)))
            for n in range(6)
        ]
        threads[0].start()
        assert entered.wait(timeout=30)
        for t in threads[1:]:
            t.start()
        while len(audit._pending) < 5:  # the five have queued behind the held commit
            time.sleep(0.005)
        release.set()
        for t in threads:
            t.join(timeout=60)
        assert commits == [1, 5]
        assert sorted(positions.values()) == [p for p, _ in audit.reads()[0]]
        assert len(set(positions.values())) == 6
    finally:
        audit.close()


def test_a_failed_commit_fails_every_read_it_held_and_records_none_of_them(
    store_url: str,
) -> None:
    audit = open_audit(store_url)
    try:
        original = audit.store_reads
        entered, release = threading.Event(), threading.Event()

        def failing(records: Any) -> Any:
            if not entered.is_set():
                entered.set()
                release.wait(timeout=30)  # the others queue up behind this commit
            raise RuntimeError("the store went away")

        audit.store_reads = failing  # type: ignore[method-assign]
        outcomes: dict[int, object] = {}

        def reader(n: int) -> None:
            try:
                outcomes[n] = _read(audit, n)
            except RuntimeError as exc:
                outcomes[n] = exc

        first = threading.Thread(target=reader, args=(0,))
        first.start()
        assert entered.wait(timeout=30)
        rest = [threading.Thread(target=reader, args=(n,)) for n in range(1, 6)]
        for t in rest:
            t.start()
        release.set()
        for t in [first, *rest]:
            t.join(timeout=60)
        assert len(outcomes) == 6
        assert all(isinstance(o, RuntimeError) for o in outcomes.values())
        audit.store_reads = original  # type: ignore[method-assign]
        assert audit.reads()[0] == []
        assert _read(audit, 99) > 0
        stored = [e for _, e in audit.reads()[0]]
        assert [e.token_id for e in stored] == ["tok_99"]
        assert all(isinstance(e, GradeRead.Recorded) for e in stored)
    finally:
        audit.close()


def test_a_search_stops_at_its_limit_or_its_scan_and_says_where_to_continue(
    store_url: str,
) -> None:
    audit = open_audit(store_url)
    try:
        positions = [_read(audit, n % 3) for n in range(9)]
        # Every third read is tok_1's: a limit stops at the match, mid-page.
        found, cursor = audit.reads(token_id="tok_1", limit=2)
        assert [p for p, _ in found] == [positions[1], positions[4]]
        assert cursor == positions[4]
        # A scan examines that many records after the cursor, matching or not.
        found, cursor = audit.reads(after=cursor, token_id="tok_1", scan=2)
        assert found == []
        assert cursor == positions[6]
        found, cursor = audit.reads(after=cursor, token_id="tok_1", scan=2)
        assert [p for p, _ in found] == [positions[7]]
        assert cursor == positions[8]
        assert audit.reads(after=cursor) == ([], cursor)
        assert audit.reads(limit=0) == ([], 0)
        assert audit.reads(after=positions[2], scan=0) == ([], positions[2])
    finally:
        audit.close()
