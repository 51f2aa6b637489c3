"""Bearer tokens: issued by an admin, presented by a caller, listed and revoked by public id."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from ledger.domain.access import TOKEN_PREFIX, AccessToken, hash_secret, token_stream_id
from ledger.domain.deciders.base import text
from ledger.domain.errors import Forbidden, InvalidInput, NotFound
from ledger.domain.text import optional_text
from ledger.domain.values import Actor, Role
from ledger.store.log import last_position, read_log

if TYPE_CHECKING:
    from ledger.service.parts import LedgerParts
else:
    LedgerParts = object


#: The topics whose events change whom a token admits; any one stored invalidates the cache.
TOKEN_TOPICS = (AccessToken.Issued.TOPIC, AccessToken.Revoked.TOPIC)


class VerifiedTokens:
    """Tokens already looked up, trusted until the log shows a token event after `seen`.

    Each presentation still asks the store one question: whether any token event (issued or
    revoked) was stored after the last one this cache has seen. Only when none was is a cached
    answer used, so a revocation stored by another process is honoured on the next request.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        #: Log position of the last token event reflected in `actors`.
        self.seen = 0
        #: Bumped at every change, so a lookup that raced a change is not cached.
        self.generation = 0
        #: Secret hash -> the acting party, or None for a revoked token.
        self.actors: dict[str, Actor | None] = {}


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


class Tokens(LedgerParts):
    """The access tokens of the ledger; only their hashes are stored."""

    #: Set by the application: the tokens verified so far (see `VerifiedTokens`).
    verified_tokens: VerifiedTokens

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
        if role == Role.FEDERATION and not codes:
            # A downstream ledger reports every department's records unless narrowed; the
            # authority table still decides each record (DOMAIN §4).
            codes = sorted(self.catalogue.fields)
        if role == Role.FEDERATION and optional_text(name, "name") is None:
            raise InvalidInput(
                "a federation token names the downstream ledger it stands for (--name 舞钢市)",
                field="name",
                rule="federation tokens are named",
            )
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
        label = optional_text(name, "name") or f"{role} token"
        token = AccessToken._create(
            AccessToken.Issued,
            token_id=token_id,
            secret_hash=hash_secret(secret),
            role=role,
            fields=codes,
            department=(
                departments.pop() if len(departments) == 1 and role != Role.FEDERATION else None
            ),
            name=label,
            issued_by=actor.actor_id,
        )
        self.save(token)
        return IssuedToken(secret=secret, info=self._token_info(token))

    def authenticate(self, secret: str) -> Actor | None:
        """The acting party of a presented bearer token, or None if unknown or revoked."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        secret_hash = hash_secret(secret)
        cache = self.verified_tokens
        generation = self._token_generation(cache)
        with cache.lock:
            if secret_hash in cache.actors:
                return cache.actors[secret_hash]
        try:
            token: AccessToken = self.repository.get(token_stream_id(secret_hash))
        except AggregateNotFoundError:
            # Unknown secrets are not kept: a caller guessing secrets must not fill memory.
            return None
        actor = None if token.revoked else token.actor()
        with cache.lock:
            # Read after the check of `generation`: it reflects every token event seen so far.
            if cache.generation == generation:
                cache.actors[secret_hash] = actor
        return actor

    def _token_generation(self, cache: VerifiedTokens) -> int:
        # One query, normally answering nothing: the token events stored after `seen`.
        seen = cache.seen
        latest = last_position(self.recorder, TOKEN_TOPICS, seen)
        with cache.lock:
            if latest > cache.seen:
                cache.seen = latest
                cache.generation += 1
                cache.actors.clear()
            return cache.generation

    def tokens(self) -> list[TokenInfo]:
        """Every token ever issued, oldest first, with whether it is revoked."""
        infos: dict[UUID, TokenInfo] = {}
        for notification in read_log(self.recorder, topics=TOKEN_TOPICS, page_size=500):
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
        reason = str(text(reason, "reason"))
        topics = [AccessToken.Issued.TOPIC]
        for notification in read_log(self.recorder, topics=topics, page_size=500):
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
