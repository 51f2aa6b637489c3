"""The `CreditLedger` application: the one write path (`handle`), and the reads of the ledger.

`handle(command)` is every write: its handler (ledger.service.handlers) loads the subject, the
command's decider (ledger.domain.deciders) checks every rule and says what events to append, and
the unit of work (ledger.service.unit_of_work) saves them in one transaction, retrying when
another writer appended first. A refused command raises a `LedgerError` and writes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder

from ledger.domain.access import TOKEN_PREFIX, AccessToken, hash_secret, token_stream_id
from ledger.domain.catalog import catalogue
from ledger.domain.commands import Command
from ledger.domain.dates import known_by_now, require_date
from ledger.domain.deciders.base import authorize_under, text
from ledger.domain.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
)
from ledger.domain.fold import fold, step
from ledger.domain.inspections import InspectionDraw, InspectorPool, pool_id_for
from ledger.domain.model import ModelRegistry, default_models
from ledger.domain.rules.authority import Act, InField
from ledger.domain.rules.grade import (
    Evaluation,
    evaluate_history,
)
from ledger.domain.rules.supervision import (
    Draw,
    Supervision,
    default_policies,
    draw,
    in_field,
    supervise,
)
from ledger.domain.state import ObjectionState, RepairState, SubjectState
from ledger.domain.subject import SUBJECT_EVENT_TOPICS, Subject
from ledger.domain.text import natural_key
from ledger.domain.values import (
    Actor,
    Role,
    china_date,
    normalize_uscc,
    require_aware,
    subject_id_for,
)
from ledger.service.handlers import Written, handle
from ledger.service.unit_of_work import UnitOfWork
from ledger.store.codec import DateAsISO

__all__ = ["CreditLedger", "Written", "system_clock"]

T = TypeVar("T")


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token: never its secret."""

    token_id: str
    role: str
    fields: tuple[str, ...]
    department: str | None
    name: str
    issued_at: datetime
    revoked: bool


@dataclass(frozen=True)
class IssuedToken:
    """A new token: the secret (shown once) and its description."""

    secret: str
    info: TokenInfo


def _selection(result: Draw) -> list[dict[str, Any]]:
    """A draw's selection as stored in its event (plain data)."""
    return [
        {"uscc": s.uscc, "grade": s.grade, "tier": s.tier, "inspectors": list(s.inspectors)}
        for s in result.selected
    ]


def system_clock() -> datetime:
    """Record time: now, in UTC."""
    return datetime.now(UTC)


# Every text argument of every command passes the one text rule (DOMAIN §8).
_text = text


def _date(value: Any, field_name: str) -> date:
    return require_date(value, field_name)


