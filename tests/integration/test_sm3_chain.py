"""A store created with SM3 (GB/T 32905) chains its events with it, on both stores: the choice
is recorded in the store, kept by every later process whatever it is configured with, and read
by `verify`; a store created with SHA-256 stays with it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from credit_ledger.bootstrap import open_audit, open_ledger
from credit_ledger.settings import get_settings
from ledger.domain.commands import RegisterSubject
from ledger.service.application import CreditLedger
from ledger.store.chain import stored_chain_hash, verify_chain
from tests.support import SYSTEM, uscc


@pytest.fixture
def chain_setting(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield monkeypatch
    get_settings.cache_clear()


def _opened(monkeypatch: pytest.MonkeyPatch, url: str, chain_hash: str) -> CreditLedger:
    monkeypatch.setenv("CREDIT_LEDGER_CHAIN_HASH", chain_hash)
    get_settings.cache_clear()
    return open_ledger(url)


def _register(ledger: CreditLedger, first: int, count: int) -> None:
    for n in range(first, first + count):
        ledger.handle(
            RegisterSubject(uscc=uscc(n), name=f"企业{n}", kind="enterprise", actor=SYSTEM)
        )


def test_an_sm3_store_keeps_and_verifies_its_hash(
    store_url: str, chain_setting: pytest.MonkeyPatch
) -> None:
    ledger = _opened(chain_setting, store_url, "sm3")
    _register(ledger, 0, 5)
    report = verify_chain(ledger.recorder)
    # Recomputed with SM3 from the stored rows, every link matched: they were made with SM3.
    assert stored_chain_hash(ledger.recorder) == "sm3"
    assert (report.events, report.problems) == (5, ())
    ledger.close()
    # A later process configured with the default keeps appending with SM3.
    again = _opened(chain_setting, store_url, "sha256")
    _register(again, 5, 3)
    report = verify_chain(again.recorder)
    assert stored_chain_hash(again.recorder) == "sm3"
    assert (report.events, report.problems) == (8, ())
    audit = open_audit(store_url)
    assert verify_chain(audit.recorder).problems == ()
    audit.close()
    again.close()


def test_a_sha256_store_stays_sha256(store_url: str, chain_setting: pytest.MonkeyPatch) -> None:
    ledger = _opened(chain_setting, store_url, "sha256")
    _register(ledger, 0, 2)
    ledger.close()
    later = _opened(chain_setting, store_url, "sm3")
    _register(later, 2, 2)
    report = verify_chain(later.recorder)
    assert stored_chain_hash(later.recorder) == "sha256"
    assert (report.events, report.problems) == (4, ())
    later.close()
