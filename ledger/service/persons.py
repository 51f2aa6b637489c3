"""The ledger's natural-person operations (DOMAIN §9): register, look up, reveal and erase.

A person is registered through the one write path like any subject, under its ref and with its
identity sealed before the command is built; only the data key's destruction, after the erasure
event is stored, happens beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from ledger.domain.commands import EraseIdentity, RegisterSubject
from ledger.domain.errors import Conflict, NotFound
from ledger.domain.fold import fold
from ledger.domain.persons import PersonIdentity, normalize_id_number
from ledger.domain.rules.retention import retention_ends_on
from ledger.domain.state import SubjectState
from ledger.domain.text import clean_text
from ledger.domain.values import Actor, SubjectKind, china_date, normalize_uscc, subject_id_for
from ledger.service.handlers import Written
from ledger.service.identity import Identities
from ledger.store.stores import read_streams

if TYPE_CHECKING:
    from ledger.service.parts import LedgerParts
else:
    LedgerParts = object


@dataclass(frozen=True)
class PersonRegistered:
    """A person's registration: its ref (the code every path takes) and what was written."""

    ref: str
    written: Written


class Persons(LedgerParts):
    """Natural persons on the ledger; `identities` seals and opens what is theirs."""

    identities: Identities

    def _stored_state(self, ref: str) -> SubjectState | None:
        events = list(self.events.get(subject_id_for(ref)))
        return fold(events) if events else None  # type: ignore[arg-type]

    def register_person(
        self,
        *,
        id_number: str,
        name: str,
        actor: Actor,
        fields: Sequence[str] = (),
        source_document: str | None = None,
    ) -> PersonRegistered:
        """Register a natural person by identity number; the same person again is a no-op."""
        actor.require("register")
        number = normalize_id_number(id_number)
        identity = PersonIdentity(clean_text(name, "name"), number)
        ref = self.identities.ref_for(number)
        token = None
        existing = self._stored_state(ref)
        if existing is not None and existing.identity_erased:
            # Erased for good: a new key under the same ref would bring the person back.
            raise Conflict(
                f"subject {ref}: this person's identity was erased and is not registered again",
                field="id_number",
                rule="an erased identity stays erased (DOMAIN §9)",
            )
        if existing is not None and self.identities.reveal(existing.name) == identity:
            token = existing.name  # the same details: the registration decides a no-op
        written = self.handle(
            RegisterSubject(
                uscc=ref,
                name=token or self.identities.seal(ref, identity),
                kind=SubjectKind.NATURAL_PERSON,
                fields=fields,
                actor=actor,
                source_document=source_document,
            )
        )
        return PersonRegistered(ref, written)

    def lookup_person(self, id_number: str) -> str:
        """The ref of a registered person, found by the keyed hash of the number alone."""
        number = normalize_id_number(id_number)
        unknown = NotFound("no natural person with that identity number", field="id_number")
        # Without a ledger secret the store holds no person (`Identities.check` saw to that).
        if self.identities.secret is None:
            raise unknown
        ref = self.identities.ref_for(number)
        state = self._stored_state(ref)
        # An erased person is no longer found by number: the record stays, the link does not.
        if state is None or state.identity_erased:
            raise unknown
        return ref

    def person_identity(self, state: SubjectState) -> PersonIdentity | None:
        """A person's identity in the clear (None once erased): for an audited reveal only."""
        if state.identity_erased:
            return None
        return self.identities.reveal(state.name)

    def persons_due_for_erasure(self, today: date) -> list[tuple[str, str]]:
        """Every person whose retention period ended by `today`, with the reason to record."""
        ids = [
            r.originator_id
            for r in self.subject_registrations()
            if r.kind == SubjectKind.NATURAL_PERSON
        ]
        due = []
        for stream in read_streams(self, ids).values():  # type: ignore[arg-type]
            state = fold(stream)
            ends = retention_ends_on(state, today, self.models)
            if ends is not None and ends <= today:
                assert state.last_recorded_at is not None
                last = china_date(state.last_recorded_at)
                due.append(
                    (
                        state.uscc,
                        f"retention period ended on {ends.isoformat()} "
                        f"(last record {last.isoformat()})",
                    )
                )
        return due

    def erase_person(self, ref: str, *, reason: str, actor: Actor) -> Written:
        """Erase a person's identity: record the erasure, then destroy the data key. Erasing
        again destroys the key again (a crash between the two leaves no key behind)."""
        written: Written = self.handle(EraseIdentity(uscc=ref, reason=reason, actor=actor))
        self.identities.destroy(normalize_uscc(ref))
        return written
