"""Retention of identities on both stores (DOMAIN §9): a person whose last record is older than
the model's retention period is due for erasure, and erasing them leaves grades as they were."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from credit_ledger.bootstrap import open_ledger
from credit_ledger.settings import get_settings
from ledger.domain.commands import RecordFact, RegisterSubject
from ledger.service.application import CreditLedger
from tests.support import SYSTEM, StepClock, uscc


@pytest.fixture
def keyed(
    store_url: str, clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CreditLedger]:
    monkeypatch.setenv("CREDIT_LEDGER_MASTER_KEY", "7e" * 32)
    monkeypatch.setenv("CREDIT_LEDGER_PERSON_SECRET", "retention")
    get_settings.cache_clear()
    ledger = open_ledger(store_url, clock=clock)
    yield ledger
    ledger.close()
    get_settings.cache_clear()


def _person(ledger: CreditLedger, number: str, name: str) -> str:
    return ledger.register_person(
        id_number=number, name=name, actor=SYSTEM, fields=["legal_services"]
    ).ref


def _fact(ledger: CreditLedger, code: str, on: date, document: str) -> None:
    ledger.handle(
        RecordFact(
            uscc=code,
            indicator="penalty.general",
            decided_on=on,
            domain="legal_services",
            document_no=document,
            actor=SYSTEM,
        )
    )


def test_persons_past_retention_are_due_and_erased(keyed: CreditLedger, clock: StepClock) -> None:
    clock.on(date(2019, 3, 1))
    old = _person(keyed, "41048119851120456X", "孔令辉")
    recent = _person(keyed, "410481199003071232", "孟繁星")
    firm = uscc(3)
    keyed.handle(RegisterSubject(uscc=firm, name="舞钢律所", kind="enterprise", actor=SYSTEM))
    clock.on(date(2019, 6, 1))
    _fact(keyed, old, date(2019, 5, 20), "舞司罚〔2019〕1号")
    clock.on(date(2022, 1, 10))
    _fact(keyed, recent, date(2022, 1, 5), "舞司罚〔2022〕2号")
    assert keyed.persons_due_for_erasure(date(2024, 5, 31)) == []
    due = keyed.persons_due_for_erasure(date(2024, 6, 1))
    assert [code for code, _ in due] == [old]
    assert "retention period ended on 2024-06-01" in due[0][1]
    before = keyed.evaluate(old, as_of=date(2019, 12, 31))
    clock.on(date(2024, 6, 1))
    for code, reason in due:
        keyed.erase_person(code, reason=reason, actor=SYSTEM)
    after = keyed.evaluate(old, as_of=date(2019, 12, 31), known_at=before.known_at)
    assert (after.score, after.grade) == (before.score, before.grade)
    assert keyed.subject(old).name == "[erased]"
    assert keyed.identities.shown(before.name) == "[erased]"
    assert keyed.identities.shown(keyed.subject(recent).name) == "孟**"
    assert keyed.persons_due_for_erasure(date(2024, 6, 1)) == []
