"""A city delivering to its province, on both stores (DOMAIN §10): a re-delivery answers as the
first time and writes nothing, refusals are parked with their reason, each record upstream names
its source, persons stay home, a correction never splits from its resolution across pages, and
concurrent deliveries of one batch record each record once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from credit_ledger.bootstrap import open_ledger
from credit_ledger.settings import get_settings
from ledger.domain import events
from ledger.domain.commands import ListSubject, RecordFact, RegisterSubject
from ledger.domain.errors import InvalidInput
from ledger.domain.federation import DELIVERED_TOPICS
from ledger.domain.rules.authority import OWN_FIELDS
from ledger.service.application import CreditLedger
from ledger.service.federation import QUIET_GAP
from tests.federated import CITY, FED, History, comparable, deliver
from tests.support import ADMIN, SYSTEM, StepClock, ledger_on, postgres_schema, uscc

Pair = tuple[CreditLedger, CreditLedger]
#: The rows deliveries are built from: the delivered topics, and corrections.
READ = sorted({*DELIVERED_TOPICS, events.FactCorrected.TOPIC})


@pytest.fixture(params=["sqlite", "postgres"])
def pair(
    request: pytest.FixtureRequest,
    clock: StepClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Pair]:
    """A city and its province, each on its own store of the same kind, one record clock."""
    # The city may hold natural persons (DOMAIN §9), so it has the keys to seal them.
    monkeypatch.setenv("CREDIT_LEDGER_MASTER_KEY", "2e" * 32)
    monkeypatch.setenv("CREDIT_LEDGER_PERSON_SECRET", "federation")
    get_settings.cache_clear()
    (tmp_path / "city").mkdir()
    (tmp_path / "province").mkdir()
    with (
        ledger_on(request.param, tmp_path / "city", clock) as city,
        ledger_on(request.param, tmp_path / "province", clock) as province,
    ):
        yield city, province
    get_settings.cache_clear()


def _topics(app: CreditLedger) -> Counter[str]:
    rows = app.recorder.select_notifications(start=None, limit=100_000)
    return Counter(row.topic for row in rows)


def _lines(city: CreditLedger, after: int = 0) -> list[dict[str, Any]]:
    return [d.line() for d in city.outgoing(after, 1000).deliveries]


def _judgment_defaulter(history: History) -> None:
    history.do(
        date(2023, 10, 1),
        ListSubject(
            uscc=history.code,
            list_type="judgment_defaulter",
            listed_on=date(2023, 10, 1),
            domain="food",
            document_no="（2023）豫0481执1号",
            authority="舞钢市人民法院",
            actor=ADMIN,
        ),
    )


def test_a_history_delivered_again_answers_each_item_as_first_and_writes_nothing(
    pair: Pair, clock: StepClock
) -> None:
    city, province = pair
    History(city, clock).full()
    first = deliver(city, province)
    assert first
    assert {a["status"] for a in first} == {"accepted"}
    position, topics = province.max_position(), _topics(province)
    again = province.receive(FED, _lines(city))
    assert [{k: v for k, v in a.items() if k != "earlier"} for a in again] == first
    assert all(a["earlier"] is True for a in again)
    assert province.max_position() == position
    assert _topics(province) == topics
    inbox = province.inbox(CITY)
    assert inbox is not None
    assert inbox.upto == max(a["last"] for a in first)
    assert [i.source for i in province.inboxes()] == [CITY]


def test_a_retry_decides_a_refused_delivery_again_and_keeps_what_was_taken(
    pair: Pair, clock: StepClock
) -> None:
    city, province = pair
    history = History(city, clock).full()
    _judgment_defaulter(history)
    first = deliver(city, province)
    (refused,) = [a for a in first if a["status"] == "refused"]
    topics = _topics(province)
    # On a token that may list it; a record taken before keeps its first outcome (its
    # registration, decided again on today's fields, would even conflict).
    again = province.receive(replace(ADMIN, name=CITY), _lines(city), retry=True)
    assert [a["status"] for a in again] == ["accepted"] * len(first)
    assert [a.get("earlier", False) for a in again] == [a is not refused for a in first]
    grown = _topics(province) - topics
    assert grown == Counter(
        {
            events.Listed.TOPIC: 1,
            events.Received.TOPIC: 1,
            "credit.federation_deliveries_taken.v1": 1,
        }
    )
    assert comparable(province.subject(history.code)) == comparable(city.subject(history.code))
    later = province.receive(FED, _lines(city))
    assert [a["status"] for a in later] == ["accepted"] * len(first)


def test_a_refused_delivery_is_parked_with_its_rule_until_resolved(
    pair: Pair, clock: StepClock
) -> None:
    city, province = pair
    history = History(city, clock).registered()
    _judgment_defaulter(history)
    answers = deliver(city, province)
    registered, refused = answers
    assert registered["status"] == "accepted"
    assert refused["status"] == "refused"
    assert refused["kind"] == "forbidden"
    assert refused["field"] == "list_type"
    assert "admins only" in refused["rule"]
    assert "judgment_defaulter" in refused["reason"]
    assert not province.subject(history.code).listings
    log = city.sync_log("province")
    assert log is not None
    assert list(log.parked) == [refused["position"]]
    parked = log.parked[refused["position"]]
    assert (parked["command"], parked["rule"]) == ("list_subject", refused["rule"])
    assert log.acknowledged == refused["position"]
    # Delivered again, it is answered as the first time: still refused, nothing written.
    position = province.max_position()
    (again,) = province.receive(FED, [parked])
    assert again["status"] == "refused"
    assert again["earlier"] is True
    assert province.max_position() == position
    # The credit office takes it on a token that may: the retry records it.
    (taken,) = province.receive(replace(ADMIN, name=CITY), [parked], retry=True)
    assert taken["status"] == "accepted"
    assert [lst.list_type for lst in province.subject(history.code).listings.values()] == [
        "judgment_defaulter"
    ]
    (later,) = province.receive(FED, [parked])
    assert (later["status"], later["earlier"]) == ("accepted", True)
    log = city.resolve_parked("province", refused["position"], taken["status"], "由信用办补录")
    assert log.parked == {}
    stored = city.sync_log("province")
    assert stored is not None
    assert stored.parked == {}
    with pytest.raises(InvalidInput) as unknown:
        city.resolve_parked("province", refused["position"], "accepted", "again")
    assert unknown.value.field == "position"


def test_a_token_narrowed_to_one_field_refuses_a_fact_of_another(
    pair: Pair, clock: StepClock
) -> None:
    city, province = pair
    history = History(city, clock).registered()
    history.fact("t", "tax.arrears", date(2023, 2, 1), domain="taxation")
    food_only = replace(FED, fields=frozenset({"food"}))
    registered, refused = deliver(city, province, actor=food_only)
    assert registered["status"] == "accepted"
    assert refused["status"] == "refused"
    assert (refused["field"], refused["rule"]) == ("domain", OWN_FIELDS)
    log = city.sync_log("province")
    assert log is not None
    assert set(log.parked) == {refused["position"]}
    assert not province.subject(history.code).facts


def test_each_record_upstream_names_its_source_and_position(pair: Pair, clock: StepClock) -> None:
    city, province = pair
    history = History(city, clock).full()
    answers = deliver(city, province)
    stream = province.history(history.code)
    receipts = [(i, e) for i, e in enumerate(stream) if isinstance(e, events.Received)]
    assert len(receipts) == len(answers)
    sent = {d.position: d for d in city.outgoing(0, 1000).deliveries}
    for (i, receipt), answer in zip(receipts, answers, strict=True):
        assert (receipt.source, receipt.source_position) == (CITY, answer["position"])
        assert receipt.source_topic == sent[answer["position"]].topic
        assert not isinstance(stream[i - 1], events.Received)
    assert province.subject(history.code).sources == [CITY]


def test_natural_persons_are_not_delivered(pair: Pair, clock: StepClock) -> None:
    city, province = pair
    clock.on(date(2024, 1, 2))
    ref = city.register_person(
        id_number="410481200102037713", name="司徒雅琴", actor=SYSTEM, fields=["food"]
    ).ref
    city.handle(
        RecordFact(
            uscc=ref,
            indicator="penalty.general",
            decided_on=date(2024, 1, 2),
            domain="food",
            document_no="舞食罚〔2024〕9号",
            actor=SYSTEM,
        )
    )
    History(city, clock).registered()
    page = city.outgoing(0)
    assert [d.command for d in page.deliveries] == ["register_subject"]
    assert page.upto == city.max_position()
    assert all(ref not in str(d.line()) for d in page.deliveries)
    deliver(city, province)
    assert province.max_position() > 0
    assert _topics(province)[events.FactRecorded.TOPIC] == 0


def test_a_run_of_persons_records_longer_than_a_page_does_not_stall_the_cursor(
    pair: Pair, clock: StepClock
) -> None:
    city, province = pair
    history = History(city, clock).registered()
    clock.on(date(2024, 1, 2))
    ref = city.register_person(
        id_number="410481200102037713", name="司徒雅琴", actor=SYSTEM, fields=["food"]
    ).ref
    for n in range(1, 6):
        city.handle(
            RecordFact(
                uscc=ref,
                indicator="penalty.general",
                decided_on=date(2024, 1, 2),
                domain="food",
                document_no=f"舞食罚〔2024〕{n}号",
                actor=SYSTEM,
            )
        )
    history.fact("a", "penalty.general", date(2024, 1, 3))
    # A sync reads its cursor from the sync log and stops at the first page with nothing to
    # deliver: that page must mean "caught up", not "a run of records that stay home".
    taken: list[str] = []
    for _ in range(10):
        log = city.sync_log("province")
        page = city.outgoing(0 if log is None else log.acknowledged, 2)
        if not page.deliveries:
            city.acknowledge("province", page.upto, [], [])
            break
        answers = province.receive(FED, [d.line() for d in page.deliveries])
        city.acknowledge("province", page.upto, answers, page.deliveries)
        taken += [d.command for d in page.deliveries]
    assert taken == ["register_subject", "record_fact"]
    assert province.subject(history.code).facts.keys() == {history.ids["a"]}


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_a_correction_on_the_next_page_is_delivered_with_its_resolution(
    pair: Pair, clock: StepClock, limit: int
) -> None:
    city, province = pair
    history = History(city, clock).full()
    read = [r.id for r in city.recorder.select_notifications(start=None, limit=10_000, topics=READ)]
    rows = city.recorder.select_notifications(
        start=None, limit=1000, topics=[events.ObjectionResolved.TOPIC]
    )
    resolved: list[Any] = [city.mapper.to_domain_event(r) for r in rows]
    corrected = [r.id for r, e in zip(rows, resolved, strict=True) if e.outcome == "corrected"]
    assert len(corrected) == 6
    for position in corrected:
        # The page whose last row is the resolution: the rows just before it, and it.
        prior = [p for p in read if p < position]
        first = (prior[len(prior) - (limit - 1) :] or [position])[0]
        page = city.outgoing(first - 1, limit)
        (resolution,) = [d for d in page.deliveries if d.position == position]
        assert resolution.last == position + 1
        assert {"void", "indicator", "decided_on"} & set(resolution.args)
        assert page.upto >= position + 1
        assert all(d.position != position + 1 for d in page.deliveries)
        for d in page.deliveries:
            if d.command == "resolve_objection" and d.args["outcome"] == "corrected":
                assert d.last == d.position + 1, d
        beyond = city.outgoing(page.upto, limit).deliveries
        assert all(d.position > page.upto for d in beyond)
    # Page by page at this size, the province folds the same subject.
    answers = deliver(city, province, limit=limit)
    assert {a["status"] for a in answers} == {"accepted"}, [
        a for a in answers if a["status"] != "accepted"
    ]
    assert comparable(province.subject(history.code)) == comparable(city.subject(history.code))


def test_reported_after_names_only_the_subjects_that_source_reported(
    pair: Pair, clock: StepClock
) -> None:
    city, province = pair
    ours = History(city, clock, 1).full()
    deliver(city, province)
    other = History(city, clock, 2).registered()
    other_city = replace(FED, name="汝州市", actor_id="token:fed:ruzhou")
    province.receive(other_city, [d.line() for d in city.outgoing(0, 1000).deliveries][-1:])
    clock.on(date(2024, 2, 1))
    local = uscc(3)
    province.handle(RegisterSubject(uscc=local, name="省本级企业", kind="enterprise", actor=SYSTEM))
    found, upto = province.reported_after(CITY, 0)
    assert [code for _, code in found] == [ours.code]
    assert upto == province.max_position()
    assert [code for _, code in province.reported_after("汝州市", 0)[0]] == [other.code]
    assert [i.source for i in province.inboxes()] == sorted([CITY, "汝州市"])
    # A later change upstream to a reported subject names it again, at that change.
    mark = province.max_position()
    assert province.reported_after(CITY, mark) == ([], mark)
    province.handle(
        RecordFact(
            uscc=ours.code,
            indicator="penalty.minor",
            decided_on=date(2024, 2, 1),
            domain="food",
            document_no="省食罚1",
            actor=SYSTEM,
        )
    )
    assert province.reported_after(CITY, mark) == ([(mark + 1, ours.code)], mark + 1)


def test_record_upstream_keeps_each_result_once_and_a_change_again(
    pair: Pair, clock: StepClock
) -> None:
    city, _ = pair
    code = uscc(1)
    results = [
        {"uscc": code, "position": 40, "result": {"current": {"score": "80", "grade": "良"}}},
        {"uscc": uscc(2), "position": 41, "result": {"current": {"score": "90", "grade": "优"}}},
    ]
    assert city.record_upstream("province", results, upto=41, year=2023) == 2
    position = city.max_position()
    assert city.record_upstream("province", results, upto=41, year=2023) == 0
    assert city.max_position() == position
    changed = [
        {"uscc": code, "position": 55, "result": {"current": {"score": "75", "grade": "中"}}}
    ]
    assert city.record_upstream("province", changed, upto=60, year=2023) == 1
    view = city.upstream_view(code)
    assert view is not None
    assert (view.position, view.result) == (55, changed[0]["result"])
    # An older answer read late does not overwrite the newer one.
    assert city.record_upstream("province", results[:1], upto=60, year=2023) == 0
    view = city.upstream_view(code)
    assert view is not None
    assert view.position == 55
    assert [v.uscc for v in city.upstream_views()] == sorted([code, uscc(2)])
    # A subject the upstream has no result for yet keeps no view.
    empty = [{"uscc": uscc(3), "position": 61, "result": {}}]
    assert city.record_upstream("province", empty, upto=61, year=2023) == 0
    assert city.upstream_view(uscc(3)) is None
    log = city.sync_log("province")
    assert log is not None
    # A read that recorded nothing moves the noted cursor only once it is QUIET_GAP ahead.
    assert (log.pulled, log.pulled_year, log.recorded) == (60, 2023, 3)
    assert city.record_upstream("province", [], upto=60 + QUIET_GAP, year=2023) == 0
    log = city.sync_log("province")
    assert log is not None
    assert (log.pulled, log.recorded) == (60 + QUIET_GAP, 3)


def test_two_threads_delivering_one_batch_record_each_record_once(
    clock: StepClock, tmp_path: Path
) -> None:
    with (
        ledger_on("memory", tmp_path, clock) as city,
        postgres_schema() as url,
    ):
        History(city, clock).full()
        lines = _lines(city)
        province = open_ledger(url, clock=clock)
        try:
            _race(province, lines)
            topics = _topics(province)
            sent = Counter(line["topic"] for line in lines)
            assert topics[events.Received.TOPIC] == len(lines)
            for topic in (events.FactRecorded.TOPIC, events.ObjectionFiled.TOPIC):
                assert topics[topic] == sent[topic]
            assert topics["credit.federation_deliveries_taken.v1"] == 1
        finally:
            province.close()


def _race(province: CreditLedger, lines: list[dict[str, Any]]) -> None:
    start = threading.Barrier(2)
    answers: list[list[dict[str, Any]]] = []
    failures: list[BaseException] = []

    def receive() -> None:
        start.wait()
        try:
            answers.append(province.receive(FED, lines))
        except BaseException as exc:  # reported below, with the thread's context
            failures.append(exc)

    threads = [threading.Thread(target=receive) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures
    first, second = sorted(answers, key=lambda a: bool(a[0].get("earlier")))
    assert all(a.get("earlier") for a in second)
    assert [{k: v for k, v in a.items() if k != "earlier"} for a in second] == first
