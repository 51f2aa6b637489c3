"""The one log-paging loop: start exclusive, stop inclusive, topics, limit and the queries made."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from ledger.domain.access import AccessToken
from ledger.domain.commands import RegisterSubject
from ledger.domain.subject import Subject
from ledger.service.application import CreditLedger
from ledger.store.log import read_log, read_pages
from tests.integration.test_read_log_on_stores import check_last_position
from tests.support import ADMIN, SYSTEM, uscc


class Counting:
    """A recorder that remembers every query it answered."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self.queries: list[dict[str, Any]] = []

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Any:
        self.queries.append({"start": start, "limit": limit, "stop": stop})
        return self.recorder.select_notifications(
            start, limit, stop, topics, inclusive_of_start=inclusive_of_start
        )


def _ledger(app: CreditLedger, subjects: int = 3, tokens: int = 2) -> None:
    # Subjects and tokens interleaved, so a topic filter leaves gaps in the positions.
    for n in range(max(subjects, tokens)):
        if n < subjects:
            app.handle(
                RegisterSubject(
                    uscc=uscc(100 + n),
                    name=f"s{n}",
                    kind="enterprise",
                    fields=["food"],
                    actor=SYSTEM,
                )
            )
        if n < tokens:
            app.issue_token(role="admin", actor=ADMIN)


def _ids(app: CreditLedger, **bounds: Any) -> list[int]:
    return [n.id for n in read_log(app.recorder, **bounds)]


def test_whole_log_in_order_whatever_the_page_size(memory_ledger: CreditLedger) -> None:
    _ledger(memory_ledger)
    head = memory_ledger.max_position()
    every = list(range(1, head + 1))
    for size in (1, 2, 3, head, head + 5):
        assert _ids(memory_ledger, page_size=size) == every


def test_start_is_exclusive_and_stop_inclusive(memory_ledger: CreditLedger) -> None:
    _ledger(memory_ledger)
    assert _ids(memory_ledger, start=2, stop=4, page_size=1) == [3, 4]
    assert _ids(memory_ledger, start=0, stop=1) == [1]
    assert _ids(memory_ledger, start=4, stop=4) == []
    assert _ids(memory_ledger, start=memory_ledger.max_position()) == []


def test_topics_keep_only_those_events(memory_ledger: CreditLedger) -> None:
    _ledger(memory_ledger)
    tokens = [AccessToken.Issued.TOPIC]
    found = list(read_log(memory_ledger.recorder, topics=tokens, page_size=1))
    assert [n.topic for n in found] == tokens * 2
    registered = [Subject.Registered.TOPIC]
    assert len(_ids(memory_ledger, topics=registered, page_size=2)) == 3
    # Stop bounds positions, not matches: a token event at the stop is beyond the subjects'.
    first_token = found[0].id
    assert _ids(memory_ledger, topics=tokens, stop=first_token) == [first_token]
    assert _ids(memory_ledger, topics=tokens, stop=first_token - 1) == []


def test_limit_bounds_what_is_read_and_the_last_query(memory_ledger: CreditLedger) -> None:
    _ledger(memory_ledger)
    counting = Counting(memory_ledger.recorder)
    found = [n.id for n in read_log(counting, start=1, page_size=2, limit=3)]  # type: ignore[arg-type]
    assert found == [2, 3, 4]
    assert counting.queries == [
        {"start": 1, "limit": 2, "stop": None},
        {"start": 3, "limit": 1, "stop": None},
    ]


def test_no_query_past_the_stop_or_after_an_empty_page(memory_ledger: CreditLedger) -> None:
    _ledger(memory_ledger)
    counting = Counting(memory_ledger.recorder)
    pages = list(read_pages(counting, stop=4, page_size=2))  # type: ignore[arg-type]
    assert [[n.id for n in p] for p in pages] == [[1, 2], [3, 4]]
    assert [q["start"] for q in counting.queries] == [0, 2]
    counting.queries.clear()
    assert list(read_pages(counting, start=3, stop=3)) == []  # type: ignore[arg-type]
    assert counting.queries == []
    head = memory_ledger.max_position()
    assert [len(p) for p in read_pages(counting, page_size=head)] == [head]  # type: ignore[arg-type]
    assert len(counting.queries) == 2  # the second query finds the log's end


def test_pages_are_read_only_as_they_are_consumed(memory_ledger: CreditLedger) -> None:
    _ledger(memory_ledger)
    counting = Counting(memory_ledger.recorder)
    notifications = read_log(counting, page_size=2)  # type: ignore[arg-type]
    assert counting.queries == []
    next(notifications)
    next(notifications)
    assert len(counting.queries) == 1


def test_a_page_size_must_be_positive(memory_ledger: CreditLedger) -> None:
    with pytest.raises(ValueError, match="page_size"):
        list(read_pages(memory_ledger.recorder, page_size=0))


def test_the_last_position_of_topics_on_a_recorder_without_its_own_query(
    memory_ledger: CreditLedger,
) -> None:
    check_last_position(memory_ledger)  # the in-memory recorder: read through the notifications
