"""Fixtures: a controllable clock and a ledger per store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.service.application import CreditLedger
from tests.support import StepClock, ledger_on, postgres_schema


@pytest.fixture
def clock() -> StepClock:
    """A record clock starting on 2019-01-01."""
    return StepClock()


@pytest.fixture
def memory_ledger(clock: StepClock, tmp_path: Path) -> Iterator[CreditLedger]:
    """A ledger on the library's in-memory recorder (unit tests)."""
    with ledger_on("memory", tmp_path, clock) as app:
        yield app


@pytest.fixture(params=["sqlite", "postgres"])
def stored_ledger(
    request: pytest.FixtureRequest, clock: StepClock, tmp_path: Path
) -> Iterator[CreditLedger]:
    """The same ledger on each real store: an SQLite file and a PostgreSQL schema."""
    with ledger_on(request.param, tmp_path, clock) as app:
        yield app


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store's URL: an SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.db"
    else:
        with postgres_schema() as url:
            yield url
