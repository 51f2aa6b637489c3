"""Access tokens as events: stored only as hashes, scoped by role and fields, revocable."""

from __future__ import annotations

import hashlib
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.domain.values import Actor, Role

TOKEN_NAMESPACE = UUID("3b7e9c1d-5f2a-5c4b-8e6d-0f1a2b3c4d5e")
#: Every token starts with this, so a leaked one is easy to recognise in logs and code.
TOKEN_PREFIX = "clt_"  # noqa: S105 - a public marker, not a secret


def hash_secret(secret: str) -> str:
    """SHA-256 of a bearer token; tokens carry 256 random bits, so no slow hash is needed."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def token_stream_id(secret_hash: str) -> UUID:
    """The stream of the token with this hash: a presented token finds its stream directly."""
    return uuid5(TOKEN_NAMESPACE, secret_hash)


class AccessToken(Aggregate):
    """One bearer token: its role, fields and department; the secret itself is never stored."""

    TOPIC = "credit.access_token.v1"

    class Event(Aggregate.Event):
        """Base of token events."""

        TOPIC = "credit.access_token_event.v1"

    class Issued(Aggregate.Created, Event):
        """A token was created (its hash, never the secret)."""

        TOPIC = "credit.token_issued.v1"
        token_id: str
        secret_hash: str
        role: str
        fields: list[str]
        department: str | None
        name: str
        issued_by: str

    class Revoked(Event):
        """A token stops working."""

        TOPIC = "credit.token_revoked.v1"
        revoked_by: str
        reason: str

        def apply(self, aggregate: AccessToken) -> None:
            aggregate.revoked = True

    @staticmethod
    def create_id(secret_hash: str) -> UUID:
        """Token streams are found from the presented token's hash."""
        return token_stream_id(secret_hash)

    def __init__(
        self,
        token_id: str,
        secret_hash: str,
        role: str,
        fields: list[str],
        department: str | None,
        name: str,
        issued_by: str,
    ) -> None:
        self.token_id = token_id
        self.role = role
        self.fields = list(fields)
        self.department = department
        self.name = name
        self.revoked = False

    def revoke(self, *, by: str, reason: str) -> None:
        """Stop the token working (repeating it is harmless)."""
        if not self.revoked:
            self.trigger_event(self.Revoked, revoked_by=by, reason=reason)

    def actor(self) -> Actor:
        """The acting party this token authenticates."""
        return Actor(
            actor_id=self.token_id,
            role=Role(self.role),
            department=self.department,
            fields=frozenset(self.fields),
            name=self.name,
        )
