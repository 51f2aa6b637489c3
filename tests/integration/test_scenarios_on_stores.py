"""The same DOMAIN §4–§5 scenarios on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from ledger.service.application import CreditLedger
from tests.scenarios import SCENARIOS, Scenario
from tests.support import StepClock


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_scenario_holds_on_store(
    scenario: Scenario, stored_ledger: CreditLedger, clock: StepClock
) -> None:
    scenario(stored_ledger, clock)
