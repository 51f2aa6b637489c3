"""Helpers for federation tests: a city history touching every delivered topic, a delivery loop
from a city to its province, and subject states compared without their record times."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any
from uuid import UUID

from ledger.domain.catalog import catalogue
from ledger.domain.commands import (
    Command,
    DecideRepair,
    DelistSubject,
    EndFact,
    FileObjection,
    JoinField,
    LeaveField,
    ListSubject,
    RecordFact,
    RegisterSubject,
    RequestRepair,
    ResolveObjection,
    RevokeFact,
    RevokeRepair,
)
from ledger.domain.values import Actor, Role
from ledger.service.application import CreditLedger
from tests.support import SYSTEM, StepClock, uscc

CITY = "舞钢市"
#: The province's token for the city: every field, under the authority table like a recorder.
FED = Actor("token:fed", Role.FEDERATION, None, frozenset(catalogue().fields), name=CITY)

#: Record-time details that differ between the city's event and the province's copy of it.
_RECORD_TIME = {"recorded_at", "registered_at", "last_recorded_at", "sources"}


def comparable(state: Any) -> Any:
    """A folded subject state as plain data, without record times (each ledger has its own)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in _RECORD_TIME}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(dataclasses.asdict(state))


def deliver(
    city: CreditLedger,
    province: CreditLedger,
    *,
    after: int = 0,
    limit: int = 200,
    actor: Actor = FED,
    upstream: str = "province",
) -> list[dict[str, Any]]:
    """Deliver the city's records after `after` to the province, page by page, acknowledging
    each page; every answer in order."""
    answers: list[dict[str, Any]] = []
    while True:
        page = city.outgoing(after, limit)
        if page.deliveries:
            answered = province.receive(actor, [d.line() for d in page.deliveries])
            city.acknowledge(upstream, page.upto, answered, page.deliveries)
            answers += answered
        if page.upto <= after:
            return answers
        after = page.upto


