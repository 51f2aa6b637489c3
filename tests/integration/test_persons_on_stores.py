"""What works for an organisation works for a natural person, on both stores (DOMAIN §9):
facts, objections, repairs, listings, fields, industry evaluations, supervision tiers, draws and
the feed, all under the person's ref; the read models hold only its sealed identity."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from credit_ledger.bootstrap import open_ledger
from credit_ledger.settings import get_settings
from ledger.domain.commands import (
    DecideRepair,
    DelistSubject,
    FileObjection,
    JoinField,
    ListSubject,
    RecordFact,
    RecordIndustryEvaluation,
    RequestRepair,
    ResolveObjection,
)
from ledger.service.application import CreditLedger
from projections.runner import Projector
from tests.support import SYSTEM, StepClock

NAME = "司徒雅琴"
NUMBER = "410481200102037713"


@pytest.fixture
def keyed(
    store_url: str, clock: StepClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CreditLedger]:
    monkeypatch.setenv("CREDIT_LEDGER_MASTER_KEY", "1f" * 32)
    monkeypatch.setenv("CREDIT_LEDGER_PERSON_SECRET", "stores")
    monkeypatch.setenv("CREDIT_LEDGER_CIPHER", "aes-256-gcm")  # the other cipher, here
    get_settings.cache_clear()
    ledger = open_ledger(store_url, clock=clock)
    yield ledger
    ledger.close()
    get_settings.cache_clear()


def _fact(ledger: CreditLedger, ref: str, indicator: str, on: date, doc: str) -> object:
    return ledger.handle(
        RecordFact(
            uscc=ref,
            indicator=indicator,
            decided_on=on,
            domain="private_education",
            document_no=doc,
            actor=SYSTEM,
        )
    ).id


def test_a_person_goes_through_every_procedure(keyed: CreditLedger, clock: StepClock) -> None:
    clock.on(date(2024, 1, 2))
    ref = keyed.register_person(
        id_number=NUMBER, name=NAME, actor=SYSTEM, fields=["private_education"]
    ).ref
    assert keyed.identities.table.get([ref])[ref][0] == "aes-256-gcm"
    clock.on(date(2024, 2, 1))
    objected = _fact(keyed, ref, "penalty.general", date(2024, 1, 20), "舞教罚〔2024〕1号")
    repaired = _fact(keyed, ref, "penalty.general", date(2024, 1, 25), "舞教罚〔2024〕2号")
    clock.on(date(2024, 2, 5))
    objection = keyed.handle(
        FileObjection(
            uscc=ref, target_id=objected, filed_on=date(2024, 2, 5), grounds="非本人", actor=SYSTEM
        )
    )
    clock.on(date(2024, 2, 10))
    keyed.handle(
        ResolveObjection(
            objection_id=objection.id,
            outcome="corrected",
            resolved_on=date(2024, 2, 10),
            void=True,
            actor=SYSTEM,
        )
    )
    clock.on(date(2024, 6, 3))
    repair = keyed.handle(
        RequestRepair(
            uscc=ref,
            target_id=repaired,
            requested_on=date(2024, 6, 1),
            commitment="已整改",
            actor=SYSTEM,
        )
    )
    keyed.handle(
        DecideRepair(
            repair_id=repair.id,
            approved=True,
            decided_on=date(2024, 6, 3),
            reason="符合条件",
            actor=SYSTEM,
        )
    )
    clock.on(date(2024, 6, 10))
    listing = keyed.handle(
        ListSubject(
            uscc=ref,
            list_type="serious_illegal_dishonest",
            listed_on=date(2024, 6, 5),
            domain="private_education",
            document_no="舞教列〔2024〕1号",
            authority="市教育局",
            actor=SYSTEM,
        )
    )
    assert keyed.evaluate(ref, as_of=date(2024, 6, 10)).grade == "差"
    clock.on(date(2024, 7, 2))
    keyed.handle(
        DelistSubject(
            uscc=ref,
            listing_id=listing.id,
            delisted_on=date(2024, 7, 1),
            reason="revoked",
            actor=SYSTEM,
        )
    )
    keyed.handle(
        JoinField(uscc=ref, field="legal_services", joined_on=date(2024, 7, 1), actor=SYSTEM)
    )
    keyed.handle(
        RecordIndustryEvaluation(
            uscc=ref,
            domain="private_education",
            evaluated_on=date(2024, 7, 2),
            model="教师2024",
            score="95",
            actor=SYSTEM,
        )
    )
    clock.on(date(2024, 7, 10))
    ev = keyed.evaluate(ref, as_of=date(2024, 7, 10))
    assert (ev.score, ev.grade) == (80, "良")  # voided by the objection, ended by the repair
    assert keyed.identities.shown(ev.name) == "司***"
    tier = keyed.supervision(ref, field="private_education", as_of=date(2024, 7, 10))
    assert tier.industry is not None
    keyed.register_inspectors("private_education", inspectors=["甲", "乙"], actor=SYSTEM)
    members = keyed.field_population("private_education", date(2024, 7, 10), keyed.max_position())
    assert [m.uscc for m in members] == [ref]
    draw, _ = keyed.make_draw(
        field="private_education", as_of=date(2024, 7, 10), seed="人员抽查", actor=SYSTEM
    )
    assert keyed.verify_draw(draw.id) == []
    projector = Projector(keyed, today=lambda: date(2024, 7, 10))
    projector.run_once()
    grades = {r["uscc"]: r for r in projector.rows("current_grades")}
    assert grades[ref]["name"].startswith(f"pii1.{ref}.")
    assert NAME not in str(projector.rows("supervision")) + str(grades)
    assert {r["uscc"] for r in projector.rows("feed")} == {ref}
