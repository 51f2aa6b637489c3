"""Deliveries (DOMAIN §10): each delivered record, handled upstream, records the same thing there;
what is not delivered gives no delivery; a corrected resolution carries its correction; the
differences between a local and an upstream result are named per field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from ledger.domain import events
from ledger.domain.commands import RecordIndustryEvaluation
from ledger.domain.federation import (
    DELIVERED_TOPICS,
    Difference,
    delivery_of,
    differences,
)
from ledger.domain.subject import SUBJECT_EVENT_TOPICS
from ledger.service.application import CreditLedger
from tests.federated import CITY, FED, History, comparable, deliver
from tests.support import SYSTEM, StepClock, ledger_on

#: The import command each delivered topic becomes.
COMMAND_OF = {
    events.Registered.TOPIC: "register_subject",
    events.FactRecorded.TOPIC: "record_fact",
    events.FactEnded.TOPIC: "end_fact",
    events.FactRevoked.TOPIC: "revoke_fact",
    events.Listed.TOPIC: "list_subject",
    events.Delisted.TOPIC: "delist_subject",
    events.ObjectionFiled.TOPIC: "file_objection",
    events.ObjectionResolved.TOPIC: "resolve_objection",
    events.RepairRequested.TOPIC: "request_repair",
    events.RepairDecided.TOPIC: "decide_repair",
    events.RepairRevoked.TOPIC: "revoke_repair",
    events.JoinedField.TOPIC: "join_field",
    events.LeftField.TOPIC: "leave_field",
}
#: What differs between a record and its copy upstream: who wrote it, when, and where.
_NOT_COMPARED = {"originator_version", "timestamp", "actor_id"}


@pytest.fixture
def province(clock: StepClock, tmp_path: Path) -> Iterator[CreditLedger]:
    """A second ledger, the city's upstream, on the same record clock."""
    with ledger_on("memory", tmp_path / "province", clock) as app:
        yield app


@pytest.fixture
def delivered(
    memory_ledger: CreditLedger, province: CreditLedger, clock: StepClock
) -> tuple[History, list[dict[str, Any]]]:
    """The city's full history delivered to the province; the province's answers."""
    history = History(memory_ledger, clock).full()
    answers = deliver(memory_ledger, province)
    return history, answers


def _payloads(app: CreditLedger, code: str, topic: str) -> list[dict[str, Any]]:
    stream: list[Any] = app.history(code)
    return [
        {k: v for k, v in vars(e).items() if k not in _NOT_COMPARED}
        for e in stream
        if topic == type(e).TOPIC
    ]


def test_the_delivered_topics_are_the_records_of_the_flow() -> None:
    undelivered = set(SUBJECT_EVENT_TOPICS) - DELIVERED_TOPICS - {events.SubjectEvent.TOPIC}
    assert set(COMMAND_OF) == DELIVERED_TOPICS
    assert undelivered == {
        events.FactCorrected.TOPIC,  # travels inside its resolution
        events.IndustryEvaluationRecorded.TOPIC,
        events.InspectionResultRecorded.TOPIC,
        events.IdentityErased.TOPIC,
        events.Received.TOPIC,
    }


def test_every_delivery_of_a_full_history_is_accepted_once(
    delivered: tuple[History, list[dict[str, Any]]], memory_ledger: CreditLedger
) -> None:
    history, answers = delivered
    assert {a["status"] for a in answers} == {"accepted"}
    topics = {d.topic for d in memory_ledger.outgoing(0, 1000).deliveries}
    assert topics == DELIVERED_TOPICS
    # A corrected resolution and its correction are one delivery, never two.
    stream: list[Any] = memory_ledger.history(history.code)
    followers = [
        e
        for before, e in pairwise(stream)
        if isinstance(before, events.ObjectionResolved) and before.outcome == "corrected"
    ]
    assert len(followers) == 6
    delivered_events = [e for e in stream if type(e).TOPIC in DELIVERED_TOPICS]
    listing_corrections = sum(isinstance(e, events.Delisted) for e in followers)
    assert listing_corrections == 1
    assert len(answers) == len(delivered_events) - listing_corrections