class CreditLedger(Application[UUID]):
    """Credit facts, listings, objections and repairs as immutable events, graded on demand."""

    name = "credit_ledger"

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], datetime] = system_clock,
        models: ModelRegistry | None = None,
    ) -> None:
        super().__init__(env)
        self.clock = clock
        self.models = models or default_models()
        self.policies = default_policies()
        self.catalogue = catalogue()
        self.unit_of_work = UnitOfWork(self)
        #: Called with the number of events after every save (metrics hook for adapters).
        self.save_listeners: list[Callable[[int], None]] = []

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Store the pending events of the given aggregates in one transaction."""
        recordings = super().save(*objs, **kwargs)
        for listener in self.save_listeners:
            listener(len(recordings))
        return recordings

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        """Add date values to the stored-event JSON."""
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # -- plumbing -----------------------------------------------------------------------------

    def _now(self, last: datetime | None) -> datetime:
        """Record time for the next event on a stream: the clock, never before the stream's last."""
        now = require_aware(self.clock(), field_name="clock")
        return now if last is None or now >= last else last

    def _position(self, recordings: Sequence[Any]) -> int | None:
        ids = [r.notification.id for r in recordings]
        return max(ids) if ids else self.max_position()

    def max_position(self) -> int:
        """The ledger position of the last stored event (0 for an empty ledger)."""
        return self.recorder.max_notification_id() or 0

    # -- writes -------------------------------------------------------------------------------

    def handle(self, command: Command) -> Written:
        """Carry out one command: the one way anything is written about a subject."""
        return handle(self, command)

    def subject_code_of(self, kind: str, item_id: UUID) -> str:
        """The credit code of the subject an objection or repair belongs to (NotFound if none)."""
        uscc = self.unit_of_work.locate(kind, item_id)
        if uscc is None:
            raise NotFound(f"no {kind} {item_id}", field=f"{kind}_id")
        return uscc

    def _field(self, code: str, field_name: str) -> str:
        return self.catalogue.field(code, field_name=field_name).code

    def _authorize(self, actor: Actor, act: Act, on: date | None) -> None:
        """Ask the one authority rule under the model in force on the act's date."""
        authorize_under(self.models, actor, act, on)

    def register_inspectors(
        self, field: str, *, inspectors: Sequence[str], actor: Actor
    ) -> Written:
        """Register (or replace) a field's inspector pool for double-random draws."""
        actor.require("record")
        self._field(field, "field")
        self._authorize(actor, InField(field, "field"), None)
        # Names are natural keys: full-width and half-width spellings are one inspector.
        by_key: dict[str, str] = {}
        for given in inspectors:
            name = str(_text(given, "inspectors"))
            by_key.setdefault(natural_key(name), name)
        names = sorted(by_key.values())
        if len(names) < 2:
            raise InvalidInput(
                "an inspector pool needs at least two inspectors (two go to each subject)",
                field="inspectors",
                rule="at least two inspectors",
            )
        try:
            pool: InspectorPool = self.repository.get(pool_id_for(field))
        except AggregateNotFoundError:
            pool = InspectorPool._create(
                InspectorPool.Registered, field=field, inspectors=names, actor_id=actor.actor_id
            )
            return Written(pool.id, True, self._position(self.save(pool)))
        if not pool.replace(names, actor.actor_id):
            return Written(pool.id, False, self.max_position())
        return Written(pool.id, True, self._position(self.save(pool)))

    def inspectors(self, field: str) -> list[str]:
        """A field's registered inspectors (empty without a pool)."""
        try:
            pool: InspectorPool = self.repository.get(pool_id_for(field))
        except AggregateNotFoundError:
            return []
        return list(pool.inspectors)

    def supervision(
        self,
        uscc: str,
        *,
        field: str,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> Supervision:
        """A subject's supervision tier in a field at D as known at K (DOMAIN §6)."""
        self._field(field, "field")
        now = self.clock()
        k = known_by_now(known_at, "known_at", now=now) if known_at is not None else now
        d = _date(as_of, "as_of") if as_of is not None else china_date(now)
        state = fold(self.history(uscc), k)  # type: ignore[arg-type]
        if not state.registered:
            raise NotFound(f"subject not known at {k.isoformat()}", field="known_at")
        return supervise(state, field, d, k, self.models, self.policies)

    def states_at(self, position: int) -> dict[Any, SubjectState]:
        """Every subject's state from the events at or before a ledger position."""
        states: dict[Any, SubjectState] = {}
        start = 0
        while start < position:
            page = self.recorder.select_notifications(
                start=start,
                limit=1000,
                stop=position,
                topics=SUBJECT_EVENT_TOPICS,
                inclusive_of_start=False,
            )
            if not page:
                break
            for notification in page:
                event = self.mapper.to_domain_event(notification)
                state = states.setdefault(notification.originator_id, SubjectState())
                step(state, event)  # type: ignore[arg-type]
            start = page[-1].id
        return states

    def field_population(self, field: str, as_of: date, position: int) -> list[Supervision]:
        """The field's subjects at D with their supervision, from the log up to a position."""
        result = []
        for state in self.states_at(position).values():
            if in_field(state, field, as_of):
                assert state.last_recorded_at is not None
                result.append(
                    supervise(
                        state, field, as_of, state.last_recorded_at, self.models, self.policies
                    )
                )
        return sorted(result, key=lambda s: s.uscc)

    def _draw_for(self, field: str, as_of: date, seed: str, position: int, pool: list[str]) -> Draw:
        population = [
            (s.uscc, s.grade, s.tier) for s in self.field_population(field, as_of, position)
        ]
        policy = self.policies.in_force(as_of)
        ratios = {letter: policy.rule(field, letter).ratio for letter in "ABCD"}
        return draw(field, as_of, seed, population, ratios, pool)

    def make_draw(
        self, *, field: str, as_of: date, actor: Actor, seed: str | None = None
    ) -> tuple[InspectionDraw, int]:
        """Draw a field's inspection sample at D and record it (seed generated when absent)."""
        actor.require("record")
        self._field(field, "field")
        _date(as_of, "as_of")
        self._authorize(actor, InField(field, "field"), as_of)
        chosen = _text(seed, "seed", required=False) or secrets.token_hex(16)
        if len(chosen) > 200:
            raise InvalidInput("seed is longer than 200 characters", field="seed", rule="length")
        position = self.max_position()
        pool = self.inspectors(field)
        # The seed is a natural key: the ranks hash its NFKC form; the seed is kept as given.
        key = natural_key(chosen)
        result = self._draw_for(field, as_of, key, position, pool)
        recorded = InspectionDraw._create(
            InspectionDraw.RecordedV2,
            id=uuid4(),
            field=field,
            as_of=as_of,
            seed=chosen,
            seed_key=key,
            position=position,
            policy=self.policies.in_force(as_of).version,
            population_digest=result.population_digest,
            strata={k: list(v) for k, v in result.strata.items()},
            selected=_selection(result),
            inspectors=pool,
            actor_id=actor.actor_id,
            department=actor.department,
        )
        return recorded, self._position(self.save(recorded)) or 0

    def get_draw(self, draw_id: UUID) -> InspectionDraw:
        """A recorded draw, or NotFound."""
        try:
            recorded: InspectionDraw = self.repository.get(draw_id)
        except AggregateNotFoundError:
            raise NotFound(f"no draw {draw_id}", field="draw_id") from None
        if not isinstance(recorded, InspectionDraw):
            raise NotFound(f"no draw {draw_id}", field="draw_id")
        return recorded

    def verify_draw(self, draw_id: UUID) -> list[str]:
        """Every difference between a recorded draw and its recomputation from the ledger."""
        recorded = self.get_draw(draw_id)
        again = self._draw_for(
            recorded.field,
            recorded.as_of,
            recorded.seed_key,
            recorded.position,
            recorded.inspectors,
        )
        problems = []
        if again.population_digest != recorded.population_digest:
            problems.append("the population digest differs from the ledger's population")
        if _selection(again) != recorded.selected:
            problems.append("the selection differs from a recomputation with the published seed")
        if {k: list(v) for k, v in again.strata.items()} != recorded.strata:
            problems.append("the stratum sizes differ")
        return problems

    # -- access tokens ------------------------------------------------------------------------

    def issue_token(
        self,
        *,
        role: str,
        actor: Actor,
        fields: Sequence[str] = (),
        name: str | None = None,
    ) -> IssuedToken:
        """Create a bearer token; the secret is returned once and only its hash is stored."""
        if actor.role not in (Role.ADMIN, Role.SYSTEM):
            raise Forbidden("only an admin creates tokens", field="role", rule="admin only")
        roles = [r.value for r in Role if r != Role.SYSTEM]
        if role not in roles:
            raise InvalidInput(
                f"'{role}' is not one of: {', '.join(roles)}", field="role", rule="token roles"
            )
        codes = sorted({self._field(f, "fields") for f in fields})
        if role == Role.RECORDER and not codes:
            raise InvalidInput(
                "a recorder token needs at least one field", field="fields", rule="recorder fields"
            )
        departments = {self.catalogue.department_of(f) for f in codes}
        if role == Role.RECORDER and len(departments) > 1:
            raise InvalidInput(
                f"fields {', '.join(codes)} belong to several departments; "
                "a recorder token acts for one department",
                field="fields",
                rule="one department per recorder token",
            )
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = "tok_" + secrets.token_hex(5)
        label = _text(name, "name", required=False) or f"{role} token"
        token = AccessToken._create(
            AccessToken.Issued,
            token_id=token_id,
            secret_hash=hash_secret(secret),
            role=role,
            fields=codes,
            department=departments.pop() if len(departments) == 1 else None,
            name=label,
            issued_by=actor.actor_id,
        )
        self.save(token)
        return IssuedToken(secret=secret, info=self._token_info(token))

    def authenticate(self, secret: str) -> Actor | None:
        """The acting party of a presented bearer token, or None if unknown or revoked."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        try:
            token: AccessToken = self.repository.get(token_stream_id(hash_secret(secret)))
        except AggregateNotFoundError:
            return None
        return None if token.revoked else token.actor()

    def tokens(self) -> list[TokenInfo]:
        """Every token ever issued, oldest first, with whether it is revoked."""
        infos: dict[UUID, TokenInfo] = {}
        topics = [AccessToken.Issued.TOPIC, AccessToken.Revoked.TOPIC]
        position = 0
        while True:
            page = self.recorder.select_notifications(
                start=position, limit=500, topics=topics, inclusive_of_start=False
            )
            if not page:
                break
            for notification in page:
                position = notification.id
                event = self.mapper.to_domain_event(notification)
                if isinstance(event, AccessToken.Issued):
                    infos[event.originator_id] = TokenInfo(
                        token_id=event.token_id,
                        role=event.role,
                        fields=tuple(event.fields),
                        department=event.department,
                        name=event.name,
                        issued_at=event.timestamp,
                        revoked=False,
                    )
                elif event.originator_id in infos:
                    infos[event.originator_id] = replace(infos[event.originator_id], revoked=True)
        return list(infos.values())

    def revoke_token(self, token_id: str, *, actor: Actor, reason: str = "revoked") -> bool:
        """Revoke a token by its public id; returns whether it was active."""
        if actor.role not in (Role.ADMIN, Role.SYSTEM):
            raise Forbidden("only an admin revokes tokens", field="role", rule="admin only")
        reason = str(_text(reason, "reason"))
        topics = [AccessToken.Issued.TOPIC]
        position = 0
        while True:
            page = self.recorder.select_notifications(
                start=position, limit=500, topics=topics, inclusive_of_start=False
            )
            if not page:
                break
            for notification in page:
                position = notification.id
                event = self.mapper.to_domain_event(notification)
                if isinstance(event, AccessToken.Issued) and event.token_id == token_id:
                    token: AccessToken = self.repository.get(event.originator_id)
                    if token.revoked:
                        return False
                    token.revoke(by=actor.actor_id, reason=reason)
                    self.save(token)
                    return True
        raise NotFound(f"no token {token_id}", field="token_id")

    @staticmethod
    def _token_info(token: AccessToken) -> TokenInfo:
        return TokenInfo(
            token_id=token.token_id,
            role=token.role,
            fields=tuple(token.fields),
            department=token.department,
            name=token.name,
            issued_at=token.created_on,
            revoked=token.revoked,
        )

    # -- reads --------------------------------------------------------------------------------

    def today(self) -> date:
        """Today's date in China Standard Time, by the ledger's clock."""
        return china_date(self.clock())

    def subject(self, uscc: str) -> SubjectState:
        """The subject's current state, folded from its whole stream."""
        return fold(self.history(uscc))  # type: ignore[arg-type]

    def _scan(self, topics: Sequence[str]) -> Iterator[Any]:
        position = 0
        while True:
            page = self.recorder.select_notifications(
                start=position, limit=5000, topics=topics, inclusive_of_start=False
            )
            if not page:
                return
            for notification in page:
                position = notification.id
                yield self.mapper.to_domain_event(notification)

    def uscc_of(self, subject_id: UUID) -> str:
        """The credit code of a subject stream (from its registration event)."""
        first = next(iter(self.events.get(subject_id, lte=1)), None)
        if first is None:
            raise NotFound(f"no subject stream {subject_id}", field="subject_id")
        return str(first.uscc)  # type: ignore[attr-defined]

    def subject_registrations(self) -> Iterator[Any]:
        """Every subject's registration event, in ledger order (the population of the ledger)."""
        return self._scan([Subject.Registered.TOPIC])

    def _partial_states(self, topics: Sequence[str]) -> dict[UUID, SubjectState]:
        """Per-subject states folded from only the events with these topics (for listings)."""
        states: dict[Any, SubjectState] = {}
        for event in self._scan(topics):
            step(states.setdefault(event.originator_id, SubjectState()), event)
        return states

    def objections(self) -> list[tuple[UUID, ObjectionState]]:
        """Every objection with its subject's stream id (see `uscc_of`)."""
        topics = [Subject.ObjectionFiled.TOPIC, Subject.ObjectionResolved.TOPIC]
        return [
            (sid, objection)
            for sid, state in self._partial_states(topics).items()
            for objection in state.objections.values()
        ]

    def repairs(self) -> list[tuple[UUID, RepairState]]:
        """Every repair request with its subject's stream id (see `uscc_of`)."""
        topics = [
            Subject.RepairRequested.TOPIC,
            Subject.RepairDecided.TOPIC,
            Subject.RepairRevoked.TOPIC,
        ]
        return [
            (sid, repair)
            for sid, state in self._partial_states(topics).items()
            for repair in state.repairs.values()
        ]

    def history(self, uscc: str) -> list[DomainEventProtocol[UUID]]:
        """Every stored event of a subject in stream order (no aggregate replay on this path)."""
        code = normalize_uscc(uscc)
        events = list(self.events.get(subject_id_for(code)))
        if not events:
            raise NotFound(f"no subject with credit code {code}", field="uscc")
        return events

    def evaluate(
        self, uscc: str, *, as_of: date | None = None, known_at: datetime | None = None
    ) -> Evaluation:
        """The explained evaluation at valid date D (default: today, CST) as known at K (now)."""
        now = self.clock()
        k = known_by_now(known_at, "known_at", now=now) if known_at is not None else now
        d = _date(as_of, "as_of") if as_of is not None else china_date(now)
        return evaluate_history(self.history(uscc), d, k, self.models)  # type: ignore[arg-type]
