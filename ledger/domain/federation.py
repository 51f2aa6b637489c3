"""Federation (DOMAIN §10): what a ledger delivers upstream, and the streams that remember it.

Upward, each locally recorded registration, fact, listing, objection and repair decision becomes
one *delivery*: the import file's command that records it again (same ids, same valid dates,
same natural keys), with the ledger position it was stored at. The upstream decides it under its
own rules, so a delivery it already holds is harmless and one it refuses says why.

Three kinds of stream keep the flow's memory as events:
- `Inbox` (upstream, one per downstream ledger): how far that ledger's deliveries were taken
  and each one's outcome, so a re-delivery after a crash gets the same answer.
- `SyncLog` (downstream): how far its deliveries were acknowledged, the ones parked with the
  upstream's refusal, and how far the upstream's results were pulled.
- `UpstreamView` (downstream, one per subject): the upstream's result for the subject, with
  the upstream position it was read at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from ledger.domain import events
from ledger.domain.deciders.base import Context, Decision, change
from ledger.domain.state import SubjectState
from ledger.domain.values import Actor

FEDERATION_NAMESPACE = uuid5(NAMESPACE_URL, "https://credit-ledger/federation")

#: What a delivery's outcome is at the upstream.
ACCEPTED = "accepted"  # recorded there now
UNCHANGED = "unchanged"  # it held the record already (natural key, same payload)
REFUSED = "refused"  # a rule refused it: parked downstream, shown to the credit office


@dataclass(frozen=True)
class Delivery:
    """One local record as the command that records it upstream.

    `position` is the ledger position of its first event and `last` of its last (a corrected
    resolution covers the resolution and the correction it caused).
    """

    position: int
    last: int
    command: str
    args: dict[str, Any]
    topic: str
    subject_id: UUID
    department: str | None
    #: When the local ledger recorded it (how long it has waited for the upstream).
    recorded_at: datetime | None = None

    def line(self) -> dict[str, Any]:
        """The delivery as JSON (an exchange file's line, an HTTP delivery's item)."""
        return {
            "position": self.position,
            "last": self.last,
            "command": self.command,
            "args": self.args,
            "topic": self.topic,
            "subject_id": str(self.subject_id),
            "department": self.department,
            "recorded_at": None if self.recorded_at is None else self.recorded_at.isoformat(),
        }


def _json(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


def _args(event: Any, names: Sequence[str], **more: Any) -> dict[str, Any]:
    found = {name: _json(getattr(event, name)) for name in names}
    found.update({k: _json(v) for k, v in more.items()})
    return {k: v for k, v in found.items() if v is not None}


#: Per delivered topic: the import command and the event's attributes that are its arguments.
_PLAIN: dict[str, tuple[str, tuple[str, ...]]] = {
    events.FactRecorded.TOPIC: (
        "record_fact",
        (
            "fact_id",
            "indicator",
            "decided_on",
            "domain",
            "document_no",
            "description",
            "effective_until",
        ),
    ),
    events.FactEnded.TOPIC: ("end_fact", ("fact_id", "ended_on", "reason", "source_document")),
    events.FactRevoked.TOPIC: ("revoke_fact", ("fact_id", "reason", "source_document")),
    events.Listed.TOPIC: (
        "list_subject",
        ("listing_id", "list_type", "listed_on", "domain", "document_no", "authority"),
    ),
    events.Delisted.TOPIC: (
        "delist_subject",
        ("listing_id", "delisted_on", "reason", "source_document"),
    ),
    events.ObjectionFiled.TOPIC: (
        "file_objection",
        ("objection_id", "target_id", "filed_on", "grounds", "source_document"),
    ),
    events.RepairRequested.TOPIC: (
        "request_repair",
        ("repair_id", "target_id", "requested_on", "commitment", "source_document"),
    ),
    events.RepairDecided.TOPIC: (
        "decide_repair",
        ("repair_id", "approved", "decided_on", "reason", "source_document"),
    ),
    events.RepairRevoked.TOPIC: (
        "revoke_repair",
        ("repair_id", "revoked_on", "reason", "source_document"),
    ),
    events.JoinedField.TOPIC: ("join_field", ("field", "joined_on")),
    events.LeftField.TOPIC: ("leave_field", ("field", "left_on")),
}
#: Commands that name their subject by its credit code (the others by the item's id).
_BY_CODE = frozenset(
    {
        "register_subject",
        "record_fact",
        "end_fact",
        "revoke_fact",
        "list_subject",
        "delist_subject",
        "file_objection",
        "request_repair",
        "join_field",
        "leave_field",
    }
)
#: Every topic delivered upward (a correction travels inside its resolution).
DELIVERED_TOPICS = frozenset({events.Registered.TOPIC, events.ObjectionResolved.TOPIC, *_PLAIN})


def continues(event: Any) -> bool:
    """Whether the event's delivery also takes the next event of its stream: a corrected
    resolution, whose correction (FactCorrected, or Delisted for a listing) follows it."""
    return isinstance(event, events.ObjectionResolved) and event.outcome == "corrected"


def delivery_of(
    uscc: str, position: int, event: Any, follower: tuple[int, Any] | None = None
) -> Delivery | None:
    """The delivery of one stored subject event (None: not delivered upward).

    `follower` is the stream's next event with its position, for a corrected resolution.
    """
    topic = event.TOPIC
    last = position
    if isinstance(event, events.Registered):
        command = "register_subject"
        args = _args(
            event, ("name", "kind", "fields", "established_on", "source_document"), uscc=uscc
        )
    elif isinstance(event, events.ObjectionResolved):
        command = "resolve_objection"
        args = _args(event, ("objection_id", "outcome", "resolved_on", "note", "source_document"))
        if continues(event) and follower is not None:
            last, correction = follower
            if isinstance(correction, events.FactCorrected):
                args.update(
                    _args(correction, ("indicator", "decided_on"), void=correction.void or None)
                )
            elif isinstance(correction, events.Delisted):
                args["void"] = True
    elif topic in _PLAIN:
        command, names = _PLAIN[topic]
        args = _args(event, names)
    else:
        return None
    if command in _BY_CODE:
        args["uscc"] = uscc
    return Delivery(
        position=position,
        last=last,
        command=command,
        args=args,
        topic=topic,
        subject_id=event.originator_id,
        department=event.department,
        recorded_at=event.timestamp,
    )


@dataclass(frozen=True)
class Receipt:
    """Where a delivered command came from: the downstream ledger and its record's position."""

    source: str
    position: int
    topic: str