@pytest.mark.parametrize("topic", sorted(COMMAND_OF))
def test_each_delivered_topic_is_recorded_upstream_with_the_same_payload(
    topic: str,
    delivered: tuple[History, list[dict[str, Any]]],
    memory_ledger: CreditLedger,
    province: CreditLedger,
) -> None:
    history, _ = delivered
    deliveries = [d for d in memory_ledger.outgoing(0, 1000).deliveries if d.topic == topic]
    assert deliveries
    assert {d.command for d in deliveries} == {COMMAND_OF[topic]}
    here = _payloads(memory_ledger, history.code, topic)
    assert here
    assert _payloads(province, history.code, topic) == here


def test_a_delivered_history_folds_to_the_same_subject_and_grade(
    delivered: tuple[History, list[dict[str, Any]]],
    memory_ledger: CreditLedger,
    province: CreditLedger,
) -> None:
    history, _ = delivered
    city_state, upstream_state = memory_ledger.subject(history.code), province.subject(history.code)
    assert comparable(upstream_state) == comparable(city_state)
    assert city_state.facts
    assert city_state.listings
    assert city_state.objections
    assert city_state.repairs
    assert upstream_state.sources == [CITY]
    for day in (date(2023, 2, 10), date(2023, 3, 25), date(2023, 5, 1), date(2023, 7, 1)):
        mine = memory_ledger.evaluate(history.code, as_of=day)
        theirs = province.evaluate(history.code, as_of=day)
        assert (theirs.score, theirs.grade) == (mine.score, mine.grade)


def test_each_delivered_decision_is_followed_by_its_receipt(
    delivered: tuple[History, list[dict[str, Any]]],
    memory_ledger: CreditLedger,
    province: CreditLedger,
) -> None:
    history, answers = delivered
    stream: list[Any] = province.history(history.code)
    receipts = [(i, e) for i, e in enumerate(stream) if isinstance(e, events.Received)]
    assert [e.source_position for _, e in receipts] == [a["position"] for a in answers]
    for i, receipt in receipts:
        assert receipt.source == CITY
        # The decision's events come right before; a corrected resolution brings two.
        before = stream[i - 1]
        assert not isinstance(before, events.Received)
        assert receipt.source_topic in {before.TOPIC, events.ObjectionResolved.TOPIC}


def test_industry_evaluations_and_corrections_alone_give_no_delivery(
    memory_ledger: CreditLedger, clock: StepClock
) -> None:
    history = History(memory_ledger, clock).registered()
    history.fact("d", "penalty.general", date(2023, 2, 3))
    history.objection("o", "d", date(2023, 3, 1))
    history.resolve("o", date(2023, 3, 2), void=True)
    history.do(
        date(2023, 4, 1),
        RecordIndustryEvaluation(
            uscc=history.code,
            domain="food",
            evaluated_on=date(2023, 4, 1),
            model="食品生产企业风险分级",
            score="88",
            actor=SYSTEM,
        ),
    )
    stream = memory_ledger.history(history.code)
    undelivered = [
        e for e in stream if isinstance(e, events.FactCorrected | events.IndustryEvaluationRecorded)
    ]
    assert len(undelivered) == 2
    for event in undelivered:
        assert delivery_of(history.code, 9, event) is None


def _corrected(memory_ledger: CreditLedger, clock: StepClock, **correction: Any) -> Any:
    history = History(memory_ledger, clock).registered()
    history.fact("d", "penalty.general", date(2023, 2, 3))
    history.objection("o", "d", date(2023, 3, 1))
    history.resolve("o", date(2023, 3, 2), **correction)
    *_, resolved, follower = memory_ledger.history(history.code)
    return history.code, resolved, follower


@pytest.mark.parametrize(
    ("correction", "carried"),
    [
        ({"void": True}, {"void": True}),
        ({"indicator": "penalty.minor"}, {"indicator": "penalty.minor"}),
        ({"decided_on": date(2022, 12, 1)}, {"decided_on": "2022-12-01"}),
    ],
)
def test_a_corrected_resolution_carries_its_correction(
    memory_ledger: CreditLedger,
    clock: StepClock,
    correction: dict[str, Any],
    carried: dict[str, Any],
) -> None:
    code, resolved, follower = _corrected(memory_ledger, clock, **correction)
    assert isinstance(follower, events.FactCorrected)
    delivery = delivery_of(code, 10, resolved, (11, follower))
    assert delivery is not None
    assert (delivery.command, delivery.position, delivery.last) == ("resolve_objection", 10, 11)
    assert delivery.args == {
        "objection_id": str(resolved.objection_id),
        "outcome": "corrected",
        "resolved_on": "2023-03-02",
        "note": "复核o",
        **carried,
    }


