"""The one log-paging loop on each real store: the same bounds, order and topic filter."""

from __future__ import annotations

from ledger.domain.access import AccessToken
from ledger.domain.commands import RegisterSubject
from ledger.domain.subject import SUBJECT_EVENT_TOPICS
from ledger.service.application import CreditLedger
from ledger.store.log import last_position, read_log, read_pages
from tests.support import ADMIN, SYSTEM, uscc


def test_read_log_bounds_on_the_store(stored_ledger: CreditLedger) -> None:
    app = stored_ledger
    for n in range(4):
        app.handle(
            RegisterSubject(
                uscc=uscc(200 + n), name=f"s{n}", kind="enterprise", fields=["food"], actor=SYSTEM
            )
        )
        app.issue_token(role="admin", actor=ADMIN)
    head = app.max_position()
    every = [n.id for n in app.recorder.select_notifications(start=None, limit=10_000)]
    for size in (1, 3, head):
        assert [n.id for n in read_log(app.recorder, page_size=size)] == every
    assert [n.id for n in read_log(app.recorder, start=2, stop=5, page_size=2)] == [3, 4, 5]
    assert [n.id for n in read_log(app.recorder, start=head)] == []
    tokens = list(read_log(app.recorder, topics=[AccessToken.Issued.TOPIC], page_size=3))
    assert len(tokens) == 4
    assert {n.topic for n in tokens} == {AccessToken.Issued.TOPIC}
    subjects = list(read_log(app.recorder, topics=SUBJECT_EVENT_TOPICS, stop=tokens[1].id))
    assert len(subjects) == 2
    assert all(n.id < tokens[1].id for n in subjects)
    pages = list(read_pages(app.recorder, start=1, page_size=3, limit=4))
    assert [[n.id for n in p] for p in pages] == [every[1:4], every[4:5]]
    # The ledger's reads that page the log agree with it.
    assert app.states_at(tokens[1].id).keys() == {n.originator_id for n in subjects}
    assert len(app.tokens()) == 4


def test_the_last_position_of_topics_agrees_with_reading_them_on_the_store(
    stored_ledger: CreditLedger,
) -> None:
    check_last_position(stored_ledger)


def check_last_position(app: CreditLedger) -> None:
    """`last_position` answers what reading the topics' events would, for every start."""
    issued, revoked = AccessToken.Issued.TOPIC, AccessToken.Revoked.TOPIC
    assert last_position(app.recorder, [issued, revoked], 0) == 0  # nothing stored yet
    first = app.issue_token(role="reader", actor=ADMIN)
    app.handle(
        RegisterSubject(uscc=uscc(300), name="s", kind="enterprise", fields=["food"], actor=SYSTEM)
    )
    after_token = app.max_position()
    app.revoke_token(first.info.token_id, actor=ADMIN)
    app.handle(
        RegisterSubject(uscc=uscc(301), name="t", kind="enterprise", fields=["food"], actor=SYSTEM)
    )
    head = app.max_position()
    for topics in ([issued], [revoked], [issued, revoked]):
        for after in range(head + 1):
            read = [n.id for n in read_log(app.recorder, topics=topics, start=after)]
            assert last_position(app.recorder, topics, after) == (read[-1] if read else after)
    # The subject registered last is of neither topic: the revocation is the last token event.
    assert last_position(app.recorder, [issued, revoked], after_token) == head - 1
