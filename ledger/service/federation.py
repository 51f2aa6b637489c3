"""Federation (DOMAIN §10): deliveries up, receipts at the upstream, results pulled down.

Downstream, `outgoing` reads the local log after a position and turns each delivered record
into a `Delivery`; `acknowledge` notes the upstream's answer (parking refusals) on the sync log;
`record_upstream` keeps the upstream's results per subject. Upstream, `receive` decides a batch
of deliveries under the upstream's own rules, in one transaction with the inbox note that makes
a re-delivery answer as the first did; `reported_after` names the subjects a downstream ledger
reports whose records changed after a position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError

from ledger.domain import events
from ledger.domain.commands import command_of
from ledger.domain.errors import Conflict, InvalidInput, LedgerError
from ledger.domain.federation import (
    ACCEPTED,
    DELIVERED_TOPICS,
    REFUSED,
    REPORTED,
    UNCHANGED,
    Delivery,
    Inbox,
    Receipt,
    SyncLog,
    UpstreamView,
    continues,
    delivery_of,
    inbox_id,
    outcome_line,
    sync_log_id,
    upstream_view_id,
)
from ledger.domain.subject import SUBJECT_EVENT_TOPICS
from ledger.domain.text import optional_text
from ledger.domain.values import Actor, Role, SubjectKind
from ledger.service.handlers import handle_delivered

if TYPE_CHECKING:
    from ledger.service.parts import LedgerParts
else:
    LedgerParts = object

#: Topics read to build deliveries: the delivered ones, and a correction following its resolution.
_READ_TOPICS = tuple(sorted({*DELIVERED_TOPICS, events.FactCorrected.TOPIC}))
#: How often a batch is decided again when another writer changed one of its streams first.
RECEIVE_ATTEMPTS = 10
#: How far the upward cursor moves over records that are not delivered before it is noted.
QUIET_GAP = 1000
#: The most deliveries one batch may carry.
MAX_DELIVERIES = 1000


@dataclass(frozen=True)
class Outgoing:
    """A page of deliveries, and the local position the page covers up to (read past records
    that are not delivered, so the cursor moves over them too)."""

    deliveries: list[Delivery]
    upto: int


class Federation(LedgerParts):
    """The ledger's side of the province–city flow, both ways."""

    # -- downstream: what to deliver -----------------------------------------------------------

    def outgoing(self, after: int, limit: int = 200) -> Outgoing:
        """Up to `limit` deliveries of records stored after local position `after`, in log order;
        none only when nothing after `after` is to be delivered."""
        while True:
            page, full = self._outgoing_page(after, limit)
            # A full page of records that stay home (persons') reads on: a caller stopping at
            # an empty page must not stall behind such a run.
            if page.deliveries or not full or page.upto <= after:
                return page
            after = page.upto

    def _outgoing_page(self, after: int, limit: int) -> tuple[Outgoing, bool]:
        top = self.max_position()
        rows = list(
            self.recorder.select_notifications(
                start=after, limit=limit, topics=_READ_TOPICS, inclusive_of_start=False
            )
        )
        if rows and len(rows) == limit and continues(self.mapper.to_domain_event(rows[-1])):
            # A corrected resolution's correction was stored with it, just after it: read that
            # one row only (a second could be a corrected resolution without its own).
            rows += self.recorder.select_notifications(
                start=rows[-1].id, limit=1, topics=_READ_TOPICS, inclusive_of_start=False
            )
        decoded = [(row.id, self.mapper.to_domain_event(row)) for row in rows]
        codes: dict[UUID, tuple[str, str] | None] = {}
        deliveries: list[Delivery] = []
        taken: set[int] = set()
        for i, (position, event) in enumerate(decoded):
            if position in taken:
                continue
            subject = self._subject_of(event, codes)
            if subject is None or subject[1] == SubjectKind.NATURAL_PERSON:
                # Persons' identities stay sealed under this ledger's keys (DOMAIN §9).
                continue
            follower = None
            if continues(event):
                follower = next(
                    (
                        (p, e)
                        for p, e in decoded[i + 1 :]
                        if e.originator_id == event.originator_id
                        and e.originator_version == event.originator_version + 1
                    ),
                    None,
                )
                if follower is not None:
                    taken.add(follower[0])
            delivery = delivery_of(subject[0], position, event, follower)
            if delivery is not None:
                deliveries.append(delivery)
        full = len(rows) >= limit
        upto = max((p for p, _ in decoded), default=after) if full else max(top, after)
        return Outgoing(deliveries, upto), full

    def _subject_of(
        self, event: Any, codes: dict[UUID, tuple[str, str] | None]
    ) -> tuple[str, str] | None:
        """A stream's credit code and kind, from its registration (read once per page)."""
        sid = event.originator_id
        if isinstance(event, events.Registered):
            codes[sid] = (event.uscc, event.kind)
        if sid not in codes:
            first = next(iter(self.events.get(sid, lte=1)), None)
            codes[sid] = (first.uscc, first.kind) if isinstance(first, events.Registered) else None
        return codes[sid]

    def _stored(self, stream_id: UUID) -> Any:
        """A federation stream's aggregate, or None before its first event."""
        try:
            return self.repository.get(stream_id)
        except AggregateNotFoundError:
            return None

    def sync_log(self, upstream: str) -> SyncLog | None:
        """This ledger's link to an upstream, as stored (None before the first sync)."""
        return cast("SyncLog | None", self._stored(sync_log_id(upstream)))

    def _sync_log(self, upstream: str) -> SyncLog:
        return self.sync_log(upstream) or SyncLog(upstream=upstream)

    def acknowledge(
        self,
        upstream: str,
        upto: int,
        outcomes: Sequence[Mapping[str, Any]],
        deliveries: Sequence[Delivery],
    ) -> SyncLog:
        """Note the upstream's answer to deliveries up to local position `upto`: refusals are
        parked with the reason. A page with nothing delivered is noted only once the cursor
        moved `QUIET_GAP` positions (the note itself is a local event: noting every quiet page
        would keep the log growing)."""
        log = self._sync_log(upstream)
        if not outcomes and upto - log.acknowledged < QUIET_GAP:
            return log
        by_position = {d.position: d for d in deliveries}
        parked = []
        counts = {ACCEPTED: 0, UNCHANGED: 0}
        for outcome in outcomes:
            status = outcome.get("status")
            if status == REFUSED:
                sent = by_position.get(int(outcome["position"]))
                parked.append({**(sent.line() if sent else {}), **dict(outcome)})
            elif status in counts:
                counts[str(status)] += 1
        log.trigger_event(
            SyncLog.Acknowledged,
            upto=max(upto, log.acknowledged),
            accepted=counts[ACCEPTED],
            unchanged=counts[UNCHANGED],
            parked=parked,
        )
        self.save(log)
        return log

    def resolve_parked(self, upstream: str, position: int, outcome: str, note: str) -> SyncLog:
        """A parked delivery was taken on a retry (or dismissed by the credit office)."""
        log = self._sync_log(upstream)
        if position not in log.parked:
            raise InvalidInput(
                f"no parked delivery at position {position}", field="position", rule="parked"
            )
        log.trigger_event(SyncLog.Resolved, position=position, outcome=outcome, note=note)
        self.save(log)
        return log

    # -- upstream: taking deliveries ------------------------------------------------------------

    def inbox(self, source: str) -> Inbox | None:
        """What a downstream ledger delivered so far (None before its first delivery)."""
        return cast("Inbox | None", self._stored(inbox_id(source)))

    def inboxes(self) -> list[Inbox]:
        """Every downstream ledger's inbox, by name."""
        rows = self.recorder.select_notifications(
            start=None, limit=10_000, topics=(Inbox.Opened.TOPIC,)
        )
        found = [self.inbox(cast("Any", self.mapper.to_domain_event(r)).source) for r in rows]
        return sorted((i for i in found if i is not None), key=lambda i: i.source)

    def receive(
        self, actor: Actor, items: Sequence[Mapping[str, Any]], *, retry: bool = False
    ) -> list[dict[str, Any]]:
        """Decide a downstream ledger's deliveries, in order, in one transaction with the inbox
        note; each item's outcome. A delivery already taken answers its first outcome again,
        unless `retry` (the credit office delivering a parked one again after a fix)."""
        if actor.role not in (Role.FEDERATION, Role.ADMIN, Role.SYSTEM) or not actor.name:
            raise InvalidInput(
                "deliveries come with a named federation token",
                field="role",
                rule="federation tokens deliver",
            )
        if len(items) > MAX_DELIVERIES:
            raise InvalidInput(
                f"{len(items)} deliveries in one batch; at most {MAX_DELIVERIES}",
                field="items",
                rule=f"at most {MAX_DELIVERIES} deliveries per batch",
            )
        for _attempt in range(RECEIVE_ATTEMPTS):
            try:
                return self._receive(actor, items, retry)
            except RecordConflictError:
                continue
        raise Conflict(
            f"deliveries of {actor.name} kept colliding with other writers; retry",
            field="items",
            rule="concurrent change",
        )

    def _receive(
        self, actor: Actor, items: Sequence[Mapping[str, Any]], retry: bool
    ) -> list[dict[str, Any]]:
        source = str(actor.name)
        inbox = self.inbox(source) or Inbox(source=source)
        outcomes: list[dict[str, Any]] = []
        answers: list[dict[str, Any]] = []
        with self.unit_of_work.batch() as batch:  # type: ignore[attr-defined]
            for item in items:
                position = _position(item)
                earlier = inbox.outcomes.get(position)
                # A retry decides a refused delivery again; one taken keeps its first outcome
                # (decided again on a later state, a registration could even conflict).
                if earlier is not None and not (retry and earlier["status"] == REFUSED):
                    answers.append({**earlier, "earlier": True})
                    continue
                outcome = self._take(actor, source, position, item)
                outcomes.append(outcome)
                answers.append(outcome)
            if outcomes:
                inbox.take(max(int(o["last"]) for o in outcomes), outcomes)
                batch.extras.append(inbox)
        return answers

    def _take(
        self, actor: Actor, source: str, position: int, item: Mapping[str, Any]
    ) -> dict[str, Any]:
        last = int(item.get("last", position))
        department = item.get("department")
        try:
            if department is not None and not isinstance(department, str):
                raise InvalidInput("department is text", field="department", rule="text")
            # The record keeps the department it was made for at the source (a city may have
            # departments the annex does not name), under the one text rule.
            department = optional_text(department, "department")
            delivering = replace(actor, department=department or actor.department)
            args = item.get("args")
            if not isinstance(args, Mapping):
                raise InvalidInput("a delivery's args are an object", field="args", rule="JSON")
            command = command_of(str(item.get("command")), args, delivering)
            receipt = Receipt(source, position, str(item.get("topic", "")))
            written = handle_delivered(self, command, receipt)  # type: ignore[arg-type]
        except LedgerError as exc:
            return outcome_line(
                position,
                REFUSED,
                last=last,
                kind=exc.kind,
                reason=exc.message,
                field=exc.field,
                rule=exc.rule,
            )
        taken = written.created and written.status != REPORTED
        return outcome_line(
            position, ACCEPTED if taken else UNCHANGED, last=last, id=str(written.id)
        )

    def reported_after(
        self, source: str, after: int, limit: int = 500
    ) -> tuple[list[tuple[int, str]], int]:
        """The subjects `source` reports whose streams changed after upstream position `after`
        (each with its last change's position, in log order), and the position read up to."""
        top = self.max_position()
        rows = list(
            self.recorder.select_notifications(
                start=after,
                limit=limit,
                topics=SUBJECT_EVENT_TOPICS,
                inclusive_of_start=False,
            )
        )
        last: dict[UUID, int] = {}
        for row in rows:
            last[UUID(str(row.originator_id))] = row.id
        found: list[tuple[int, str]] = []
        for sid, position in last.items():
            stream = list(self.events.get(sid))
            if not stream or not isinstance(stream[0], events.Registered):
                continue
            if any(isinstance(e, events.Received) and e.source == source for e in stream):
                found.append((position, stream[0].uscc))
        found.sort()
        upto = rows[-1].id if len(rows) >= limit else max(top, after)
        return found, upto

    # -- downstream: the upstream's results ----------------------------------------------------

    def upstream_view(self, uscc: str) -> UpstreamView | None:
        """The upstream's latest result for a subject, as pulled (None if none yet)."""
        return cast("UpstreamView | None", self._stored(upstream_view_id(uscc)))

    def upstream_views(self) -> list[UpstreamView]:
        """Every subject's upstream result, by credit code."""
        rows = self.recorder.select_notifications(
            start=None, limit=1_000_000, topics=(UpstreamView.Started.TOPIC,)
        )
        found = [self.upstream_view(cast("Any", self.mapper.to_domain_event(r)).uscc) for r in rows]
        return sorted((v for v in found if v is not None), key=lambda v: v.uscc)

    def record_upstream(
        self,
        upstream: str,
        results: Sequence[Mapping[str, Any]],
        *,
        upto: int,
        year: int | None,
    ) -> int:
        """Keep the upstream's results (each with its upstream `position`) and how far they were
        read, in one transaction; a result already held (same or later position, same content)
        adds nothing. Answers how many results were recorded."""
        log = self._sync_log(upstream)
        views: dict[str, UpstreamView] = {}
        recorded = 0
        for item in results:
            uscc = str(item["uscc"])
            position = int(item["position"])
            result = dict(item.get("result") or {})
            view = views.get(uscc) or self.upstream_view(uscc) or UpstreamView(uscc=uscc)
            views[uscc] = view
            if view.result == result or (position <= view.position and view.result):
                continue
            view.trigger_event(
                UpstreamView.ResultRecorded,
                upstream=upstream,
                upstream_position=position,
                result=result,
            )
            recorded += 1
        # Like the upward cursor, a read that recorded nothing is noted only every QUIET_GAP
        # positions: a busy upstream must not fill this log with cursor notes.
        if recorded or year != log.pulled_year or abs(upto - log.pulled) >= QUIET_GAP:
            log.trigger_event(SyncLog.Pulled, upto=upto, year=year, recorded=recorded)
        # A view is started only with a result: an empty answer keeps no stream.
        pending = [v for v in views.values() if v._pending_events and v.result]
        if pending or log._pending_events:
            self.save(log, *pending)
        return recorded

    def waiting(self, acknowledged: int) -> Delivery | None:
        """The oldest local record after the acknowledged position (None: none waits)."""
        page = self.outgoing(acknowledged, limit=50)
        return page.deliveries[0] if page.deliveries else None


def _position(item: Mapping[str, Any]) -> int:
    try:
        position = int(item["position"])
    except (KeyError, TypeError, ValueError):
        raise InvalidInput(
            "each delivery names its source position", field="items.position", rule="integer"
        ) from None
    if position < 1:
        raise InvalidInput("positions start at 1", field="items.position", rule="positive")
    return position