def test_a_corrected_listing_resolution_carries_a_void(
    memory_ledger: CreditLedger, clock: StepClock, province: CreditLedger
) -> None:
    history = History(memory_ledger, clock).full()
    stream = memory_ledger.history(history.code)
    (i,) = [
        i
        for i, e in enumerate(stream)
        if isinstance(e, events.ObjectionResolved) and e.objection_id == history.ids["o_listing"]
    ]
    delivery = delivery_of(history.code, 20, stream[i], (21, stream[i + 1]))
    assert isinstance(stream[i + 1], events.Delisted)
    assert delivery is not None
    assert delivery.args["void"] is True


def test_a_plain_delivery_names_its_subject_by_code_and_keeps_its_department(
    memory_ledger: CreditLedger, clock: StepClock
) -> None:
    history = History(memory_ledger, clock).registered()
    history.fact("a", "penalty.general", date(2023, 1, 10), description="超范围经营")
    fact = memory_ledger.history(history.code)[-1]
    delivery = delivery_of(history.code, 7, fact)
    assert delivery is not None
    assert delivery.args == {
        "uscc": history.code,
        "fact_id": str(history.ids["a"]),
        "indicator": "penalty.general",
        "decided_on": "2023-01-10",
        "domain": "food",
        "document_no": "舞food罚〔2023〕a号",
        "description": "超范围经营",
    }
    assert (delivery.position, delivery.last, delivery.subject_id) == (7, 7, fact.originator_id)
    assert delivery.line()["subject_id"] == str(fact.originator_id)


def _result(score: str, grade: str, listed: bool = False) -> dict[str, Any]:
    return {"score": score, "grade": grade, "listed": listed, "explanation": "x"}


@pytest.mark.parametrize("key", ["score", "grade", "listed"])
@pytest.mark.parametrize("part", ["current", "published", "restated"])
def test_differences_name_each_grading_field_that_differs(part: str, key: str) -> None:
    local = {p: _result("80", "良") for p in ("current", "published", "restated")}
    upstream = {p: dict(r) for p, r in local.items()}
    changed = {"score": "75", "grade": "中", "listed": True}[key]
    upstream[part][key] = changed
    upstream[part]["explanation"] = "other words"  # not a grading field
    assert differences(local, upstream) == [Difference(f"{part}.{key}", local[part][key], changed)]
    assert differences(local, local) == []


def test_differences_name_a_part_only_one_side_has() -> None:
    local = {"current": _result("80", "良"), "published": _result("80", "良")}
    upstream = {"current": _result("80", "良"), "restated": _result("85", "良")}
    assert differences(local, upstream) == [
        Difference("published", True, False),
        Difference("restated", False, True),
    ]
    assert differences({}, {}) == []


def test_a_subject_the_upstream_already_holds_is_reported_by_the_source_without_a_second_record(
    memory_ledger: CreditLedger, province: CreditLedger, clock: StepClock
) -> None:
    # The province registered the subject itself; the city's identical registration changes
    # nothing there, yet the province now knows the city reports it and answers its results.
    History(province, clock).registered()
    city = History(memory_ledger, clock).registered()
    before = [type(e).TOPIC for e in province.history(city.code)]
    answers = deliver(memory_ledger, province)
    assert [a["status"] for a in answers] == ["unchanged"]
    after = [type(e).TOPIC for e in province.history(city.code)]
    assert after == [*before, events.Received.TOPIC]
    assert [code for _, code in province.reported_after(CITY, 0)[0]] == [city.code]
    # Delivered again, it is answered as before and appends nothing more.
    again = province.receive(
        FED, [d.line() for d in memory_ledger.outgoing(0).deliveries], retry=False
    )
    assert [a["status"] for a in again] == ["unchanged"]
    assert len(province.history(city.code)) == len(after)
