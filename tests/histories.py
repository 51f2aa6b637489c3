"""Random subject histories for property tests: the deciders' decisions on a `Subject` in memory."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from ledger.domain.catalog import catalogue
from ledger.domain.commands import (
    DecideRepair,
    DelistSubject,
    EndFact,
    FileObjection,
    ListSubject,
    RecordFact,
    RegisterSubject,
    RequestRepair,
    ResolveObjection,
    RevokeFact,
    RevokeRepair,
)
from ledger.domain.deciders import Context, Decision, decide
from ledger.domain.deciders.base import target_of
from ledger.domain.errors import LedgerError
from ledger.domain.model import default_models
from ledger.domain.rules.supervision import default_policies
from ledger.domain.state import SubjectState
from ledger.domain.subject import Subject
from ledger.domain.values import SYSTEM_ACTOR

ACTOR = SYSTEM_ACTOR
MODELS = default_models()
CATALOGUE = catalogue()
POLICIES = default_policies()

BASE = date(2020, 1, 1)
INDICATORS = [
    "penalty.minor",
    "penalty.general",
    "penalty.serious",
    "contract.default",
    "wage.arrears",
    "social_insurance.arrears",
    "tax.arrears",
    "business.anomaly",
    "tax.a_level",
    "honor.municipal",
    "honor.provincial",
    "honor.national",
    "commitment.kept",
]
LISTS = [
    "judgment_defaulter",
    "serious_illegal_dishonest",
    "major_tax_violation",
    "other_joint_punishment",
]

day = st.integers(min_value=0, max_value=6 * 365)
index = st.integers(min_value=0, max_value=20)
fact_op = st.tuples(
    st.just("fact"),
    st.sampled_from(INDICATORS),
    day,
    st.one_of(st.none(), st.integers(min_value=1, max_value=900)),
)
op = st.one_of(
    fact_op,
    st.tuples(st.just("end"), index, st.integers(min_value=0, max_value=900)),
    st.tuples(st.just("revoke"), index),
    st.tuples(st.just("list"), st.sampled_from(LISTS), day),
    st.tuples(
        st.just("delist"),
        index,
        st.integers(min_value=0, max_value=900),
        st.sampled_from(["expired", "repaired", "revoked"]),
    ),
    st.tuples(st.just("object"), index, st.booleans(), st.integers(min_value=0, max_value=60)),
    resolve_op := st.tuples(
        st.just("resolve"),
        index,
        st.sampled_from(["corrected", "corrected", "rejected", "undetermined"]),
        st.sampled_from(["void", "indicator", "decided_on"]),
        st.sampled_from(INDICATORS),
        day,
    ),
    resolve_op,
    st.tuples(st.just("repair"), index, st.integers(min_value=0, max_value=500)),
    decide_op := st.tuples(
        st.just("decide"), index, st.booleans(), st.integers(min_value=0, max_value=30)
    ),
    decide_op,
    unrepair_op := st.tuples(st.just("unrepair"), index, st.integers(min_value=0, max_value=300)),
    unrepair_op,
)
#: A history: the operations and, before each, how far the record clock moves (hours).
histories = st.lists(
    st.tuples(st.integers(min_value=0, max_value=24 * 90), fact_op), min_size=1, max_size=6
).flatmap(
    lambda facts: st.lists(
        st.tuples(st.integers(min_value=0, max_value=24 * 90), op), min_size=2, max_size=30
    ).map(lambda rest: facts + rest)
)


@dataclass
class Built:
    """A subject built from a random history, with its events kept in memory."""

    subject: Subject
    events: list[Any]


def build(code: str, ops: list[tuple[int, tuple[Any, ...]]]) -> Built:
    """Apply the operations to a new subject through the deciders; refused operations are skipped.

    Record time starts after every valid date the operations use, so what they refuse are the
    stream's own rules (order of dates, one pending objection, repair eligibility, …).
    """
    at = datetime(2028, 1, 1, tzinfo=UTC)
    counter = 0

    def new_id() -> uuid.UUID:
        nonlocal counter
        counter += 1
        return uuid.UUID(int=counter, version=4)

    def decided(command: Any) -> Decision:
        context = Context(
            now=at, models=MODELS, catalogue=CATALOGUE, policies=POLICIES, new_id=new_id()
        )
        return decide(subject.state, command, context)

    subject = Subject.start(
        decide(
            SubjectState(),
            RegisterSubject(uscc=code, name="x", kind="enterprise", fields=["food"], actor=ACTOR),
            Context(now=at, models=MODELS, catalogue=CATALOGUE, policies=POLICIES, new_id=new_id()),
        )
    )
    facts: list[uuid.UUID] = []
    listings: list[uuid.UUID] = []
    objections: list[uuid.UUID] = []
    repairs: list[uuid.UUID] = []

    def pick(items: list[uuid.UUID], i: int) -> uuid.UUID | None:
        return items[i % len(items)] if items else None

    for hours, (kind, *args) in ops:
        at += timedelta(hours=hours, microseconds=1)
        try:
            if kind == "fact":
                indicator, offset, until = args
                decided_on = BASE + timedelta(days=offset)
                document = str(new_id())
                decision = decided(
                    RecordFact(
                        uscc=code,
                        indicator=indicator,
                        decided_on=decided_on,
                        domain="food",
                        document_no=document,
                        effective_until=decided_on + timedelta(days=until) if until else None,
                        actor=ACTOR,
                    )
                )
                facts.append(decision.id)
            elif kind == "end" and (fid := pick(facts, args[0])):
                start = subject.state.facts[fid].decided_on
                decision = decided(
                    EndFact(
                        uscc=code,
                        fact_id=fid,
                        ended_on=start + timedelta(days=args[1]),
                        reason="r",
                        actor=ACTOR,
                    )
                )
            elif kind == "revoke" and (fid := pick(facts, args[0])):
                decision = decided(RevokeFact(uscc=code, fact_id=fid, reason="r", actor=ACTOR))
            elif kind == "list":
                decision = decided(
                    ListSubject(
                        uscc=code,
                        list_type=args[0],
                        listed_on=BASE + timedelta(days=args[1]),
                        domain="food",
                        document_no=str(new_id()),
                        authority="a",
                        actor=ACTOR,
                    )
                )
                listings.append(decision.id)
            elif kind == "delist" and (lid := pick(listings, args[0])):
                start = subject.state.listings[lid].listed_on
                decision = decided(
                    DelistSubject(
                        uscc=code,
                        listing_id=lid,
                        delisted_on=start + timedelta(days=args[1]),
                        reason=args[2],
                        actor=ACTOR,
                    )
                )
            elif kind == "object":
                pool = listings if args[1] and listings else facts
                if (target := pick(pool, args[0])) is None:
                    continue
                start = target_of(subject.state, target)[1]
                decision = decided(
                    FileObjection(
                        uscc=code,
                        target_id=target,
                        filed_on=start + timedelta(days=args[2]),
                        grounds="g",
                        actor=ACTOR,
                    )
                )
                if decision.created:
                    objections.append(decision.id)
            elif kind == "resolve" and (oid := pick(objections, args[0])):
                outcome, how, indicator, offset = args[1:]
                filed = subject.state.objections[oid].filed_on
                corr: dict[str, Any] = {"void": False, "indicator": None, "decided_on": None}
                if outcome == "corrected":
                    if how == "void":
                        corr["void"] = True
                    elif how == "indicator":
                        corr["indicator"] = indicator
                    else:
                        corr["decided_on"] = BASE + timedelta(days=offset)
                decision = decided(
                    ResolveObjection(
                        objection_id=oid,
                        outcome=outcome,
                        resolved_on=filed + timedelta(days=5),
                        actor=ACTOR,
                        **corr,
                    )
                )
            elif kind == "repair" and (fid := pick(facts, args[0])):
                start = subject.state.facts[fid].decided_on
                decision = decided(
                    RequestRepair(
                        uscc=code,
                        target_id=fid,
                        requested_on=start + timedelta(days=args[1]),
                        commitment="c",
                        actor=ACTOR,
                    )
                )
                if decision.created:
                    repairs.append(decision.id)
            elif kind == "decide" and (rid := pick(repairs, args[0])):
                requested = subject.state.repairs[rid].requested_on
                decision = decided(
                    DecideRepair(
                        repair_id=rid,
                        approved=args[1],
                        decided_on=requested + timedelta(days=args[2]),
                        reason="r",
                        actor=ACTOR,
                    )
                )
            elif kind == "unrepair" and (rid := pick(repairs, args[0])):
                decided_on = subject.state.repairs[rid].decided_on or BASE
                decision = decided(
                    RevokeRepair(
                        repair_id=rid,
                        revoked_on=decided_on + timedelta(days=args[1]),
                        reason="r",
                        actor=ACTOR,
                    )
                )
            else:
                continue
        except LedgerError:
            continue
        subject.apply(decision)
    return Built(subject, list(subject.collect_events()))
