"""The `CreditLedger` application: the one write path (`handle`), and the reads of the ledger.

`handle(command)` is every write: its handler (ledger.service.handlers) loads the subject, the
command's decider (ledger.domain.deciders) checks every rule and says what events to append, and
the unit of work (ledger.service.unit_of_work) saves them in one transaction, retrying when
another writer appended first. A refused command raises a `LedgerError` and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder

from ledger.domain.catalog import catalogue
from ledger.domain.commands import Command
from ledger.domain.deciders.base import authorize_under
from ledger.domain.errors import (
    NotFound,
)
from ledger.domain.model import ModelRegistry, default_models, default_repair_policies
from ledger.domain.rulebook import Rulebook
from ledger.domain.rules.authority import Act
from ledger.domain.rules.supervision import (
    PolicyRegistry,
    default_policies,
)
from ledger.domain.values import (
    Actor,
    require_aware,
)
from ledger.service.ciphers import SM4_GCM, KeyVault
from ledger.service.draws import Draws
from ledger.service.federation import Federation
from ledger.service.folded import DEFAULT_CAPACITY
from ledger.service.handlers import Written, handle
from ledger.service.identity import Identities
from ledger.service.persons import Persons
from ledger.service.queries import Queries
from ledger.service.rulebook import KnownVersions, Rules
from ledger.service.tokens import Tokens, VerifiedTokens
from ledger.service.unit_of_work import UnitOfWork
from ledger.store.codec import DateAsISO
from ledger.store.keys import DataKeyTable

__all__ = ["CreditLedger", "Written", "system_clock"]


def system_clock() -> datetime:
    """Record time: now, in UTC."""
    return datetime.now(UTC)


# Application first: its stores are what the mixins' `LedgerParts` declares they use.
class CreditLedger(Application[UUID], Queries, Draws, Tokens, Rules, Persons, Federation):
    """Credit facts, listings, objections and repairs as immutable events, graded on demand."""

    name = "credit_ledger"

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], datetime] = system_clock,
        models: ModelRegistry | None = None,
        vault: KeyVault | None = None,
        person_secret: bytes | None = None,
        cipher: str = SM4_GCM,
        cached_subjects: int = DEFAULT_CAPACITY,
        rules_refresh_seconds: float = 1.0,
    ) -> None:
        super().__init__(env)
        self.clock = clock
        # The shipped files (or the models given) are the genesis versions, known at every K.
        repairs = default_repair_policies() if models is None else models.repairs
        self.known_versions = KnownVersions(
            Rulebook.genesis_of(models or default_models(), default_policies(), repairs),
            rules_refresh_seconds,
        )
        self.catalogue = catalogue()
        self.unit_of_work = UnitOfWork(self, cached_subjects=cached_subjects)
        self.verified_tokens = VerifiedTokens()
        #: Natural persons' keys (DOMAIN §9); `identities.check()` refuses the wrong ones.
        self.identities = Identities(DataKeyTable(self), vault, person_secret, cipher)
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

    @property
    def models(self) -> ModelRegistry:
        """Every evaluation-model version known now (writes decide under these)."""
        return self.models_at(None)

    @property
    def policies(self) -> PolicyRegistry:
        """Every supervision-policy version known now."""
        return self.policies_at(None)

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
