"""What the ledger's query, draw and token mixins ask of the `CreditLedger` they are part of."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Repository
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import ApplicationRecorder, EventStore, Mapper

from ledger.domain.catalog import Catalogue
from ledger.domain.model import ModelRegistry
from ledger.domain.rules.authority import Act
from ledger.domain.rules.supervision import PolicyRegistry
from ledger.domain.state import SubjectState
from ledger.domain.values import Actor


class LedgerParts(Protocol):
    """The application's stores and plumbing, and the reads one mixin asks of another.

    Only type checkers see it (the mixins inherit `object` at run time), so that each mixin
    module states exactly what it relies on without importing `CreditLedger`.
    """

    recorder: ApplicationRecorder
    mapper: Mapper[UUID]
    events: EventStore[UUID]
    clock: Callable[[], datetime]
    catalogue: Catalogue

    @property
    def models(self) -> ModelRegistry: ...

    @property
    def policies(self) -> PolicyRegistry: ...

    def models_at(self, known_at: datetime | None = None) -> ModelRegistry: ...

    def policies_at(self, known_at: datetime | None = None) -> PolicyRegistry: ...

    @property
    def repository(self) -> Repository[UUID]: ...

    def save(self, *objs: Any, **kwargs: Any) -> Any: ...

    def _position(self, recordings: Sequence[Any]) -> int | None: ...

    def max_position(self) -> int: ...

    def _field(self, code: str, field_name: str) -> str: ...

    def _authorize(self, actor: Actor, act: Act, on: date | None) -> None: ...

    def handle(self, command: Any) -> Any: ...

    def subject_registrations(self) -> Iterator[Any]: ...

    def history(self, uscc: str) -> list[DomainEventProtocol[UUID]]: ...

    def states_at(self, position: int) -> dict[Any, SubjectState]: ...
