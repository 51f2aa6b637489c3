"""NDRC Order No. 36 of 2025 as the second repair-policy version, published, on both stores:
from 2026-04-01 a deduction stops counting after its maximum publication period, the minimum
periods stay, an approved repair puts a "stop using" notice on the feed — and a result known
before the publication is unchanged."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from ledger.domain.commands import DecideRepair, PublishVersion, RequestRepair
from ledger.domain.errors import NotEligible
from ledger.domain.rulebook import publishable_file
from ledger.domain.values import subject_id_for
from ledger.service.application import CreditLedger
from ledger.store.stores import stream_positions
from projections.grades import outcome
from tests.scenarios import fact, register
from tests.support import ADMIN, PLATFORM, SYSTEM, StepClock

ORDER_36 = publishable_file("repair-2026.toml")


def _publish(ledger: CreditLedger) -> None:
    ledger.handle(
        PublishVersion(kind="repair", source=ORDER_36, actor=ADMIN, reason="国家发展改革委令第36号")
    )


def _repair(ledger: CreditLedger, clock: StepClock, code: str, fact_id: str, on: date) -> None:
    clock.on(on)
    asked = ledger.handle(
        RequestRepair(
            uscc=code, target_id=UUID(fact_id), requested_on=on, commitment="已整改", actor=PLATFORM
        )
    )
    ledger.handle(
        DecideRepair(repair_id=asked.id, approved=True, decided_on=on, reason="ok", actor=SYSTEM)
    )


def _notices(ledger: CreditLedger, code: str) -> list[tuple[str | None, str | None]]:
    sid = subject_id_for(code)
    events = ledger.history(code)
    positions = stream_positions(ledger, sid)
    done = outcome(sid, events, positions, ledger.today(), ledger.models)
    return [(c.field, c.detail) for c in done.changes if c.kind == "stop_using"]


def test_maximum_publication_periods_apply_from_2026_04_01_once_published(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    ledger = stored_ledger
    code = register(ledger, clock)
    fact(ledger, clock, code, "penalty.serious", date(2024, 1, 10))  # 3 years: counts to 2027
    arrears = fact(
        ledger, clock, code, "tax.arrears", date(2025, 1, 10), domain="taxation"
    )  # until ended, general: under Order 36 published at most 1 year
    clock.on(date(2026, 3, 1))
    before = ledger.clock()
    assert ledger.evaluate(code, as_of=date(2026, 4, 1)).score == 60
    _publish(ledger)

    assert ledger.evaluate(code, as_of=date(2026, 3, 31)).score == 60  # Order 58 still
    after = ledger.evaluate(code, as_of=date(2026, 4, 1))
    assert after.score == 65
    (gone,) = [e for e in after.excluded if str(e.fact_id) == arrears]
    assert gone.reason == (
        "publication ended on 2026-01-10 (maximum publication period of repair policy NDRC-36-2025)"
    )
    # Known before the publication, the same date answers as it did.
    assert ledger.evaluate(code, as_of=date(2026, 4, 1), known_at=before).score == 60
    listed = [(v.version, v.known_from is None) for v in ledger.rulebook().versions("repair")]
    assert listed == [("PCCE-2021", True), ("NDRC-36-2025", False)]


def test_minimum_periods_stay_and_an_approved_repair_tells_departments_to_stop_using_it(
    stored_ledger: CreditLedger, clock: StepClock
) -> None:
    ledger = stored_ledger
    code = register(ledger, clock)
    early = fact(ledger, clock, code, "penalty.general", date(2025, 6, 1), document_no="a")
    _repair(ledger, clock, code, early, date(2025, 10, 9))  # under Order 58: no notice
    late = fact(ledger, clock, code, "penalty.general", date(2026, 3, 2), document_no="b")
    clock.on(date(2026, 3, 20))
    _publish(ledger)
    clock.on(date(2026, 4, 15))
    with pytest.raises(NotEligible) as early_request:
        ledger.handle(
            RequestRepair(
                uscc=code,
                target_id=UUID(late),
                requested_on=date(2026, 4, 15),
                commitment="已整改",
                actor=PLATFORM,
            )
        )
    assert early_request.value.eligible_on == date(2026, 6, 2)  # general: 3 months, as before
    assert _notices(ledger, code) == []
    _repair(ledger, clock, code, late, date(2026, 6, 2))
    assert _notices(ledger, code) == [("food", late)]