#: The status of a delivered decision that appends only its receipt: the upstream held the
#: record already, and now knows this source reports the subject too.
REPORTED = "reported"


def received(
    decision: Decision, ctx: Context, actor: Actor, receipt: Receipt, state: SubjectState
) -> Decision:
    """A delivered command's decision with the receipt after its events.

    A record the upstream already held appends nothing, unless the subject was not yet
    reported by this source: then the receipt alone, so the source reads the subject's results
    (status `reported`)."""
    if not decision.created and (not state.registered or receipt.source in state.sources):
        return decision
    note = change(
        events.Received,
        ctx,
        actor,
        None,
        source=receipt.source,
        source_position=receipt.position,
        source_topic=receipt.topic,
    )
    status = decision.status if decision.created else REPORTED
    return replace(decision, changes=(*decision.changes, note), status=status)


# -- upstream: what each downstream ledger delivered ------------------------------------------


def inbox_id(source: str) -> UUID:
    """The inbox stream of a downstream ledger, by its name."""
    return uuid5(FEDERATION_NAMESPACE, "inbox:" + source)


class Inbox(Aggregate):
    """The deliveries of one downstream ledger: how far they were taken, and each outcome."""

    TOPIC = "credit.federation_inbox.v1"

    class Event(Aggregate.Event):
        """Base of inbox events."""

        TOPIC = "credit.federation_inbox_event.v1"

    class Opened(Aggregate.Created, Event):
        """The first delivery of a downstream ledger arrived."""

        TOPIC = "credit.federation_inbox_opened.v1"
        source: str

    class Taken(Event):
        """A batch of deliveries was decided, in one transaction with what it recorded.

        `outcomes`: per delivery, its source position and outcome (with the refusal's reason,
        field and rule, or the local position it was recorded at).
        """

        TOPIC = "credit.federation_deliveries_taken.v1"
        upto: int
        outcomes: list[dict[str, Any]]

        def apply(self, aggregate: Inbox) -> None:
            aggregate.upto = max(aggregate.upto, self.upto)
            for outcome in self.outcomes:
                aggregate.outcomes[int(outcome["position"])] = outcome

    @staticmethod
    def create_id(source: str) -> UUID:
        """Inbox ids are derived from the downstream ledger's name."""
        return inbox_id(source)

    def __init__(self, source: str) -> None:
        self.source = source
        self.upto = 0
        self.outcomes: dict[int, dict[str, Any]] = {}

    def take(self, upto: int, outcomes: list[dict[str, Any]]) -> None:
        """Note a decided batch."""
        self.trigger_event(self.Taken, upto=upto, outcomes=outcomes)


# -- downstream: how far the flow went each way ------------------------------------------------


def sync_log_id(upstream: str) -> UUID:
    """The sync log stream of this ledger's link to an upstream (by its URL or name)."""
    return uuid5(FEDERATION_NAMESPACE, "sync:" + upstream)


