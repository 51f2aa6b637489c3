"""Two ledgers (two processes' worth of caches) writing one subject on each real store: a stale
cached state folds what the other wrote, and a save on old state is refused and retried."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest

from credit_ledger.bootstrap import open_ledger
from ledger.domain.commands import RecordFact, RegisterSubject
from ledger.domain.errors import Conflict
from ledger.domain.values import subject_id_for
from ledger.service import unit_of_work
from ledger.service.application import CreditLedger
from tests.support import SYSTEM, uscc

CODE = uscc(1414)


@pytest.fixture
def two_ledgers(store_url: str) -> Iterator[tuple[CreditLedger, CreditLedger]]:
    """Two applications on one store, each with its own cache, as two `serve` processes."""
    a, b = open_ledger(store_url), open_ledger(store_url)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def fact(document_no: str, description: str | None = None) -> RecordFact:
    return RecordFact(
        uscc=CODE,
        indicator="penalty.minor",
        decided_on=date(2024, 1, 1),
        domain="food",
        document_no=document_no,
        description=description,
        actor=SYSTEM,
    )


def cached_state(ledger: CreditLedger) -> Any:
    cache = ledger.unit_of_work.folded
    subject = cache.take(subject_id_for(CODE))
    assert subject is not None
    cache.keep(subject)
    return subject.version, subject.state


def test_two_ledgers_writing_one_subject_alternately_keep_its_state(
    two_ledgers: tuple[CreditLedger, CreditLedger],
) -> None:
    a, b = two_ledgers
    a.handle(RegisterSubject(uscc=CODE, name="n", kind="enterprise", fields=["food"], actor=SYSTEM))
    writes = 12
    for n in range(writes):
        writer, other = (a, b) if n % 2 else (b, a)
        assert writer.handle(fact(f"doc-{n}")).created
        if n:
            # The other's cache is one write behind: it still sees the document just written.
            assert not other.handle(fact(f"doc-{n}")).created
            with pytest.raises(Conflict):
                other.handle(fact(f"doc-{n}", description="different"))
    history = a.history(CODE)
    assert [e.originator_version for e in history] == list(range(1, 2 + writes))
    stored = a.subject(CODE)
    assert {f.document_no for f in stored.facts.values()} == {f"doc-{n}" for n in range(writes)}
    for ledger in (a, b):
        assert cached_state(ledger) == (1 + writes, stored)
        # After its first write each ledger started from its cache, folding only the tail.
        assert ledger.unit_of_work.folded.hits >= writes


def test_a_save_on_old_state_meets_the_version_check_and_the_retry_folds_again(
    two_ledgers: tuple[CreditLedger, CreditLedger], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two_ledgers
    a.handle(RegisterSubject(uscc=CODE, name="n", kind="enterprise", fields=["food"], actor=SYSTEM))
    a.handle(fact("first"))
    real_save: Callable[..., Any] = a.save
    interfered: list[bool] = []

    def save_after_the_other(*objs: Any, **kwargs: Any) -> Any:
        # The other process appends between this one's load and its save.
        if not interfered:
            interfered.append(True)
            b.handle(fact("theirs"))
        return real_save(*objs, **kwargs)

    conflicts: list[int] = []
    monkeypatch.setattr(a, "save", save_after_the_other)
    monkeypatch.setattr(unit_of_work, "_back_off", conflicts.append)
    assert a.handle(fact("mine")).created
    assert conflicts == [0]
    history = a.history(CODE)
    assert [e.originator_version for e in history] == [1, 2, 3, 4]
    assert [getattr(e, "document_no", None) for e in history] == [None, "first", "theirs", "mine"]
    stored = a.subject(CODE)
    assert cached_state(a) == (4, stored)
    # The other ledger's cache is behind; its next write folds the tail and lands after it.
    assert b.handle(fact("later")).created
    assert cached_state(b) == (5, b.subject(CODE))
