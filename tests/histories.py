"""Random subject histories for property tests, built on the `Subject` aggregate in memory."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from ledger.domain.errors import LedgerError
from ledger.domain.subject import Subject
from ledger.domain.values import SYSTEM_ACTOR

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
    """Apply the operations to a new subject; operations the stream's rules refuse are skipped."""
    at = datetime(2020, 1, 1, tzinfo=UTC)
    subject = Subject.register(
        uscc=code,
        name="x",
        kind="enterprise",
        fields=["food"],
        established_on=None,
        actor=SYSTEM_ACTOR,
        source_document=None,
        at=at,
    )
    facts: list[uuid.UUID] = []
    listings: list[uuid.UUID] = []
    objections: list[uuid.UUID] = []
    repairs: list[uuid.UUID] = []
    counter = 0

    def new_id() -> uuid.UUID:
        nonlocal counter
        counter += 1
        return uuid.UUID(int=counter, version=4)

    def pick(items: list[uuid.UUID], i: int) -> uuid.UUID | None:
        return items[i % len(items)] if items else None

    common = {"actor": SYSTEM_ACTOR, "source_document": None}
    for hours, (kind, *args) in ops:
        at += timedelta(hours=hours, microseconds=1)
        try:
            if kind == "fact":
                indicator, offset, until = args
                decided = BASE + timedelta(days=offset)
                fid = new_id()
                subject.record_fact(
                    fact_id=fid,
                    indicator=indicator,
                    decided_on=decided,
                    domain="food",
                    document_no=str(fid),
                    description=None,
                    effective_until=decided + timedelta(days=until) if until else None,
                    actor=SYSTEM_ACTOR,
                    at=at,
                )
                facts.append(fid)
            elif kind == "end" and (fid := pick(facts, args[0])):
                start = subject.state.facts[fid].decided_on
                subject.end_fact(
                    fact_id=fid,
                    ended_on=start + timedelta(days=args[1]),
                    reason="r",
                    at=at,
                    **common,
                )  # type: ignore[arg-type]
            elif kind == "revoke" and (fid := pick(facts, args[0])):
                subject.revoke_fact(fact_id=fid, reason="r", at=at, **common)  # type: ignore[arg-type]
            elif kind == "list":
                lid = new_id()
                subject.add_listing(
                    listing_id=lid,
                    list_type=args[0],
                    listed_on=BASE + timedelta(days=args[1]),
                    domain="food",
                    document_no=str(lid),
                    authority="a",
                    actor=SYSTEM_ACTOR,
                    at=at,
                )
                listings.append(lid)
            elif kind == "delist" and (lid := pick(listings, args[0])):
                start = subject.state.listings[lid].listed_on
                subject.delist(
                    listing_id=lid,
                    delisted_on=start + timedelta(days=args[1]),
                    reason=args[2],
                    at=at,
                    **common,
                )  # type: ignore[arg-type]
            elif kind == "object":
                pool = listings if args[1] and listings else facts
                if (target := pick(pool, args[0])) is None:
                    continue
                start = subject.target(target)[1]
                oid = new_id()
                filed = start + timedelta(days=args[2])
                _, created = subject.file_objection(
                    objection_id=oid,
                    target_id=target,
                    filed_on=filed,
                    grounds="g",
                    due_on=filed + timedelta(days=14),
                    at=at,
                    **common,
                )  # type: ignore[arg-type]
                if created:
                    objections.append(oid)
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
                subject.resolve_objection(
                    objection_id=oid,
                    outcome=outcome,
                    resolved_on=filed + timedelta(days=5),
                    note=None,
                    at=at,
                    **corr,
                    **common,
                )  # type: ignore[arg-type]
            elif kind == "repair" and (fid := pick(facts, args[0])):
                start = subject.state.facts[fid].decided_on
                rid = new_id()
                requested = start + timedelta(days=args[1])
                _, created = subject.request_repair(
                    repair_id=rid,
                    target_id=fid,
                    requested_on=requested,
                    commitment="c",
                    due_on=requested + timedelta(days=14),
                    at=at,
                    **common,
                )  # type: ignore[arg-type]
                if created:
                    repairs.append(rid)
            elif kind == "decide" and (rid := pick(repairs, args[0])):
                requested = subject.state.repairs[rid].requested_on
                subject.decide_repair(
                    repair_id=rid,
                    approved=args[1],
                    decided_on=requested + timedelta(days=args[2]),
                    reason="r",
                    at=at,
                    **common,
                )  # type: ignore[arg-type]
            elif kind == "unrepair" and (rid := pick(repairs, args[0])):
                decided = subject.state.repairs[rid].decided_on or BASE
                subject.revoke_repair(
                    repair_id=rid,
                    revoked_on=decided + timedelta(days=args[1]),
                    reason="r",
                    at=at,
                    **common,
                )  # type: ignore[arg-type]
        except LedgerError:
            continue
    return Built(subject, list(subject.collect_events()))