class History:
    """A city subject's history through every delivered kind of record, on a ledger."""

    def __init__(self, app: CreditLedger, clock: StepClock, n: int = 1) -> None:
        self.app, self.clock, self.code = app, clock, uscc(n)
        self.ids: dict[str, UUID] = {}

    def do(self, on: date, command: Command, name: str | None = None) -> UUID:
        self.clock.on(on)
        written = self.app.handle(command)
        if name is not None:
            self.ids[name] = written.id
        return written.id

    def fact(self, name: str, indicator: str, on: date, domain: str = "food", **kw: Any) -> UUID:
        return self.do(
            on,
            RecordFact(
                uscc=self.code,
                indicator=indicator,
                decided_on=on,
                domain=domain,
                document_no=f"舞{domain}罚〔{on.year}〕{name}号",
                actor=SYSTEM,
                **kw,
            ),
            name,
        )

    def registered(self) -> History:
        self.do(
            date(2019, 1, 2),
            RegisterSubject(
                uscc=self.code,
                name="舞钢市联邦测试有限公司",
                kind="enterprise",
                fields=["food"],
                established_on=date(2018, 5, 1),
                source_document="营业执照",
                actor=SYSTEM,
            ),
        )
        return self

    def objection(self, name: str, target: str, on: date) -> UUID:
        return self.do(
            on,
            FileObjection(
                uscc=self.code,
                target_id=self.ids[target],
                filed_on=on,
                grounds=f"异议{name}",
                source_document=f"异议申请{name}",
                actor=SYSTEM,
            ),
            name,
        )

    def resolve(self, name: str, on: date, outcome: str = "corrected", **kw: Any) -> UUID:
        return self.do(
            on,
            ResolveObjection(
                objection_id=self.ids[name],
                outcome=outcome,
                resolved_on=on,
                note=f"复核{name}",
                actor=SYSTEM,
                **kw,
            ),
        )

    def full(self) -> History:
        """Registration, facts, ends, revocations, listings, delisting, objections resolved every
        way (two corrections in a row), repairs approved, rejected and revoked, joining and
        leaving a field."""
        self.registered()
        code = self.code
        self.fact("a", "penalty.general", date(2023, 1, 10), description="超范围经营")
        self.fact("b", "tax.arrears", date(2023, 2, 1), domain="taxation")
        self.fact("c", "penalty.minor", date(2023, 2, 2))
        self.fact("d", "penalty.general", date(2023, 2, 3))
        self.fact("e", "penalty.general", date(2023, 2, 4))
        self.fact("f", "penalty.general", date(2023, 2, 5))
        self.fact("g", "penalty.serious", date(2023, 2, 6), effective_until=date(2025, 2, 6))
        self.fact("h", "honor.municipal", date(2023, 2, 7))
        self.do(
            date(2023, 6, 1),
            EndFact(
                uscc=code,
                fact_id=self.ids["b"],
                ended_on=date(2023, 6, 1),
                reason="已缴清",
                source_document="完税证明",
                actor=SYSTEM,
            ),
        )
        self.do(
            date(2023, 3, 1),
            RevokeFact(uscc=code, fact_id=self.ids["c"], reason="决定撤销", actor=SYSTEM),
        )
        for name, list_type, on in (
            ("l1", "serious_illegal_dishonest", date(2023, 3, 2)),
            ("l2", "other_joint_punishment", date(2023, 3, 3)),
        ):
            self.do(
                on,
                ListSubject(
                    uscc=code,
                    list_type=list_type,
                    listed_on=on,
                    domain="food",
                    document_no=f"舞食名单{name}",
                    authority="舞钢市市场监督管理局",
                    actor=SYSTEM,
                ),
                name,
            )
        self.do(
            date(2023, 9, 1),
            DelistSubject(
                uscc=code,
                listing_id=self.ids["l1"],
                delisted_on=date(2023, 9, 1),
                reason="expired",
                actor=SYSTEM,
            ),
        )
        self.objection("o_listing", "l2", date(2023, 3, 10))
        self.resolve("o_listing", date(2023, 3, 20), void=True)
        self.objection("o_void", "d", date(2023, 3, 11))
        self.resolve("o_void", date(2023, 3, 21), void=True)
        self.objection("o_indicator", "e", date(2023, 3, 12))
        self.resolve("o_indicator", date(2023, 3, 22), indicator="penalty.minor")
        self.objection("o_date", "f", date(2023, 3, 13))
        self.resolve("o_date", date(2023, 3, 23), decided_on=date(2022, 12, 1))
        self.objection("o_rejected", "a", date(2023, 3, 14))
        self.resolve("o_rejected", date(2023, 3, 24), outcome="rejected")
        self.do(
            date(2023, 4, 20),
            RequestRepair(
                uscc=code,
                target_id=self.ids["a"],
                requested_on=date(2023, 4, 20),
                commitment="整改承诺",
                actor=SYSTEM,
            ),
            "r1",
        )
        self.do(
            date(2023, 4, 25),
            DecideRepair(
                repair_id=self.ids["r1"],
                approved=True,
                decided_on=date(2023, 4, 25),
                reason="材料齐全",
                actor=SYSTEM,
            ),
        )
        self.do(
            date(2023, 6, 2),
            RevokeRepair(
                repair_id=self.ids["r1"],
                revoked_on=date(2023, 6, 2),
                reason="材料虚假",
                actor=SYSTEM,
            ),
        )
        self.do(
            date(2023, 6, 3),
            RequestRepair(
                uscc=code,
                target_id=self.ids["f"],
                requested_on=date(2023, 6, 3),
                commitment="再次承诺",
                actor=SYSTEM,
            ),
            "r2",
        )
        self.do(
            date(2023, 6, 4),
            DecideRepair(
                repair_id=self.ids["r2"],
                approved=False,
                decided_on=date(2023, 6, 4),
                reason="未整改",
                actor=SYSTEM,
            ),
        )
        self.do(
            date(2023, 7, 1),
            JoinField(uscc=code, field="taxation", joined_on=date(2023, 7, 1), actor=SYSTEM),
        )
        self.do(
            date(2023, 7, 2),
            LeaveField(uscc=code, field="food", left_on=date(2023, 7, 2), actor=SYSTEM),
        )
        # Two corrections decided one after the other: their rows follow each other in the log.
        self.objection("o_g", "g", date(2023, 7, 3))
        self.objection("o_h", "h", date(2023, 7, 3))
        self.resolve("o_g", date(2023, 7, 10), void=True)
        self.resolve("o_h", date(2023, 7, 10), indicator="honor.provincial")
        # Two corrections decided one after the other: their rows follow each other in the log.
        self.objection("o_g", "g", date(2023, 7, 3))
        self.objection("o_h", "h", date(2023, 7, 3))
        self.resolve("o_g", date(2023, 7, 10), void=True)
        self.resolve("o_h", date(2023, 7, 10), indicator="honor.provincial")
        self.clock.on(date(2024, 1, 5))
        return self
