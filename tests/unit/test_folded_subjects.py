"""The write path's cache of folded subjects: hit, miss, a stale entry folds the tail, eviction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from ledger.domain.commands import RecordFact, RegisterSubject
from ledger.domain.errors import Conflict
from ledger.domain.subject import Subject
from ledger.domain.values import subject_id_for
from ledger.service import unit_of_work
from ledger.service.application import CreditLedger
from ledger.service.folded import FoldedSubjects
from tests.support import SYSTEM, StepClock, uscc

CODE = uscc(14)


def register(ledger: CreditLedger, code: str = CODE) -> None:
    ledger.handle(
        RegisterSubject(uscc=code, name="n", kind="enterprise", fields=["food"], actor=SYSTEM)
    )


def fact(document_no: str, code: str = CODE, description: str | None = None) -> RecordFact:
    return RecordFact(
        uscc=code,
        indicator="penalty.minor",
        decided_on=date(2018, 6, 1),
        domain="food",
        document_no=document_no,
        description=description,
        actor=SYSTEM,
    )


def held(ledger: CreditLedger, code: str = CODE) -> Subject:
    """The cached aggregate, left in the cache."""
    cache = ledger.unit_of_work.folded
    subject = cache.take(subject_id_for(code))
    assert subject is not None
    cache.keep(subject)
    return subject


def test_a_write_keeps_the_subject_and_the_next_write_starts_from_it(
    memory_ledger: CreditLedger,
) -> None:
    cache = memory_ledger.unit_of_work.folded
    register(memory_ledger)
    assert cache.misses == 1  # the stream did not exist yet
    assert cache.hits == 0
    for n in range(3):
        memory_ledger.handle(fact(f"doc-{n}"))
    assert cache.hits == 3
    assert cache.misses == 1
    subject = held(memory_ledger)
    assert subject.version == 4
    assert subject.state == memory_ledger.subject(CODE)


def test_a_subject_not_held_is_folded_whole(memory_ledger: CreditLedger) -> None:
    register(memory_ledger)
    memory_ledger.handle(fact("doc-1"))
    memory_ledger.unit_of_work.folded.clear()
    memory_ledger.handle(fact("doc-2"))
    assert memory_ledger.unit_of_work.folded.misses == 2
    assert held(memory_ledger).version == 3
    assert held(memory_ledger).state == memory_ledger.subject(CODE)


def test_a_stale_entry_folds_the_events_stored_since(memory_ledger: CreditLedger) -> None:
    register(memory_ledger)
    memory_ledger.handle(fact("doc-1"))
    # A batch writes past the cache, as another process would: the entry is now one behind.
    with memory_ledger.unit_of_work.batch():
        memory_ledger.handle(fact("doc-2"))
    assert held(memory_ledger).version == 2
    # The stale entry sees doc-2: the same payload again is a no-op, a different one refused.
    assert not memory_ledger.handle(fact("doc-2")).created
    with pytest.raises(Conflict):
        memory_ledger.handle(fact("doc-2", description="other"))
    memory_ledger.handle(fact("doc-3"))
    subject = held(memory_ledger)
    assert subject.version == 4
    assert subject.state == memory_ledger.subject(CODE)
    history = memory_ledger.history(CODE)
    assert [e.originator_version for e in history] == [1, 2, 3, 4]


def test_a_refusal_leaves_the_held_state_as_stored(memory_ledger: CreditLedger) -> None:
    register(memory_ledger)
    memory_ledger.handle(fact("doc-1"))
    with pytest.raises(Conflict):
        memory_ledger.handle(fact("doc-1", description="other"))
    assert memory_ledger.unit_of_work.folded.hits == 2  # the refusal took it and gave it back
    assert held(memory_ledger).state == memory_ledger.subject(CODE)


def test_a_save_refused_for_its_version_is_not_kept_and_the_retry_folds_again(
    memory_ledger: CreditLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(memory_ledger)
    real_save: Callable[..., Any] = memory_ledger.save
    interfered: list[bool] = []

    def save_after_another_writer(*objs: Any, **kwargs: Any) -> Any:
        # Between this writer's load and its save, another appends to the same stream.
        if not interfered:
            interfered.append(True)
            with memory_ledger.unit_of_work.batch():
                memory_ledger.handle(fact("other"))
        return real_save(*objs, **kwargs)

    monkeypatch.setattr(memory_ledger, "save", save_after_another_writer)
    conflicts: list[bool] = []
    monkeypatch.setattr(unit_of_work, "_back_off", lambda attempt: conflicts.append(True))
    memory_ledger.handle(fact("mine"))
    assert conflicts == [True]
    state = memory_ledger.subject(CODE)
    assert {f.document_no for f in state.facts.values()} == {"other", "mine"}
    subject = held(memory_ledger)
    assert subject.version == 3
    assert subject.state == state


def test_the_least_recently_used_subject_goes_first() -> None:
    cache = FoldedSubjects(capacity=2)
    ledger = CreditLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=StepClock())
    ledger.unit_of_work.folded = cache
    codes = [uscc(n) for n in (1, 2, 3)]
    register(ledger, codes[0])
    register(ledger, codes[1])
    ledger.handle(fact("doc", codes[0]))  # codes[0] is now the most recently used
    register(ledger, codes[2])
    assert len(cache) == 2
    assert cache.take(subject_id_for(codes[1])) is None
    assert cache.take(subject_id_for(codes[0])) is not None
    assert cache.take(subject_id_for(codes[2])) is not None
    ledger.close()


def test_capacity_zero_holds_nothing_and_writes_still_work(clock: StepClock) -> None:
    ledger = CreditLedger(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=clock, cached_subjects=0
    )
    register(ledger)
    ledger.handle(fact("doc-1"))
    assert len(ledger.unit_of_work.folded) == 0
    assert len(ledger.history(CODE)) == 2
    ledger.close()


def test_an_older_version_never_replaces_a_newer_one(memory_ledger: CreditLedger) -> None:
    register(memory_ledger)
    cache = memory_ledger.unit_of_work.folded
    older = cache.take(subject_id_for(CODE))
    assert older is not None
    memory_ledger.handle(fact("doc-1"))  # not held: folded whole, kept at version 2
    cache.keep(older)
    assert held(memory_ledger).version == 2