class SyncLog(Aggregate):
    """This ledger's link to its upstream: delivered up to where, parked, and pulled to where."""

    TOPIC = "credit.federation_sync_log.v1"

    class Event(Aggregate.Event):
        """Base of sync log events."""

        TOPIC = "credit.federation_sync_event.v1"

    class Linked(Aggregate.Created, Event):
        """The ledger named this upstream."""

        TOPIC = "credit.federation_linked.v1"
        upstream: str

    class Acknowledged(Event):
        """The upstream answered deliveries up to `upto`; `parked` are the refused ones."""

        TOPIC = "credit.federation_acknowledged.v1"
        upto: int
        accepted: int
        unchanged: int
        parked: list[dict[str, Any]]

        def apply(self, aggregate: SyncLog) -> None:
            aggregate.acknowledged = max(aggregate.acknowledged, self.upto)
            aggregate.delivered += self.accepted + self.unchanged
            for item in self.parked:
                aggregate.parked[int(item["position"])] = item

    class Resolved(Event):
        """A parked delivery was delivered again and taken (or dismissed by the credit office)."""

        TOPIC = "credit.federation_parked_resolved.v1"
        position: int
        outcome: str
        note: str

        def apply(self, aggregate: SyncLog) -> None:
            aggregate.parked.pop(self.position, None)

    class Pulled(Event):
        """The upstream's results were read up to its position `upto` (for `year`)."""

        TOPIC = "credit.federation_pulled.v1"
        upto: int
        year: int | None
        recorded: int

        def apply(self, aggregate: SyncLog) -> None:
            aggregate.pulled = self.upto
            aggregate.pulled_year = self.year
            aggregate.recorded += self.recorded

    @staticmethod
    def create_id(upstream: str) -> UUID:
        """Sync log ids are derived from the upstream's URL."""
        return sync_log_id(upstream)

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.acknowledged = 0
        self.delivered = 0
        self.parked: dict[int, dict[str, Any]] = {}
        self.pulled = 0
        self.pulled_year: int | None = None
        self.recorded = 0


# -- downstream: the upstream's result for a subject -------------------------------------------


def upstream_view_id(uscc: str) -> UUID:
    """The stream of the upstream's results for one subject."""
    return uuid5(FEDERATION_NAMESPACE, "upstream:" + uscc)


class UpstreamView(Aggregate):
    """The upstream's results for one local subject, as pulled, each with its upstream position."""

    TOPIC = "credit.federation_upstream_view.v1"

    class Event(Aggregate.Event):
        """Base of upstream-view events."""

        TOPIC = "credit.federation_upstream_event.v1"

    class Started(Aggregate.Created, Event):
        """The first upstream result for the subject arrived."""

        TOPIC = "credit.federation_upstream_started.v1"
        uscc: str

    class ResultRecorded(Event):
        """The upstream's result as it stood at its position `upstream_position`: its current
        evaluation and its latest year's published and restated results (JSON, as answered)."""

        TOPIC = "credit.federation_upstream_result.v1"
        upstream: str
        upstream_position: int
        result: dict[str, Any]

        def apply(self, aggregate: UpstreamView) -> None:
            aggregate.upstream = self.upstream
            aggregate.position = self.upstream_position
            aggregate.result = self.result
            aggregate.recorded_at = self.timestamp

    @staticmethod
    def create_id(uscc: str) -> UUID:
        """Upstream-view ids are derived from the credit code."""
        return upstream_view_id(uscc)

    def __init__(self, uscc: str) -> None:
        self.uscc = uscc
        self.upstream = ""
        self.position = 0
        self.result: dict[str, Any] = {}
        self.recorded_at: datetime | None = None


@dataclass(frozen=True)
class Difference:
    """Where the local and the upstream answers for a subject differ (field, local, upstream)."""

    what: str
    local: Any
    upstream: Any


def differences(local: dict[str, Any], upstream: dict[str, Any]) -> list[Difference]:
    """The differences between two results of the same shape, by the fields that grade:
    the score, the grade and the listing, of the current evaluation and the latest year's."""
    found: list[Difference] = []
    for part in ("current", "published", "restated"):
        mine, theirs = local.get(part), upstream.get(part)
        if mine is None and theirs is None:
            continue
        if mine is None or theirs is None:
            found.append(Difference(part, mine is not None, theirs is not None))
            continue
        for key in ("score", "grade", "listed"):
            if mine.get(key) != theirs.get(key):
                found.append(Difference(f"{part}.{key}", mine.get(key), theirs.get(key)))
    return found


def outcome_line(position: int, status: str, **detail: Any) -> dict[str, Any]:
    """One delivery's outcome, as the inbox keeps it and the upstream answers it."""
    kept = {k: v for k, v in detail.items() if v is not None}
    return {"position": position, "status": status, **kept}


for _cls in (
    Inbox.Opened,
    Inbox.Taken,
    SyncLog.Linked,
    SyncLog.Acknowledged,
    SyncLog.Resolved,
    SyncLog.Pulled,
    UpstreamView.Started,
    UpstreamView.ResultRecorded,
):
    register_topic(_cls.TOPIC, _cls)
