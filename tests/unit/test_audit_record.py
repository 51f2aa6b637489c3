"""An audit record is stored as the aggregate path would store it, without the aggregate."""

from __future__ import annotations

from datetime import date, datetime

from ledger.domain.values import CST
from ledger.service.audit import GradeRead, QueryAudit, read_record

FIELDS = {
    "token_id": "tok_0a1b2c3d4e",
    "role": "department",
    "department": "市场监管局",
    "endpoint": "evaluation",
    "uscc": "91350100M000100Y43",
    "purpose": "bid check 2025-117",
    "as_of": date(2025, 10, 31),
    "known_at": datetime(2025, 11, 3, 9, 30, tzinfo=CST),
    "grade": "良",
    "count": 1,
    "subjects": ["91350100M000100Y43"],
    "query": "GET /v1/subjects/91350100M000100Y43/evaluation?as_of=2025-10-31",
}


def test_a_read_record_is_the_event_the_aggregate_would_have_stored() -> None:
    audit = QueryAudit(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    [created] = GradeRead._create(GradeRead.Recorded, **FIELDS).collect_events()
    lean = read_record(originator_id=created.originator_id, timestamp=created.timestamp, **FIELDS)
    assert audit.mapper.to_stored_event(lean) == audit.mapper.to_stored_event(created)


def test_stored_read_records_read_back_in_order_with_their_positions_and_as_aggregates() -> None:
    audit = QueryAudit(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    first = read_record(**FIELDS)
    second = read_record(**{**FIELDS, "token_id": "tok_ffffffffff", "subjects": [], "uscc": None})
    positions = audit.store_reads([first, second])
    assert positions == [1, 2]
    found, scanned = audit.reads()
    assert found == [(1, first), (2, second)]
    assert scanned == 2
    # The record is still the start of a `GradeRead` stream the repository can rebuild.
    read = audit.repository.get(first.originator_id)
    assert isinstance(read, GradeRead)
    assert (read.token_id, read.uscc, read.subjects) == (
        "tok_0a1b2c3d4e",
        FIELDS["uscc"],
        FIELDS["subjects"],
    )
    assert first.originator_id != second.originator_id
