"""The DOMAIN §4–§5 scenarios on the in-memory recorder."""

from __future__ import annotations

import pytest

from ledger.service.application import CreditLedger
from tests.scenarios import SCENARIOS, Scenario
from tests.support import StepClock


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_scenario_holds_in_memory(
    scenario: Scenario, memory_ledger: CreditLedger, clock: StepClock
) -> None:
    scenario(memory_ledger, clock)
